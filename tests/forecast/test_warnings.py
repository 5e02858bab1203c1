"""The warning rules: levels of the emergency plan from runs of forecast daily AQI, O3 alerts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from aircarbon.core.errors import CatalogError
from transforms.forecast.rules import load_forecast_rules, parse_forecast_rules
from transforms.warnings import heavy_pollution_warnings, o3_episode_alerts, warning_level

RULES = load_forecast_rules()
DAY = dt.date(2026, 1, 10)


def _level(aqis: list[int]) -> str | None:
    rule = warning_level(aqis, RULES.levels)
    return None if rule is None else rule.level


@pytest.mark.parametrize(
    ("aqis", "level"),
    [
        ([120, 180, 150], None),
        ([201, 150, 120], "blue"),
        ([200, 200, 200], None),  # "> 200": exactly 200 is not heavy pollution
        ([150, 230, 260], "yellow"),
        ([230, 250, 260], "yellow"),  # 3 days > 200 but none > 300: not orange
        ([230, 310, 260], "orange"),
        ([230, 310, 260, 240], "orange"),  # 4 days but only one > 300: not red
        ([230, 310, 320, 240], "red"),
        ([120, 500, 120], "red"),  # AQI reaching 500 on one day
        ([230, 120, 240], "blue"),  # two separate one-day runs
    ],
)
def test_levels_follow_the_plan(aqis: list[int], level: str | None) -> None:
    assert _level(aqis) == level


def _aqi(values: list[int], first: dt.date, station: str = "city") -> pl.DataFrame:
    dates = [first + dt.timedelta(days=i) for i in range(len(values))]
    return pl.DataFrame({"station": station, "date": dates, "aqi": values})


def test_observed_issue_day_extends_a_forecast_run() -> None:
    forecast = _aqi([240, 320, 330], DAY + dt.timedelta(days=1))
    observed = _aqi([260], DAY)
    with_obs = heavy_pollution_warnings(forecast, RULES, observed_aqi=observed)
    alone = heavy_pollution_warnings(forecast, RULES)
    assert with_obs["level"].to_list() == ["red"]  # 4 days > 200, two of them > 300
    assert alone["level"].to_list() == ["orange"]
    row = with_obs.row(0, named=True)
    assert (row["start_date"], row["end_date"], row["days"], row["max_aqi"]) == (
        DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3), 4, 330,
    )  # fmt: skip
    assert "MEE" in row["source"]
    assert row["reason_zh"].startswith("红色预警")


def test_observed_day_alone_raises_nothing() -> None:
    forecast = _aqi([150, 120, 100], DAY + dt.timedelta(days=1))
    assert heavy_pollution_warnings(forecast, RULES, observed_aqi=_aqi([280], DAY)).is_empty()


def test_only_configured_stations_are_warned() -> None:
    forecast = pl.concat([_aqi([250, 260, 100], DAY, "city"), _aqi([250, 260, 100], DAY, "SY-1")])
    assert heavy_pollution_warnings(forecast, RULES)["station"].to_list() == ["city"]


def test_o3_episode_needs_consecutive_days_above_the_limit() -> None:
    dates = [DAY + dt.timedelta(days=i) for i in range(3)]
    two = pl.DataFrame({"station": "city", "date": dates, "o3_8h_max": [170.0, 181.0, 120.0]})
    one = two.with_columns(pl.Series("o3_8h_max", [170.0, 150.0, 165.0]))
    alerts = o3_episode_alerts(two, RULES)
    assert alerts.select("level", "days", "max_value").rows() == [("o3", 2, 181.0)]
    assert "GB 3095" in alerts["source"][0]
    assert o3_episode_alerts(one, RULES).is_empty()


def test_rules_need_known_sources() -> None:
    import tomllib

    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR

    doc = tomllib.loads((DEFAULT_CATALOG_DIR / "forecast.toml").read_text(encoding="utf-8"))
    doc["heavy_pollution"]["source"] = "nowhere_2099"
    with pytest.raises(CatalogError, match="nowhere_2099"):
        parse_forecast_rules(doc, dict(RULES.sources))


def test_interval_quantiles_come_from_the_percentage() -> None:
    model = dataclasses.replace(RULES.model, interval_pct=90)
    assert model.quantiles == pytest.approx((0.05, 0.95))
