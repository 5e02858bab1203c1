"""Land messages into the raw and dead-letter stores without a broker.

For simulated data written straight to the SPEC §3 layout (tests, benchmarks, the DAG
tests) and for importing logged messages: the same decoders and the same durable writers
as the collector, minus MQTT. Messages are "received" at ``received_us`` (default: the
message's own end time, so late-data limits behave as for a live station).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.batch import ReadingBatch
from ingest.dead_letter import DeadLetterBatch
from ingest.decode import DecodeRules, decode_message
from ingest.raw_store import write_dead_letters, write_readings

__all__ = ["LandingReport", "land_messages"]


@dataclass
class LandingReport:
    """Counts of one offline landing."""

    messages: int = 0
    readings: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    files: int = 0


def land_messages(
    messages: Iterable[tuple[str, bytes]],
    data_dir: Path,
    rules: DecodeRules,
    *,
    writer_id: str = "offline",
    batch_readings: int = 200_000,
    dead_letter_payload_bytes: int = 4096,
    received_us: int | None = None,
) -> LandingReport:
    """Decode ``(topic, payload)`` pairs and land them durably, in batches."""
    report = LandingReport()
    readings = ReadingBatch()
    dead = DeadLetterBatch(dead_letter_payload_bytes)
    now = received_us if received_us is not None else time.time_ns() // 1000

    def flush() -> None:
        nonlocal readings, dead
        if len(readings):
            report.files += len(write_readings(readings.to_arrow(), data_dir / "raw", writer_id))
        if len(dead):
            report.files += len(
                write_dead_letters(dead.to_arrow(), data_dir / "dead_letter", writer_id)
            )
        readings, dead = ReadingBatch(), DeadLetterBatch(dead_letter_payload_bytes)

    for topic, payload in messages:
        report.messages += 1
        decoded = decode_message(topic, payload, rules, now, readings)
        report.readings += decoded.accepted
        for rej in decoded.rejections:
            report.rejections[rej.reason.value] = report.rejections.get(rej.reason.value, 0) + 1
            dead.append(now, topic, decoded.station, rej.reason, rej.param, rej.detail, payload)
        if len(readings) >= batch_readings:
            flush()
    flush()
    return report
