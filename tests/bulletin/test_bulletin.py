"""The bulletin against a real lake: files, headline numbers equal the warehouse's, honesty."""

from __future__ import annotations

import datetime as dt
import json
import re
import string
import tomllib
from pathlib import Path

import pytest

from aircarbon.bulletin import write_bulletins
from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import IntervalRefused
from aircarbon.core.settings import Settings
from tests.bulletin.conftest import DAY

pytestmark = pytest.mark.integration

I18N = Path(__file__).parents[2] / "aircarbon" / "bulletin" / "i18n.toml"


def _warehouse_city(settings: Settings, catalog: Catalog, day: dt.date) -> dict[str, float]:
    """City means straight from the lake's daily table, national/assessment stations only."""
    from warehouse.lake import connect

    sites = [
        s.id
        for s in catalog.stations.values()
        if s.type in ("national", "pm_component", "voc", "ghg") and not s.background
    ]
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "select station, param, value from daily where date = ? and valid", [day]
        ).fetchall()
    finally:
        con.close()
    sums: dict[str, list[float]] = {}
    for station, param, value in rows:
        if station in sites:
            sums.setdefault(param, []).append(value)
    return {p: sum(v) / len(v) for p, v in sums.items()}


def test_four_files_and_images(written: tuple[dict[str, object], Path]) -> None:
    summary, folder = written
    for name in ("bulletin.zh.html", "bulletin.en.html", "bulletin.zh.md", "bulletin.en.md"):
        assert (folder / name).stat().st_size > 1000, name
    md = (folder / "bulletin.zh.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert images, "the Markdown twin links its charts"
    for image in images:
        assert (folder / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"[。.)）]- ", md) is None  # one list item per line
    assert re.search(r"[^\n]\n##", md) is None  # a blank line before every heading
    html = (folder / "bulletin.en.html").read_text(encoding="utf-8")
    assert "<script" not in html
    assert re.search(r"""(?:src|href)=["'](?!data:)""", html) is None  # nothing to fetch
    json.dumps(summary)  # JSON-able for XCom / --json


def test_headline_equals_warehouse(
    lake_settings: tuple[Settings, Catalog], written: tuple[dict[str, object], Path]
) -> None:
    from transforms.aqi import compute_aqi, input_codes

    settings, catalog = lake_settings
    summary, folder = written
    means = _warehouse_city(settings, catalog, DAY)
    std = catalog.aqi_standard_for(DAY)
    inputs = {k: v for k, v in means.items() if k in input_codes(std, "daily")}
    expected = compute_aqi(inputs, kind="daily", standard=std, catalog=catalog)
    head = summary["headline"]
    assert isinstance(head, dict)
    assert expected.aqi is not None
    assert expected.category is not None
    assert head["aqi"] == expected.aqi
    assert head["category"] == expected.category.name_en
    assert head["pm25_ug_m3"] == pytest.approx(means["pm25"])
    yesterday = _warehouse_city(settings, catalog, DAY - dt.timedelta(days=1))
    prev = compute_aqi(
        {k: v for k, v in yesterday.items() if k in input_codes(std, "daily")},
        kind="daily",
        standard=std,
        catalog=catalog,
    )
    assert head["yesterday_aqi"] == prev.aqi
    assert head["last_year_aqi"] is None  # no data a year back: said, not invented
    for lang, name in (("zh", expected.category.name_zh), ("en", expected.category.name_en)):
        html = (folder / f"bulletin.{lang}.html").read_text(encoding="utf-8")
        assert f'data-headline="aqi">{expected.aqi}<' in html
        assert name in html
        assert f"{means['pm25']:.0f} µg/m³" in html


def test_sections_say_no_data_rather_than_invent(
    lake_settings: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = lake_settings
    empty = DAY + dt.timedelta(days=30)  # nothing loaded for that day
    with pytest.raises(IntervalRefused, match=f"no bulletin for {empty}"):
        write_bulletins(settings, catalog, empty, langs=("en",), output_dir=tmp_path)
    result = write_bulletins(
        settings, catalog, empty, langs=("en",), output_dir=tmp_path, require_data=False
    )
    html = (tmp_path / empty.isoformat() / "bulletin.en.html").read_text(encoding="utf-8")
    assert result.headline["aqi"] is None
    assert "no city AQI" in html
    assert "No co-emission event was detected today, so no source is named." in html
    assert "No forecast issued." in html
    assert "Likely source class" not in html


def test_source_statement_only_with_an_event(
    written: tuple[dict[str, object], Path], lake_settings: tuple[Settings, Catalog]
) -> None:
    from warehouse.lake import connect

    settings, _ = lake_settings
    con = connect(settings, read_only=True)
    try:
        events = con.execute("select count(*) from events(?, ?)", [DAY, DAY]).fetchone()
    finally:
        con.close()
    assert events is not None
    html = (written[1] / "bulletin.en.html").read_text(encoding="utf-8")
    named = html.count("Likely source class:")
    assert named <= events[0]
    assert (events[0] == 0) == ("No co-emission event was detected today" in html)


def test_languages_share_keys_and_placeholders() -> None:
    doc = tomllib.loads(I18N.read_text(encoding="utf-8"))
    zh, en = doc["zh"], doc["en"]
    assert zh.keys() == en.keys()

    def fields(text: object) -> set[str]:
        items = text if isinstance(text, list) else [text]
        return {f for s in items for _, f, _, _ in string.Formatter().parse(str(s)) if f}

    for key in zh:
        assert fields(zh[key]) == fields(en[key]), key


def test_targets_cite_sources() -> None:
    from aircarbon.bulletin.data import load_targets

    doc = load_targets(None)
    assert {lim["stage"] for lim in doc["air_limit"] if lim["param"] == "pm25"} == {
        "transition",
        "final",
    }
    for item in [*doc["air_limit"], *doc["carbon_target"]]:
        assert item["source"] in doc["sources"]


def test_cli_json(
    lake_settings: tuple[Settings, Catalog],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aircarbon.cli import main

    settings, _ = lake_settings
    monkeypatch.setenv("AIRCARBON_DATA_DIR", str(settings.data_dir))
    with pytest.raises(SystemExit) as exit_info:
        main(["bulletin", "--date", DAY.isoformat(), "--lang", "en", "--json",
              "--output-dir", str(tmp_path)])  # fmt: skip
    assert exit_info.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["langs"] == ["en"]
    assert (tmp_path / DAY.isoformat() / "bulletin.en.html").is_file()
    with pytest.raises(SystemExit) as bad:
        main(["bulletin", "--date", "2026-11-31"])
    assert bad.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
