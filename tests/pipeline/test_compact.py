"""Scheduled compaction: fewer files, the same answers, time travel kept unless asked.

A real DuckLake (SQLite catalog, Parquet files) loaded hour by hour as the hourly step does,
then compacted through the pipeline function the daily DAG's ``compact`` task and
``aircarbon compact`` call.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import polars.testing
import pytest

import warehouse
from aircarbon.core.catalog import catalog_for
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline.maintenance import compact_lake, live_data_files
from tests.cli.test_cli import run_cli
from tests.warehouse.conftest import HOUR, hourly_frame

HOURS = 12


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_dir=tmp_path / "data")


def _load_hours(settings: Settings) -> int:
    """Twelve hourly commits of 40 stations (enough rows per commit to leave inlining)."""
    con = warehouse.connect(settings)
    try:
        warehouse.migrate(con)
        first = warehouse.current_snapshot(con)
        for k in range(HOURS):
            hour = HOUR + dt.timedelta(hours=k)
            warehouse.load_hour(con, "hourly", hourly_frame(hour, stations=40, offset=k), hour)
        return first
    finally:
        con.close()


def _hourly(settings: Settings, version: int | None = None) -> pl.DataFrame:
    con = warehouse.connect(settings, read_only=True)
    try:
        at = f" AT (VERSION => {version})" if version is not None else ""
        return con.sql(f"SELECT * FROM hourly{at} ORDER BY ts, station, param").pl()
    finally:
        con.close()


def _files(settings: Settings) -> int:
    con = warehouse.connect(settings, read_only=True)
    try:
        return live_data_files(con)
    finally:
        con.close()


@pytest.mark.slow
def test_compaction_merges_files_and_keeps_answers_and_time_travel(settings: Settings) -> None:
    early = _load_hours(settings)
    before = _hourly(settings)
    assert before.height == HOURS * 80
    files = _files(settings)
    result = compact_lake(settings, catalog_for(settings))
    assert result.files_before >= files  # + the dimension tables the step refreshes first
    assert result.files_after == _files(settings) < files
    assert result.expired_before is None
    polars.testing.assert_frame_equal(_hourly(settings), before)
    # every snapshot kept: the lake as it was before the hourly loads still reads
    assert _hourly(settings, early).height == 0


@pytest.mark.slow
def test_expiring_snapshots_ends_time_travel_to_them(settings: Settings) -> None:
    early = _load_hours(settings)
    before = _hourly(settings)
    result = compact_lake(settings, catalog_for(settings), expire_older_than=dt.timedelta(0))
    assert result.expired_before is not None
    polars.testing.assert_frame_equal(_hourly(settings), before)
    with pytest.raises(Exception, match=r"(?i)snapshot"):
        _hourly(settings, early)


@pytest.mark.integration
@pytest.mark.slow
def test_cli_compact(settings: Settings) -> None:
    _load_hours(settings)
    proc = run_cli("compact", "--json", "--data-dir", str(settings.data_dir))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["files_after"] < summary["files_before"]
    assert summary["expired_before"] is None
    words = run_cli("compact", "--data-dir", str(settings.data_dir))
    assert words.returncode == 0, words.stderr
    assert "every snapshot kept" in words.stdout


def test_compact_refuses_what_it_should_not_create_or_overflow(tmp_path: Path) -> None:
    """A mistyped data dir gets a one-line error (no lake is made); a huge --expire-days too."""
    missing = tmp_path / "no-such-dir"
    proc = run_cli("compact", "--data-dir", str(missing))
    assert proc.returncode != 0
    assert "no warehouse at" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (missing / "warehouse.sqlite").exists()
    huge = run_cli("compact", "--expire-days", "1e12", "--data-dir", str(missing))
    assert huge.returncode == 2
    assert "Traceback" not in huge.stderr
