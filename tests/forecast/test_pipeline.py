"""forecast_day on real lakes: the honest fallback, idempotent issues, the CLI, the macro."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aircarbon.pipeline.forecast import forecast_day
from tests.forecast.conftest import simulated_lake

pytestmark = pytest.mark.integration

START = dt.date(2026, 1, 5)


def _rows(settings: object, sql: str, *args: object) -> list[tuple[object, ...]]:
    from warehouse.lake import connect

    con = connect(settings, read_only=True)  # type: ignore[arg-type]
    try:
        return con.execute(sql, list(args)).fetchall()
    finally:
        con.close()


def test_short_history_falls_back_honestly_and_reruns_replace_the_issue(tmp_path: Path) -> None:
    settings, catalog = simulated_lake(tmp_path, START, 2)
    day = START + dt.timedelta(days=1)
    first = forecast_day(settings, catalog, day)
    summary = first.summary()
    assert {"date", "method", "model_version", "warnings"} <= summary.keys()
    assert summary["date"] == day.isoformat()
    assert summary["method"] == "persistence_fallback"
    assert summary["model_version"] is None
    assert "fewer than" in summary["note"]
    assert isinstance(summary["warnings"], list)
    count = "SELECT count(*), count(DISTINCT method) FROM forecasts WHERE issued_date = ?"
    before = _rows(settings, count, day)
    # 3 series (2 stations + city) x 6 pollutants x 72 h, plus 3 daily AQI rows per series
    assert before == [(3 * 6 * 72 + 3 * 3, 1)]
    aqi = _rows(
        settings,
        "SELECT lead_hours, date, lower <= value AND value <= upper, category_zh FROM forecasts "
        "WHERE issued_date = ? AND station = 'city' AND param = 'aqi' ORDER BY lead_hours",
        day,
    )
    assert [(r[0], r[1], r[2]) for r in aqi] == [
        (24 * k, day + dt.timedelta(days=k), True) for k in (1, 2, 3)
    ]
    assert all(r[3] for r in aqi)
    forecast_day(settings, catalog, day)  # re-run: the same issue, replaced, not appended
    assert _rows(settings, count, day) == before


def test_cli_issues_and_prints_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from aircarbon.cli import main

    settings, _ = simulated_lake(tmp_path, START, 2)
    monkeypatch.setenv("AIRCARBON_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("AIRCARBON_BROKER_URL", raising=False)
    with pytest.raises(SystemExit) as done:
        main(["forecast", "--date", "2026-01-06", "--json"])
    assert done.value.code == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["method"] == "persistence_fallback"
    assert doc["published"] is False
    with pytest.raises(SystemExit) as bad:
        main(["forecast", "--date", "06/01/2026"])
    assert bad.value.code == 2
    assert "must be YYYY-MM-DD" in capsys.readouterr().err


def test_forecast_vs_observed_macro_pairs_forecasts_with_observations(tmp_path: Path) -> None:
    settings, catalog = simulated_lake(tmp_path, START, 4)
    day = START + dt.timedelta(days=1)
    forecast_day(settings, catalog, day, publish=False)
    rows = _rows(
        settings,
        "SELECT station, lead_hours, forecast, observed, error, in_interval "
        "FROM forecast_vs_observed('pm25', ?, ?) WHERE lead_hours <= 48",
        day,
        day,
    )
    # the history ends 2 days after the issue: every hour of the first 48 was observed
    assert len(rows) == 3 * 48
    assert all(r[3] is not None and r[4] == pytest.approx(r[2] - r[3]) for r in rows)
    aqi = _rows(
        settings,
        "SELECT station, observed FROM forecast_vs_observed('aqi', ?, ?) WHERE lead_hours = 24",
        day,
        day,
    )
    observed = dict(aqi)
    assert observed["city"] is None  # city AQI is not stored in aqi_daily (docs say so)
    assert all(observed[s] is not None for s in ("SY-TY-01", "SY-XH-02"))


def test_the_forecast_city_aqi_is_the_one_city_aqi_of_its_station_days(tmp_path: Path) -> None:
    import polars as pl

    from transforms.city_aqi import city_aqi
    from transforms.forecast.daily import daily_values

    settings, catalog = simulated_lake(tmp_path, START, 2)
    day = START + dt.timedelta(days=1)
    forecast_day(settings, catalog, day, publish=False)
    rows = _rows(
        settings,
        "SELECT station, param, ts, date, value FROM forecasts WHERE issued_date = ?",
        day,
    )
    frame = pl.DataFrame(rows, schema=["station", "param", "ts", "date", "value"], orient="row")
    hourly = frame.filter((pl.col("param") != "aqi") & (pl.col("station") != "city"))
    daily = daily_values(
        hourly.select(pl.col("station").alias("key"), "param", "ts", "value"),
        catalog,
        timezone=settings.timezone,
    ).rename({"key": "station"})
    expected = dict(city_aqi(daily, catalog).select("date", "aqi").iter_rows())
    got = {
        r["date"]: r["value"]
        for r in frame.filter((pl.col("param") == "aqi") & (pl.col("station") == "city")).iter_rows(
            named=True
        )
    }
    assert set(got) == {day + dt.timedelta(days=k) for k in (1, 2, 3)}
    assert got == {d: float(v) for d, v in expected.items() if d in got}


def test_a_retrain_feeds_back_what_the_previous_bands_covered(tmp_path: Path) -> None:
    """ACI in production: the new model's band shift comes from the lake's verified forecasts."""
    from aircarbon.pipeline.forecast.run import _read_history as read_history
    from aircarbon.pipeline.forecast.run import latest_model, verified_forecasts
    from tests.forecast.conftest import fast_catalog
    from transforms.forecast.design import origins_utc
    from transforms.forecast.model import adapt_band_shift
    from warehouse.lake import connect

    catalog_dir = fast_catalog(tmp_path, max_iter=15, min_samples_leaf=20, min_history_days=10)
    start = dt.date(2025, 11, 1)
    settings, catalog = simulated_lake(tmp_path, start, 20, catalog_dir=catalog_dir)
    first = start + dt.timedelta(days=12)
    for k in range(4):  # one training, three issues of the stored model
        forecast_day(settings, catalog, first + dt.timedelta(days=k), publish=False)
    day = first + dt.timedelta(days=4)
    origin = origins_utc([day], settings.timezone)[0]
    con = connect(settings, read_only=True)
    try:
        version, _, previous = latest_model(con, settings, day)  # type: ignore[misc]
        hist = read_history(con, origin - dt.timedelta(days=365), origin, previous.params)
        verified = verified_forecasts(con, hist, version, origin, previous.params)
    finally:
        con.close()
    # the first issue's 72 h and the next ones' observed hours, 3 series, every pollutant
    assert verified.group_by("param").len()["len"].min() >= 3 * (72 + 48 + 24)
    expected = adapt_band_shift({}, verified, 0.8, 0.5)
    assert set(expected) == set(previous.params)
    result = forecast_day(settings, catalog, day, retrain=True, publish=False)
    assert result.retrained
    con = connect(settings, read_only=True)
    try:
        _, _, model = latest_model(con, settings, day)  # type: ignore[misc]
    finally:
        con.close()
    assert model.metrics["band_shift"] == expected
