"""The rolling-origin backtest: scores next to persistence and climatology, no look-ahead."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from aircarbon.core.catalog import load_catalog
from aircarbon.simulator.episodes import Episode
from aircarbon.simulator.history import met_forecast_frame, simulate_hourly
from transforms.forecast.backtest import backtest
from transforms.forecast.rules import load_forecast_rules

START = dt.date(2025, 11, 1)
DAYS = 60


@pytest.fixture(scope="module")
def result() -> object:
    rules = load_forecast_rules()
    settings = dataclasses.replace(rules.model, max_iter=30, min_samples_leaf=20)
    hist = simulate_hourly(
        START, DAYS, seed=2, stations=["SY-TY-01"],
        episodes=[Episode(dt.date(2025, 11, 20), 3, 1.0), Episode(dt.date(2025, 12, 20), 3, 1.0)],
    )  # fmt: skip
    days = [START + dt.timedelta(days=k) for k in range(1, DAYS - 1)]
    met = met_forecast_frame(hist.weather, days, seed=2)
    folds: list[tuple[int, int]] = []
    out = backtest(
        hist.hourly, days, met, load_catalog(), settings, timezone="Asia/Shanghai",
        first_test_day=START + dt.timedelta(days=40), refit_every_days=10,
        progress=lambda done, total: folds.append((done, total)),
    )  # fmt: skip
    assert folds[-1][0] == folds[-1][1] == 2  # 18 test days in blocks of 10
    return out


@pytest.mark.slow
def test_skill_table_has_every_param_and_lead_day(result: object) -> None:
    skill = result.skill  # type: ignore[attr-defined]
    assert skill.select("param", "lead_hours").rows() == [
        (p, lead)
        for p in ("pm25", "o3", "no2", "pm10", "so2", "co", "aqi")
        for lead in (24, 48, 72)
    ]
    assert skill["n"].min() > 0
    expected = 1.0 - skill["rmse"] / skill["persistence_rmse"]
    assert skill["skill"].to_list() == pytest.approx(expected.to_list())
    # the bootstrap CI brackets the skill it is about
    inside = skill.select(
        ((pl.col("skill_low") <= pl.col("skill")) & (pl.col("skill") <= pl.col("skill_high"))).all()
    ).item()
    assert inside
    rates = skill.select("category_hit_rate", "persistence_hit_rate", "climatology_hit_rate")
    assert rates.select(pl.all().is_between(0.0, 1.0).all()).row(0) == (True, True, True)


@pytest.mark.slow
def test_scores_are_those_of_the_scored_forecasts(result: object) -> None:
    pred = result.predictions  # type: ignore[attr-defined]
    skill = result.skill  # type: ignore[attr-defined]
    day2 = pred.filter(pl.col("lead").is_between(25, 48) & pl.col("y_no2").is_not_null())
    day2 = day2.filter(pl.col("no2_persist").is_not_null())
    rmse = ((day2["pred_no2"] - day2["y_no2"]) ** 2).mean() ** 0.5  # type: ignore[operator]
    row = skill.filter((pl.col("param") == "no2") & (pl.col("lead_hours") == 48)).row(0, named=True)
    assert row["rmse"] == pytest.approx(rmse)
    assert row["n"] == day2.height
    # only the test block's origins were forecast, each from a model fitted before it
    first = pred["origin"].min()
    assert first.astimezone(dt.UTC) == dt.datetime(2025, 12, 11, 16, tzinfo=dt.UTC)
