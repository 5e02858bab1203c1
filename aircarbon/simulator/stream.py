"""Messages on their way out: the public ``SimMessage`` and the sortable envelope around it.

``SimMessage`` is :class:`ingest.mqtt_publish.Message` (the simulator sits above ingest and
publishes through it): one frozen dataclass for a publication, the name kept for the
simulator's callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.mqtt_publish import Message as SimMessage

__all__ = ["Out", "SimMessage"]


@dataclass(slots=True)
class Out:
    """A message with its publication time (simulated epoch s) and a tie-breaking order.

    ``step`` is the block step the message reports (-1 for status messages); faults move
    ``key`` (late, out of order) or drop envelopes (dropouts) before the stream is sorted.
    """

    key: float
    order: int
    msg: SimMessage
    step: int = -1
    t_end: float = 0.0
