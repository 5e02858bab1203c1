"""``process_hours`` (the backfill and demo path) gives every hour what ``process_hour`` gives it.

Two copies of one raw store with injected faults (spikes, flat-lines, drift, duplicates...):
one processed hour by hour, the other as one batch. Clean readings and their QC flags, hourly
means, moving averages and AQI must match row for row, and the load log must hold the same
per-hour partitions, so the daily step's precondition and re-processing work the same way.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline import process_hour, process_hours
from aircarbon.simulator import iter_messages
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.faults import FaultConfig
from ingest.decode import DecodeRules
from ingest.offline import land_messages
from warehouse.lake import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = dt.date(2026, 11, 24)
#: 06:00-11:00 local: the morning rush, where the simulated traffic plumes make steps
FIRST_END = dt.datetime(2026, 11, 23, 23, tzinfo=dt.UTC)
HOURS = [FIRST_END + dt.timedelta(hours=i) for i in range(5)]


@pytest.fixture(scope="module")
def raw_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Catalog]:
    catalog = load_catalog()
    # many more faults than the demo's mix, so QC flags land on hour boundaries too
    faults = FaultConfig(spike=2e-2, flatline=2e-3, drift=1e-3, duplicate=1e-2, dropout=1e-3)
    config = SimulationConfig(
        seed=5,
        start=DAY - dt.timedelta(days=1),
        days=2.0,
        stations=("SY-TY-01", "SY-XH-02"),
        format="json",
        faults=faults,
    )
    directory = tmp_path_factory.mktemp("batched") / "raw-only"
    messages = ((m.topic, m.payload) for m in iter_messages(config, catalog=catalog))
    land_messages(messages, directory, DecodeRules(catalog, check_time=False))
    return directory, catalog


def _copy(source: Path, target: Path) -> Settings:
    shutil.copytree(source, target)
    return load_settings({}, data_dir=target)


def _table(settings: Settings, sql: str) -> pl.DataFrame:
    con = connect(settings, read_only=True)
    try:
        return con.execute(sql).pl()
    finally:
        con.close()


def test_a_batch_equals_its_hours_one_by_one(
    raw_store: tuple[Path, Catalog], tmp_path: Path
) -> None:
    source, catalog = raw_store
    one_by_one = _copy(source, tmp_path / "hourly")
    batched = _copy(source, tmp_path / "batched")
    # the hour before the batch is in both lakes (the moving averages look back at it)
    for settings in (one_by_one, batched):
        process_hour(settings, catalog, HOURS[0] - dt.timedelta(hours=1), validate=False)
    for hour in HOURS:
        process_hour(one_by_one, catalog, hour, validate=False)
    results = process_hours(batched, catalog, HOURS, build_docs=False)

    assert [r.hour_end for r in results] == HOURS
    assert {v.suite: v.success for v in results[0].validations} == {
        "raw": True,
        "readings": True,
        "hourly": True,
    }
    readings = (
        "SELECT * EXCLUDE (qc), list_sort(qc) AS qc FROM readings ORDER BY station, param, ts"
    )
    a, b = _table(one_by_one, readings), _table(batched, readings)
    flagged = a.filter(pl.col("qc").list.len() > 0)
    assert flagged.height > 20, "the fault mix should have tripped QC"
    assert set(flagged.explode("qc")["qc"]) >= {"spike"}
    assert_frame_equal(a, b)
    hourly = "SELECT * FROM hourly ORDER BY station, param, ts"
    # means may differ in the last bit (summation order); everything else exactly
    assert_frame_equal(_table(one_by_one, hourly), _table(batched, hourly), rel_tol=1e-12)
    aqi = "SELECT * FROM aqi_hourly ORDER BY station, ts"
    assert_frame_equal(_table(one_by_one, aqi), _table(batched, aqi))
    log = (
        "SELECT table_name, partition, rows, checksum FROM load_log "
        "WHERE table_name IN ('readings', 'hourly', 'aqi_hourly') "
        "ORDER BY table_name, partition"
    )
    a_log, b_log = _table(one_by_one, log), _table(batched, log)
    assert b_log.height == 3 * (len(HOURS) + 1)  # one partition per hour and table
    exact = pl.col("table_name") != "hourly"  # hourly: see the rel_tol above
    assert_frame_equal(a_log.filter(exact), b_log.filter(exact))
    assert_frame_equal(a_log.drop("checksum"), b_log.drop("checksum"))
    assert [r.readings for r in results] == [
        a.filter((pl.col("ts") > h - dt.timedelta(hours=1)) & (pl.col("ts") <= h)).height
        for h in HOURS
    ]


def test_hours_must_be_consecutive(raw_store: tuple[Path, Catalog], tmp_path: Path) -> None:
    source, catalog = raw_store
    settings = _copy(source, tmp_path / "gap")
    with pytest.raises(ValueError, match="consecutive"):
        process_hours(settings, catalog, [HOURS[0], HOURS[2]], validate=False)
