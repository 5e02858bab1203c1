"""A small simulated network landed into a raw store, shared by the pipeline tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.core.settings import Settings, load_settings
from aircarbon.simulator import iter_messages
from aircarbon.simulator.config import SimulationConfig
from ingest.decode import DecodeRules
from ingest.offline import land_messages

DAY = dt.date(2026, 11, 24)
STATIONS = ("SY-TY-01", "SY-XH-02", "SY-HS-12")


def land_day(data_dir: Path, catalog: Catalog, day: dt.date = DAY) -> None:
    config = SimulationConfig(seed=3, start=day, days=1.0, stations=STATIONS, format="json")
    messages = ((m.topic, m.payload) for m in iter_messages(config, catalog=catalog))
    land_messages(messages, data_dir, DecodeRules(catalog, check_time=False))


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Catalog]:
    data_dir = tmp_path_factory.mktemp("pipeline")
    catalog = load_catalog()
    land_day(data_dir, catalog)
    settings = load_settings({}, data_dir=data_dir)
    return settings, catalog
