"""hourly sorted by station, parameter and time (migration 0012): same answers, ordered files.

Why: 0012 changes only where rows sit in hourly's Parquet files, so that one station's
questions skip the other stations' row groups. These tests pin both halves of that claim on
a real DuckLake: the analyst macros that read hourly answer exactly as before the migration
(same data, loaded and compacted the old way and the new way), and the compacted files are
in fact ordered, which they were not before (so the test fails if the order is lost).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

import warehouse
from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import DAILY, HOURLY
from aircarbon.core.settings import Settings
from warehouse.lake import LAKE
from warehouse.load import Between, replace_partitions

DAY0 = dt.date(2026, 3, 1)
DAYS = 4
STATIONS = ("SY-TY-01", "SY-SL-05", "SY-XX-03")
PARAMS = ("so2", "pm25", "wd", "ws", "temp")
SPAN = (dt.datetime(2026, 2, 28, 16, tzinfo=dt.UTC), dt.datetime(2026, 3, 4, 16, tzinfo=dt.UTC))

#: The macros that read hourly, with arguments covering the loaded days and more.
QUERIES = {
    "wind_sectors": "FROM wind_sectors('SY-SL-05', 'so2', $t0, $t1)",
    "polar_bins": "FROM polar_bins('SY-SL-05', 'pm25', $t0, $t1)",
    "cpf": "FROM cpf('SY-SL-05', 'so2', 0.75, $t0, $t1)",
    "series": "FROM series('SY-TY-01', 'pm25')",
    "completeness": "FROM completeness($d0, $d1)",
    "completeness (part)": "FROM completeness($d0, $d0)",
}


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(hours=8)
    return start, start + dt.timedelta(days=1)


def _day_frames(day: dt.date, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A local day (Asia/Shanghai) of hourly means, gaps and invalid hours, and its dailies."""
    start, _ = _day_bounds(day)
    rows: list[dict[str, Any]] = []
    for station in STATIONS:  # load order: station by station, hour by hour, params mixed
        for h in range(1, 25):
            for param in rng.permutation(PARAMS):
                if rng.random() < 0.05:
                    continue  # a missing hour
                value = (
                    float(rng.uniform(0, 360))
                    if param == "wd"
                    else float(rng.gamma(2.0, 1.5))
                    if param == "ws"
                    else float(rng.lognormal(3.0, 0.5))
                )
                rows.append(
                    {
                        "station": station,
                        "param": str(param),
                        "ts": start + dt.timedelta(hours=h),
                        "value": value,
                        "n": 60,
                        "minutes": 60.0,
                        "valid": bool(rng.random() > 0.1),
                    }
                )
    hourly = pl.DataFrame(rows, schema=HOURLY).sample(fraction=1.0, shuffle=True, seed=day.day)
    daily = (
        hourly.group_by("station", "param")
        .agg(pl.col("value").filter("valid").mean(), pl.col("valid").sum().alias("n"))
        .with_columns(
            pl.col("value").fill_null(0.0), pl.lit(day).alias("date"), valid=pl.col("n") >= 20
        )
        .select(list(DAILY))
        .cast(DAILY)
    )
    return hourly, daily


def _load(con: duckdb.DuckDBPyConnection) -> None:
    """The same days, one commit each (as the pipeline does), then compaction."""
    rng = np.random.default_rng(12)
    for k in range(DAYS):
        day = DAY0 + dt.timedelta(days=k)
        hourly, daily = _day_frames(day, rng)
        replace_partitions(
            con,
            [
                ("hourly", hourly, {"ts": Between(*_day_bounds(day))}),
                ("daily", daily, {"date": day}),
            ],
            f"layout test day {day}",
        )
    warehouse.compact(con)


