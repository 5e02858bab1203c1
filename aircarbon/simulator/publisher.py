"""Publishing a simulation to an MQTT broker with paho-mqtt 2.x, at QoS 1.

One client publishes for every station (simpler to run than a dozen connections; per-station
wills are replaced by the ``offline`` status messages the simulator publishes itself around
outages). The client has no will of its own: a will under ``aircarbon/v1/`` would look to
the collector like a status message of an unknown station.

The in-flight window is bounded by a semaphore acquired before ``publish()`` and released in
``on_publish`` (PUBACK received): paho's internal queue is unbounded and a tight publish loop
was seen to stall for good (research/stack.md). The run returns only once every message is
acknowledged, so "sent" in the report means "accepted by the broker".

Two modes: replay (publish the configured days as fast as the broker accepts) and real time
(``rate`` messages per second per station, timestamps from the wall clock).
"""

from __future__ import annotations

import datetime as dt
import math
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from aircarbon.core.errors import BrokerError
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.engine import Block
from aircarbon.simulator.messages import Simulation
from aircarbon.simulator.stream import Out, SimMessage

__all__ = [
    "BrokerConnection",
    "MqttPublisher",
    "PublishReport",
    "publish_realtime",
    "publish_replay",
    "realtime_config",
]

DEFAULT_USERNAME = "simulator"
DEFAULT_WINDOW = 256


@dataclass(frozen=True, slots=True)
class BrokerConnection:
    """Where and how to connect (from a broker URL and the settings)."""

    host: str
    port: int
    tls: bool = False
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    username: str | None = DEFAULT_USERNAME
    password: str | None = None
    client_id: str = ""
    keepalive_s: int = 30

    @classmethod
    def from_url(cls, url: str, **options: Any) -> BrokerConnection:
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


@dataclass(slots=True)
class PublishReport:
    """What a run published (acknowledged by the broker) and how fast."""

    sent: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    broker: str = ""

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def rate(self) -> float:
        return self.total / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def count(self, msg: SimMessage) -> None:
        self.sent[msg.kind] = self.sent.get(msg.kind, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "sent": dict(self.sent),
            "total": self.total,
            "faults": dict(self.faults),
            "elapsed_s": round(self.elapsed_s, 3),
            "msgs_per_s": round(self.rate, 1),
        }


class MqttPublisher:
    """A paho client with a bounded in-flight window; use as a context manager."""

    def __init__(
        self,
        conn: BrokerConnection,
        *,
        window: int = DEFAULT_WINDOW,
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

    def publish(self, msg: SimMessage) -> None:
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


def publish_replay(
    config: SimulationConfig,
    conn: BrokerConnection,
    *,
    sim: Simulation | None = None,
    count: int | None = None,
    window: int = DEFAULT_WINDOW,
    progress: bool = False,
) -> PublishReport:
    """Publish the configured days as fast as the broker accepts them."""
    sim = sim or Simulation(config)
    report = PublishReport(broker=conn.url)
    expected = (config.n_steps + 1) * len(sim.engine.stations)  # readings + initial status
    messages: Iterator[SimMessage] = sim.messages()
    t0 = time.perf_counter()
    with MqttPublisher(conn, window=window) as pub:
        if progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            columns = (
                TextColumn("[bold]simulate[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8.0f} msg/s"),
                TimeRemainingColumn(),
            )
            with Progress(*columns) as bar:
                task = bar.add_task(conn.url, total=count or expected, rate=0.0)
                for i, msg in enumerate(_limited(messages, count), 1):
                    pub.publish(msg)
                    report.count(msg)
                    if i % 500 == 0:
                        rate = i / max(time.perf_counter() - t0, 1e-9)
                        bar.update(task, completed=i, rate=rate)
                bar.update(task, completed=report.total)
        else:
            for msg in _limited(messages, count):
                pub.publish(msg)
                report.count(msg)
        pub.drain()
    report.elapsed_s = time.perf_counter() - t0
    report.faults = sim.truth.counts()
    return report


def _limited(messages: Iterator[SimMessage], count: int | None) -> Iterator[SimMessage]:
    for i, msg in enumerate(messages):
        if count is not None and i >= count:
            return
        yield msg


def realtime_config(
    config: SimulationConfig, rate: float, now: float | None = None
) -> SimulationConfig:
    """The config of a real-time run starting at the wall clock (aligned to the step)."""
    step = 1.0 / rate
    t = time.time() if now is None else now
    start = math.floor(t / step) * step
    period = round(step) if step >= 1.0 else 0
    return replace(
        config,
        rate=rate,
        period_s=period,
        start=dt.datetime.fromtimestamp(start, dt.UTC),
    )


def publish_realtime(
    config: SimulationConfig,
    conn: BrokerConnection,
    *,
    duration_s: float | None = None,
    count: int | None = None,
    window: int = DEFAULT_WINDOW,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> PublishReport:
    """Publish ``config.rate`` messages per second per station, paced by the wall clock.

    Runs until ``duration_s`` has passed, ``count`` messages were sent, or ``stop`` is set.
    """
    if config.rate is None:
        raise ValueError("real-time publishing needs config.rate")
    stop = stop or threading.Event()
    sim = Simulation(config)
    step = config.step_s
    total_steps = math.ceil(duration_s / step) if duration_s is not None else None
    chunk = max(1, round(60.0 / step))

    def blocks() -> Iterator[Block]:
        index, first = 0, 0
        while total_steps is None or first < total_steps:
            n = chunk if total_steps is None else min(chunk, total_steps - first)
            yield sim.engine.block(index, first, n)
            index += 1
            first += n

    report = PublishReport(broker=conn.url)
    t0 = time.perf_counter()
    wait = sleep or stop.wait
    deadline = None
    if duration_s is not None:  # back-fills scheduled after the end are not waited for
        deadline = config.start_utc.timestamp() + duration_s + step
    with MqttPublisher(conn, window=window) as pub:
        env: Out
        for env in sim.stream(blocks()):
            if stop.is_set() or (count is not None and report.total >= count):
                break
            if deadline is not None and env.key > deadline:
                break
            delay = env.key - time.time()
            if delay > 0:
                wait(delay)
                if stop.is_set():
                    break
            pub.publish(env.msg)
            report.count(env.msg)
        for env in sim.final_status(time.time()):
            pub.publish(env.msg)
            report.count(env.msg)
        pub.drain()
    report.elapsed_s = time.perf_counter() - t0
    report.faults = sim.truth.counts()
    return report
