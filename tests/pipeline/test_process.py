"""The hourly and daily steps on simulated data: lake rows, idempotency, critical failures."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import ValidationFailed
from aircarbon.core.settings import Settings
from aircarbon.pipeline import process_day, process_hour
from aircarbon.pipeline.daily import day_bounds
from ingest.batch import ReadingBatch
from ingest.raw_store import write_readings
from tests.pipeline.conftest import DAY, STATIONS
from transforms.raw import deduplicate, scan_raw
from warehouse.lake import connect
from warehouse.load import Between, partition_stats

pytestmark = pytest.mark.integration

START, END = day_bounds(DAY, "Asia/Shanghai")
HOUR = START + dt.timedelta(hours=10)  # 10:00 local


def _count(settings: Settings, sql: str, *args: object) -> int:
    con = connect(settings, read_only=True)
    try:
        row = con.execute(sql, list(args)).fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_hour_lands_readings_hourly_and_aqi(landed: tuple[Settings, Catalog]) -> None:
    settings, catalog = landed
    result = process_hour(settings, catalog, HOUR, build_docs=False)
    assert {v.suite: v.success for v in result.validations} == {
        "raw": True,
        "readings": True,
        "hourly": True,
    }
    raw = deduplicate(scan_raw(settings.data_dir, HOUR - dt.timedelta(hours=1), HOUR)).collect()
    assert result.readings == raw.height
    in_hour = "ts > ? AND ts <= ?"
    span = (HOUR - dt.timedelta(hours=1), HOUR)
    assert _count(settings, f"SELECT count(*) FROM readings WHERE {in_hour}", *span) == raw.height
    stations = _count(settings, "SELECT count(DISTINCT station) FROM aqi_hourly WHERE ts = ?", HOUR)
    assert stations == len(STATIONS) - 0  # every simulated station measures the criteria
    runs = _count(settings, "SELECT count(*) FROM validation_runs WHERE success")
    assert runs >= 3


def test_rerunning_an_hour_changes_nothing(landed: tuple[Settings, Catalog]) -> None:
    settings, catalog = landed
    hour = HOUR + dt.timedelta(hours=1)

    where = {"ts": Between(hour - dt.timedelta(hours=1), hour)}

    def stats() -> list[tuple[int, str]]:
        con = connect(settings)
        try:
            tables = ("readings", "hourly", "aqi_hourly")
            return [partition_stats(con, t, where) for t in tables]
        finally:
            con.close()

    def hourly_rows() -> pl.DataFrame:
        con = connect(settings, read_only=True)
        try:
            sql = "SELECT * FROM hourly WHERE ts > ? AND ts <= ? ORDER BY station, param"
            return con.execute(sql, [hour - dt.timedelta(hours=1), hour]).pl()
        finally:
            con.close()

    process_hour(settings, catalog, hour, validate=False)
    first, first_hourly = stats(), hourly_rows()
    process_hour(settings, catalog, hour, validate=False)
    assert stats() == first  # same rows, same checksums (hourly too: order-independent means)
    assert_frame_equal(hourly_rows(), first_hourly, check_exact=True)
    assert all(rows > 0 for rows, _ in first)
    assert first_hourly.height > 0


def test_corrupted_batch_fails_with_the_expectation_named(
    landed: tuple[Settings, Catalog],
) -> None:
    settings, catalog = landed
    hour = HOUR + dt.timedelta(hours=5)
    bad = ReadingBatch()
    ts_us = int((hour - dt.timedelta(minutes=5)).timestamp()) * 1_000_000
    bad.append("NOPE-01", "pm25", ts_us, 30.0, "N", 60, 1, ts_us, "json")
    write_readings(bad.to_arrow(), settings.data_dir / "raw", "intruder")
    with pytest.raises(ValidationFailed) as err:
        process_hour(settings, catalog, hour, build_docs=False)
    assert "station" in str(err.value)
    con = connect(settings, read_only=True)
    try:
        failed = con.execute(
            "SELECT suite, failed_expectations FROM validation_runs "
            "WHERE NOT success AND batch = ?",
            [f"{hour:%Y-%m-%dT%H:%M}Z"],
        ).fetchall()
        loaded = con.execute(
            "SELECT count(*) FROM readings WHERE ts > ? AND ts <= ?",
            [hour - dt.timedelta(hours=1), hour],
        ).fetchone()
    finally:
        con.close()
    assert failed, "the failing run is recorded"
    suites = {suite for suite, _ in failed}
    assert "raw" in suites
    expectations = [e["expectation"] for _, text in failed for e in json.loads(text)]
    assert any("in_set" in e for e in expectations)
    assert loaded == (0,)  # a critical failure stops the load of that batch


def test_day_after_its_hours(landed: tuple[Settings, Catalog]) -> None:
    settings, catalog = landed
    for h in range(1, 25):
        hour = START + dt.timedelta(hours=h)
        if hour == HOUR + dt.timedelta(hours=5):
            continue  # the corrupted hour stays unloaded: 23 valid hours still make a day
        process_hour(settings, catalog, hour, validate=False)
    result = process_day(settings, catalog, DAY, build_docs=False)
    assert result.validations[0].success
    con = connect(settings, read_only=True)
    try:
        daily = con.execute("SELECT * FROM daily WHERE date = ?", [DAY]).pl()
        aqi = con.execute("SELECT * FROM aqi_daily WHERE date = ?", [DAY]).pl()
    finally:
        con.close()
    pm25 = daily.filter((pl.col("param") == "pm25") & (pl.col("station") == "SY-TY-01"))
    assert pm25["n"].to_list() == [23]
    assert pm25["valid"].to_list() == [True]
    assert sorted(aqi["station"].to_list()) == sorted(STATIONS)
    assert set(daily["param"]) >= {"o3_8h_max", "o3_1h_max", "pm25", "co2"}
