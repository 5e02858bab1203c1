"""``aircarbon simulate`` as a Typer command: options, dry run, JSONL output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from aircarbon.simulator.command import simulate
from tests.fixtures.brokers import MosquittoBroker

app = typer.Typer()
app.command()(simulate)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_env_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No broker from the environment; a data dir whose own network is the sample's copy.

    ``simulate`` simulates the network in use (tests/simulator/test_own_network.py): here
    the Shenyang sample, kept in the data dir so no "using the sample" notice is printed.
    """
    from aircarbon.core.catalog import init_sample_network
    from aircarbon.core.settings import load_settings

    for key in ("AIRCARBON_BROKER_URL", "AIRCARBON_CONFIG", "AIRCARBON_BROKER_USERNAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AIRCARBON_NETWORK_FILE", raising=False)
    monkeypatch.setenv("AIRCARBON_DATA_DIR", str(tmp_path / "data"))
    init_sample_network(load_settings())


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--broker", "--days", "--rate", "--faults", "--format", "--dry-run"):
        assert option in result.output


def test_dry_run_prints_messages() -> None:
    result = runner.invoke(app, ["--dry-run", "--count", "5", "--stations", "SY-TY-01"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("aircarbon/v1/SY-TY-01/status ")
    assert lines[1].startswith("aircarbon/v1/SY-TY-01/readings {")


def test_output_writes_jsonl_and_truth(tmp_path: Path) -> None:
    out, truth = tmp_path / "msgs.jsonl", tmp_path / "truth.jsonl"
    args = [
        "--output",
        str(out),
        "--truth",
        str(truth),
        "--days",
        "0.1",
        "--faults",
        "demo,malformed=0.05",
    ]
    result = runner.invoke(app, [*args, "--stations", "SY-SL-05,SY-XH-02", "--format", "mixed"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) > 280
    assert all("payload" in r or "payload_b64" in r for r in records)
    assert {r["topic"].rsplit("/", 1)[1] for r in records} == {"status", "readings", "hj212"}
    kinds = {json.loads(line)["kind"] for line in truth.read_text().splitlines()}
    assert "malformed" in kinds


def test_no_broker_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["--days", "0.01"])
    assert result.exit_code == 2
    assert "--broker" in result.output
    assert "aircarbon demo" in result.output


def test_bad_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["--dry-run", "--faults", "sparkle=1"]).exit_code == 2
    assert runner.invoke(app, ["--dry-run", "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["--dry-run", "--stations", "SY-NOPE"]).exit_code == 2


@pytest.mark.integration
def test_publishes_to_a_broker(mosquitto: MosquittoBroker) -> None:
    args = ["--broker", mosquitto.url, "--days", "0.05", "--stations", "SY-TY-01", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["sent"] == {"readings": 72, "status": 1}
    assert report["msgs_per_s"] > 0
