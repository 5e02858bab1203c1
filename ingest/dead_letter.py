"""Columnar buffer of rejected messages for the dead-letter store (docs/contract.md §3.3).

One row per rejection: a wholly rejected message gives one row with ``param`` null; a
partly valid message gives one row per refused reading (its siblings landed). The payload
is kept, truncated to a limit, so an operator can replay the store after fixing a decoder.

**A payload is stored once per message**, on the message's first row; its other rows carry
a null ``payload`` and the same ``message_id`` (a hash of received time, topic and payload)
to find it. A 60 KB message with thousands of refused readings therefore costs one payload
copy, not one per reading, and :attr:`DeadLetterBatch.nbytes` (what the collector counts
towards a flush) stays close to what the rows really hold. ``detail`` strings, which may
quote attacker-chosen keys, are cut to :data:`DETAIL_CHARS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from ingest.reasons import RejectReason

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DETAIL_CHARS",
    "WHOLE_PAYLOAD_BYTES",
    "DeadLetterBatch",
    "dead_letter_schema",
    "message_id",
]

#: Most payload bytes kept for a message stored ``whole`` (poison)
#: ``topic`` of dead letters written by ``aircarbon import`` (``import:<kind>;file=…;line=N``):
#: refused rows of a history file, not MQTT messages: replay leaves them to a new import.
IMPORT_TOPIC_PREFIX = "import:"

WHOLE_PAYLOAD_BYTES = 1024 * 1024
#: Longest ``detail`` kept in a dead-letter row (a longer one ends with "…").
DETAIL_CHARS = 300
# Python-object overhead of one row's list entries, counted in nbytes (measured: ~8 pointers,
# one small int, the detail string's header)
_ROW_OVERHEAD = 160


@cache
def dead_letter_schema() -> pa.Schema:
    """``aircarbon.core.contracts.DEAD_LETTER`` in pyarrow, checked against it by
    tests/warehouse/test_contracts.py (spelled out: the collector never imports polars)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("topic", pa.string(), nullable=False),
            pa.field("station", pa.string()),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("param", pa.string()),
            pa.field("detail", pa.string(), nullable=False),
            # null on every row of a message but its first: see message_id
            pa.field("payload", pa.binary()),
            pa.field("payload_size", pa.int64(), nullable=False),
            # always set by this writer; nullable so that rows built by hand in the old shape
            # (payload on every row, no id) still fit the schema
            pa.field("message_id", pa.string()),
        ]
    )


def message_id(received_us: int, topic: str, payload: bytes) -> str:
    """The id that ties a message's dead-letter rows to its one stored payload."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(received_us.to_bytes(8, "big", signed=True))
    digest.update(topic.encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def _cut(detail: str) -> str:
    return detail if len(detail) <= DETAIL_CHARS else detail[: DETAIL_CHARS - 1] + "…"


class DeadLetterBatch:
    """Append-only columns of rejections; payloads stored once per message."""

    __slots__ = (
        "_limit",
        "detail",
        "message_id",
        "nbytes",
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
        self.payload: list[bytes | None] = []
        self.payload_size: list[int] = []
        self.message_id: list[str] = []
        #: approximate bytes the rows hold (payloads, details, per-row overhead)
        self.nbytes = 0

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
        """One rejection of a message on its own (its payload stored with it)."""
        self.append_message(received_us, topic, station, [(reason, param, detail)], payload)

    def append_message(
        self,
        received_us: int,
        topic: str,
        station: str | None,
        rejections: Sequence[tuple[RejectReason, str | None, str]],
        payload: bytes,
        *,
        whole: bool = False,
    ) -> None:
        """Every rejection of one message: the payload on the first row only.

        ``whole`` keeps up to :data:`WHOLE_PAYLOAD_BYTES` instead of the truncation limit
        (a poison message, kept for the bug report).
        """
        if not rejections:
            return
        mid = message_id(received_us, topic, payload)
        kept = payload[: WHOLE_PAYLOAD_BYTES if whole else self._limit]
        size = len(payload)
        first = True
        for reason, param, detail in rejections:
            cut = _cut(detail)
            self.received_at.append(received_us)
            self.topic.append(topic)
            self.station.append(station)
            self.reason.append(reason.value)
            self.param.append(param)
            self.detail.append(cut)
            self.payload.append(kept if first else None)
            self.payload_size.append(size)
            self.message_id.append(mid)
            # param: a refused reading's key, attacker-chosen (bounded by the payload's size)
            self.nbytes += _ROW_OVERHEAD + len(cut) + (len(param) if param else 0)
            first = False
        self.nbytes += len(kept) + len(topic) + (len(station) if station else 0)

    def extend(self, other: DeadLetterBatch) -> None:
        for name in self.__slots__:
            if name not in {"_limit", "nbytes"}:
                getattr(self, name).extend(getattr(other, name))
        self.nbytes += other.nbytes

    def select(self, rows: list[int]) -> DeadLetterBatch:
        """A batch of the given rows (a payload moves to a kept row of its message)."""
        part = DeadLetterBatch(self._limit)
        names = [n for n in self.__slots__ if n not in {"_limit", "nbytes"}]
        payloads: dict[str, bytes] = {
            mid: p for mid, p in zip(self.message_id, self.payload, strict=True) if p is not None
        }
        seen: set[str] = set()
        for i in rows:
            for name in names:
                getattr(part, name).append(getattr(self, name)[i])
            mid = self.message_id[i]
            part.payload[-1] = payloads.get(mid) if mid not in seen else None
            seen.add(mid)
        part.nbytes = sum(len(p) for p in part.payload if p) + _ROW_OVERHEAD * len(part)
        return part

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
                pa.array(self.message_id, pa.string()),
            ],
            schema=dead_letter_schema(),
        )
