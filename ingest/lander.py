"""Decode → batch → durable write: the landing both the collector and offline imports share.

A :class:`Lander` knows where one data directory's raw, dead-letter and status stores are
and how a message becomes rows in them. It decodes each message into an open
:class:`Landing` (columnar readings, dead-letter rows for every rejection, status events)
and writes a full one durably (fsynced, atomically renamed Parquet, ``ingest.raw_store``).
Dead-letter accounting lives here only: a rejection becomes exactly one dead-letter row,
whoever received the message.

What it does not do is decide *when*: the collector batches by size and age, acknowledges
each batch after :meth:`Lander.write` returns (ack-after-durable) and keeps its own
statistics; ``ingest.offline`` batches by readings count. :meth:`Lander.write` is
blocking I/O, so the collector calls it from a worker thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.batch import ReadingBatch
from ingest.dead_letter import DeadLetterBatch
from ingest.decode import Decoded, DecodeRules, StatusEvent, decode_message
from ingest.raw_store import clean_temporaries, write_dead_letters, write_durable, write_readings

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Lander", "Landing", "status_schema"]


def status_schema() -> pa.Schema:
    """The Arrow schema of the status store (station state changes, SPEC §3)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("station", pa.string(), nullable=False),
            pa.field("state", pa.string(), nullable=False),
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


@dataclass(slots=True)
class Landing:
    """What one durable write lands: readings, dead-letter rows and status events."""

    readings: ReadingBatch
    dead: DeadLetterBatch
    status: list[tuple[StatusEvent, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Rows it would write: readings, dead-letter rows and status events."""
        return len(self.readings) + len(self.dead) + len(self.status)


class Lander:
    """Decodes messages into :class:`Landing` batches and writes them durably.

    ``land_status=False`` drops status events instead of landing them (the offline importer
    does, so simulated maintenance windows only reach the status store when asked for).
    """

    def __init__(
        self,
        data_dir: Path,
        rules: DecodeRules,
        *,
        writer_id: str,
        dead_letter_payload_bytes: int = 4096,
        land_status: bool = True,
    ) -> None:
        self.rules = rules
        self.raw_dir = data_dir / "raw"
        self.dead_dir = data_dir / "dead_letter"
        self.status_dir = data_dir / "status"
        self.writer_id = writer_id
        self.land_status = land_status
        self._payload_limit = dead_letter_payload_bytes

    def new_landing(self) -> Landing:
        """An empty batch (dead-letter payloads truncated to this lander's limit)."""
        return Landing(ReadingBatch(), DeadLetterBatch(self._payload_limit))

    def decode(self, topic: str, payload: bytes, received_us: int, landing: Landing) -> Decoded:
        """Decode one message into ``landing``: its readings, one dead-letter row per rejection
        (the payload kept, truncated) and its status event; returns what the decoder saw."""
        decoded = decode_message(topic, payload, self.rules, received_us, landing.readings)
        if decoded.status is not None and self.land_status:
            landing.status.append((decoded.status, received_us))
        if decoded.rejections:
            append = landing.dead.append
            for rej in decoded.rejections:
                append(received_us, topic, decoded.station, rej.reason, rej.param, rej.detail,
                       payload)  # fmt: skip
        return decoded

    def clean_temporaries(self) -> int:
        """Remove half-written files an earlier crash left in the stores; how many."""
        return clean_temporaries([self.raw_dir, self.dead_dir, self.status_dir])

    def write(self, landing: Landing) -> int:
        """Write ``landing`` durably (fsynced, renamed Parquet); the number of files.

        Raises ``OSError`` (disk full, permissions) with nothing acknowledged: the caller
        keeps the batch and retries. Only after this returns may its messages be acked.
        """
        files = 0
        if len(landing.readings):
            table = landing.readings.to_arrow()
            files += len(write_readings(table, self.raw_dir, self.writer_id))
        if len(landing.dead):
            table = landing.dead.to_arrow()
            files += len(write_dead_letters(table, self.dead_dir, self.writer_id))
        if landing.status:
            files += self._write_status(landing.status)
        return files

    def _write_status(self, rows: list[tuple[StatusEvent, int]]) -> int:
        import pyarrow as pa

        utc = pa.timestamp("us", tz="UTC")
        table = pa.Table.from_arrays(
            [
                pa.array([e.station for e, _ in rows], pa.string()),
                pa.array([e.state for e, _ in rows], pa.string()),
                pa.array([e.ts_us for e, _ in rows], pa.int64()).cast(utc),
                pa.array([r for _, r in rows], pa.int64()).cast(utc),
            ],
            schema=status_schema(),
        )
        day = time.strftime("%Y-%m-%d", time.gmtime(rows[0][1] / 1e6))
        name = f"{self.writer_id}-{rows[0][1]}.parquet"
        write_durable(table, self.status_dir / f"date={day}" / name)
        return 1
