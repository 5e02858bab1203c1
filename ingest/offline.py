"""Land messages into the raw and dead-letter stores without a broker.

For simulated data written straight to the contract.md §3.2 layout (tests, benchmarks, the DAG
tests) and for importing logged messages: the same decoders and the same durable writers
as the collector, minus MQTT. Messages are "received" at ``received_us`` (default: the
message's own end time, so late-data limits behave as for a live station).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.decode import DecodeRules
from ingest.lander import Lander

__all__ = ["LandingReport", "land_messages"]

_DEAD_BYTES = 8 * 1024 * 1024  # dead-letter rows held before a write, as the collector's


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
    land_status: bool = False,
) -> LandingReport:
    """Decode ``(topic, payload)`` pairs and land them durably, in batches.

    The collector's :class:`~ingest.lander.Lander` does the decoding, dead-lettering and
    writing; only the batching (every ``batch_readings`` readings) is this function's.
    Status messages are dropped unless ``land_status`` (simulated maintenance windows would
    otherwise change QC of every test that lands a simulated day).
    """
    report = LandingReport()
    lander = Lander(
        data_dir,
        rules,
        writer_id=writer_id,
        dead_letter_payload_bytes=dead_letter_payload_bytes,
        land_status=land_status,
    )
    landing = lander.new_landing()
    now = received_us if received_us is not None else time.time_ns() // 1000
    rejections = report.rejections
    for topic, payload in messages:
        report.messages += 1
        decoded = lander.decode(topic, payload, now, landing)
        report.readings += decoded.accepted
        for rej in decoded.rejections:
            rejections[rej.reason.value] = rejections.get(rej.reason.value, 0) + 1
        if len(landing.readings) >= batch_readings or landing.dead.nbytes >= _DEAD_BYTES:
            report.files += lander.write(landing)
            landing = lander.new_landing()
    report.files += lander.write(landing)
    return report
