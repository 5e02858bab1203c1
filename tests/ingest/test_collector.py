"""Collector against real brokers: every published reading lands exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest

from tests.fixtures.brokers import paho_publish
from tests.ingest.collector_helpers import (
    PARAMS,
    make_collector,
    read_dead,
    read_raw,
    reading_message,
    running,
    wait_for,
)

pytestmark = pytest.mark.integration


async def _publish(host: str, port: int, count: int, start: int = 0) -> None:
    await asyncio.to_thread(
        paho_publish,
        host,
        port,
        count,
        topic=lambda i: reading_message(start + i)[0],
        payload=lambda i: reading_message(start + i)[1],
        timeout=60,
    )


async def test_every_reading_lands_once_mosquitto(mosquitto: object, tmp_path: Path) -> None:
    broker = mosquitto
    collector = make_collector(broker.port, tmp_path)  # type: ignore[attr-defined]
    n = 3000
    async with running(collector):
        await _publish(broker.host, broker.port, n)  # type: ignore[attr-defined]
        await wait_for(lambda: collector.stats.messages_total >= n)
    raw = read_raw(tmp_path)
    assert raw.height == n * len(PARAMS)
    assert raw.unique(["station", "param", "ts"]).height == n * len(PARAMS)
    assert collector.stats.pending_acks == 0
    assert collector.stats.acks_sent == n
    assert read_dead(tmp_path).height == 0


async def test_every_reading_lands_once_embedded(amqtt_broker: object, tmp_path: Path) -> None:
    broker = amqtt_broker
    collector = make_collector(broker.port, tmp_path, protocol="v311")  # type: ignore[attr-defined]
    n = 1000
    async with running(collector):
        await _publish("127.0.0.1", broker.port, n)  # type: ignore[attr-defined]
        await wait_for(lambda: collector.stats.messages_total >= n)
    raw = read_raw(tmp_path)
    assert raw.unique(["station", "param", "ts"]).height == n * len(PARAMS)
    assert raw.height == n * len(PARAMS)


async def test_backlog_for_offline_collector_is_drained(mosquitto: object, tmp_path: Path) -> None:
    broker = mosquitto
    collector = make_collector(broker.port, tmp_path)  # type: ignore[attr-defined]
    async with running(collector):
        pass  # registers the persistent session and subscription
    n = 2000
    await _publish(broker.host, broker.port, n)  # type: ignore[attr-defined]
    collector = make_collector(broker.port, tmp_path)  # type: ignore[attr-defined]
    async with running(collector):
        await wait_for(lambda: collector.stats.messages_total >= n)
    raw = read_raw(tmp_path)
    assert raw.unique(["station", "param", "ts"]).height == n * len(PARAMS)
    assert isinstance(raw, pl.DataFrame)
