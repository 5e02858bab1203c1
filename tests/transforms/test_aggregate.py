"""Aggregation with GB 3095 / HJ 663 validity rules, on hand-computed series."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import load_catalog
from tests.transforms.frames import T0, hourly, readings
from transforms.aggregate import daily_stats, hourly_means, moving_averages
from transforms.qc import apply_qc
from transforms.raw import deduplicate

CATALOG = load_catalog()
LOCAL_MIDNIGHT = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)  # 2026-11-24 00:00 +08:00


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    return apply_qc(frame, CATALOG)


def test_hourly_mean_labelled_by_hour_end() -> None:
    # 60 one-minute values 1..60 ending 00:01..01:00 UTC → one hour ending 01:00, mean 30.5
    out = hourly_means(_clean(readings([float(i) for i in range(1, 61)])), CATALOG)
    assert out.height == 1
    row = out.row(0, named=True)
    assert row["ts"] == T0 + dt.timedelta(hours=1)
    assert row["value"] == pytest.approx(30.5)
    assert (row["n"], row["minutes"], row["valid"]) == (60, 60.0, True)


@pytest.mark.parametrize(("minutes", "valid"), [(44, False), (45, True)])
def test_hourly_needs_45_minutes(minutes: int, valid: bool) -> None:
    values: list[float | None] = [40.0 + (i % 3) if i < minutes else None for i in range(60)]
    out = hourly_means(_clean(readings(values)), CATALOG)
    assert out["valid"].to_list() == [valid]
    assert out["n"].to_list() == [minutes]  # n kept even when invalid


def test_invalid_readings_are_not_averaged() -> None:
    flags = ["N"] * 60
    for i in range(50, 60):
        flags[i] = "M"
    values = [10.0] * 50 + [900.0] * 10
    out = hourly_means(_clean(readings(values, flags=flags)), CATALOG)
    assert out["value"].to_list() == [10.0]
    assert out["n"].to_list() == [50]


def test_wind_direction_is_a_vector_mean() -> None:
    values = [350.0, 10.0] * 30
    out = hourly_means(_clean(readings(values, param="wd")), CATALOG)
    assert out["value"][0] == pytest.approx(0.0, abs=1e-6) or out["value"][0] == pytest.approx(
        360.0, abs=1e-6
    )


@pytest.mark.parametrize(("hours", "valid"), [(19, False), (20, True)])
def test_daily_mean_needs_20_hours(hours: int, valid: bool) -> None:
    values = [float(i) if i < hours else None for i in range(24)]
    h = hourly(values, param="pm25", first_end=LOCAL_MIDNIGHT + dt.timedelta(hours=1))
    day = daily_stats(h, CATALOG).filter(pl.col("param") == "pm25")
    assert day["date"].to_list() == [dt.date(2026, 11, 24)]
    assert day["n"].to_list() == [hours]
    assert day["valid"].to_list() == [valid]
    # mean of 0..hours-1
    assert day["value"][0] == pytest.approx((hours - 1) / 2)


def test_hour_ending_at_local_midnight_belongs_to_the_day_before() -> None:
    h = hourly([5.0, 7.0], param="pm25", first_end=LOCAL_MIDNIGHT)
    day = daily_stats(h, CATALOG).filter(pl.col("param") == "pm25").sort("date")
    assert day["date"].to_list() == [dt.date(2026, 11, 23), dt.date(2026, 11, 24)]


def test_o3_8h_needs_6_valid_hours_and_crosses_day_edges() -> None:
    # hours ending 21:00 … 04:00 local (8 hours across local midnight), two invalid
    first = LOCAL_MIDNIGHT - dt.timedelta(hours=3)
    values: list[float | None] = [80.0, 90.0, None, 100.0, 110.0, None, 120.0, 130.0]
    m = moving_averages(hourly(values, param="o3", first_end=first), CATALOG)
    last = m.filter(pl.col("param") == "o3_8h").sort("ts").row(-1, named=True)
    # window = all 8 hours: 6 valid, mean (80+90+100+110+120+130)/6 = 105
    assert last["n"] == 6
    assert last["valid"] is True
    assert last["value"] == pytest.approx(105.0)
    one_less = moving_averages(
        hourly([*values[:-1], None], param="o3", first_end=first), CATALOG
    ).filter(pl.col("param") == "o3_8h")
    assert one_less.sort("ts").row(-1, named=True)["valid"] is False


def test_o3_daily_max_8h_over_windows_ending_08_to_24() -> None:
    # a full local day of O3: 10 µg/m³ except 200 in the hours ending 13..16 local
    values = [200.0 if 13 <= h <= 16 else 10.0 for h in range(1, 25)]
    first = LOCAL_MIDNIGHT + dt.timedelta(hours=1)
    h = hourly(values, param="o3", first_end=first)
    d = daily_stats(pl.concat([h, moving_averages(h, CATALOG)]), CATALOG)
    mda8 = d.filter(pl.col("param") == "o3_8h_max").row(0, named=True)
    # best window holds 4×200 + 4×10 → 105; windows ending 08..24 = 17, all valid
    assert mda8["value"] == pytest.approx(105.0)
    assert mda8["n"] == 17
    assert mda8["valid"] is True
    o3max = d.filter(pl.col("param") == "o3_1h_max").row(0, named=True)
    assert o3max["value"] == 200.0


def _as_valid(frame: pl.DataFrame) -> pl.DataFrame:
    """Readings as QC would leave them if nothing were wrong (aggregation alone under test)."""
    return frame.with_columns(
        pl.lit([], dtype=pl.List(pl.String)).alias("qc"), pl.lit(True).alias("valid")
    )


@settings(max_examples=30, deadline=None)
@given(st.floats(0, 500, allow_nan=False), st.integers(1, 60), st.integers(0, 10**6))
def test_constant_series_aggregates_to_the_constant(c: float, n: int, seed: int) -> None:
    frame = readings([c] * n, param="so2")
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    doubled = pl.concat([shuffled, frame])  # duplicated deliveries, out of order
    once = deduplicate(doubled.drop("revisions").lazy()).collect()
    out = hourly_means(_as_valid(once), CATALOG)
    reference = hourly_means(_as_valid(frame), CATALOG)
    # invariant to row order and duplicated deliveries, bit for bit
    assert_frame_equal(out, reference, check_exact=True)
    assert out["value"][0] == pytest.approx(c)
    assert out["valid"][0] is (n >= CATALOG.validity.hourly_min_minutes)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0, 500, allow_nan=False), min_size=1, max_size=60),
    st.sampled_from(["so2", "wd"]),
    st.integers(0, 10**6),
)
def test_means_do_not_depend_on_row_order(values: list[float], param: str, seed: int) -> None:
    """Re-processing gives bit-identical means (and so equal load-log checksums).

    Float sums depend on the order of their terms, and the order rows reach a group varies
    between runs (parallel scans and group-bys): the aggregation must not depend on it.
    """
    if param == "wd":
        values = [v % 360.0 for v in values]
    frame = _as_valid(readings(values, param=param))
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    hourly = hourly_means(frame, CATALOG)
    assert_frame_equal(hourly_means(shuffled, CATALOG), hourly, check_exact=True)
    day = pl.concat([hourly.with_columns(pl.col("ts") + dt.timedelta(hours=h)) for h in range(24)])
    day_shuffled = day.sample(fraction=1.0, shuffle=True, seed=seed)
    assert_frame_equal(
        daily_stats(day_shuffled, CATALOG), daily_stats(day, CATALOG), check_exact=True
    )
