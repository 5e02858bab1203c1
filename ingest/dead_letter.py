"""Columnar buffer of rejected messages for the dead-letter store (SPEC §3).

One row per rejection: a wholly rejected message gives one row with ``param`` null; a
partly valid message gives one row per refused reading (its siblings landed). The payload
is kept, truncated to a limit, so an operator can replay the store after fixing a decoder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.reasons import RejectReason

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DeadLetterBatch", "dead_letter_schema"]


def dead_letter_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("topic", pa.string(), nullable=False),
            pa.field("station", pa.string()),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("param", pa.string()),
            pa.field("detail", pa.string(), nullable=False),
            pa.field("payload", pa.binary(), nullable=False),
            pa.field("payload_size", pa.int64(), nullable=False),
        ]
    )


class DeadLetterBatch:
    """Append-only columns of rejections."""

    __slots__ = (
        "_limit",
        "detail",
        "param",
        "payload",
        "payload_size",
        "reason",
        "received_at",
        "station",
        "topic",
    )

    def __init__(self, payload_limit: int) -> None:
        self._limit = payload_limit
        self.received_at: list[int] = []
        self.topic: list[str] = []
        self.station: list[str | None] = []
        self.reason: list[str] = []
        self.param: list[str | None] = []
        self.detail: list[str] = []
        self.payload: list[bytes] = []
        self.payload_size: list[int] = []

    def __len__(self) -> int:
        return len(self.reason)

    def append(
        self,
        received_us: int,
        topic: str,
        station: str | None,
        reason: RejectReason,
        param: str | None,
        detail: str,
        payload: bytes,
    ) -> None:
        self.received_at.append(received_us)
        self.topic.append(topic)
        self.station.append(station)
        self.reason.append(reason.value)
        self.param.append(param)
        self.detail.append(detail)
        self.payload.append(payload[: self._limit])
        self.payload_size.append(len(payload))

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_arrays(
            [
                pa.array(self.received_at, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                pa.array(self.topic, pa.string()),
                pa.array(self.station, pa.string()),
                pa.array(self.reason, pa.string()),
                pa.array(self.param, pa.string()),
                pa.array(self.detail, pa.string()),
                pa.array(self.payload, pa.binary()),
                pa.array(self.payload_size, pa.int64()),
            ],
            schema=dead_letter_schema(),
        )
