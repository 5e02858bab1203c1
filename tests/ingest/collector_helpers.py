"""Helpers for collector tests: run a Collector in the test's loop, read the raw store."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import polars as pl

from aircarbon.core.catalog import load_catalog
from ingest.collector import COLLECTOR_USERNAME, Collector, CollectorConfig
from ingest.decode import DecodeRules
from ingest.mqtt_client import MqttEndpoint

# the stream (up to ~4,000 minutes) starts four days ago: inside the default 7-day late-data
# window and entirely in the past, whatever the time of day the tests run
BASE_TS = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=4)).replace(
    minute=0, second=0, microsecond=0
)
STATIONS = ["SY-TY-01", "SY-XH-02", "SY-XX-03", "SY-HN-06", "SY-LD-08"]
PARAMS = ["pm25", "pm10", "o3", "no2", "so2", "co"]


def make_collector(
    port: int,
    data_dir: Path,
    *,
    client_id: str = "test-collector",
    protocol: Literal["v5", "v311"] = "v5",
    share_group: str | None = None,
    batch_max_messages: int = 2000,
    batch_max_age_s: float = 0.2,
) -> Collector:
    catalog = load_catalog()
    ep = MqttEndpoint(
        "127.0.0.1", port, username=COLLECTOR_USERNAME, client_id=client_id, protocol=protocol
    )
    config = CollectorConfig(
        ep,
        share_group=share_group,
        batch_max_messages=batch_max_messages,
        batch_max_age_s=batch_max_age_s,
        reconnect_min_s=0.1,
        reconnect_max_s=1.0,
    )
    rules = DecodeRules(catalog, check_time=False)
    return Collector(config, catalog=catalog, data_dir=data_dir, rules=rules, writer_id=client_id)


@contextlib.asynccontextmanager
async def running(collector: Collector) -> AsyncIterator[Collector]:
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.connected.wait(), timeout=15)
        yield collector
    finally:
        collector.stop()
        await asyncio.wait_for(task, timeout=30)


def reading_message(i: int, station: str | None = None) -> tuple[str, bytes]:
    """Message ``i`` of a deterministic stream: 6 readings, one station per message."""
    sid = station or STATIONS[i % len(STATIONS)]
    n = i // len(STATIONS)
    ts = BASE_TS + dt.timedelta(minutes=n)
    payload = {
        "station": sid,
        "ts": ts.isoformat(),
        "period_s": 60,
        "seq": n,
        "readings": {p: float((i * 7 + k) % 200) for k, p in enumerate(PARAMS)},
    }
    return f"aircarbon/v1/{sid}/readings", json.dumps(payload).encode()


def read_raw(data_dir: Path) -> pl.DataFrame:
    files = sorted((data_dir / "raw").rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files])


def read_dead(data_dir: Path) -> pl.DataFrame:
    files = sorted((data_dir / "dead_letter").rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files])


async def wait_for(predicate: object, limit_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)
