"""Theil–Sen and Mann–Kendall: a worked example by hand, and agreement with pymannkendall."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pymannkendall as pmk
import pytest

from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import DAILY
from transforms.trends import mann_kendall, monthly_means, theil_sen, trend_table


def test_worked_example() -> None:
    # y = 1, 3, 2, 5, 4 at t = 0…4. Signs of y_j − y_i over the 10 pairs i < j:
    # (1,3)+ (1,2)+ (1,5)+ (1,4)+ (3,2)− (3,5)+ (3,4)+ (2,5)+ (2,4)+ (5,4)−  → S = 8 − 2 = 6
    # Var S = n(n−1)(2n+5)/18 = 5·4·15/18 = 16.6667; Z = (S − 1)/√Var S = 5/4.082483 = 1.224745
    # p = 2(1 − Φ(1.224745)) = 0.220671; τ = S / (n(n−1)/2) = 6/10 = 0.6
    # pairwise slopes: 2, 0.5, 4/3, 0.75, −1, 1, 1/3, 3, 1, −1 → sorted
    # −1, −1, 1/3, 0.5, 0.75, 1, 1, 4/3, 2, 3 → median (0.75 + 1)/2 = 0.875
    # intercept = median(y) − slope · median(t) = 3 − 0.875 · 2 = 1.25
    y = [1.0, 3.0, 2.0, 5.0, 4.0]
    res = mann_kendall(y, method="original")
    assert res.s == 6
    assert res.var_s == pytest.approx(300 / 18)
    assert res.z == pytest.approx(1.224745, rel=1e-6)
    assert res.p == pytest.approx(0.220671, rel=1e-5)
    assert res.tau == pytest.approx(0.6)
    assert res.trend == "no trend"
    assert res.slope == pytest.approx(0.875)
    assert res.intercept == pytest.approx(1.25)
    ts = theil_sen(y)
    assert (ts.slope, ts.intercept) == (pytest.approx(0.875), pytest.approx(1.25))


def test_tie_correction() -> None:
    # y = 1, 2, 2, 3: S = (+,+,+,0,+,+) = 5; one tie group of size 2:
    # Var S = [4·3·13 − 2·1·9]/18 = (156 − 18)/18 = 7.6667
    res = mann_kendall([1.0, 2.0, 2.0, 3.0], method="original")
    assert res.s == 5
    assert res.var_s == pytest.approx(138 / 18)


def test_irregular_time_axis() -> None:
    # y = 2t exactly on t = 0, 1, 3, 7: every pairwise slope is 2
    ts = theil_sen([0.0, 2.0, 6.0, 14.0], [0.0, 1.0, 3.0, 7.0])
    assert ts.slope == pytest.approx(2.0)
    assert ts.intercept == pytest.approx(0.0)  # median y 4 − 2 × median t 2


@pytest.mark.parametrize("n", [12, 40, 150])
@pytest.mark.parametrize(
    ("method", "reference"),
    [
        ("original", pmk.original_test),
        ("hamed_rao", pmk.hamed_rao_modification_test),
        ("prewhiten", pmk.pre_whitening_modification_test),
    ],
)
def test_agrees_with_pymannkendall(n: int, method: str, reference: object) -> None:
    rng = np.random.default_rng(n)
    # autocorrelated (random walk) with a drift, rounded to create ties
    y = np.round(np.cumsum(rng.normal(size=n)) * 0.3 + 0.05 * np.arange(n), 1)
    ours = mann_kendall(y, method=method)  # type: ignore[arg-type]
    ref = reference(y)  # type: ignore[operator]
    assert ours.s == ref.s
    assert ours.var_s == pytest.approx(ref.var_s, rel=1e-9)
    assert ours.z == pytest.approx(ref.z, rel=1e-9)
    assert ours.p == pytest.approx(ref.p, rel=1e-9, abs=1e-12)
    assert ours.tau == pytest.approx(ref.Tau, rel=1e-9)
    assert ours.trend == ref.trend
    assert ours.slope == pytest.approx(ref.slope)
    assert ours.intercept == pytest.approx(ref.intercept)


def test_monthly_validity_and_trend_table() -> None:
    catalog = load_catalog()
    # 4 years of daily PM2.5: 40 + 2·years + a seasonal cycle of ±10 µg/m³
    start = dt.date(2022, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(4 * 365)]
    values = [
        40.0 + 2.0 * i / 365.0 + 10.0 * math.cos(2 * math.pi * d.timetuple().tm_yday / 365.0)
        for i, d in enumerate(dates)
    ]
    daily = pl.DataFrame(
        {
            "station": ["A"] * len(dates),
            "param": ["pm25"] * len(dates),
            "date": dates,
            "value": values,
            "n": [24] * len(dates),
            "valid": [d.day != 1 or d.month != 3 for d in dates],
        },
        schema=DAILY,
    )
    months = monthly_means(daily, catalog, params=["pm25"])
    # March has 30 valid days (≥ 27); February 28 (≥ 25)
    assert months.get_column("valid").all()
    short = daily.filter(~((pl.col("date").dt.month() == 4) & (pl.col("date").dt.day() <= 4)))
    april = monthly_means(short, catalog, params=["pm25"]).filter(pl.col("month").dt.month() == 4)
    assert not april.get_column("valid").any()  # 26 days < 27
    table = trend_table(daily, catalog, params=["pm25"])
    row = table.filter(pl.col("station") == "A").row(0, named=True)
    assert row["slope_per_year"] == pytest.approx(2.0, rel=0.05)
    assert row["trend"] == "increasing"
    assert row["n"] == 48
    assert table.filter(pl.col("station") == "city").height == 1
