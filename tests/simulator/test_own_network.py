"""``aircarbon simulate`` simulates the network in use, not the shipped Shenyang sample.

An operator's ``<data dir>/network.toml`` (here: two stations in Chicago, UTC-6 in
November) is what ``catalog_for`` gives every entry point; the simulator used to publish the
sample's twelve stations regardless, so stations the operator added never published.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aircarbon.core.catalog import add_stations, catalog_for, init_network, station_row
from aircarbon.core.settings import Settings, load_settings
from tests.fixtures.brokers import MosquittoBroker
from tests.ingest.collector_helpers import read_dead, read_raw, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
OWN = ("CH-LP-01", "CH-WL-02")


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A data directory whose network is two Chicago stations (one national, one GHG)."""
    for key in ("AIRCARBON_BROKER_URL", "AIRCARBON_CONFIG", "AIRCARBON_NETWORK_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AIRCARBON_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    init_network(
        settings, city="chicago", timezone="America/Chicago", name_en="Chicago",
        center=(41.88, -87.63),
    )  # fmt: skip
    rows = [
        ("CH-LP-01", station_row("CH-LP-01", type="national", lat=41.92, lon=-87.65,
                                 params="so2,no2,co,o3,pm25,pm10,@met")),
        ("CH-WL-02", station_row("CH-WL-02", type="ghg", lat=41.80, lon=-87.70,
                                 params="co2,ch4,@met")),
    ]  # fmt: skip
    add_stations(settings, rows)
    return settings


def test_dry_run_simulates_the_own_network_in_its_zone(own: Settings) -> None:
    from aircarbon.cli import app

    result = CliRunner().invoke(app, ["simulate", "--dry-run", "--count", "6"])
    assert result.exit_code == 0, result.output
    topics = [line.split(" ", 1)[0] for line in result.output.splitlines()]
    assert {t.split("/")[2] for t in topics} == set(OWN)
    first = json.loads(result.output.splitlines()[2].split(" ", 1)[1])
    # --start is a day of the network's calendar: local midnight in Chicago (CST)
    assert first["ts"].endswith("-06:00")
    # the sample's stations are not in this network: asking for one is a usage error
    sample = CliRunner().invoke(app, ["simulate", "--dry-run", "--stations", "SY-TY-01"])
    assert sample.exit_code == 2
    assert "SY-TY-01" in sample.output


@pytest.mark.integration
async def test_own_stations_publish_and_land(own: Settings, mosquitto: MosquittoBroker) -> None:
    """The real command publishes to a real broker; a collector on the same network lands."""
    from ingest.collector import COLLECTOR_USERNAME, Collector, CollectorConfig
    from ingest.decode import DecodeRules
    from ingest.mqtt_client import MqttEndpoint

    catalog = catalog_for(own)
    endpoint = MqttEndpoint(
        mosquitto.host, mosquitto.port, username=COLLECTOR_USERNAME, client_id="own-net"
    )
    config = CollectorConfig(endpoint, batch_max_age_s=0.2, reconnect_min_s=0.1)
    rules = DecodeRules(catalog, check_time=False)
    collector = Collector(config, catalog=catalog, data_dir=own.data_dir, rules=rules)
    args = ["simulate", "--broker", mosquitto.url, "--days", "0.05", "--json", "--no-progress"]
    async with running(collector):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "aircarbon", *args],
            cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        # 0.05 days of minutes (72) and one status message, per station of the network
        assert report["sent"] == {"readings": 72 * len(OWN), "status": len(OWN)}
        await wait_for(lambda: collector.stats.messages_total >= report["total"])
    raw = read_raw(own.data_dir)
    assert set(raw["station"].unique()) == set(OWN)
    assert set(raw.filter(raw["station"] == "CH-WL-02")["param"].unique()) >= {"co2", "ch4"}
    assert read_dead(own.data_dir).height == 0
