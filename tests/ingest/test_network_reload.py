"""A running collector picks network changes up without a restart (real Mosquitto).

The operator adds a station while the collector runs: its readings, dead-lettered as
``unknown_station`` before, land after. The operator retires a station: its readings up to
the end of its last local day land, later ones are dead-lettered as ``station_retired``.
The collector is built the way ``aircarbon collect`` builds it (``from_settings``), so the
test covers the wiring to the network file too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from aircarbon.core.catalog import (
    add_stations,
    catalog_for,
    init_network,
    retire_station,
    station_row,
)
from aircarbon.core.settings import load_settings
from ingest.collector import Collector
from tests.fixtures.brokers import paho_publish
from tests.ingest.collector_helpers import read_dead, read_raw, running, wait_for

pytestmark = pytest.mark.integration

ZONE = ZoneInfo("Europe/Berlin")
# three local days, all in the past and inside the 7-day late-data window
DAY = (dt.datetime.now(ZONE) - dt.timedelta(days=4)).date()


def _message(station: str, at: dt.datetime, seq: int) -> tuple[str, bytes]:
    payload = {
        "station": station,
        "ts": at.isoformat(),
        "period_s": 60,
        "seq": seq,
        "readings": {"pm25": 30.0 + seq, "o3": 50.0},
    }
    return f"aircarbon/v1/{station}/readings", json.dumps(payload).encode()


async def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    await asyncio.to_thread(
        paho_publish,
        "127.0.0.1",
        port,
        len(messages),
        topic=lambda i: messages[i][0],
        payload=lambda i: messages[i][1],
        timeout=60,
    )


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


async def test_added_and_retired_stations_without_restart(
    mosquitto: object, tmp_path: Path
) -> None:
    port = mosquitto.port  # type: ignore[attr-defined]
    data = tmp_path / "data"
    settings = load_settings({}, data_dir=data, network_poll_s=0.1)
    init_network(settings, city="berlin", timezone="Europe/Berlin")
    row = station_row("BE-01", type="national", lat=52.5, lon=13.4, params="pm25,o3", mn="M1")
    add_stations(settings, [("BE-01", row)])
    collector = Collector.from_settings(
        settings, catalog_for(settings), url=f"mqtt://127.0.0.1:{port}"
    )
    async with running(collector):
        # BE-02 is not in the network yet: dead-lettered
        await _publish(port, [_message("BE-02", _local(DAY, 10), 1)])
        await wait_for(lambda: collector.stats.messages_total >= 1)

        new = station_row("BE-02", type="micro", lat=52.4, lon=13.3, params="pm25,o3", mn="M2")
        add_stations(settings, [("BE-02", new)])
        await wait_for(lambda: "BE-02" in collector.rules.catalog.stations)
        await _publish(port, [_message("BE-02", _local(DAY, 11), 2)])
        await wait_for(lambda: collector.stats.messages_total >= 2)

        retire_station(settings, "BE-01", DAY)
        await wait_for(lambda: collector.rules.catalog.stations["BE-01"].valid_to == DAY)
        last_minute = _local(DAY + dt.timedelta(days=1), 0)  # the period ending at midnight
        await _publish(
            port,
            [
                _message("BE-01", _local(DAY, 23, 59), 3),
                _message("BE-01", last_minute, 4),
                _message("BE-01", last_minute + dt.timedelta(minutes=1), 5),
                _message("BE-01", _local(DAY + dt.timedelta(days=2), 9), 6),
            ],
        )
        await wait_for(lambda: collector.stats.messages_total >= 6)
        await wait_for(lambda: collector.stats.pending_acks == 0)

    raw = read_raw(data)
    landed = raw.group_by("station").agg(pl.col("ts").unique().sort()).sort("station")
    assert landed["station"].to_list() == ["BE-01", "BE-02"]
    be01 = [t.astimezone(ZONE) for t in landed.filter(station="BE-01")["ts"][0]]
    assert be01 == [_local(DAY, 23, 59), last_minute]
    be02 = [t.astimezone(ZONE) for t in landed.filter(station="BE-02")["ts"][0]]
    assert be02 == [_local(DAY, 11)]  # the 10:00 message was refused before BE-02 existed

    dead = read_dead(data).sort("received_at")
    reasons = list(zip(dead["station"].to_list(), dead["reason"].to_list(), strict=True))
    assert reasons == [
        ("BE-02", "unknown_station"),
        ("BE-01", "station_retired"),
        ("BE-01", "station_retired"),
    ]
    detail = dead.filter(reason="station_retired")["detail"][0]
    assert f"retired after {DAY}" in detail
    # the health page: the retired station is off it (not a "silent" alert), BE-02 on it
    now_us = time.time_ns() // 1000
    records = collector.stats.snapshot(now_us)["stations"]
    assert [r["station"] for r in records] == ["BE-02"]
    assert collector.stats.alerts_for(collector.stats.stations["BE-01"], now_us) == []
