"""A columnar buffer of normalised readings.

Decoders append straight into column lists (no per-reading objects), and the collector
turns a full buffer into one Arrow table per flush: at 100k+ readings/s, allocating a
record per reading would cost more than decoding it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["READING_COLUMNS", "ReadingBatch", "reading_schema"]

#: Raw-store columns (docs/contract.md §3.2) in order; timestamps are µs since the Unix epoch, UTC.
READING_COLUMNS = (
    "station",
    "param",
    "ts",
    "value",
    "flag",
    "period_s",
    "seq",
    "received_at",
    "source",
)


@cache
def reading_schema() -> pa.Schema:
    """The Arrow schema of the raw store: ``aircarbon.core.contracts.RAW`` written in pyarrow.

    Spelled out here rather than derived, so the collector never imports polars (≈0.3-1 s
    and ~60 MB on its first flush); tests/warehouse/test_contracts.py checks it against the
    contract (names, order, types, nullability). pyarrow is imported lazily.
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("station", pa.string(), nullable=False),
            pa.field("param", pa.string(), nullable=False),
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("value", pa.float64(), nullable=False),
            pa.field("flag", pa.string(), nullable=False),
            pa.field("period_s", pa.int32(), nullable=False),
            pa.field("seq", pa.int64()),
            pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("source", pa.string(), nullable=False),
        ]
    )


class ReadingBatch:
    """Append-only columns of readings; ``received_at`` is set per message by the caller."""

    __slots__ = (
        "flag",
        "param",
        "period_s",
        "received_at",
        "seq",
        "source",
        "station",
        "ts",
        "value",
    )

    def __init__(self) -> None:
        self.station: list[str] = []
        self.param: list[str] = []
        self.ts: list[int] = []
        self.value: list[float] = []
        self.flag: list[str] = []
        self.period_s: list[int] = []
        self.seq: list[int | None] = []
        self.received_at: list[int] = []
        self.source: list[str] = []

    def __len__(self) -> int:
        return len(self.value)

    def append(
        self,
        station: str,
        param: str,
        ts_us: int,
        value: float,
        flag: str,
        period_s: int,
        seq: int | None,
        received_us: int,
        source: str,
    ) -> None:
        self.station.append(station)
        self.param.append(param)
        self.ts.append(ts_us)
        self.value.append(value)
        self.flag.append(flag)
        self.period_s.append(period_s)
        self.seq.append(seq)
        self.received_at.append(received_us)
        self.source.append(source)

    def append_message(
        self,
        station: str,
        params: list[str],
        ts_us: int,
        values: list[float],
        flags: list[str],
        period_s: int,
        seq: int | None,
        received_us: int,
        source: str,
    ) -> None:
        """Append one message's readings: ``params``, ``values`` and ``flags`` align."""
        n = len(params)
        self.station.extend([station] * n)
        self.param.extend(params)
        self.ts.extend([ts_us] * n)
        self.value.extend(values)
        self.flag.extend(flags)
        self.period_s.extend([period_s] * n)
        self.seq.extend([seq] * n)
        self.received_at.extend([received_us] * n)
        self.source.extend([source] * n)

    def truncate(self, length: int) -> None:
        """Drop rows appended after ``length`` (undo a message that failed half-way)."""
        for name in self.__slots__:
            del getattr(self, name)[length:]

    def slice(self, start: int, stop: int) -> ReadingBatch:
        """Rows ``start:stop`` as a new batch (the writer's bisection of a failing batch)."""
        part = ReadingBatch()
        for name in self.__slots__:
            setattr(part, name, getattr(self, name)[start:stop])
        return part

    def extend(self, other: ReadingBatch) -> None:
        for name in self.__slots__:
            getattr(self, name).extend(getattr(other, name))

    def rows(self) -> Iterator[dict[str, Any]]:
        """Row dicts, for tests and ``aircarbon decode`` (not for the hot path)."""
        for i in range(len(self)):
            yield {name: getattr(self, name)[i] for name in READING_COLUMNS}

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_arrays(
            [
                pa.array(self.station, pa.string()),
                pa.array(self.param, pa.string()),
                pa.array(self.ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(self.value, pa.float64()),
                pa.array(self.flag, pa.string()),
                pa.array(self.period_s, pa.int32()),
                pa.array(self.seq, pa.int64()),
                pa.array(self.received_at, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(self.source, pa.string()),
            ],
            schema=reading_schema(),
        )
