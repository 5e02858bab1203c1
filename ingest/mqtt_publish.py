"""A small MQTT publisher (paho, QoS 1 with a bounded in-flight window) for what AirCarbon sends.

Production publishes too — the forecast's retained warnings message — and must not import the
simulator for it, so the publisher lives here, below the pipeline; the simulator's replay uses
the same classes (with its own user name and client id). The connection comes from an
:class:`~ingest.mqtt_client.MqttEndpoint` (:func:`ingest.mqtt_client.endpoint`). It waits for
every PUBACK in :meth:`MqttPublisher.drain`, so "published" means the broker has it.

:class:`Message` is also the simulator's message (``aircarbon.simulator.stream.SimMessage``
is this class): one frozen dataclass for what goes on the wire. paho is imported only when a
publisher is made, so generating messages offline (``simulate --dry-run``, tests landing a
simulated day) does not pay its ~0.15 s import.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from aircarbon.core.errors import BrokerError
from ingest.mqtt_client import MqttEndpoint, paho_client

__all__ = ["Message", "MqttPublisher", "Publication"]


class Publication(Protocol):
    """What :meth:`MqttPublisher.publish` needs of a message."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def retain(self) -> bool: ...
    @property
    def qos(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Message:
    """One publication: topic, payload bytes, retain flag and QoS."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1

    @property
    def kind(self) -> str:
        """The topic's last level: ``readings``, ``hj212`` or ``status`` (docs/contract.md §1.1)."""
        return self.topic.rsplit("/", 1)[-1]

    @property
    def station(self) -> str:
        """The station level of an ``aircarbon/v1/<station>/...`` topic ('' for others)."""
        parts = self.topic.split("/")
        return parts[2] if len(parts) > 2 else ""


class MqttPublisher:
    """A paho client with a bounded in-flight window; use as a context manager.

    Publishes in a clean session at the endpoint's protocol (the callers ask for v3.1.1).
    """

    def __init__(
        self,
        conn: MqttEndpoint,
        *,
        window: int = 256,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.conn = conn
        self.window = max(1, window)
        self.connect_timeout_s = connect_timeout_s
        self._slots = threading.BoundedSemaphore(self.window)
        self._lock = threading.Condition()
        self._published = 0
        self._acked = 0
        self._connected = threading.Event()
        self._refused: str | None = None
        import paho.mqtt.client as mqtt

        self._ok = (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)
        self._error_string = mqtt.error_string
        client = paho_client(conn, clean=True)
        client.max_inflight_messages_set(self.window)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        self._client = client

    # paho callbacks (network thread) -------------------------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._refused = str(reason)
        self._connected.set()

    def _on_publish(self, _c: Any, _u: Any, _mid: int, _reason: Any, _p: Any) -> None:
        with self._lock:
            self._acked += 1
            self._lock.notify_all()
        self._slots.release()

    # API -------------------------------------------------------------------------------------
    def __enter__(self) -> MqttPublisher:
        try:
            self._client.connect(self.conn.host, self.conn.port, keepalive=self.conn.keepalive_s)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to {self.conn.url}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(self.connect_timeout_s):
            self._client.loop_stop()
            raise BrokerError(f"no CONNACK from {self.conn.url} within {self.connect_timeout_s} s")
        if self._refused is not None:
            self._client.loop_stop()
            raise BrokerError(f"{self.conn.url} refused the connection: {self._refused}")
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, msg: Publication) -> None:
        """Publish at the message's QoS; blocks while the in-flight window is full."""
        if msg.qos == 0:
            self._client.publish(msg.topic, msg.payload, qos=0, retain=msg.retain)
            return
        self._slots.acquire()
        with self._lock:
            self._published += 1
        info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
        if info.rc not in self._ok:
            raise BrokerError(f"publish to {msg.topic} failed: {self._error_string(info.rc)}")

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until every QoS 1 message published so far is acknowledged."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._acked < self._published:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = self._published - self._acked
                    raise BrokerError(f"{missing} messages not acknowledged by {self.conn.url}")
                self._lock.wait(min(left, 0.5))
