"""Airflow's zone follows the network's: ``aircarbon network init --force`` after ``airflow init``.

``aircarbon airflow init`` writes ``[core] default_timezone`` once; a network whose zone
changed later used to leave Airflow reading dates typed without an offset in the old zone
until ``init`` was run again. The ``airflow`` subprocesses are replaced by recorders here
(the commands' own code runs: settings, airflow.cfg, the environment they would start with).
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aircarbon.commands import airflow as command
from aircarbon.core.catalog import init_network, init_sample_network
from aircarbon.core.settings import load_settings

runner = CliRunner()


def _zone_in_cfg(home: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(home / "airflow.cfg", encoding="utf-8")
    return parser.get("core", "default_timezone")


def test_the_zone_follows_a_network_moved_after_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AIRCARBON_CONFIG", "AIRCARBON_NETWORK_FILE", "AIRFLOW_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", raising=False)
    data, home = tmp_path / "data", tmp_path / "airflow"
    monkeypatch.setenv("AIRCARBON_DATA_DIR", str(data))
    settings = load_settings()
    init_sample_network(settings)  # Asia/Shanghai
    home.mkdir()
    # what Airflow writes on first use (init then skips its own `airflow config` call)
    (home / "airflow.cfg").write_text("[core]\n# default_timezone = utc\nfernet_key = k\n")
    started: list[dict[str, str]] = []

    def run(args: Sequence[str], env: Mapping[str, str], *, capture: bool = True) -> str:
        return ""

    def foreground(args: Sequence[str], env: Mapping[str, str]) -> None:
        started.append(dict(env))

    monkeypatch.setattr(command, "_run", run)
    monkeypatch.setattr(command, "_run_foreground", foreground)
    where = ["--home", str(home), "--data-dir", str(data)]

    done = runner.invoke(command.app, ["init", "--sqlite", *where])
    assert done.exit_code == 0, done.output
    assert _zone_in_cfg(home) == "Asia/Shanghai"

    # the operator moves the network (a corrected zone), as `network init --force` does
    init_network(settings, city="chicago", timezone="America/Chicago", force=True)
    done = runner.invoke(command.app, ["standalone", *where])
    assert done.exit_code == 0, done.output
    assert _zone_in_cfg(home) == "America/Chicago"  # also for an Airflow started by hand
    assert started[-1]["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "America/Chicago"
    said = [ln for ln in done.output.splitlines() if "default_timezone" in ln]
    assert said == [
        "airflow.cfg: default_timezone Asia/Shanghai -> America/Chicago (the network's zone); "
        "restart an Airflow you started yourself for it to take effect"
    ]
    text = (home / "airflow.cfg").read_text()
    assert "fernet_key = k" in text  # the rest of the file is kept

    # unchanged since: nothing rewritten, nothing said
    again = runner.invoke(command.app, ["standalone", *where])
    assert again.exit_code == 0, again.output
    assert "default_timezone" not in again.output
    assert (home / "airflow.cfg").read_text() == text


def test_every_airflow_process_gets_the_network_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with a stale airflow.cfg (a command that does not rewrite it): the environment."""
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TIMEZONE", "UTC")
    monkeypatch.delenv("AIRCARBON_NETWORK_FILE", raising=False)
    settings = load_settings({}, data_dir=tmp_path / "data")
    init_network(settings, city="chicago", timezone="America/Chicago")
    env = command.airflow_env(settings, tmp_path / "home")
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "America/Chicago"
