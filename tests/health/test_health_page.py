"""The wall page in a real headless Chromium: it renders every station and marks the silent one.

Chromium is a blocking subprocess, so the server runs in a thread with its own event loop
(:class:`~tests.health.conftest.ThreadedServer`). The screenshot is kept under pytest's
``tmp_path`` (and its path printed) so a human can look at it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aircarbon.core.catalog import Catalog

from .conftest import NOISY, SILENT, ThreadedServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *extra,
        url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_page_shows_every_station_and_marks_the_silent_one(
    threaded_server: ThreadedServer, catalog: Catalog, tmp_path: Path
) -> None:
    result = _chromium(f"{threaded_server.url}/", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    tiles = dict(re.findall(r'<article[^>]*data-station="([^"]+)"[^>]*data-health="([^"]+)"', dom))
    assert set(tiles) == set(catalog.stations), dom[:2000]
    assert tiles[SILENT] == "silent"
    assert tiles[NOISY] == "degraded"
    assert tiles["SY-TY-01"] == "ok"
    for station in catalog.stations.values():
        assert station.name_zh in dom
        assert station.name_en in dom
    assert "DEGRADED" in dom  # overall status pill
    assert "silent for 7200 s" in dom  # alert list / tile alert
    assert "malformed_json 4" in dom  # dead letters by reason


def test_page_screenshot(threaded_server: ThreadedServer, tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    result = _chromium(
        f"{threaded_server.url}/",
        tmp_path / "profile",
        f"--screenshot={png}",
        "--window-size=1600,1000",
        "--hide-scrollbars",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.is_file()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one
    print(f"screenshot: {png}")
