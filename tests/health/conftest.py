"""Fixtures for the health tests: stats with a controllable clock, servers in a loop or thread.

The scenario (:func:`populate`) mirrors what operators see on a bad day: most stations report
every minute, one went silent two hours ago, one sends a lot of garbage, one is missing
parameters; everything is fed through the same ``observe_*`` calls the collector makes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from ingest.health import AlertRules, IngestStats
from ingest.health_server import HealthServer

US = 1_000_000
T0_US = 1_795_000_000 * US  # 2026-11-19T...Z, a fixed "now" for every test
SILENT = "SY-XX-03"
NOISY = "SY-SL-05"  # many dead letters
PARTIAL = "SY-WH-04"  # sends only some of its parameters


@dataclass
class FakeClock:
    """A settable clock in µs, the form HealthServer(clock=...) expects."""

    now_us: int = T0_US

    def __call__(self) -> int:
        return self.now_us


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def feed(
    stats: IngestStats, sid: str, *, at_us: int, count: int = 3, params: list[str] | None = None
) -> None:
    """``count`` one-minute messages of ``sid``, the last received at ``at_us``."""
    station = stats.catalog.stations[sid]
    codes = list(station.params) if params is None else params
    for i in range(count):
        received = at_us - (count - 1 - i) * 60 * US
        stats.observe_received()
        stats.observe_message(
            sid,
            received_us=received,
            accepted=len(codes),
            ts_us=received - 2 * US,
            seq=1000 + i,
            period_s=60,
            params=codes,
        )


def healthy_stats(catalog: Catalog, clock: FakeClock) -> IngestStats:
    """Every station reported 5 s ago; broker connected."""
    stats = IngestStats(catalog, AlertRules(queue_max=20_000))
    stats.queue_capacity = 2  # what the collector sets: CollectorConfig.queue_batches
    stats.started_us = clock.now_us - 3600 * US
    stats.connected = True
    for sid in catalog.stations:
        feed(stats, sid, at_us=clock.now_us - 5 * US)
    return stats


def populate(catalog: Catalog, clock: FakeClock) -> IngestStats:
    """The bad-day scenario described in the module docstring."""
    stats = IngestStats(catalog, AlertRules(queue_max=20_000))
    stats.queue_capacity = 2
    stats.started_us = clock.now_us - 3 * 3600 * US
    stats.connected = True
    for sid in catalog.stations:
        if sid in {SILENT, PARTIAL}:
            continue
        feed(stats, sid, at_us=clock.now_us - 5 * US)
    feed(stats, SILENT, at_us=clock.now_us - 2 * 3600 * US)
    all_params = list(catalog.stations[PARTIAL].params)
    feed(stats, PARTIAL, at_us=clock.now_us - 12 * US, params=all_params[:-2])
    for _ in range(4):
        stats.observe_received()
        stats.observe_rejection(NOISY, "malformed_json", whole=True)
    stats.observe_rejection(NOISY, "unknown_param", whole=False)
    stats.observe_received()
    stats.observe_rejection(None, "unknown_station", whole=True)
    stats.observe_received()
    stats.observe_duplicate("SY-TY-01")
    stats.observe_status("SY-HS-12", "calibrating", clock.now_us - 30 * US)
    for latency in (0.02, 0.3, 0.8, 1.2, 7.0, 120.0):
        stats.observe_latency(latency)
    stats.pending_acks = 17
    stats.queue_depth = 1  # one batch waiting: normal, the queue holds 2
    stats.batches_written = 9
    return stats


@pytest.fixture
def stats(catalog: Catalog, clock: FakeClock) -> IngestStats:
    return populate(catalog, clock)


@pytest.fixture
async def server(stats: IngestStats, clock: FakeClock) -> AsyncIterator[HealthServer]:
    """A HealthServer on a free port, served by a task of the test's own event loop."""
    srv = HealthServer(stats, port=0, clock=clock)
    task = asyncio.create_task(srv.serve())
    await asyncio.wait_for(srv.started.wait(), 10)
    try:
        yield srv
    finally:
        await srv.shutdown()
        await asyncio.wait_for(task, 10)


class ThreadedServer:
    """A HealthServer in a thread with its own event loop, for blocking clients (chromium,
    urllib in ``aircarbon status``)."""

    def __init__(self, server: HealthServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="health-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            task = asyncio.create_task(self.server.serve())
            await self.server.started.wait()
            self._ready.set()
            await task

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
        finally:
            self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> ThreadedServer:
        self.thread.start()
        assert self._ready.wait(15), "health server did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop)
        fut.result(15)
        self.thread.join(15)


@pytest.fixture
def threaded_server(stats: IngestStats, clock: FakeClock) -> Iterator[ThreadedServer]:
    ts = ThreadedServer(HealthServer(stats, port=0, clock=clock)).start()
    try:
        yield ts
    finally:
        ts.stop()
