"""HJ 633 AQI (transforms/aqi.py): scalar core, vectorised frames and the calculator command.

Expected values are computed by hand from HJ 633-2012 Table 1 / HJ 633-2026 Table 3
(domain.md §1.1–1.2) with IAQI = (IAQI_Hi − IAQI_Lo)/(BP_Hi − BP_Lo)·(C − BP_Lo) + IAQI_Lo,
rounded UP; the arithmetic is in the comment beside each case. IAQI steps are
0, 50, 100, 150, 200, 300, 400, 500.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aircarbon.commands.aqi import run
from aircarbon.core.catalog import AqiStandard, Catalog, load_catalog
from aircarbon.core.contracts import AQI_DAILY, AQI_HOURLY
from aircarbon.core.errors import AirCarbonError
from transforms.aqi import (
    aqi_daily,
    aqi_hourly,
    compute_aqi,
    iaqi,
    input_codes,
    pollutant_names,
    resolve_standard,
    round_half_even,
)

CATALOG = load_catalog()
S2012 = CATALOG.aqi_standards["2012"]
S2026 = CATALOG.aqi_standards["2026"]
STEPS = CATALOG.iaqi_steps
UTC = dt.UTC
SHANGHAI = ZoneInfo(CATALOG.network.timezone)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return CATALOG


def std(version: str) -> AqiStandard:
    return CATALOG.aqi_standards[version]


# --------------------------------------------------------------------------------------
# IAQI at, just below and between breakpoints — every column, both versions
# --------------------------------------------------------------------------------------

# Gas columns are identical in both versions (domain.md §1.2): checked under each.
GAS_CASES: list[tuple[str, float, int]] = [
    # so2_24h: 0 50 150 475 800 1600 2100 2620
    ("so2_24h", 0, 0),
    ("so2_24h", 49, 49),  # 50/50·49 = 49
    ("so2_24h", 49.9, 50),  # 49.9 → up to 50
    ("so2_24h", 50, 50),
    ("so2_24h", 100, 75),  # 50 + 50/100·50
    ("so2_24h", 150, 100),
    ("so2_24h", 300, 124),  # 100 + 50/325·150 = 123.08
    ("so2_24h", 475, 150),
    ("so2_24h", 799, 200),  # 150 + 50/325·324 = 199.85
    ("so2_24h", 800, 200),
    ("so2_24h", 1200, 250),  # 200 + 100/800·400
    ("so2_24h", 1600, 300),
    ("so2_24h", 2100, 400),
    ("so2_24h", 2360, 450),  # 400 + 100/520·260
    ("so2_24h", 2620, 500),
    ("so2_24h", 3000, 500),  # off-scale → clamp to 500
    # so2_1h: 0 150 500 650 800 (shortened; > 800 is a special rule, tested below)
    ("so2_1h", 100, 34),  # 50/150·100 = 33.3
    ("so2_1h", 149, 50),  # 50/150·149 = 49.67
    ("so2_1h", 150, 50),
    ("so2_1h", 300, 72),  # 50 + 50/350·150 = 71.43
    ("so2_1h", 499, 100),  # 50 + 50/350·349 = 99.86
    ("so2_1h", 500, 100),
    ("so2_1h", 600, 134),  # 100 + 50/150·100 = 133.3
    ("so2_1h", 650, 150),
    ("so2_1h", 700, 167),  # 150 + 50/150·50 = 166.7
    ("so2_1h", 799, 200),  # 150 + 50/150·149 = 199.67
    ("so2_1h", 800, 200),  # the last breakpoint itself is still on the table
    # no2_24h: 0 40 80 180 280 565 750 940
    ("no2_24h", 39, 49),  # 50/40·39 = 48.75
    ("no2_24h", 40, 50),
    ("no2_24h", 60, 75),  # 50 + 50/40·20
    ("no2_24h", 80, 100),
    ("no2_24h", 130, 125),  # 100 + 50/100·50
    ("no2_24h", 180, 150),
    ("no2_24h", 280, 200),
    ("no2_24h", 400, 243),  # 200 + 100/285·120 = 242.1
    ("no2_24h", 565, 300),
    ("no2_24h", 750, 400),
    ("no2_24h", 845, 450),  # 400 + 100/190·95
    ("no2_24h", 940, 500),
    ("no2_24h", 1000, 500),
    # no2_1h: 0 100 200 700 1200 2340 3090 3840
    ("no2_1h", 99, 50),  # 49.5
    ("no2_1h", 100, 50),
    ("no2_1h", 150, 75),
    ("no2_1h", 200, 100),
    ("no2_1h", 450, 125),  # 100 + 50/500·250
    ("no2_1h", 700, 150),
    ("no2_1h", 1200, 200),
    ("no2_1h", 1770, 250),  # 200 + 100/1140·570
    ("no2_1h", 2340, 300),
    ("no2_1h", 3090, 400),
    ("no2_1h", 3839, 500),  # 400 + 100/750·749 = 499.87
    ("no2_1h", 3840, 500),
    ("no2_1h", 4000, 500),
    # co_24h (mg/m³): 0 2 4 14 24 36 48 60
    ("co_24h", 1.9, 48),  # 50/2·1.9 = 47.5
    ("co_24h", 1.99, 50),  # 49.75
    ("co_24h", 2, 50),
    ("co_24h", 2.2, 55),  # 50 + 25·0.2 = 55.000000000000014 in floats: the ceil guard keeps 55
    ("co_24h", 3, 75),
    ("co_24h", 4, 100),
    ("co_24h", 9, 125),  # 100 + 50/10·5
    ("co_24h", 14, 150),
    ("co_24h", 24, 200),
    ("co_24h", 30, 250),  # 200 + 100/12·6
    ("co_24h", 36, 300),
    ("co_24h", 48, 400),
    ("co_24h", 60, 500),
    ("co_24h", 61, 500),
    # co_1h (mg/m³): 0 5 10 35 60 90 120 150
    ("co_1h", 4.9, 49),  # 50/5·4.9
    ("co_1h", 5, 50),
    ("co_1h", 7.5, 75),
    ("co_1h", 10, 100),
    ("co_1h", 22.5, 125),  # 100 + 50/25·12.5
    ("co_1h", 35, 150),
    ("co_1h", 60, 200),
    ("co_1h", 75, 250),
    ("co_1h", 90, 300),
    ("co_1h", 120, 400),
    ("co_1h", 149, 497),  # 400 + 100/30·29 = 496.67
    ("co_1h", 150, 500),
    # o3_1h: 0 160 200 300 400 800 1000 1200
    ("o3_1h", 80, 25),
    ("o3_1h", 159, 50),  # 50/160·159 = 49.69
    ("o3_1h", 160, 50),
    ("o3_1h", 180, 75),
    ("o3_1h", 200, 100),
    ("o3_1h", 250, 125),
    ("o3_1h", 300, 150),
    ("o3_1h", 400, 200),
    ("o3_1h", 600, 250),
    ("o3_1h", 700, 275),  # 200 + 100/400·300
    ("o3_1h", 800, 300),
    ("o3_1h", 1000, 400),
    ("o3_1h", 1200, 500),
    ("o3_1h", 1300, 500),
    # o3_8h: 0 100 160 215 265 800 (shortened; > 800 is a special rule)
    ("o3_8h", 99, 50),  # 49.5
    ("o3_8h", 100, 50),
    ("o3_8h", 130, 75),
    ("o3_8h", 160, 100),
    ("o3_8h", 170, 110),  # 100 + 50/55·10 = 109.09
    ("o3_8h", 215, 150),
    ("o3_8h", 240, 175),
    ("o3_8h", 265, 200),
    ("o3_8h", 500, 244),  # 200 + 100/535·235 = 243.93
    ("o3_8h", 800, 300),
]

PM_CASES: list[tuple[str, str, float, int]] = [
    # 2012 pm10_24h: 0 50 150 250 350 420 500 600
    ("2012", "pm10_24h", 49, 49),
    ("2012", "pm10_24h", 50, 50),
    ("2012", "pm10_24h", 100, 75),
    ("2012", "pm10_24h", 120, 85),  # 50 + 50/100·70
    ("2012", "pm10_24h", 149, 100),  # 50 + 50/100·99 = 99.5
    ("2012", "pm10_24h", 150, 100),
    ("2012", "pm10_24h", 200, 125),
    ("2012", "pm10_24h", 250, 150),
    ("2012", "pm10_24h", 350, 200),
    ("2012", "pm10_24h", 385, 250),  # 200 + 100/70·35
    ("2012", "pm10_24h", 420, 300),
    ("2012", "pm10_24h", 460, 350),
    ("2012", "pm10_24h", 500, 400),
    ("2012", "pm10_24h", 600, 500),
    ("2012", "pm10_24h", 700, 500),
    # 2026 pm10_24h: 0 50 120 250 350 420 500 600
    ("2026", "pm10_24h", 49, 49),
    ("2026", "pm10_24h", 85, 75),  # 50 + 50/70·35
    ("2026", "pm10_24h", 119, 100),  # 50 + 50/70·69 = 99.29
    ("2026", "pm10_24h", 120, 100),
    ("2026", "pm10_24h", 150, 112),  # 100 + 50/130·30 = 111.54 (2012: 100)
    ("2026", "pm10_24h", 185, 125),  # 100 + 50/130·65
    ("2026", "pm10_24h", 250, 150),
    ("2026", "pm10_24h", 350, 200),
    ("2026", "pm10_24h", 600, 500),
    ("2026", "pm10_24h", 650, 500),
    # 2012 pm25_24h: 0 35 75 115 150 250 350 500
    ("2012", "pm25_24h", 34, 49),  # 50/35·34 = 48.57
    ("2012", "pm25_24h", 35, 50),
    ("2012", "pm25_24h", 55, 75),
    ("2012", "pm25_24h", 74, 99),  # 50 + 50/40·39 = 98.75
    ("2012", "pm25_24h", 75, 100),
    ("2012", "pm25_24h", 95, 125),
    ("2012", "pm25_24h", 115, 150),
    ("2012", "pm25_24h", 150, 200),
    ("2012", "pm25_24h", 200, 250),
    ("2012", "pm25_24h", 250, 300),
    ("2012", "pm25_24h", 350, 400),
    ("2012", "pm25_24h", 425, 450),
    ("2012", "pm25_24h", 500, 500),
    ("2012", "pm25_24h", 600, 500),
    # 2026 pm25_24h: 0 35 60 115 150 250 350 500
    ("2026", "pm25_24h", 34, 49),
    ("2026", "pm25_24h", 35, 50),
    ("2026", "pm25_24h", 47.5, 75),  # 50 + 50/25·12.5
    ("2026", "pm25_24h", 59, 98),  # 50 + 50/25·24
    ("2026", "pm25_24h", 60, 100),
    ("2026", "pm25_24h", 75, 114),  # 100 + 50/55·15 = 113.6 (2012: 100)
    ("2026", "pm25_24h", 87.5, 125),  # 100 + 50/55·27.5
    ("2026", "pm25_24h", 115, 150),
    ("2026", "pm25_24h", 150, 200),
    ("2026", "pm25_24h", 500, 500),
]


@pytest.mark.parametrize("version", ["2012", "2026"])
@pytest.mark.parametrize(("column", "value", "expected"), GAS_CASES)
def test_iaqi_gas_columns(version: str, column: str, value: float, expected: int) -> None:
    assert iaqi(value, column, std(version), STEPS) == expected


@pytest.mark.parametrize(("version", "column", "value", "expected"), PM_CASES)
def test_iaqi_pm_columns(version: str, column: str, value: float, expected: int) -> None:
    assert iaqi(value, column, std(version), STEPS) == expected


@pytest.mark.parametrize("version", ["2012", "2026"])
def test_every_breakpoint_maps_to_its_step(version: str) -> None:
    standard = std(version)
    for column, bps in standard.breakpoints.items():
        for bp, step in zip(bps, STEPS, strict=False):
            assert iaqi(bp, column, standard, STEPS) == step, (column, bp)


def test_every_column_is_covered_by_the_cases() -> None:
    gas = {c for c, _, _ in GAS_CASES}
    pm = {(v, c) for v, c, _, _ in PM_CASES}
    for version in ("2012", "2026"):
        for column in std(version).breakpoints:
            assert column in gas or (version, column) in pm, (version, column)


@pytest.mark.parametrize("value", [None, -0.1, -5.0, math.nan])
def test_missing_negative_and_nan_have_no_iaqi(value: float | None) -> None:
    assert iaqi(value, "pm25_24h", S2026, STEPS) is None


def test_the_ceiling_guard_removes_float_noise_only() -> None:
    # 50 + (100-50)/(4-2)·(2.2-2) is 55.000000000000014 in binary floats; a bare ceil says 56.
    assert math.ceil(25.0 * (2.2 - 2.0) + 50) == 56
    assert iaqi(2.2, "co_24h", S2012, STEPS) == 55
    # ...while a real fraction still rounds up: 50 + 25·0.201 = 55.025 → 56.
    assert iaqi(2.201, "co_24h", S2012, STEPS) == 56


# --------------------------------------------------------------------------------------
# special rules above the shortened columns
# --------------------------------------------------------------------------------------


def test_2012_so2_1h_above_800_uses_the_24h_iaqi() -> None:
    # SO2 24h 300 → 100 + 50/325·150 = 123.08 → 124.
    assert iaqi(900, "so2_1h", S2012, STEPS, fallback_value={"so2_24h": 300}) == 124
    assert iaqi(900, "so2_1h", S2012, STEPS, fallback_value=lambda c: 300.0) == 124
    assert iaqi(900, "so2_1h", S2012, STEPS) is None  # 24h value unavailable → unknown
    assert iaqi(900, "so2_1h", S2012, STEPS, fallback_value={"so2_24h": None}) is None
    r = compute_aqi({"so2": 900, "so2_24h": 300}, kind="hourly", standard=S2012, catalog=CATALOG)
    assert (r.aqi, r.iaqi) == (124, {"so2": 124})
    # Without the 24-h value the SO2 IAQI is unknown; the AQI comes from what is known.
    r = compute_aqi({"so2": 900, "no2": 150}, kind="hourly", standard=S2012, catalog=CATALOG)
    assert r.iaqi == {"so2": None, "no2": 75}
    assert r.aqi == 75
    r = compute_aqi({"so2": 900}, kind="hourly", standard=S2012, catalog=CATALOG)
    assert (r.aqi, r.category, r.primary_pollutants) == (None, None, ())


def test_2026_so2_1h_above_800_is_200() -> None:
    assert iaqi(900, "so2_1h", S2026, STEPS) == 200
    assert iaqi(5000, "so2_1h", S2026, STEPS, fallback_value={"so2_24h": 10}) == 200
    r = compute_aqi({"so2": 801}, kind="hourly", standard=S2026, catalog=CATALOG)
    assert r.aqi == 200
    # so2_24h is an auxiliary input of the 2012 hourly report only.
    with pytest.raises(AirCarbonError, match="'so2_24h'"):
        compute_aqi({"so2_24h": 10}, kind="hourly", standard=S2026, catalog=CATALOG)


def test_2012_o3_8h_above_800_uses_the_1h_iaqi() -> None:
    # O3 1h 700 → 200 + 100/400·300 = 275.
    assert iaqi(900, "o3_8h", S2012, STEPS, fallback_value={"o3_1h": 700}) == 275
    assert iaqi(900, "o3_8h", S2012, STEPS) is None
    daily = compute_aqi(
        {"o3_8h_max": 900, "o3_1h_max": 700}, kind="daily", standard=S2012, catalog=CATALOG
    )
    assert daily.iaqi == {"o3_1h_max": 275, "o3_8h_max": 275}
    assert daily.primary_pollutants == ("o3_1h", "o3_8h")  # a tie: both listed
    hourly = compute_aqi({"o3_8h": 900, "o3": 700}, kind="hourly", standard=S2012, catalog=CATALOG)
    assert hourly.iaqi == {"o3": 275, "o3_8h": 275}
    alone = compute_aqi({"o3_8h_max": 900}, kind="daily", standard=S2012, catalog=CATALOG)
    assert alone.aqi is None


def test_2026_o3_8h_above_800_is_300() -> None:
    assert iaqi(900, "o3_8h", S2026, STEPS) == 300
    r = compute_aqi({"o3_8h_max": 900}, kind="daily", standard=S2026, catalog=CATALOG)
    assert (r.aqi, r.primary_pollutants) == (300, ("o3_8h",))


# --------------------------------------------------------------------------------------
# input rounding (2026 only)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (34.5, 0, 34.0),  # tie → even
        (35.5, 0, 36.0),  # tie → even
        (34.51, 0, 35.0),  # above the tie
        (2.25, 1, 2.2),  # tie → even
        (2.35, 1, 2.4),  # tie → even
        (2.45, 1, 2.4),  # binary 2.4500000000000002 is still the decimal tie 2.45 → 2.4
        (2.675, 2, 2.68),  # binary 2.67499999… is the decimal tie 2.675 → 2.68
        (0.5, 0, 0.0),
    ],
)
def test_round_half_even_on_the_decimal_value(value: float, decimals: int, expected: float) -> None:
    assert round_half_even(value, decimals) == expected


def test_plain_round_would_be_wrong_on_binary_ties() -> None:
    assert round(2.675, 2) == 2.67  # why round_half_even goes through Decimal(repr(x))


@pytest.mark.parametrize(
    ("inputs", "iaqi_2026", "iaqi_2012"),
    [
        # PM2.5 34.5 → 34 → 50/35·34 = 48.57 → 49; 2012 unrounded: 50/35·34.5 = 49.29 → 50.
        ({"pm25": 34.5}, 49, 50),
        # PM2.5 35.5 → 36 → 50 + 50/25·1 = 52; 2012: 50 + 50/40·0.5 = 50.6 → 51.
        ({"pm25": 35.5}, 52, 51),
        # PM10 120.4 → 120 → 100; 2012: 50 + 50/100·70.4 = 85.2 → 86.
        ({"pm10": 120.4}, 100, 86),
        # CO 2.25 → 2.2 → 50 + 25·0.2 = 55; 2012: 50 + 25·0.25 = 56.25 → 57.
        ({"co": 2.25}, 55, 57),
        # CO 2.45 → 2.4 → 60; 2012: 50 + 25·0.45 = 61.25 → 62.
        ({"co": 2.45}, 60, 62),
        # NO2 40.5 → 40 → 50; 2012: 50 + 50/40·0.5 = 50.6 → 51.
        ({"no2": 40.5}, 50, 51),
        # O3 8h max 160.5 → 160 → 100; 2012: 100 + 50/55·0.5 = 100.45 → 101.
        ({"o3_8h_max": 160.5}, 100, 101),
    ],
)
def test_inputs_are_rounded_under_2026_only(
    inputs: dict[str, float], iaqi_2026: int, iaqi_2012: int
) -> None:
    (code,) = inputs
    new = compute_aqi(inputs, kind="daily", standard=S2026, catalog=CATALOG)
    old = compute_aqi(inputs, kind="daily", standard=S2012, catalog=CATALOG)
    assert new.iaqi == {code: iaqi_2026}
    assert old.iaqi == {code: iaqi_2012}
    assert old.concentrations == inputs  # 2012: used as given


def test_2026_hourly_rounds_and_uses_daily_pm_breakpoints() -> None:
    # Hourly PM2.5 60.6 → 61 → 100 + 50/55·1 = 100.9 → 101; CO 1h 7.45 → 7.4 → 50 + 10·2.4 = 74.
    r = compute_aqi({"pm25": 60.6, "co": 7.45}, kind="hourly", standard=S2026, catalog=CATALOG)
    assert r.iaqi == {"co": 74, "pm25": 101}
    assert r.concentrations == {"co": 7.4, "pm25": 61.0}


# --------------------------------------------------------------------------------------
# report composition: AQI, primary and exceedance pollutants, category
# --------------------------------------------------------------------------------------


def test_primary_pollutant_ties_are_all_listed() -> None:
    # 2012: PM10 150 → 100, PM2.5 75 → 100, NO2 60 → 75.
    r = compute_aqi(
        {"pm25": 75, "pm10": 150, "no2": 60}, kind="daily", standard=S2012, catalog=CATALOG
    )
    assert r.aqi == 100
    assert r.primary_pollutants == ("pm10", "pm25")
    assert r.category is not None
    assert (r.category.level, r.category.name_zh, r.category.color) == (2, "良", "#FFFF00")


def test_no_primary_pollutant_at_or_below_50() -> None:
    # PM2.5 35 → 50, NO2 40 → 50: AQI 50 → 优, no primary pollutant.
    r = compute_aqi({"pm25": 35, "no2": 40}, kind="daily", standard=S2012, catalog=CATALOG)
    assert (r.aqi, r.primary_pollutants) == (50, ())
    assert r.category is not None
    assert (r.category.name_en, r.category.color) == ("Excellent", "#00E400")
    # PM2.5 35.7 (2012) → 50 + 50/40·0.7 = 50.875 → 51: now it is primary.
    r = compute_aqi({"pm25": 35.7, "no2": 40}, kind="daily", standard=S2012, catalog=CATALOG)
    assert (r.aqi, r.primary_pollutants) == (51, ("pm25",))


def test_hourly_pm_24h_inputs_report_as_the_pollutant() -> None:
    # 2012 real-time report: PM2.5 24-h moving average 115 → 150, O3 8h 160 → 100.
    r = compute_aqi({"pm25_24h": 115, "o3_8h": 160}, kind="hourly", standard=S2012, catalog=CATALOG)
    assert r.primary_pollutants == ("pm25",)
    assert pollutant_names(CATALOG)["pm10_24h"] == "pm10"
    assert pollutant_names(CATALOG)["so2_1h"] == "so2"
    assert pollutant_names(CATALOG)["o3_1h"] == "o3_1h"


def test_exceedance_pollutants_only_under_2012() -> None:
    # 2012: PM2.5 80 → 100 + 50/40·5 = 106.25 → 107 (> 100); NO2 80 → 100 (not > 100).
    # 2026: PM2.5 80 → 100 + 50/55·20 = 118.2 → 119.
    inputs = {"pm25": 80.0, "no2": 80.0}
    old = compute_aqi(inputs, kind="daily", standard=S2012, catalog=CATALOG)
    new = compute_aqi(inputs, kind="daily", standard=S2026, catalog=CATALOG)
    assert (old.aqi, old.exceedance_pollutants) == (107, ("pm25",))
    assert (new.aqi, new.exceedance_pollutants) == (119, ())


def test_unknown_inputs_are_named_with_the_valid_codes() -> None:
    with pytest.raises(AirCarbonError, match=r"'o3_1h_max'.*valid: so2, no2, co, pm10, pm25"):
        compute_aqi({"o3_1h_max": 100}, kind="daily", standard=S2026, catalog=CATALOG)
    with pytest.raises(AirCarbonError, match="report kind"):
        compute_aqi({}, kind="weekly", standard=S2026, catalog=CATALOG)


def test_input_codes_follow_the_catalog() -> None:
    assert input_codes(S2026, "hourly") == ("so2", "no2", "co", "o3", "pm10", "pm25")
    assert input_codes(S2012, "hourly") == (
        *("so2", "no2", "co", "o3", "o3_8h", "pm10_24h", "pm25_24h"),
        "so2_24h",  # auxiliary: only for the SO2 1h > 800 fallback
    )
    assert input_codes(S2026, "daily") == ("so2", "no2", "co", "pm10", "pm25", "o3_8h_max")


def test_resolve_standard() -> None:
    assert resolve_standard(CATALOG, "2012") is S2012
    assert resolve_standard(CATALOG, "HJ 633-2026") is S2026
    assert resolve_standard(CATALOG, day=dt.date(2026, 2, 28)) is S2012
    assert resolve_standard(CATALOG, day=dt.date(2026, 3, 1)) is S2026
    with pytest.raises(AirCarbonError, match="2012, 2026"):
        resolve_standard(CATALOG, "2030")


# --------------------------------------------------------------------------------------
# vectorised frames
# --------------------------------------------------------------------------------------


def daily_frame(rows: list[tuple[str, dt.date, str, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station": [r[0] for r in rows],
            "param": [r[2] for r in rows],
            "date": [r[1] for r in rows],
            "value": [r[3] for r in rows],
            "n": [24] * len(rows),
            "valid": [r[4] for r in rows],
        },
        schema={
            "station": pl.String,
            "param": pl.String,
            "date": pl.Date,
            "value": pl.Float64,
            "n": pl.UInt32,
            "valid": pl.Boolean,
        },
    )


def hourly_frame(rows: list[tuple[str, dt.datetime, str, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station": [r[0] for r in rows],
            "param": [r[2] for r in rows],
            "ts": [r[1] for r in rows],
            "value": [r[3] for r in rows],
            "n": [60] * len(rows),
            "minutes": [60.0] * len(rows),
            "valid": [r[4] for r in rows],
        },
        schema={
            "station": pl.String,
            "param": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "n": pl.UInt32,
            "minutes": pl.Float64,
            "valid": pl.Boolean,
        },
    )


def test_daily_version_switches_on_2026_03_01() -> None:
    feb28, mar1 = dt.date(2026, 2, 28), dt.date(2026, 3, 1)
    frame = daily_frame([("A", feb28, "pm25", 75.0, True), ("A", mar1, "pm25", 75.0, True)])
    out = aqi_daily(frame, CATALOG)
    assert out.schema == AQI_DAILY
    rows = out.to_dicts()
    # PM2.5 75: 2012 → 100 (良, no exceedance), 2026 → 113.6 → 114 (轻度污染).
    assert [(r["date"], r["aqi"], r["standard"]) for r in rows] == [
        (feb28, 100, "HJ 633-2012"),
        (mar1, 114, "HJ 633-2026"),
    ]
    assert rows[1]["category_zh"] == "轻度污染"
    assert rows[1]["iaqi"] == [{"pollutant": "pm25", "concentration": 75.0, "iaqi": 114}]


def test_forcing_the_other_standard_recomputes() -> None:
    feb28, mar1 = dt.date(2026, 2, 28), dt.date(2026, 3, 1)
    frame = daily_frame(
        [
            ("A", feb28, "pm25", 75.0, True),
            ("A", feb28, "o3_1h_max", 700.0, True),  # 2012-only indicator: 275
            ("A", mar1, "pm25", 75.0, True),
        ]
    )
    as_2026 = aqi_daily(frame, CATALOG, standard="2026").to_dicts()
    # Under 2026 the O3 1-h max is not a daily indicator: Feb 28 is PM2.5 only, 114.
    assert [(r["aqi"], r["standard"]) for r in as_2026] == [
        (114, "HJ 633-2026"),
        (114, "HJ 633-2026"),
    ]
    as_2012 = aqi_daily(frame, CATALOG, standard="2012").to_dicts()
    assert [(r["aqi"], r["primary_pollutants"]) for r in as_2012] == [
        (275, ["o3_1h"]),
        (100, ["pm25"]),
    ]


def test_hourly_version_switch_and_the_midnight_hour() -> None:
    # ts is the END of the hour. 2026-02-28T16:00Z is 2026-03-01 00:00+08:00: the hour
    # 23:00–24:00 of Feb 28, so HJ 633-2012 (uses pm25_24h 75 → 100). One hour later the
    # hour 00:00–01:00 of Mar 1 is HJ 633-2026 (uses the 1-h pm25 75 → 114).
    t_midnight = dt.datetime(2026, 2, 28, 16, tzinfo=UTC)
    t_one = dt.datetime(2026, 2, 28, 17, tzinfo=UTC)
    rows = [
        (s, t, p, 75.0, True)
        for s in ("A",)
        for t in (t_midnight, t_one)
        for p in ("pm25", "pm25_24h")
    ]
    out = aqi_hourly(hourly_frame(rows), CATALOG)
    assert out.schema == AQI_HOURLY
    got = [(r["ts"], r["aqi"], r["standard"], r["iaqi"][0]["pollutant"]) for r in out.to_dicts()]
    assert got == [
        (t_midnight, 100, "HJ 633-2012", "pm25_24h"),
        (t_one, 114, "HJ 633-2026", "pm25"),
    ]


def test_frames_use_only_valid_inputs_and_drop_rows_without_aqi() -> None:
    day = dt.date(2026, 6, 1)
    frame = daily_frame(
        [
            ("A", day, "pm25", 500.0, False),  # invalid: ignored
            ("A", day, "no2", 60.0, True),  # 75
            ("B", day, "pm25", 90.0, False),  # B has nothing valid → no row
            ("C", day, "pm10", -3.0, True),  # negative → missing → no row
            ("D", day, "temp", 20.0, True),  # not an AQI input
        ]
    )
    out = aqi_daily(frame, CATALOG)
    assert out.select("station", "aqi").to_dicts() == [{"station": "A", "aqi": 75}]
    assert aqi_daily(frame.clear(), CATALOG).schema == AQI_DAILY


def test_hourly_2012_so2_fallback_reads_the_so2_24h_param() -> None:
    t = dt.datetime(2025, 6, 1, 5, tzinfo=UTC)
    with_24h = [("A", t, "so2", 900.0, True), ("A", t, "so2_24h", 300.0, True)]
    out = aqi_hourly(hourly_frame(with_24h), CATALOG)
    assert out["aqi"].to_list() == [124]  # 100 + 50/325·150 = 123.08
    without = [("A", t, "so2", 900.0, True), ("A", t, "no2", 150.0, True)]
    out = aqi_hourly(hourly_frame(without), CATALOG)
    assert out["aqi"].to_list() == [75]
    assert out["iaqi"].to_list() == [
        [
            {"pollutant": "so2", "concentration": 900.0, "iaqi": None},
            {"pollutant": "no2", "concentration": 150.0, "iaqi": 75},
        ]
    ]


# Values that exercise breakpoints, ties for the 2026 rounding, and everything between.
def _values(top: float) -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(min_value=0, max_value=top, allow_nan=False),
        st.integers(min_value=0, max_value=int(top)).map(float),
        st.integers(min_value=0, max_value=int(top) * 20).map(lambda k: k / 20),  # x.x5 ties
        st.sampled_from([float(b) for bps in S2012.breakpoints.values() for b in bps]),
        st.just(-1.0),
    )


_TOPS = {
    "so2": 3000.0,
    "so2_24h": 3000.0,
    "no2": 4000.0,
    "co": 160.0,
    "o3": 1300.0,
    "o3_8h": 1000.0,
    "o3_1h_max": 1300.0,
    "o3_8h_max": 1000.0,
    "pm10": 700.0,
    "pm25": 600.0,
    "pm10_24h": 700.0,
    "pm25_24h": 600.0,
}


def _readings(kind: str) -> st.SearchStrategy[list[tuple[int, int, str, float, bool]]]:
    codes = sorted({c for s in (S2012, S2026) for c in input_codes(s, kind)})
    one = st.tuples(
        st.integers(0, 3),  # station
        st.integers(0, 5),  # day / hour offset around the version switch
        st.sampled_from(codes),
        st.booleans(),
    ).flatmap(lambda t: _values(_TOPS[t[2]]).map(lambda v: (t[0], t[1], t[2], v, t[3])))
    return st.lists(one, max_size=60).map(lambda rs: list({r[:3]: r for r in rs}.values()))


def _expected(rows: list[dict[str, Any]], kind: str, key: str) -> dict[tuple[Any, Any], Any]:
    out: dict[tuple[Any, Any], Any] = {}
    for (station, when), group in pl.DataFrame(rows).group_by("station", key):
        day = when if kind == "daily" else (when - dt.timedelta(hours=1)).astimezone(SHANGHAI)
        standard = CATALOG.aqi_standard_for(day if kind == "daily" else day.date())
        valid = set(input_codes(standard, kind))
        inputs = {
            p: v
            for p, v, ok in group.select("param", "value", "valid").iter_rows()
            if ok and p in valid
        }
        r = compute_aqi(inputs, kind=kind, standard=standard, catalog=CATALOG)
        if r.aqi is not None:
            out[(station, when)] = r
    return out


def _compare(frame: pl.DataFrame, expected: dict[tuple[Any, Any], Any], key: str) -> None:
    got = {(r["station"], r[key]): r for r in frame.to_dicts()}
    assert got.keys() == expected.keys()
    for k, r in expected.items():
        row = got[k]
        want = r.to_json()
        for col in ("aqi", "level", "category", "category_zh", "color", "standard"):
            assert row[col] == want[col], (k, col)
        assert row["primary_pollutants"] == want["primary_pollutants"], k
        assert row["iaqi"] == want["iaqi"], k


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_readings("daily"))
def test_daily_frame_equals_the_scalar_core(
    readings: list[tuple[int, int, str, float, bool]],
) -> None:
    base = dt.date(2026, 2, 26)
    rows = [
        {
            "station": f"S{s}",
            "date": base + dt.timedelta(days=d),
            "param": p,
            "value": v,
            "valid": ok,
        }
        for s, d, p, v, ok in readings
    ]
    frame = daily_frame(
        [(r["station"], r["date"], r["param"], r["value"], r["valid"]) for r in rows]
    )
    out = aqi_daily(frame, CATALOG)
    assert out.schema == AQI_DAILY
    _compare(out, _expected(rows, "daily", "date") if rows else {}, "date")


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_readings("hourly"))
def test_hourly_frame_equals_the_scalar_core(
    readings: list[tuple[int, int, str, float, bool]],
) -> None:
    base = dt.datetime(2026, 2, 28, 14, tzinfo=UTC)  # 22:00+08 … the switch at 16:00Z
    rows = [
        {
            "station": f"S{s}",
            "ts": base + dt.timedelta(hours=h),
            "param": p,
            "value": v,
            "valid": ok,
        }
        for s, h, p, v, ok in readings
    ]
    frame = hourly_frame(
        [(r["station"], r["ts"], r["param"], r["value"], r["valid"]) for r in rows]
    )
    out = aqi_hourly(frame, CATALOG)
    assert out.schema == AQI_HOURLY
    _compare(out, _expected(rows, "hourly", "ts") if rows else {}, "ts")


@settings(max_examples=60, deadline=None)
@given(_readings("daily"), st.sampled_from(["2012", "2026"]))
def test_forced_standard_equals_the_scalar_core(
    readings: list[tuple[int, int, str, float, bool]], version: str
) -> None:
    standard = std(version)
    base = dt.date(2024, 1, 1)
    frame = daily_frame(
        [(f"S{s}", base + dt.timedelta(days=d), p, v, ok) for s, d, p, v, ok in readings]
    )
    out = aqi_daily(frame, CATALOG, standard=version)
    valid = set(input_codes(standard, "daily"))
    expected: dict[tuple[Any, Any], Any] = {}
    for (station, day), group in frame.group_by("station", "date"):
        inputs = {
            p: v
            for p, v, ok in group.select("param", "value", "valid").iter_rows()
            if ok and p in valid
        }
        r = compute_aqi(inputs, kind="daily", standard=standard, catalog=CATALOG)
        if r.aqi is not None:
            expected[(station, day)] = r
    _compare(out, expected, "date")


# --------------------------------------------------------------------------------------
# the calculator command
# --------------------------------------------------------------------------------------


def test_run_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    run(["pm25=75"], standard="2026", kind="daily", as_json=True, date=None)
    doc = json.loads(capsys.readouterr().out)
    assert doc["aqi"] == 114  # 100 + 50/55·15 = 113.6
    assert doc["standard"] == "HJ 633-2026"
    assert (doc["level"], doc["category"], doc["category_zh"], doc["color"]) == (
        3,
        "Lightly polluted",
        "轻度污染",
        "#FF7E00",
    )
    assert doc["primary_pollutants"] == ["pm25"]
    assert doc["iaqi"] == [{"pollutant": "pm25", "concentration": 75.0, "iaqi": 114, "value": 75.0}]


def test_run_defaults_to_the_version_in_force_on_date(capsys: pytest.CaptureFixture[str]) -> None:
    run(["pm25=75", "o3_8h=170"], standard=None, kind="daily", as_json=True, date="2026-02-28")
    doc = json.loads(capsys.readouterr().out)
    # 2012: PM2.5 75 → 100; O3 8h 170 → 100 + 50/55·10 = 109.09 → 110 (o3_8h = o3_8h_max).
    assert (doc["standard"], doc["aqi"], doc["primary_pollutants"]) == (
        "HJ 633-2012",
        110,
        ["o3_8h"],
    )
    assert doc["exceedance_pollutants"] == ["o3_8h"]


def test_run_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    run(["so2=900", "so2_24h=300"], standard="2012", kind="hourly", as_json=False, date=None)
    out = capsys.readouterr().out
    assert "124" in out
    assert "轻度污染" in out
    assert "Lightly polluted" in out


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["pm2.5=80", "ozone=3"], r"unknown AQI input 'pm2\.5', 'ozone' \(valid: so2, no2, co"),
        (["pm25"], "PARAM=VALUE"),
        (["pm25=abc"], "not a number"),
        (["pm25=1", "pm25=2"], "twice"),
    ],
)
def test_run_rejects_bad_input(pairs: list[str], message: str) -> None:
    with pytest.raises(AirCarbonError, match=message):
        run(pairs, standard="2026", kind="daily", as_json=True, date=None)


def test_run_rejects_bad_options() -> None:
    with pytest.raises(AirCarbonError, match="--kind"):
        run(["pm25=1"], standard="2026", kind="weekly", as_json=True, date=None)
    with pytest.raises(AirCarbonError, match="--date"):
        run(["pm25=1"], standard=None, kind="daily", as_json=True, date="28/02/2026")


@pytest.mark.integration
@pytest.mark.slow
def test_cli_subprocess() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aircarbon",
            "aqi",
            "pm25=75",
            "--standard",
            "2026",
            "--kind",
            "daily",
            "--json",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["aqi"] == 114
    bad = subprocess.run(
        [sys.executable, "-m", "aircarbon", "aqi", "pm2.5=75", "--standard", "2026"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "pm2.5" in bad.stderr
