"""``aircarbon doctor``: each check runs the real thing and names the fix when it fails."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.test_cli import run_cli

#: every test here runs `python -m aircarbon` in a subprocess
pytestmark = [pytest.mark.integration]


def _report(result_stdout: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(result_stdout)}


def test_fresh_data_dir_is_fine_and_says_it_runs_the_sample(tmp_path: Path) -> None:
    result = run_cli("doctor", "--json", env={"AIRCARBON_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode == 0, result.stdout + result.stderr
    checks = _report(result.stdout)
    assert {"environment", "duckdb extensions", "data dir", "network", "warehouse",
            "CJK font", "chromium", "mosquitto", "health port"} <= set(checks)  # fmt: skip
    assert checks["duckdb extensions"]["status"] == "ok"
    assert checks["environment"]["status"] == "ok"
    assert checks["network"]["status"] == "warn"
    assert "network init" in checks["network"]["fix"]
    assert "none yet" in checks["warehouse"]["detail"]


def test_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "file"
    bad.write_text("x", encoding="utf-8")
    result = run_cli("doctor", env={"AIRCARBON_DATA_DIR": str(bad)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"aircarbon: error: setting AIRCARBON_DATA_DIR: '{bad}' is a file, not a directory"
    ]


def test_broken_lake_and_busy_port_are_reported(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "warehouse.sqlite").write_bytes(b"not a database" * 100)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "doctor", "--json",
            env={"AIRCARBON_DATA_DIR": str(data), "AIRCARBON_HEALTH_PORT": str(port)},
        )  # fmt: skip
    assert result.returncode == 1
    checks = _report(result.stdout)
    assert checks["warehouse"]["status"] == "fail"
    assert checks["health port"]["status"] == "warn"
    assert "AIRCARBON_HEALTH_PORT" in checks["health port"]["fix"]
