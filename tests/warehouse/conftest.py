"""Fixtures for the warehouse tests: a real DuckLake in ``tmp_path`` (SQLite catalog)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

import warehouse
from aircarbon.core.contracts import DAILY, HOURLY
from aircarbon.core.settings import Settings, load_settings
from tests.fixtures.lakes import copy_lake

HOUR = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_dir=tmp_path / "data")


@pytest.fixture
def lake(settings: Settings, lake_template: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated, empty lake of the test's own: a copy of the session's template."""
    copy_lake(lake_template, settings)
    con = warehouse.connect(settings)
    yield con
    con.close()


def hourly_frame(hour_end: dt.datetime, *, stations: int = 3, offset: float = 0.0) -> pl.DataFrame:
    """Hourly rows for ``hour_end``: pm25 and o3 at ``stations`` stations."""
    rows = [
        {
            "station": f"ST-{i:02d}",
            "param": param,
            "ts": hour_end,
            "value": 10.0 * i + j + offset,
            "n": 60,
            "minutes": 60.0,
            "valid": True,
        }
        for i in range(stations)
        for j, param in enumerate(("pm25", "o3"))
    ]
    return pl.DataFrame(rows, schema=HOURLY)


def daily_frame(date: dt.date, *, value: float = 35.0) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "station": "ST-00",
                "param": "pm25",
                "date": date,
                "value": value,
                "n": 24,
                "valid": True,
            }
        ],
        schema=DAILY,
    )
