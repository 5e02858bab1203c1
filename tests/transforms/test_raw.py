"""De-duplication by reading identity: duplicates stored once, revisions counted, latest wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ingest.batch import ReadingBatch
from ingest.raw_store import write_readings
from transforms.raw import deduplicate, scan_raw

T = dt.datetime(2026, 11, 24, 2, 1, tzinfo=dt.UTC)
US = 1_000_000


def _land(tmp_path: Path, rows: list[tuple[str, float, int]]) -> None:
    batch = ReadingBatch()
    ts_us = int(T.timestamp()) * US
    for param, value, received_s in rows:
        batch.append("SY-TY-01", param, ts_us, value, "N", 60, 1, ts_us + received_s * US, "json")
    write_readings(batch.to_arrow(), tmp_path / "raw", "test")


def test_duplicates_once_revisions_counted_latest_wins(tmp_path: Path) -> None:
    _land(tmp_path, [("pm25", 30.0, 1), ("o3", 50.0, 1)])
    _land(tmp_path, [("pm25", 30.0, 5)])  # re-delivery: same value
    _land(tmp_path, [("o3", 55.0, 9)])  # revision: a corrected value, later
    raw = scan_raw(tmp_path, T - dt.timedelta(hours=1), T + dt.timedelta(hours=1))
    assert raw.collect().height == 4
    out = deduplicate(raw).collect().sort("param")
    assert out["param"].to_list() == ["o3", "pm25"]
    assert out["value"].to_list() == [55.0, 30.0]
    assert out["revisions"].to_list() == [1, 0]


def test_scan_raw_filters_the_interval(tmp_path: Path) -> None:
    _land(tmp_path, [("pm25", 30.0, 1)])
    later = scan_raw(tmp_path, T, T + dt.timedelta(hours=2)).collect()
    assert later.is_empty()  # (start, end]: a reading ending at start belongs to the hour before
    assert scan_raw(tmp_path, T - dt.timedelta(seconds=1), T).collect().height == 1
    assert isinstance(scan_raw(tmp_path / "none", T, T), pl.LazyFrame)
