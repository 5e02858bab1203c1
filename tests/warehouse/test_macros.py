"""The analyst macros against constructed data with known answers."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pymannkendall as mk
import pytest

from aircarbon.core.contracts import DAILY, HOURLY
from warehouse.load import replace_partition

D0 = dt.date(2026, 1, 1)
T0 = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def _daily(values: list[float | None], station: str = "SY-TY-01") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "station": station,
                "param": "pm25",
                "date": D0 + dt.timedelta(days=i),
                "value": v if v is not None else 0.0,
                "n": 24,
                "valid": v is not None,
            }
            for i, v in enumerate(values)
        ],
        schema=DAILY,
    )


def test_trend_daily_matches_pymannkendall(lake: duckdb.DuckDBPyConnection) -> None:
    # a noisy upward series with ties and one invalid day
    values: list[float | None] = [30, 32, 31, 35, 35, 33, 38, None, 40, 39, 44, 41, 45, 47, 46]
    replace_partition(lake, "daily", _daily(values), {})
    row = lake.execute(
        "SELECT n, slope_per_day, mk_s, mk_z, p_value FROM trend_daily('SY-TY-01', 'pm25', ?, ?)",
        [D0, D0 + dt.timedelta(days=30)],
    ).fetchone()
    assert row is not None
    n, slope, s, z, p = row
    # reference: the same points (x = day index, invalid day dropped)
    xs = [i for i, v in enumerate(values) if v is not None]
    ys = [v for v in values if v is not None]
    ref = mk.original_test(ys)
    assert n == len(ys)
    assert s == ref.s
    assert z == pytest.approx(ref.z, rel=1e-9)
    assert p == pytest.approx(ref.p, abs=1e-6)  # erf approximation: |error| < 1.5e-7
    # Theil–Sen on irregular x: median of pairwise slopes, computed by hand here
    pairs = [
        (ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs)) for j in range(i + 1, len(xs))
    ]
    pairs.sort()
    mid = len(pairs) // 2
    expected = pairs[mid] if len(pairs) % 2 else (pairs[mid - 1] + pairs[mid]) / 2
    assert slope == pytest.approx(expected)


def _hourly(station: str, param: str, values: list[float]) -> list[dict[str, object]]:
    return [
        {
            "station": station,
            "param": param,
            "ts": T0 + dt.timedelta(hours=i + 1),
            "value": v,
            "n": 60,
            "minutes": 60.0,
            "valid": True,
        }
        for i, v in enumerate(values)
    ]


def test_wind_sectors_and_cpf_on_a_constructed_wind_field(
    lake: duckdb.DuckDBPyConnection,
) -> None:
    # 8 hours from the north (0°) with high SO2, 8 from the south (180°) with low SO2,
    # 4 from the east (90°) with middling SO2
    wd = [0.0] * 8 + [180.0] * 8 + [90.0] * 4
    so2 = [100.0, 110, 120, 130, 140, 150, 160, 170] + [10.0] * 8 + [50.0] * 4
    rows = _hourly("SY-TY-01", "wd", wd) + _hourly("SY-TY-01", "ws", [2.0] * 20)
    rows += _hourly("SY-TY-01", "so2", so2)
    replace_partition(lake, "hourly", pl.DataFrame(rows, schema=HOURLY), {})
    span = [T0, T0 + dt.timedelta(days=1)]
    sectors = lake.execute(
        "SELECT sector, hours, mean FROM wind_sectors('SY-TY-01', 'so2', ?, ?)", span
    ).fetchall()
    assert sectors == [("N", 8, 135.0), ("E", 4, 50.0), ("S", 8, 10.0)]
    cpf = lake.execute(
        "SELECT sector, hours_above, cpf, threshold FROM cpf('SY-TY-01', 'so2', 0.75, ?, ?)", span
    ).fetchall()
    # 75th percentile of the 20 values (linear interpolation) lies inside the northern values:
    # sorted: 10×8 (0-7), 50×4 (8-11), 100, 110, 120, 130 … (12-19); position 0.75·19 = 14.25
    # → 120 + 0.25·(130 − 120) = 122.5; northern values ≥ 122.5: 130…170 → 5 of 8 = 0.625
    assert cpf == [("N", 5, 0.625, 122.5), ("E", 0, 0.0, 122.5), ("S", 0, 0.0, 122.5)]


def test_exceedance_summary_counts_iaqi_above_100(lake: duckdb.DuckDBPyConnection) -> None:
    item = pl.Struct({"pollutant": pl.String, "concentration": pl.Float64, "iaqi": pl.Int32})
    frame = pl.DataFrame(
        {
            "station": ["SY-TY-01"] * 3,
            "date": [D0, D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)],
            "aqi": [120, 80, 150],
            "level": [3, 2, 3],
            "category": ["Lightly polluted", "Good", "Lightly polluted"],
            "category_zh": ["轻度污染", "良", "轻度污染"],
            "color": ["#FF7E00", "#FFFF00", "#FF7E00"],
            "primary_pollutants": [["pm25"], ["pm25"], ["pm25"]],
            "iaqi": [
                [{"pollutant": "pm25", "concentration": 80.0, "iaqi": 120}],
                [{"pollutant": "pm25", "concentration": 55.0, "iaqi": 80}],
                [{"pollutant": "pm25", "concentration": 115.0, "iaqi": 150}],
            ],
            "standard": ["HJ 633-2026"] * 3,
        },
        schema_overrides={"iaqi": pl.List(item), "aqi": pl.Int32, "level": pl.Int8},
    )
    replace_partition(lake, "aqi_daily", frame, {})
    row = lake.execute(
        "SELECT days, exceedance_days, exceedance_rate, max_iaqi "
        "FROM exceedance_summary(?, ?) WHERE pollutant = 'pm25'",
        [D0, D0 + dt.timedelta(days=5)],
    ).fetchone()
    assert row == (3, 2, pytest.approx(0.6667), 150)
