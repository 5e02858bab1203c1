"""The operators' page: a warnings panel fed by /api/warnings, read from the lake read-only."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from aircarbon.core.catalog import load_catalog
from aircarbon.core.errors import WarehouseError
from aircarbon.core.settings import load_settings
from aircarbon.pipeline.forecast import forecast_day
from ingest.health import AlertRules, IngestStats
from ingest.health_server import HealthServer
from tests.forecast.conftest import simulated_lake
from warehouse.forecast_warnings import latest_warnings


def _get(server: HealthServer, *paths: str) -> list[httpx.Response]:
    """GET ``paths`` in order from the server's ASGI app (no socket needed)."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=server.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://health") as client:
            return [await client.get(p) for p in paths]

    return asyncio.run(run())


def _server(reader: Any) -> HealthServer:
    return HealthServer(
        IngestStats(load_catalog(), AlertRules(queue_max=100)), warnings_reader=reader
    )


def test_api_warnings_serves_the_reader_and_the_page_has_the_panel() -> None:
    calls: list[int] = []
    doc = {"issued_date": "2026-01-14", "warnings": [{"level": "yellow", "station": "city"}]}

    def reader() -> dict[str, Any]:
        calls.append(1)
        return doc

    first, second, index = _get(_server(reader), "/api/warnings", "/api/warnings", "/")
    assert first.json() == doc
    assert second.json() == doc
    assert calls == [1]  # cached: the lake is read at most once a minute
    page = index.text
    assert 'id="warning-list"' in page
    assert "api/warnings" in page


def test_a_lake_error_degrades_the_panel_not_the_page() -> None:
    def broken() -> dict[str, Any]:
        raise WarehouseError("catalog locked")

    body = _get(_server(broken), "/api/warnings")[0].json()
    assert body["warnings"] == []
    assert "catalog locked" in body["error"]


@pytest.mark.integration
def test_latest_warnings_reads_the_last_issue(tmp_path: Path) -> None:
    assert latest_warnings(load_settings({}, data_dir=tmp_path / "none")) == {
        "issued_date": None, "warnings": [],
    }  # fmt: skip
    settings, catalog = simulated_lake(tmp_path, dt.date(2026, 1, 5), 2)
    forecast_day(settings, catalog, dt.date(2026, 1, 6), publish=False)
    doc = latest_warnings(settings)
    assert doc["issued_date"] == "2026-01-06"
    assert isinstance(doc["warnings"], list)
