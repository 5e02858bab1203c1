"""The city AQI (transforms/city_aqi.py): hand-computed days and the scalar oracle.

IAQI = (IAQI_Hi − IAQI_Lo)/(BP_Hi − BP_Lo)·(C − BP_Lo) + IAQI_Lo, rounded UP (HJ 633); the
arithmetic is beside each case. PM2.5 24-h breakpoints: 2012 35/75/115, 2026 35/60/115.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aircarbon.core.catalog import load_catalog
from aircarbon.core.errors import AirCarbonError
from transforms.aqi import compute_aqi, report_inputs
from transforms.city_aqi import CITY_AQI, assessment_stations, city_aqi, city_series

CATALOG = load_catalog()
LAST_2012 = dt.date(2026, 2, 28)
FIRST_2026 = dt.date(2026, 3, 1)
COLUMNS = ("station", "param", "date", "value", "valid")


def _frame(rows: list[tuple[str, str, dt.date, float | None, bool]]) -> pl.DataFrame:
    schema = {"station": pl.String, "param": pl.String, "date": pl.Date}
    schema |= {"value": pl.Float64, "valid": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _day(frame: pl.DataFrame, day: dt.date) -> dict[str, object]:
    rows = frame.filter(pl.col("date") == day).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def _iaqi(row: dict[str, object]) -> dict[str, int | None]:
    items = row["iaqi"]
    assert isinstance(items, list)
    return {i["pollutant"]: i["iaqi"] for i in items}


def test_assessment_stations_are_the_reference_sites() -> None:
    sites = assessment_stations(CATALOG)
    assert "SY-TY-01" in sites
    assert "SY-LD-08" in sites
    assert {"SY-WH-04", "SY-SL-05", "SY-SN-09"} <= set(sites)  # PM super site, VOC, GHG
    assert "SY-HS-12" not in sites  # GHG but regional background
    assert "SY-JS-11" not in sites  # micro sensor
    assert "SY-DL-07" not in sites  # ecological


def test_the_standard_switches_on_2026_03_01() -> None:
    rows = []
    for day in (LAST_2012, FIRST_2026):
        # PM2.5 mean (70 + 50)/2 = 60; NO2 30; O3 8-h 90; O3 1-h max 250 (2012 only)
        rows += [
            ("SY-TY-01", "pm25", day, 70.0, True),
            ("SY-XH-02", "pm25", day, 50.0, True),
            ("SY-TY-01", "no2", day, 30.0, True),
            ("SY-TY-01", "o3_8h_max", day, 90.0, True),
            ("SY-TY-01", "o3_1h_max", day, 250.0, True),
        ]
    out = city_aqi(_frame(rows), CATALOG)
    old, new = _day(out, LAST_2012), _day(out, FIRST_2026)
    assert old["standard"] == "HJ 633-2012"
    # 2012: PM2.5 50/40·25 + 50 = 81.25 → 82; O3 1-h 50/100·50 + 100 = 125; NO2 50/40·30 = 37.5 → 38
    assert _iaqi(old) == {"no2": 38, "pm25": 82, "o3_1h_max": 125, "o3_8h_max": 45}
    assert old["aqi"] == 125
    assert old["primary_pollutants"] == ["o3_1h"]
    assert old["category"] == "Lightly polluted"
    assert new["standard"] == "HJ 633-2026"
    # 2026: PM2.5 50/25·25 + 50 = 100; the 1-h O3 maximum is not a 2026 daily input
    assert _iaqi(new) == {"no2": 38, "pm25": 100, "o3_8h_max": 45}
    assert new["aqi"] == 100
    assert new["primary_pollutants"] == ["pm25"]
    assert (new["category"], new["category_zh"], new["level"]) == ("Good", "良", 2)
    assert old["stations"] == new["stations"] == 2
    assert out.schema == CITY_AQI


def test_a_missing_pollutant_is_skipped_and_each_mean_counts_its_own_stations() -> None:
    day = FIRST_2026
    rows = [
        # no PM2.5 anywhere; PM10 from one station only, NO2 from two
        ("SY-TY-01", "pm10", day, 80.0, True),
        ("SY-TY-01", "no2", day, 50.0, True),
        ("SY-XH-02", "no2", day, 70.0, True),
        ("SY-XH-02", "pm25", day, 500.0, False),  # invalid day (19/24 h): not averaged
    ]
    row = _day(city_aqi(_frame(rows), CATALOG), day)
    # PM10 2026: 50/70·30 + 50 = 71.43 → 72; NO2 mean 60: 50/40·20 + 50 = 75
    assert _iaqi(row) == {"no2": 75, "pm10": 72}
    assert row["aqi"] == 75
    assert row["primary_pollutants"] == ["no2"]
    assert row["means"] == [
        {"pollutant": "no2", "value": 60.0, "stations": 2},
        {"pollutant": "pm10", "value": 80.0, "stations": 1},
    ]
    assert row["stations"] == 2


def test_non_assessment_stations_do_not_count() -> None:
    day = FIRST_2026
    base = [("SY-TY-01", "pm25", day, 40.0, True), ("SY-XX-03", "pm25", day, 30.0, True)]
    others = [
        ("SY-HS-12", "pm25", day, 400.0, True),  # background GHG site
        ("SY-JS-11", "pm25", day, 400.0, True),  # micro sensor
        ("SY-DL-07", "pm25", day, 400.0, True),  # ecological
        ("NOT-IN-CATALOG", "pm25", day, 400.0, True),
    ]
    alone = _day(city_aqi(_frame(base), CATALOG), day)
    mixed = _day(city_aqi(_frame(base + others), CATALOG), day)
    assert mixed == alone
    # mean 35 is the first breakpoint: IAQI exactly 50, so no primary pollutant
    assert (alone["aqi"], alone["primary_pollutants"], alone["stations"]) == (50, [], 2)
    # a caller may name the stations (a forecast's predicted series)
    chosen = _day(city_aqi(_frame(base + others), CATALOG, stations=["SY-JS-11"]), day)
    # 400 µg/m³ in 350..500 → 100/150·50 + 400 = 433.3 → 434
    assert (chosen["aqi"], chosen["stations"]) == (434, 1)


def test_rounding_of_2026_inputs_is_half_even_on_the_city_mean() -> None:
    day = FIRST_2026
    # mean 60.5 rounds to 60 (half-even) → IAQI 100, not 101 as 60.5 would give
    rows = [("SY-TY-01", "pm25", day, 60.0, True), ("SY-XH-02", "pm25", day, 61.0, True)]
    row = _day(city_aqi(_frame(rows), CATALOG), day)
    assert row["aqi"] == 100
    assert row["iaqi"] == [{"pollutant": "pm25", "concentration": 60.0, "iaqi": 100}]


def test_no_valid_input_no_row_and_a_clear_error_for_a_wrong_frame() -> None:
    rows = [
        ("SY-TY-01", "pm25", FIRST_2026, 80.0, False),
        ("SY-TY-01", "ws", FIRST_2026, 2.0, True),
    ]
    out = city_aqi(_frame(rows), CATALOG)
    assert out.is_empty()
    assert out.schema == CITY_AQI
    with pytest.raises(AirCarbonError, match="lacks column"):
        city_aqi(_frame(rows).drop("valid"), CATALOG)


SITES = assessment_stations(CATALOG)
value = st.one_of(st.none(), st.floats(min_value=0, max_value=900, allow_nan=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    day=st.sampled_from([dt.date(2025, 12, 1), LAST_2012, FIRST_2026, dt.date(2026, 11, 25)]),
    values=st.lists(
        st.tuples(st.sampled_from(SITES), st.sampled_from(("so2", "no2", "co", "pm10", "pm25",
                  "o3_1h_max", "o3_8h_max")), value, st.booleans()),
        min_size=1, max_size=30,
    ),
)  # fmt: skip
@example(day=dt.date(2025, 12, 1), values=[(SITES[0], "o3_8h_max", 801.0, True)])
def test_equals_the_scalar_oracle_on_the_station_means(
    day: dt.date, values: list[tuple[str, str, float | None, bool]]
) -> None:
    # one value per station and param (the daily table's identity)
    unique = {(s, p): (v, ok) for s, p, v, ok in values}
    rows = [(s, p, day, v, ok) for (s, p), (v, ok) in unique.items()]
    out = city_aqi(_frame(rows), CATALOG)
    std = CATALOG.aqi_standard_for(day)
    codes = report_inputs(std, "daily")
    kept = [(s, p, v) for s, p, _, v, ok in rows if ok and v is not None and p in codes]
    means: dict[str, list[float]] = {}
    for _, p, v in kept:
        means.setdefault(p, []).append(v)
    if not kept:
        assert out.is_empty()
        return
    expected = compute_aqi(
        {p: sum(v) / len(v) for p, v in means.items()}, kind="daily", standard=std, catalog=CATALOG
    )
    if expected.aqi is None:
        # nothing rateable, e.g. only an O3 8-h mean above 800 µg/m³ (HJ 633 reports O3 by
        # its 1-h value then, and there is none): no row rather than a row without an AQI
        assert out.is_empty()
        return
    row = _day(out, day)
    assert row["aqi"] == expected.aqi
    assert row["standard"] == std.name
    assert tuple(row["primary_pollutants"]) == expected.primary_pollutants  # type: ignore[arg-type]
    assert _iaqi(row) == dict(expected.iaqi)
    assert row["stations"] == len({s for s, _, _ in kept})


def test_city_series_is_the_forecast_and_warnings_shape() -> None:
    rows = [
        ("SY-TY-01", "pm25", FIRST_2026, 70.0, True),
        ("SY-TY-01", "o3_8h_max", FIRST_2026, 170.0, True),
        ("SY-XH-02", "o3_8h_max", FIRST_2026, 150.0, True),
        ("SY-TY-01", "pm25", LAST_2012, 70.0, True),
    ]
    series = city_series(city_aqi(_frame(rows), CATALOG))
    assert series.schema == pl.Schema(
        {"station": pl.String, "date": pl.Date, "aqi": pl.Int64, "o3_8h_max": pl.Float64}
    )
    # 2012: PM2.5 50/40·35 + 50 = 93.75 → 94; 2026: 50/55·10 + 100 = 109.1 → 110
    assert series.rows() == [("city", LAST_2012, 94, None), ("city", FIRST_2026, 110, 160.0)]
