"""The HJ 212 gateway learns a station's MN when it is added to the network (no restart).

Real Mosquitto, a real TCP logger, the network file in the data directory changed with the
``stations add`` library function while the gateway runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aircarbon.core.catalog import add_stations, catalog_for, init_sample_network, station_row
from aircarbon.core.settings import load_settings
from ingest.hj212 import parse_packet
from ingest.hj212_gateway import Gateway
from tests.fixtures.brokers import MosquittoBroker
from tests.gateway.helpers import Logger, config, data_frame, subscriber, wait_until

pytestmark = pytest.mark.integration

NEW_MN = "210199NW1300000000000013"


async def test_added_station_is_answered_without_restart(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = load_settings({}, data_dir=tmp_path / "data")
    init_sample_network(settings)
    gateway = Gateway(
        config(mosquitto.port),
        catalog=catalog_for(settings),
        data_dir=settings.data_dir,
        network=lambda: catalog_for(settings),
        network_poll_s=0.1,
    )
    before = data_frame("SY-XH-02", 1, mn=NEW_MN)
    after = data_frame("SY-XH-02", 2, mn=NEW_MN)
    async with subscriber(mosquitto.port) as (_, got):
        task = asyncio.create_task(gateway.run())
        try:
            await asyncio.wait_for(gateway.listening.wait(), timeout=15)
            logger = await Logger.connect(gateway.port)
            await logger.send(before)
            await wait_until(lambda: gateway.stats.unanswered["unknown_station"] == 1)

            row = station_row(
                "SY-NW-13", type="micro", lat=41.8, lon=123.4, params="@micro", mn=NEW_MN
            )
            add_stations(settings, [("SY-NW-13", row)])
            await wait_until(lambda: "SY-NW-13" in gateway.catalog.stations)
            await logger.send(after)
            assert (await logger.answer()).qn == parse_packet(after).qn
            await wait_until(lambda: len(got) == 1)
            await logger.close()
        finally:
            gateway.stop()
            await asyncio.wait_for(task, timeout=30)
    assert got == [("aircarbon/v1/SY-NW-13/hj212", after)]
    assert gateway.stats.unanswered["unknown_station"] == 1
