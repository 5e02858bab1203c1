"""The outlook section: the forecast issued on the day, when migration 0008's tables have it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from aircarbon.bulletin import write_bulletins
from aircarbon.core.catalog import Catalog
from aircarbon.core.settings import Settings, load_settings
from tests.bulletin.conftest import DAY

pytestmark = pytest.mark.integration

# The columns of the contract with the forecasting issue (tables created here only when the
# lake has no migration 0008 yet; rows are inserted by column name either way).
DDL = {
    "forecasts": "issued_date DATE, issued_at TIMESTAMPTZ, model_version VARCHAR, method VARCHAR, "
    "station VARCHAR, param VARCHAR, ts TIMESTAMPTZ, date DATE, lead_hours INTEGER, "
    "value DOUBLE, lower DOUBLE, upper DOUBLE, category VARCHAR, category_zh VARCHAR",
    "warnings": "issued_date DATE, model_version VARCHAR, station VARCHAR, kind VARCHAR, "
    "level VARCHAR, start_date DATE, end_date DATE, max_aqi INTEGER, reason VARCHAR, "
    "reason_zh VARCHAR, source VARCHAR",
    "forecast_skill": "backtest_id VARCHAR, param VARCHAR, lead_hours INTEGER, rmse DOUBLE, "
    "persistence_rmse DOUBLE, skill DOUBLE",
}


@pytest.fixture
def forecast_lake(lake_settings: tuple[Settings, Catalog], tmp_path: Path) -> Settings:
    """A copy of the test lake's catalog with a forecast issued on DAY.

    The shared lake stays as it is: the copy's catalog records the original data path, so it
    keeps reading the original Parquet files; the few rows added here are inlined in the copy.
    """
    from warehouse.lake import connect

    settings, _ = lake_settings
    copy = tmp_path / "data"
    copy.mkdir()
    shutil.copy2(settings.data_dir / "warehouse.sqlite", copy / "warehouse.sqlite")
    settings = load_settings({}, data_dir=copy, warehouse_data=settings.lake_data)
    con = connect(settings)
    try:
        for table, columns in DDL.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        issued = dt.datetime(DAY.year, DAY.month, DAY.day, 16, tzinfo=dt.UTC)
        for lead, (value, cat, cat_zh) in enumerate(
            [(118.0, "Lightly polluted", "轻度污染"), (96.0, "Good", "良"), (64.0, "Good", "良")],
            start=1,
        ):
            con.execute(
                "INSERT INTO forecasts (issued_date, issued_at, method, station, param, ts, date, "
                "lead_hours, value, lower, upper, category, category_zh) "
                "VALUES (?, ?, 'test', 'city', 'aqi', ?, ?, ?, ?, ?, ?, ?, ?)",
                [DAY, issued, issued + dt.timedelta(days=lead), DAY + dt.timedelta(days=lead),
                 24 * lead, value, value - 20, value + 25, cat, cat_zh],
            )  # fmt: skip
        con.execute(
            "INSERT INTO warnings (issued_date, station, kind, level, start_date, end_date, "
            "max_aqi, reason, reason_zh) VALUES (?, 'city', 'heavy_pollution', 'yellow', ?, ?, "
            "118, 'stagnant air ahead', '静稳天气')",
            [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1)],
        )
        con.execute(
            "INSERT INTO forecast_skill (backtest_id, param, lead_hours, rmse, persistence_rmse) "
            "VALUES ('t', 'pm25', 24, 12.5, 18.0), ('t', 'pm25', 48, 21.0, 19.5)"
        )
    finally:
        con.close()
    return settings


def test_outlook_shows_the_issued_forecast(
    forecast_lake: Settings, lake_settings: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    _, catalog = lake_settings
    write_bulletins(forecast_lake, catalog, DAY, output_dir=tmp_path / "out")
    folder = tmp_path / "out" / DAY.isoformat()
    en = (folder / "bulletin.en.html").read_text(encoding="utf-8")
    zh = (folder / "bulletin.zh.html").read_text(encoding="utf-8")
    outlook = en[en.index('id="outlook"') : en.index('id="methods"')]
    assert "No forecast issued." not in outlook
    for day in (DAY + dt.timedelta(days=d) for d in (1, 2, 3)):
        assert day.isoformat() in outlook
    assert "118" in outlook
    assert "98–143" in outlook  # interval of the first day
    assert "Yellow warning" in outlook
    # an unknown method code is not printed: it reads as a method the bulletin cannot describe
    assert "Method: a forecasting method this bulletin does not describe" in outlook
    assert "Method: test" not in outlook
    assert "better than persistence (18.0)" in outlook
    assert "not better than persistence (19.5)" in outlook
    assert "黄色预警" in zh
    assert "静稳天气" in zh
    # another day: nothing issued, one honest line
    write_bulletins(forecast_lake, catalog, DAY - dt.timedelta(days=1), langs=("en",),
                    output_dir=tmp_path / "out")  # fmt: skip
    prev = tmp_path / "out" / (DAY - dt.timedelta(days=1)).isoformat() / "bulletin.en.html"
    assert "No forecast issued." in prev.read_text(encoding="utf-8")


def test_without_a_cjk_font_the_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from aircarbon.bulletin import charts
    from aircarbon.core.errors import AirCarbonError

    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such CJK Font AirCarbon",))
    with pytest.raises(AirCarbonError, match="install fonts-noto-cjk") as info:
        charts.cjk_font.__wrapped__()
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_pdf_when_asked(lake_settings: tuple[Settings, Catalog], tmp_path: Path) -> None:
    settings, catalog = lake_settings
    result = write_bulletins(settings, catalog, DAY, langs=("zh",), pdf=True, output_dir=tmp_path)
    pdf = tmp_path / DAY.isoformat() / "bulletin.zh.pdf"
    assert pdf in result.paths
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 100_000  # the text and five embedded charts, not an empty page
