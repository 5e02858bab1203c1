"""A small real lake for the bulletin tests: two simulated days of five stations, processed.

The stations cover every section (national, VOC, PM super site, GHG and the GHG background
site); the pipeline runs without GX validation or Data Docs to stay fast (validation runs
have their own tests), so the data-quality section shows "no validation runs".
"""

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

DAY = dt.date(2026, 11, 25)
STATIONS = ("SY-TY-01", "SY-XH-02", "SY-SL-05", "SY-WH-04", "SY-SN-09", "SY-HS-12")


@pytest.fixture(scope="session")
def lake_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Catalog]:
    from aircarbon.pipeline import process_day
    from aircarbon.pipeline.daily import day_bounds
    from aircarbon.pipeline.hourly import iter_process_hours

    data_dir = tmp_path_factory.mktemp("bulletin-lake")
    catalog = load_catalog()
    first = DAY - dt.timedelta(days=1)
    config = SimulationConfig(seed=5, start=first, days=2.0, stations=STATIONS, format="json")
    messages = ((m.topic, m.payload) for m in iter_messages(config, catalog=catalog))
    land_messages(messages, data_dir, DecodeRules(catalog, check_time=False))
    settings = load_settings({}, data_dir=data_dir)
    start, _ = day_bounds(first, settings.timezone)
    hours = [start + dt.timedelta(hours=h) for h in range(1, 49)]
    for _hour, result in iter_process_hours(settings, catalog, hours, validate=False):
        assert not isinstance(result, Exception), result
    for day in (first, DAY):
        process_day(settings, catalog, day, validate=False, build_docs=False)
    return settings, catalog


@pytest.fixture(scope="session")
def written(
    lake_settings: tuple[Settings, Catalog], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, object], Path]:
    """Both languages of DAY, written once for the tests that read them."""
    from aircarbon.bulletin import write_bulletins

    settings, catalog = lake_settings
    out = tmp_path_factory.mktemp("bulletins")
    result = write_bulletins(settings, catalog, DAY, output_dir=out)
    return result.summary(), out / DAY.isoformat()
