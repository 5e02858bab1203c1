"""Must show: an injected three-day heavy episode is warned at the right level >= 24 h ahead.

A simulated winter (two stations, a few training episodes, one held-out three-day episode)
is loaded into a real lake with its met forecasts; the model is trained by ``forecast_day``
itself on the history before the issue. The "right level" is the plan's level for the
*observed* daily AQI of the forecast days, so the test fails if the injection is too weak
to be a heavy episode as well as when the forecast misses it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from aircarbon.pipeline.forecast import forecast_day
from aircarbon.simulator.episodes import Episode
from tests.forecast.conftest import fast_catalog, simulated_lake
from transforms.forecast.issue import observed_daily
from transforms.forecast.rules import load_forecast_rules
from transforms.warnings import warning_level

pytestmark = pytest.mark.integration

START = dt.date(2025, 10, 10)
DAYS = 110
TRAINING = [
    Episode(dt.date(2025, 10, 28), 3, 0.8),
    Episode(dt.date(2025, 11, 12), 3, 1.0),
    Episode(dt.date(2025, 11, 24), 2, 1.2),
    Episode(dt.date(2025, 12, 5), 4, 0.9),
    Episode(dt.date(2025, 12, 18), 3, 1.2),
    Episode(dt.date(2026, 1, 2), 3, 1.0),
]
HELD_OUT = Episode(dt.date(2026, 1, 16), 3, 1.0)


def _observed_city_aqi(settings: object, catalog: object, days: list[dt.date]) -> list[int]:
    from aircarbon.pipeline.forecast.run import _read_history
    from warehouse.lake import connect

    con = connect(settings, read_only=True)  # type: ignore[arg-type]
    try:
        hist = _read_history(
            con,
            dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
            ("pm25", "o3", "no2"),
        )
    finally:
        con.close()
    out = []
    for day in days:
        daily = observed_daily(hist, day, catalog, ("pm25", "o3", "no2"), "Asia/Shanghai")  # type: ignore[arg-type]
        out.append(int(daily.filter(pl.col("station") == "city")["aqi"].item()))
    return out


def test_heavy_episode_warned_a_day_ahead_and_clean_days_raise_nothing(tmp_path: Path) -> None:
    catalog_dir = fast_catalog(tmp_path, max_iter=60, min_samples_leaf=20)
    settings, catalog = simulated_lake(
        tmp_path, START, DAYS, episodes=[*TRAINING, HELD_OUT], catalog_dir=catalog_dir
    )
    rules = load_forecast_rules(catalog_dir)
    issue = HELD_OUT.start - dt.timedelta(days=2)  # origin: 24 h before the episode begins
    horizon = [issue + dt.timedelta(days=k) for k in (1, 2, 3)]
    truth = _observed_city_aqi(settings, catalog, [issue, *horizon])
    expected = warning_level(truth, rules.levels)
    assert expected is not None, truth  # the injection really is a heavy episode
    assert expected.level == "yellow", truth  # 2 of its 3 days inside the horizon, <= 300

    result = forecast_day(settings, catalog, issue, publish=False)
    assert result.method == "gbm"  # trained on the history before the issue, met from the file
    assert result.retrained
    heavy = [w for w in result.warnings if w["kind"] == "heavy_pollution"]
    assert [(w["station"], w["level"]) for w in heavy] == [("city", expected.level)], (
        result.warnings
    )
    begins = dt.datetime.combine(HELD_OUT.start, dt.time(0), tzinfo=settings.tz)
    assert heavy[0]["start_date"] <= HELD_OUT.start
    assert begins - result.issued_at >= dt.timedelta(hours=24)

    from warehouse.lake import connect

    con = connect(settings, read_only=True)
    try:
        skill = con.execute(
            "SELECT DISTINCT backtest_id, model_version FROM forecast_skill"
        ).fetchall()
    finally:
        con.close()
    # the new model's hold-out is the skill table until a full backtest replaces it
    assert skill == [(f"holdout-{result.model_version}", result.model_version)]

    clean = HELD_OUT.start + dt.timedelta(days=4)  # the front has passed; no episode ahead
    later = [clean + dt.timedelta(days=k) for k in (0, 1, 2, 3)]
    assert warning_level(_observed_city_aqi(settings, catalog, later), rules.levels) is None
    quiet = forecast_day(settings, catalog, clean, publish=False)
    assert quiet.warnings == []
    assert not quiet.retrained  # within the retrain schedule: the same stored model
    assert quiet.model_version == result.model_version
