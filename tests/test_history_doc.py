"""docs/history.md runs as written: its five commands and its trend query, verbatim.

The files are the doc's own ``stations.csv`` (taken from the page) and a history of the
doc's ``long`` shape, generated here: three years of hourly PM2.5 with a known decline under
a seasonal cycle, so the trend the page promises must come out (negative, 36 months).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[1] / "docs" / "history.md"


def _block(text: str, name: str) -> list[str]:
    """The command lines between ``<!-- history:NAME -->`` and its closing mark."""
    body = text.split(f"<!-- history:{name} -->", 1)[1].split(f"<!-- /history:{name} -->", 1)[0]
    return [line for line in body.splitlines() if line.startswith("aircarbon ")]


def _stations_csv(text: str) -> str:
    match = re.search(r"```text\n\s*(id,type,lat,lon,params[^`]*)```", text)
    assert match, "docs/history.md lost its stations.csv example"
    lines = [line.strip() for line in match.group(1).splitlines()]
    return "\n".join(line for line in lines if line) + "\n"


def _history(path: Path) -> None:
    rng = random.Random(7)
    start = dt.datetime(2023, 1, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["station", "param", "ts", "value"])
        for h in range(3 * 365 * 24):
            t = start + dt.timedelta(hours=h)
            years = h / (365 * 24)
            season = 1 + 0.4 * math.cos(2 * math.pi * t.timetuple().tm_yday / 365)
            pm25 = max(1.0, 45 * season * (1 - 0.08 * years) + rng.gauss(0, 8))
            out.writerow(["HZ-XH-01", "pm25", t.strftime("%Y-%m-%d %H:%M"), round(pm25, 1)])


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(line)
    assert argv[0] == "aircarbon"
    return subprocess.run(
        [sys.executable, "-m", "aircarbon", *argv[1:]],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def test_history_doc_from_csv_to_trend(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    commands, query = _block(text, "commands"), _block(text, "query")
    assert len(commands) == 5, commands
    assert len(query) == 1, query
    (tmp_path / "stations.csv").write_text(_stations_csv(text), encoding="utf-8")
    _history(tmp_path / "history.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["AIRCARBON_DATA_DIR"] = str(tmp_path / "data")
    for line in commands:
        done = _run(line, tmp_path, env)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    trend = _run(query[0] + " --format json", tmp_path, env)
    assert trend.returncode == 0, trend.stderr
    (row,) = json.loads(trend.stdout)
    assert row["station"] == "HZ-XH-01"
    assert row["months"] == 36
    assert row["slope_per_year"] < 0  # the decline put into the history comes out