def _answers(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    args = {"t0": SPAN[0], "t1": SPAN[1], "d0": DAY0, "d1": DAY0 + dt.timedelta(days=DAYS)}
    out = {}
    for name, sql in QUERIES.items():
        used = {k: v for k, v in args.items() if f"${k}" in sql}
        out[name] = con.execute(sql, used).fetchall()
    return out


def _hourly_files_ordered(con: duckdb.DuckDBPyConnection) -> list[bool]:
    """Per current hourly data file: whether its rows are in (station, param, ts) order."""
    files = [
        str(f)
        for (f,) in con.execute(
            f"SELECT data_file FROM ducklake_list_files('{LAKE}', 'hourly')"
        ).fetchall()
    ]
    assert files
    ordered = []
    for f in files:
        row = con.execute(
            "SELECT count(*) FILTER (WHERE prev > key) FROM ("
            " SELECT (station, param, ts) AS key,"
            "        lag((station, param, ts)) OVER (ROWS UNBOUNDED PRECEDING) AS prev"
            f" FROM read_parquet('{f}'))"
        ).fetchone()
        assert row is not None
        ordered.append(row[0] == 0)
    return ordered


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal rows; floats equal up to summation order (a few ulps)."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


@pytest.mark.slow
def test_sorted_hourly_gives_the_same_macro_answers(settings: Settings) -> None:
    con = warehouse.connect(settings)
    try:
        warehouse.migrate(con, target="0011")
        warehouse.load_dimensions(con, load_catalog())  # completeness counts measured params
        _load(con)
        before = _answers(con)
        assert not all(_hourly_files_ordered(con))  # load order: the test can see a change
        assert warehouse.migrate(con, target="0012") == ["0012_hourly_sorted"]
        _load(con)  # the same days again: files rewritten under the new order
        after = _answers(con)
        assert all(_hourly_files_ordered(con))
    finally:
        con.close()
    assert [name for name in QUERIES if not before[name]] == []  # each has an answer to compare
    for name in QUERIES:
        assert _same(before[name], after[name]), name


@pytest.mark.slow
def test_sorted_hourly_skips_other_stations_row_groups(
    lake: duckdb.DuckDBPyConnection,
) -> None:
    # enough rows for several row groups per file: 6 stations x 5 params x 20 days of hours
    lake.execute(f"CALL {LAKE}.set_option('parquet_row_group_size', 2048, table_name => 'hourly')")
    rng = np.random.default_rng(3)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stations = [f"ST-{i:02d}" for i in range(6)]
    hours = 20 * 24
    frame = pl.DataFrame(
        {
            "station": np.repeat(stations, len(PARAMS) * hours).tolist(),
            "param": np.tile(np.repeat(PARAMS, hours), len(stations)).tolist(),
            "ts": [t0 + dt.timedelta(hours=h + 1) for h in range(hours)]
            * (len(stations) * len(PARAMS)),
            "value": rng.uniform(0, 100, hours * len(stations) * len(PARAMS)),
            "n": 60,
            "minutes": 60.0,
            "valid": True,
        },
        schema_overrides={"n": pl.UInt32},
    ).cast(HOURLY)
    warehouse.replace_partition(lake, "hourly", frame.sample(fraction=1.0, seed=1), {})
    warehouse.compact(lake)
    assert all(_hourly_files_ordered(lake))
    files = [
        f
        for (f,) in lake.execute(
            f"SELECT data_file FROM ducklake_list_files('{LAKE}', 'hourly')"
        ).fetchall()
    ]
    # each station's rows sit in row groups of their own: min = max = the station
    spans = lake.execute(
        "SELECT stats_min_value, stats_max_value FROM parquet_metadata($f)"
        " WHERE path_in_schema = 'station'",
        {"f": files},
    ).fetchall()
    pure = [lo == hi for lo, hi in spans]
    assert len(spans) >= len(stations)
    assert sum(pure) >= len(spans) - len(stations)
    rows = lake.execute("SELECT count(*) FROM series('ST-03', 'so2')").fetchone()
    assert rows == (hours,)
