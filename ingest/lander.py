"""Decode → batch → durable write: the landing both the collector and offline imports share.

A :class:`Lander` knows where one data directory's raw, dead-letter and status stores are
and how a message becomes rows in them. It decodes each message into an open
:class:`Landing` (columnar readings, dead-letter rows for every rejection, status events)
and writes a full one durably (fsynced, atomically renamed Parquet, ``ingest.raw_store``).
Dead-letter accounting lives here only: a rejection becomes exactly one dead-letter row,
whoever received the message.

**Writer faults never wedge ingest.** An ``OSError`` (disk full, permissions) propagates
with nothing acknowledged, and the caller retries. Any other error is a row the store
cannot take: the batch is bisected until the failing rows stand alone, they go to the
dead-letter store with reason ``write_error``, and the rest is written. (Halves written
before a failing sibling is isolated are not rewritten; an OSError retry may land some rows
twice, which readers de-duplicate as for any re-delivery.)

What it does not do is decide *when*: the collector batches by size and age, acknowledges
each batch after :meth:`Lander.write` returns (ack-after-durable) and keeps its own
statistics; ``ingest.offline`` batches by readings count. :meth:`Lander.write` is
blocking I/O, so the collector calls it from a worker thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.batch import READING_COLUMNS, ReadingBatch
from ingest.dead_letter import DeadLetterBatch
from ingest.decode import Decoded, DecodeRules, StatusEvent, decode_message
from ingest.raw_store import clean_temporaries, write_dead_letters, write_durable, write_readings
from ingest.reasons import RejectReason

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Lander", "Landing", "isolate_failures", "status_schema"]

log = logging.getLogger("aircarbon.lander")


def status_schema() -> pa.Schema:
    """The Arrow schema of the status store (station state changes, docs/contract.md §3.4)."""
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


def isolate_failures(
    n: int, write_rows: Callable[[int, int], int]
) -> tuple[int, list[tuple[int, Exception]]]:
    """Write rows ``[0, n)`` with ``write_rows(lo, hi)`` (returns files written); a failure
    other than ``OSError`` splits the range in two until each failing row stands alone.

    Returns the files written and the failing rows with their errors. ``OSError`` propagates
    (the store itself is failing, not a row: the caller retries the whole batch).
    """
    files = 0
    bad: list[tuple[int, Exception]] = []
    stack = [(0, n)] if n else []
    while stack:
        lo, hi = stack.pop()
        try:
            files += write_rows(lo, hi)
        except OSError:
            raise
        except Exception as exc:  # a row the store cannot take: isolate it
            if hi - lo == 1:
                bad.append((lo, exc))
                continue
            mid = (lo + hi) // 2
            stack.append((mid, hi))
            stack.append((lo, mid))
    return files, bad


def _rows(batch: ReadingBatch, lo: int, hi: int) -> ReadingBatch:
    return batch if lo == 0 and hi == len(batch) else batch.slice(lo, hi)


def _dead_rows(batch: DeadLetterBatch, lo: int, hi: int) -> DeadLetterBatch:
    return batch if lo == 0 and hi == len(batch) else batch.select(list(range(lo, hi)))


def _ascii(text: object) -> str:
    return str(text).encode("ascii", "backslashreplace").decode("ascii")


def _error_detail(exc: Exception, what: str) -> str:
    return _ascii(f"not writable ({type(exc).__name__}: {exc}); {what}")[:300]


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
        #: rows isolated to the dead-letter store by :meth:`write` so far (write_error)
        self.isolated_rows = 0

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
            landing.dead.append_message(
                received_us,
                topic,
                decoded.station,
                [(r.reason, r.param, r.detail) for r in decoded.rejections],
                payload,
            )
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
        # rows the stores refuse become dead letters of their own; ``landing`` is left as it
        # is, so that a retry after an OSError starts over from the same rows
        refused = DeadLetterBatch(self._payload_limit)
        readings = landing.readings
        if len(readings):
            written, bad = isolate_failures(
                len(readings),
                lambda lo, hi: len(
                    write_readings(_rows(readings, lo, hi).to_arrow(), self.raw_dir, self.writer_id)
                ),
            )
            files += written
            for i, exc in bad:
                self._refuse_reading(refused, readings, i, exc)
        status = landing.status
        if status:
            written, bad = isolate_failures(
                len(status), lambda lo, hi: self._write_status(status[lo:hi])
            )
            files += written
            for i, exc in bad:
                event, received = status[i]
                payload = _ascii(f"{event.station} {event.state} {event.ts_us}").encode()
                refused.append(
                    received,
                    _ascii(f"aircarbon/v1/{event.station}/status"),
                    _ascii(event.station),
                    RejectReason.WRITE_ERROR,
                    None,
                    _error_detail(exc, "a status event"),
                    payload,
                )
        dead = landing.dead
        if len(refused):
            dead = DeadLetterBatch(self._payload_limit)
            dead.extend(landing.dead)
            dead.extend(refused)
        if len(dead):
            files += self._write_dead(dead)
        return files

    def _refuse_reading(
        self, refused: DeadLetterBatch, readings: ReadingBatch, i: int, exc: Exception
    ) -> None:
        row = {name: _ascii(getattr(readings, name)[i]) for name in READING_COLUMNS}
        log.error("a reading the raw store cannot take goes to the dead-letter store: %s", row)
        self.isolated_rows += 1
        received = readings.received_at[i]
        refused.append(
            received if isinstance(received, int) else 0,
            _ascii(f"aircarbon/v1/{row['station']}/readings"),
            row["station"],
            RejectReason.WRITE_ERROR,
            row["param"],
            _error_detail(exc, "the reading as stored is the payload"),
            json.dumps(row).encode(),
        )

    def _write_dead(self, dead: DeadLetterBatch) -> int:
        written, bad = isolate_failures(
            len(dead),
            lambda lo, hi: len(
                write_dead_letters(
                    _dead_rows(dead, lo, hi).to_arrow(), self.dead_dir, self.writer_id
                )
            ),
        )
        if not bad:
            return written
        # a dead-letter row that cannot be written: again with every string made ASCII and
        # the payload kept (bytes always fit); what still fails is logged, never retried forever
        safe = DeadLetterBatch(self._payload_limit)
        payloads = {m: p for m, p in zip(dead.message_id, dead.payload, strict=True) if p}
        for i, exc in bad:
            self.isolated_rows += 1
            received = dead.received_at[i]
            safe.append(
                received if isinstance(received, int) else 0,
                _ascii(dead.topic[i]),
                None if dead.station[i] is None else _ascii(dead.station[i]),
                RejectReason.WRITE_ERROR,
                None if dead.param[i] is None else _ascii(dead.param[i]),
                _error_detail(exc, f"was {_ascii(dead.reason[i])}: {_ascii(dead.detail[i])}"),
                payloads.get(dead.message_id[i], b""),
            )
        more, lost = isolate_failures(
            len(safe),
            lambda lo, hi: len(
                write_dead_letters(
                    _dead_rows(safe, lo, hi).to_arrow(), self.dead_dir, self.writer_id
                )
            ),
        )
        for i, exc in lost:
            log.error("dropped a dead-letter row no store can take (%s): %s", exc, safe.topic[i])
        return written + more

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
