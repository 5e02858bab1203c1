"""The forecast daily AQI reads every pollutant HJ 633 does (issue 20 item 2)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from aircarbon.core.catalog import load_catalog
from transforms.forecast.daily import DAILY_CODE, daily_aqi, daily_values

TZ = "Asia/Shanghai"


def _forecast_day(values: dict[str, float]) -> pl.DataFrame:
    """24 hourly forecasts of one local day, constant per pollutant."""
    start = dt.datetime(2026, 3, 10, 16, tzinfo=dt.UTC)  # local midnight ending 2026-03-10
    hours = [start + dt.timedelta(hours=h) for h in range(1, 25)]
    return pl.DataFrame(
        [{"key": "city", "param": p, "ts": t, "value": v} for p, v in values.items() for t in hours]
    )


def test_a_dust_day_is_seen_by_the_forecast_aqi() -> None:
    catalog = load_catalog()
    dust = {"pm25": 30.0, "o3": 60.0, "no2": 20.0, "pm10": 300.0, "so2": 8.0, "co": 0.6}
    daily = daily_values(_forecast_day(dust), catalog, timezone=TZ)
    assert set(daily["param"]) == set(DAILY_CODE.values())
    full = daily_aqi(daily, catalog).row(0, named=True)
    # PM10 24-h 300 µg/m³: IAQI 150 + (300 - 250) / (350 - 250) * 50 = 175 (HJ 633)
    assert full["aqi"] == 175
    without = daily_aqi(daily.filter(pl.col("param").is_in(["pm25", "o3_8h_max", "no2"])), catalog)
    assert without.row(0, named=True)["aqi"] < 100  # the three-pollutant AQI missed it


def test_a_co_day_counts_in_mg_per_cubic_metre() -> None:
    catalog = load_catalog()
    co = {"pm25": 20.0, "o3": 40.0, "no2": 20.0, "pm10": 40.0, "so2": 8.0, "co": 30.0}
    daily = daily_values(_forecast_day(co), catalog, timezone=TZ)
    # CO 24-h 30 mg/m³: IAQI 200 + (30 - 24) / (36 - 24) * 100 = 250 (HJ 633)
    assert daily_aqi(daily, catalog).row(0, named=True)["aqi"] == 250
