"""A small MQTT publisher (paho, QoS 1 with a bounded in-flight window) for what AirCarbon sends.

Production publishes too — the forecast's retained warnings message — and must not import the
simulator for it, so the publisher lives here, below the pipeline; the simulator's replay uses
the same classes (with its own default user name). It waits for every PUBACK in
:meth:`MqttPublisher.drain`, so "published" means the broker has it.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from aircarbon.core.errors import BrokerError

__all__ = ["BrokerConnection", "Message", "MqttPublisher", "Publication"]


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


@dataclass(frozen=True, slots=True)
class BrokerConnection:
    """Where and how to connect (from a broker URL and the settings)."""

    host: str
    port: int
    tls: bool = False
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    username: str | None = None
    password: str | None = None
    client_id: str = ""
    keepalive_s: int = 30

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"} or not parts.hostname:
            raise BrokerError(f"broker URL must look like mqtt://host:port, got {url!r}")
        tls = parts.scheme in {"mqtts", "ssl"}
        values: dict[str, Any] = {
            "host": parts.hostname,
            "port": parts.port or (8883 if tls else 1883),
            "tls": tls,
        }
        if parts.username:
            values["username"] = parts.username
        if parts.password:
            values["password"] = parts.password
        values.update({k: v for k, v in options.items() if v is not None})
        return cls(**values)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class MqttPublisher:
    """A paho client with a bounded in-flight window; use as a context manager."""

    def __init__(
        self,
        conn: BrokerConnection,
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
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=conn.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if conn.username:
            client.username_pw_set(conn.username, conn.password)
        if conn.tls:
            client.tls_set(
                ca_certs=str(conn.ca) if conn.ca else None,
                certfile=str(conn.cert) if conn.cert else None,
                keyfile=str(conn.key) if conn.key else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
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
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise BrokerError(f"publish to {msg.topic} failed: {mqtt.error_string(info.rc)}")

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
