"""The collector's health page shows the gateway: loggers, frames, unanswered, quirks."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

from ingest.health import IngestStats
from ingest.health_server import HealthServer
from ingest.hj212 import build_frame
from tests.fixtures.brokers import MosquittoBroker
from tests.gateway.helpers import CATALOG, Logger, config, corrupt_crc, running_gateway


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body: bytes = resp.read()
    return body


async def test_health_page_shows_the_gateway(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    quirky = build_frame(
        "QN=20261125100000123;ST=22;CN=2011;PW=BF470F88957588DE902D1A52;"
        "MN=210102TY0100000000000001;Flag=5;CP=&&DataTime=20261125100000;a34004-Rtd=12&&"
    )
    async with running_gateway(config(mosquitto.port), tmp_path) as gateway:
        logger = await Logger.connect(gateway.port)
        await logger.send(corrupt_crc(quirky), quirky)  # the bad one first: handled in order
        await logger.answer()
        url = f"http://127.0.0.1:{gateway.health_port}"
        server = HealthServer(IngestStats(CATALOG), port=0, gateway_url=url)
        task = asyncio.create_task(server.serve())
        await asyncio.wait_for(server.started.wait(), 10)
        try:
            base = f"http://127.0.0.1:{server.port}"
            doc = json.loads(await asyncio.to_thread(get, f"{base}/api/gateway"))
            page = (await asyncio.to_thread(get, f"{base}/")).decode()
        finally:
            await server.shutdown()
            task.cancel()
        await logger.close()
    assert doc["configured"] is True
    assert doc["connected_loggers"] == 1
    assert doc["answered"] == 1
    assert doc["quirks_by_station"] == {"SY-TY-01": {"pw_long": 1}}
    assert sum(doc["unanswered"].values()) >= 1
    assert 'id="gateway"' in page
    assert "api/gateway" in page


def test_without_a_gateway_the_panel_stays_hidden() -> None:
    assert HealthServer(IngestStats(CATALOG)).gateway() == {"configured": False}
    down = HealthServer(IngestStats(CATALOG), gateway_url="http://127.0.0.1:9")
    doc = down.gateway()
    assert doc["configured"] is True
    assert doc["error"].startswith("gateway not answering")
