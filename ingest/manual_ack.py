"""Manual acknowledgement for aiomqtt 2.5, reached through its paho-mqtt client.

aiomqtt 2.5 lets paho acknowledge every QoS 1 message the moment it arrives, before the
application has stored it; a crash then loses whatever sat in aiomqtt's in-memory queue.
paho-mqtt 2.x can instead leave the PUBACK to the application (``manual_ack_set(True)``
and ``ack(mid, qos)``). aiomqtt keeps its paho client in the private ``_client``
attribute, so this adapter is the one place that touches it — the small change one
could offer upstream as ``Client(manual_ack=True)`` plus ``client.ack(message)``.

A PUBACK is only meaningful on the connection that delivered the message: after a
reconnect the broker re-delivers everything unacknowledged, and an old packet id may
already name a new message. :class:`AckTracker` therefore stamps each message with the
connection generation and silently drops acks for older generations.

The same tracker serves the collector's own transport (``ingest.mqtt_native``), whose
connection object has an ``ack(packet_id, qos)`` of its own and never acknowledges by itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import aiomqtt
import paho.mqtt.client as paho

__all__ = ["AckTracker", "Acker", "PendingAck", "enable_manual_ack", "incoming_queue"]


class Acker(Protocol):
    """What sends one acknowledgement: paho's client, or the collector's own connection."""

    def ack(self, mid: int, qos: int) -> object: ...


def _paho(client: aiomqtt.Client) -> paho.Client:
    inner = getattr(client, "_client", None)
    if not isinstance(inner, paho.Client):  # pragma: no cover - guards an aiomqtt upgrade
        raise TypeError("aiomqtt.Client no longer wraps a paho Client in `_client`")
    return inner


def enable_manual_ack(client: aiomqtt.Client) -> None:
    """Make paho wait for our ``ack`` before sending PUBACK (call before connecting)."""
    _paho(client).manual_ack_set(True)


def incoming_queue(client: aiomqtt.Client) -> asyncio.Queue[aiomqtt.Message]:
    """aiomqtt's queue of received messages, to take already-queued ones without its iterator.

    Private ``_queue`` in aiomqtt 2.5 (what ``client.messages.__len__`` measures).
    """
    queue = getattr(client, "_queue", None)
    if not isinstance(queue, asyncio.Queue):  # pragma: no cover - guards an aiomqtt upgrade
        raise TypeError("aiomqtt.Client no longer keeps its messages in `_queue`")
    return queue


@dataclass(frozen=True, slots=True)
class PendingAck:
    """What is needed to acknowledge one message later: its packet id, QoS and connection."""

    mid: int
    qos: int
    generation: int


class AckTracker:
    """Acknowledges messages once durable, on the connection that delivered them."""

    def __init__(self) -> None:
        self._client: Acker | None = None
        self.generation = 0
        self.sent = 0
        self.stale = 0

    def attach(self, client: aiomqtt.Client | Acker) -> None:
        """A new connection: earlier pending acks become stale (the broker re-delivers)."""
        self._client = _paho(client) if isinstance(client, aiomqtt.Client) else client
        self.generation += 1

    def detach(self) -> None:
        self._client = None
        self.generation += 1

    def pending(self, message: aiomqtt.Message) -> PendingAck | None:
        """The ack handle for a message, or None for QoS 0 (nothing to acknowledge)."""
        return self.pending_mid(message.mid, message.qos)

    def pending_mid(self, mid: int | None, qos: int) -> PendingAck | None:
        """The ack handle for packet ``mid`` at ``qos``, or None for QoS 0."""
        if qos == 0 or mid is None:
            return None
        return PendingAck(mid, qos, self.generation)

    def ack(self, handles: list[PendingAck]) -> int:
        """Send PUBACKs for durable messages; returns how many went out."""
        client = self._client
        if client is None:
            self.stale += len(handles)
            return 0
        sent = 0
        for handle in handles:
            if handle.generation != self.generation:
                self.stale += 1
                continue
            client.ack(handle.mid, handle.qos)
            sent += 1
        self.sent += sent
        return sent
