"""No silent data loss: shrinking reloads, future intervals and empty intervals (issue 15)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.core.errors import IntervalRefused, ShrinkRefused
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline import missing_hours, process_day, process_hour, process_hours
from aircarbon.pipeline.daily import day_bounds
from tests.pipeline.conftest import DAY, land_day
from warehouse.lake import connect

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START, END = day_bounds(DAY, "Asia/Shanghai")
HOUR = START + dt.timedelta(hours=10)
EMPTY_DAY = DAY - dt.timedelta(days=20)  # nothing landed


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Catalog]:
    """A day landed, its 24 hours and the day processed (validation off: not under test)."""
    data_dir = tmp_path_factory.mktemp("loss")
    catalog = load_catalog()
    land_day(data_dir, catalog)
    settings = load_settings({}, data_dir=data_dir)
    hours = [START + dt.timedelta(hours=i + 1) for i in range(24)]
    process_hours(settings, catalog, hours, validate=False)
    process_day(settings, catalog, DAY, validate=False)
    return settings, catalog


def _one(settings: Settings, sql: str, *args: object) -> int:
    con = connect(settings, read_only=True)
    try:
        row = con.execute(sql, list(args)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
    finally:
        con.close()


def _snapshots(settings: Settings) -> int:
    return _one(settings, "select max(snapshot_id) from ducklake_snapshots('aircarbon')")


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["AIRCARBON_DATA_DIR"] = str(settings.data_dir)
    return subprocess.run(
        [sys.executable, "-m", "aircarbon", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_reload_without_its_raw_files_is_refused(
    processed: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = processed
    in_hour = "ts > ? AND ts <= ?"
    span = (HOUR - dt.timedelta(hours=1), HOUR)
    readings = _one(settings, f"select count(*) from readings where {in_hour}", *span)
    aqi = _one(settings, f"select count(*) from aqi_hourly where {in_hour}", *span)
    assert readings > 0
    assert aqi > 0
    # the raw partition of the hour goes missing (the reading at exactly HOUR stays)
    start = HOUR - dt.timedelta(hours=1)
    partition = settings.raw_dir / f"date={start:%Y-%m-%d}" / f"hour={start:%H}"
    assert partition.is_dir()
    moved = tmp_path / "moved"
    shutil.move(partition, moved)
    try:
        before = _snapshots(settings)
        with pytest.raises(ShrinkRefused) as info:
            process_hour(settings, catalog, HOUR, validate=False)
        message = str(info.value)
        assert f"the hour ending {HOUR:%Y-%m-%dT%H:%MZ}" in message
        assert f"readings has {readings:,} rows now" in message
        assert info.value.rows_after < readings
        assert "--allow-shrink" in message
        assert _snapshots(settings) == before  # nothing committed
        assert _one(settings, f"select count(*) from readings where {in_hour}", *span) == readings

        done = _cli(settings, "process", "hourly", "--hour", HOUR.isoformat(), "--no-validate")
        assert done.returncode == 2, done.stdout
        lines = [ln for ln in done.stderr.strip().splitlines() if "no network of its own" not in ln]
        assert len(lines) == 1, done.stderr
        assert "refused to shrink the hour ending" in lines[0]
        assert f"{readings:,} rows now" in lines[0]
        assert _snapshots(settings) == before

        # the day's reload from the hourly means is guarded the same way
        forced = process_hour(settings, catalog, HOUR, validate=False, allow_shrink=True)
        assert forced.readings == info.value.rows_after
    finally:
        shutil.move(moved, partition)
    # with the files back, the hour is whole again
    process_hour(settings, catalog, HOUR, validate=False)
    assert _one(settings, f"select count(*) from readings where {in_hour}", *span) == readings


def test_future_intervals_are_refused(processed: tuple[Settings, Catalog]) -> None:
    settings, catalog = processed
    before = _snapshots(settings)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with pytest.raises(IntervalRefused, match="has not ended yet"):
        process_hour(settings, catalog, now + dt.timedelta(hours=2), validate=False)
    tomorrow = dt.datetime.now(settings.tz).date() + dt.timedelta(days=1)
    with pytest.raises(IntervalRefused, match=f"the day {tomorrow} has not ended yet"):
        process_day(settings, catalog, tomorrow, validate=False)
    done = _cli(settings, "process", "daily", "--date", tomorrow.isoformat())
    assert done.returncode == 2
    assert "has not ended yet" in done.stderr
    assert _snapshots(settings) == before


def test_a_day_without_data_is_no_data_and_gets_no_bulletin(
    processed: tuple[Settings, Catalog],
) -> None:
    settings, catalog = processed
    before = _snapshots(settings)
    result = process_day(settings, catalog, EMPTY_DAY)  # validation on: it must be skipped
    assert result.outcome == "no_data"
    assert result.validations == []
    assert result.daily_rows == 0
    assert _one(settings, "select count(*) from daily where date = ?", EMPTY_DAY) == 0
    runs = connect(settings, read_only=True)
    try:
        rows = runs.execute(
            "select suite, success, outcome from validation_runs where batch = ?",
            [EMPTY_DAY.isoformat()],
        ).fetchall()
        changes = runs.execute(
            "select commit_message, changes from ducklake_snapshots('aircarbon') "
            "where snapshot_id > ?",
            [before],
        ).fetchall()
    finally:
        runs.close()
    assert rows == [("daily", False, "skipped")]  # never "passed"
    # one commit, touching no fact table: only the load log and validation_runs
    assert [m for m, _ in changes] == [f"no_data daily {EMPTY_DAY}"]
    touched = str(changes[0][1])
    for table in ("daily", "aqi_daily", "indicators_daily"):
        assert f"'main.{table}'" not in touched, touched
    # the bulletin refuses it, in one line
    done = _cli(settings, "bulletin", "--date", EMPTY_DAY.isoformat())
    assert done.returncode == 2
    assert f"no bulletin for {EMPTY_DAY}: the lake has no daily data" in done.stderr
    assert not (settings.bulletins_dir / EMPTY_DAY.isoformat()).exists()


def test_an_hour_without_input_is_recorded_not_loaded(
    processed: tuple[Settings, Catalog],
) -> None:
    settings, catalog = processed
    start, _ = day_bounds(EMPTY_DAY, settings.timezone)
    hour = start + dt.timedelta(hours=5)
    result = process_hour(settings, catalog, hour)
    assert result.outcome == "no_data"
    assert result.validations == []
    outcomes = _one(
        settings,
        "select count(*) from validation_runs where batch = ? and outcome = 'skipped' "
        "and not success",
        f"{hour:%Y-%m-%dT%H:%M}Z",
    )
    assert outcomes == 3  # raw, readings, hourly: none ran on an empty frame
    assert hour not in missing_hours(settings, EMPTY_DAY)  # processed, for the daily sensor
    again = process_hour(settings, catalog, hour)  # idempotent: still no_data
    assert again.outcome == "no_data"
    later = hour + dt.timedelta(hours=1)
    done = _cli(settings, "process", "hourly", "--hour", later.isoformat(), "--no-validate")
    assert done.returncode == 0, done.stderr
    assert "no data (no raw input): nothing replaced, validations skipped" in done.stdout
