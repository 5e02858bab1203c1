"""An honest bulletin (issue #20): one city AQI, the outlook's method in words with its skill,
day 0 = the observed city AQI, and stations with an incomplete day listed, not dropped.

Each case works on a copy of the shared test lake's catalog (the Parquet files stay shared;
the rows changed here are inlined in the copy), in both languages and both formats.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from aircarbon.bulletin import write_bulletins
from aircarbon.bulletin.model import Outlook
from aircarbon.bulletin.render import method_words, strings
from aircarbon.core.catalog import Catalog
from aircarbon.core.settings import Settings, load_settings
from tests.bulletin.conftest import DAY

pytestmark = pytest.mark.integration

RAW_CODES = ("persistence_fallback", "gbm+met_persistence", "method_")


def _copy(settings: Settings, tmp_path: Path) -> Settings:
    copy = tmp_path / "data"
    copy.mkdir()
    shutil.copy2(settings.data_dir / "warehouse.sqlite", copy / "warehouse.sqlite")
    return load_settings({}, data_dir=copy, warehouse_data=settings.lake_data)


def _issue(settings: Settings, method: str, version: str | None, skill: float | None) -> None:
    """A city AQI forecast issued on DAY (three days), and optionally its day-1 AQI skill."""
    from warehouse.lake import connect

    con = connect(settings)
    try:
        issued = dt.datetime(DAY.year, DAY.month, DAY.day, 16, tzinfo=dt.UTC)
        for lead in (1, 2, 3):
            con.execute(
                "INSERT INTO forecasts (issued_date, issued_at, method, model_version, station, "
                "param, ts, date, lead_hours, value, lower, upper, category, category_zh) "
                "VALUES (?, ?, ?, ?, 'city', 'aqi', ?, ?, ?, 96, 42, 140, 'Good', '良')",
                [DAY, issued, method, version, issued + dt.timedelta(days=lead),
                 DAY + dt.timedelta(days=lead), 24 * lead],
            )  # fmt: skip
        if skill is not None:
            con.execute(
                "INSERT INTO forecast_skill (backtest_id, model_version, param, lead_hours, n, "
                "rmse, persistence_rmse, skill) VALUES ('b', ?, 'aqi', 24, 30, 22.0, 25.0, ?)",
                [version, skill],
            )
    finally:
        con.close()


def _macro_city(settings: Settings) -> dict[str, object]:
    from warehouse.lake import connect

    con = connect(settings, read_only=True)
    try:
        rows = con.execute("SELECT * FROM city_aqi_daily(?, ?)", [DAY, DAY]).pl().to_dicts()
    finally:
        con.close()
    assert len(rows) == 1
    return rows[0]


def _files(folder: Path) -> dict[str, str]:
    """The rendered pages by name, inline chart data left out (base64 spells anything)."""
    return {
        p.name: re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", p.read_text("utf-8"))
        for p in sorted(folder.glob("bulletin.*.*"))
        if p.suffix in (".html", ".md")
    }


def test_headline_is_the_shared_city_aqi(
    lake_settings: tuple[Settings, Catalog], written: tuple[dict[str, object], Path]
) -> None:
    settings, _ = lake_settings
    head = written[0]["headline"]
    assert isinstance(head, dict)
    city = _macro_city(settings)
    assert head["aqi"] == city["aqi"]
    assert head["primary_pollutants"] == city["primary_pollutants"]
    assert head["stations"] == city["stations"]


def test_persistence_is_named_in_words_and_day_0_is_observed(
    lake_settings: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = lake_settings
    copy = _copy(settings, tmp_path)
    _issue(copy, "persistence_fallback", None, None)
    result = write_bulletins(copy, catalog, DAY, output_dir=tmp_path / "out")
    observed = result.headline["aqi"]
    assert observed == _macro_city(copy)["aqi"]
    files = _files(tmp_path / "out" / DAY.isoformat())
    assert len(files) == 4
    for name, text in files.items():
        for code in RAW_CODES:
            assert code not in text, (name, code)
    en, zh = files["bulletin.en.md"], files["bulletin.zh.md"]
    assert "Method: persistence: tomorrow as today" in en
    assert "预报方法：持续性预报：明天同今天" in zh
    assert f"| {DAY} today (observed) | {observed} | — |" in en
    assert f"| {DAY} 今日（实测） | {observed} | — |" in zh
    html = files["bulletin.en.html"]
    row = re.search(rf"{DAY} today \(observed\)</td><td><span[^>]*>(\d+)</span>", html)
    assert row is not None
    assert int(row.group(1)) == observed
    outlook = en[en.index("## Outlook") : en.index("## Methods")]
    assert "skill" not in outlook  # persistence is its own baseline: no skill to state


def test_a_model_states_its_recorded_day1_skill(
    lake_settings: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = lake_settings
    copy = _copy(settings, tmp_path)
    _issue(copy, "gbm", "v3", 0.12)
    write_bulletins(copy, catalog, DAY, output_dir=tmp_path / "out")
    files = _files(tmp_path / "out" / DAY.isoformat())
    en, zh = files["bulletin.en.md"], files["bulletin.zh.md"]
    assert "Method: model v3, day-1 AQI skill +0.12 vs persistence" in en
    assert "预报方法：模型 v3，提前 1 天的 AQI 预报技巧评分 +0.12" in zh
    for name, text in files.items():
        assert "gbm" not in text, name
        for code in RAW_CODES:
            assert code not in text, (name, code)


def test_method_words_never_print_a_code() -> None:
    en, zh = strings("en"), strings("zh")
    met = Outlook(days=[], warnings=[], skill=[], method="gbm+met_persistence",
                  model_version="gbm-2026-12-01-ab12", day1_skill=-0.05)  # fmt: skip
    assert method_words(met, en) == (
        "model gbm-2026-12-01-ab12, with yesterday's weather standing in for a missing weather "
        "forecast, day-1 AQI skill \u22120.05 vs persistence (above 0 beats persistence)"
    )
    unknown = Outlook(days=[], warnings=[], skill=[], method="ensemble_x", model_version=None)
    for t in (en, zh):
        text = method_words(unknown, t)
        assert "ensemble_x" not in text
        assert text.startswith(str(t["method_other"]))
    assert method_words(None, zh) == zh["method_other"]
    fresh = Outlook(days=[], warnings=[], skill=[], method="gbm", model_version="v4")
    assert method_words(fresh, en) == "model v4; its skill has not been measured yet"
    assert method_words(fresh, zh) == "模型 v4；其预报技巧尚未测定"


def test_an_incomplete_station_is_listed_with_its_hours(
    lake_settings: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    """SY-TY-01 loses five hours of DAY (19/24 valid): no daily values, no AQI, still listed."""
    from aircarbon.bulletin.data import _bounds
    from warehouse.lake import connect

    settings, catalog = lake_settings
    before = _macro_city(settings)
    copy = _copy(settings, tmp_path)
    start, _ = _bounds(DAY, copy.timezone)
    con = connect(copy)
    try:
        con.execute(
            "UPDATE hourly SET valid = false WHERE station = 'SY-TY-01' AND ts > ? AND ts <= ?",
            [start, start + dt.timedelta(hours=5)],
        )
        con.execute("UPDATE daily SET valid = false WHERE station = 'SY-TY-01' AND date = ?", [DAY])
        con.execute("DELETE FROM aqi_daily WHERE station = 'SY-TY-01' AND date = ?", [DAY])
    finally:
        con.close()
    result = write_bulletins(copy, catalog, DAY, output_dir=tmp_path / "out")
    after = _macro_city(copy)
    assert after["stations"] == before["stations"] - 1  # out of the city mean …
    assert result.headline["stations"] == after["stations"]
    assert result.headline["aqi"] == after["aqi"]
    files = _files(tmp_path / "out" / DAY.isoformat())
    en, zh = files["bulletin.en.md"], files["bulletin.zh.md"]
    # … but in the table and named with its completeness, in both languages
    assert re.search(r"\| Taiyuan Jie \(SY-TY-01\) \| — \|.*\| 19/24 h \|", en)
    assert re.search(r"\| 太原街 \(SY-TY-01\) \| — \|.*\| 19/24 h \|", zh)
    assert "Incomplete days" in en
    assert "Taiyuan Jie (SY-TY-01) 19/24 h (" in en
    assert "太原街（SY-TY-01）19/24 h（" in zh
    assert "Taiyuan Jie (SY-TY-01) 19/24 h (" in files["bulletin.en.html"]
    assert "太原街（SY-TY-01）19/24 h（" in files["bulletin.zh.html"]
