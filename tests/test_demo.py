"""A shortened `aircarbon demo` end to end: broker, simulator, collector, processing, lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aircarbon.core.settings import load_settings
from warehouse.lake import connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["COLUMNS"] = "80"  # a usual terminal: the paths must still come out whole
    return subprocess.run(
        [
            *(sys.executable, "-m", "aircarbon", "demo", "--days", "1"),
            *("--stations", "SY-TY-01,SY-HS-12", "--data-dir", str(data_dir)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_short_demo_fills_the_lake_and_reruns_safely(tmp_path: Path) -> None:
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "AQI" in first.stdout
    con = connect(load_settings({}, data_dir=tmp_path), read_only=True)
    try:
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in (
                "stations",
                "parameters",
                "readings",
                "hourly",
                "daily",
                "aqi_hourly",
                "aqi_daily",
                "indicators_daily",
                "validation_runs",
                "dead_letter",
                "forecasts",
            )
        }
    finally:
        con.close()
    assert all(n > 0 for n in counts.values()), counts
    days = sorted((tmp_path / "bulletins").iterdir())
    assert len(days) == 1, days  # the last (only) simulated day
    for name in ("bulletin.zh.html", "bulletin.en.html", "bulletin.zh.md", "bulletin.en.md"):
        assert (days[0] / name).stat().st_size > 0, name
    docs = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert docs.is_file()
    assert str(docs) in first.stdout  # whole, on one line, to copy
    health = (tmp_path / "health" / "index.html").read_text(encoding="utf-8")
    assert "SY-TY-01" in health  # the page as it was at the end of ingest, data inlined
    initial = json.loads(
        health.split('<script id="initial-document" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert initial["connected"] is True  # taken before the collector disconnected
    lagging = [s["station"] for s in initial["stations"] if "lag" in s["alert_rules"]]
    assert not lagging, lagging  # a replay's lateness is not a station fault
    assert "bulletins" in first.stdout  # the summary says where they are
    aqi_part = first.stdout[first.stdout.index("(daily report)") :]
    for station in ("SY-TY-01", "SY-HS-12"):  # in the AQI table, or said why not
        assert station in aqi_part, aqi_part
    second = _demo(tmp_path)  # re-running is safe: same lake contents
    assert second.returncode == 0, second.stderr[-3000:]
    con = connect(load_settings({}, data_dir=tmp_path), read_only=True)
    try:
        again = con.execute("SELECT count(*) FROM readings").fetchone()
    finally:
        con.close()
    assert again == (counts["readings"],)


def test_demo_data_dir_follows_the_option_then_the_environment(tmp_path: Path) -> None:
    from aircarbon.commands.demo import demo_settings

    assert demo_settings(None, {}).data_dir == Path("data/demo")
    env = {"AIRCARBON_DATA_DIR": str(tmp_path / "mine")}
    assert demo_settings(None, env).data_dir == tmp_path / "mine"
    assert demo_settings(tmp_path / "opt", env).data_dir == tmp_path / "opt"


def test_demo_next_steps_name_its_data_dir(tmp_path: Path) -> None:
    from aircarbon.commands.demo import next_steps

    settings = load_settings({}, data_dir=tmp_path / "d")
    lines = next_steps(settings)
    assert all(f"AIRCARBON_DATA_DIR={tmp_path / 'd'}" in line for line in lines[1:])
    assert any(" sql " in line for line in lines)
