"""The hourly and daily steps reading the raw store from object storage (``raw_source_url``).

A simulated morning is landed locally, shipped with ``aircarbon raw sync`` to moto's S3 server,
then the same hour is processed twice into two fresh local lakes: once from the local store,
once with the raw source on S3 (the processing host's data directory has no raw files at all).
The lakes' ``readings`` and ``hourly`` must be equal, and the dead letters and status events
must read back the same from both places.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import load_catalog
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline import process_hour
from aircarbon.pipeline.common import raw_location
from aircarbon.simulator import iter_messages
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.faults import FaultConfig
from ingest.decode import DecodeRules
from ingest.offline import land_messages
from ingest.raw_sync import sync_raw
from tests.scale.conftest import S3Server
from transforms.raw import RawLocation, read_dead_letters, scan_raw, scan_status
from warehouse.lake import connect

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 24)
#: the hour ending 19:00 UTC: the third hour of the simulated four (from 16:00 UTC)
HOUR = dt.datetime(2026, 11, 23, 19, tzinfo=dt.UTC)


def _lake(settings: Settings, table: str) -> pl.DataFrame:
    con = connect(settings, read_only=True)
    try:
        return con.execute(f"select * from {table} order by all").pl()
    finally:
        con.close()


def test_process_hour_reads_the_raw_store_from_s3(tmp_path: Path, s3: S3Server) -> None:
    catalog = load_catalog()
    collector = tmp_path / "collector"
    faults = FaultConfig(duplicate=2e-2, malformed=2e-2, spike=1e-2)
    config = SimulationConfig(
        seed=7,
        start=DAY,
        days=4 / 24,
        stations=("SY-TY-01", "SY-XH-02"),
        format="json",
        faults=faults,
    )
    messages = ((m.topic, m.payload) for m in iter_messages(config, catalog=catalog))
    land_messages(messages, collector, DecodeRules(catalog, check_time=False), land_status=True)
    url = f"s3://{s3.bucket}/site-a"
    sync_env = {**s3.env(), "AIRCARBON_RAW_SYNC_URL": url}
    shipped = sync_raw(load_settings(sync_env, data_dir=collector))
    assert any(k.startswith("raw/") for k in shipped.uploaded)

    # the processing host: its own (empty) data dir and lake, the raw store on S3
    remote = load_settings(
        {**s3.env(), "AIRCARBON_RAW_SOURCE_URL": url}, data_dir=tmp_path / "proc"
    )
    source = raw_location(remote)
    assert source.remote
    assert source.storage_options["aws_allow_http"] == "true"
    local = load_settings({}, data_dir=collector)
    assert raw_location(local) == RawLocation(collector)

    start = HOUR - dt.timedelta(hours=1, minutes=30)
    on_disk = scan_raw(collector, start, HOUR).collect()
    assert on_disk.height > 0
    assert_frame_equal(
        scan_raw(source, start, HOUR).collect().sort(on_disk.columns), on_disk.sort(on_disk.columns)
    )
    assert (
        scan_raw(source, HOUR + dt.timedelta(hours=5), HOUR + dt.timedelta(hours=6))
        .collect()
        .is_empty()
    )
    status = scan_status(collector).collect()
    assert status.height > 0
    assert_frame_equal(
        scan_status(source).collect().sort(status.columns), status.sort(status.columns)
    )
    folder = sorted((collector / "dead_letter").iterdir())[0]  # the UTC day they were received
    received = dt.date.fromisoformat(folder.name.removeprefix("date="))
    dead_local = read_dead_letters(collector, received)
    dead_remote = read_dead_letters(source, received)
    assert dead_local is not None
    assert dead_remote is not None
    assert dead_local.height > 0
    assert_frame_equal(dead_remote.sort(pl.all()), dead_local.sort(pl.all()), check_dtypes=True)
    assert read_dead_letters(source, received - dt.timedelta(days=30)) is None

    from_s3 = process_hour(remote, catalog, HOUR, validate=False, build_docs=False)
    from_disk = process_hour(local, catalog, HOUR, validate=False, build_docs=False)
    assert from_s3.summary() == {**from_disk.summary(), "snapshot": from_s3.snapshot}
    assert from_s3.readings > 0
    for table in ("readings", "hourly", "aqi_hourly"):
        assert_frame_equal(_lake(remote, table), _lake(local, table))
