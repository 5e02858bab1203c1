"""Messages on their way out: the public ``SimMessage`` and the sortable envelope around it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Out", "SimMessage"]


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One MQTT publication: topic, payload bytes, retain flag and QoS."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1

    @property
    def kind(self) -> str:
        """The topic's last level: ``readings``, ``hj212`` or ``status``."""
        return self.topic.rsplit("/", 1)[-1]

    @property
    def station(self) -> str:
        parts = self.topic.split("/")
        return parts[2] if len(parts) > 2 else ""


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
