"""``aircarbon status`` against a live health server (urllib in the test thread)."""

from __future__ import annotations

import json
import re
import socket

import pytest

from aircarbon.commands import status
from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import AirCarbonError

from .conftest import NOISY, SILENT, ThreadedServer


def test_status_json(
    threaded_server: ThreadedServer, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    code = status.run(url=threaded_server.url, as_json=True)
    assert code == 1  # degraded
    doc = json.loads(capsys.readouterr().out)
    assert {s["station"] for s in doc["stations"]} == set(catalog.stations)
    assert doc["status"] == "degraded"
    assert any(r["station"] == SILENT for r in doc["reasons"])


def test_status_table(
    threaded_server: ThreadedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    # host:port without a scheme and with the endpoint path both work
    url = threaded_server.url.removeprefix("http://") + "/api/stations"
    assert status.run(url=url, as_json=False) == 1
    out = capsys.readouterr().out
    for header in ("station", "health", "last seen", "msgs/min", "lag", "dead letters"):
        assert header in out
    silent_row = next(line for line in out.splitlines() if SILENT in line)
    assert "silent" in silent_row
    assert "2 h 0 min" in silent_row
    noisy_row = next(line for line in out.splitlines() if NOISY in line)
    assert "degraded" in noisy_row
    assert "5 (malformed_json 4, unknown_param 1)" in noisy_row
    assert "status DEGRADED" in out
    assert "dead letters 6" in out


def test_status_uses_settings_by_default(
    threaded_server: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AIRCARBON_HEALTH_HOST", "0.0.0.0")  # reached via loopback
    monkeypatch.setenv("AIRCARBON_HEALTH_PORT", str(threaded_server.server.port))
    assert status.run(url=None, as_json=True) == 1
    assert json.loads(capsys.readouterr().out)["connected"] is True


def test_status_unreachable_collector() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(AirCarbonError, match=re.escape(f"no collector answering at URL: {url}")):
        status.run(url=url, as_json=True)


def test_status_table_reads_at_80_columns(
    threaded_server: ThreadedServer,
    catalog: Catalog,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert status.run(url=threaded_server.url, as_json=False) == 1
    out = capsys.readouterr().out
    table_lines = [line for line in out.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table_lines
    assert all(len(line) <= 80 for line in table_lines), max(table_lines, key=len)
    for sid in catalog.stations:  # each station on one row, its id whole
        assert any(line.startswith(f"│ {sid} ") for line in table_lines), sid
    silent_row = next(line for line in out.splitlines() if SILENT in line)
    assert "silent" in silent_row
    assert "2 h 0 min" in silent_row
    assert "status DEGRADED" in out
