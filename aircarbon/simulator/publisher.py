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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.engine import Block
from aircarbon.simulator.messages import Simulation
from aircarbon.simulator.stream import Out, SimMessage
from ingest.mqtt_client import MqttEndpoint, endpoint
from ingest.mqtt_publish import MqttPublisher

if TYPE_CHECKING:
    from aircarbon.core.catalog import Catalog
    from aircarbon.core.settings import Settings

__all__ = [
    "MqttPublisher",
    "PublishReport",
    "broker_endpoint",
    "publish_realtime",
    "publish_replay",
    "realtime_config",
]

DEFAULT_USERNAME = "simulator"
DEFAULT_WINDOW = 256


def broker_endpoint(
    settings: Settings,
    *,
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    client_id: str = "",
) -> MqttEndpoint | None:
    """The simulated stations' connection (None without a broker URL).

    User ``simulator`` unless the flags, the settings or the URL name one; the client id is
    the broker's choice unless given; v3.1.1, like every publisher (a clean session).
    """
    return endpoint(
        settings,
        url=url,
        username=username,
        password=password,
        client_id=client_id,
        default_username=DEFAULT_USERNAME,
        protocol="v311",
    )


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


def publish_replay(
    config: SimulationConfig,
    conn: MqttEndpoint,
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
    conn: MqttEndpoint,
    *,
    duration_s: float | None = None,
    count: int | None = None,
    window: int = DEFAULT_WINDOW,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
    catalog: Catalog | None = None,
) -> PublishReport:
    """Publish ``config.rate`` messages per second per station, paced by the wall clock.

    Runs until ``duration_s`` has passed, ``count`` messages were sent, or ``stop`` is set.
    ``catalog``: the network to simulate (default: the shipped sample).
    """
    if config.rate is None:
        raise ValueError("real-time publishing needs config.rate")
    stop = stop or threading.Event()
    sim = Simulation(config, catalog)
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
