"""The lake and the raw store on S3-compatible object storage, the catalog in PostgreSQL.

Real parts: moto's S3 server (DuckDB's httpfs speaks to it as to MinIO), the machine's
PostgreSQL for the DuckLake catalog, the warehouse's own connect/migrate/load functions and
the analysts' read-only connection. The bucket must show the same layout as a local data
directory, so a deployment can move between the two without changing a query.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import warehouse
from aircarbon.core.duck import object_store
from aircarbon.core.settings import load_settings
from ingest.raw_store import write_readings
from ingest.raw_sync import sync_raw
from tests.scale.conftest import S3Server
from tests.warehouse.conftest import HOUR, hourly_frame

pytestmark = pytest.mark.integration

STATIONS = 40  # enough rows that DuckLake writes Parquet files instead of inlining them


def _layout(keys: list[str], root: str) -> set[str]:
    """``main/hourly/…`` from ``<root>/main/hourly/…/ducklake-….parquet``: folders, not names."""
    return {k.removeprefix(root).rsplit("/", 1)[0] for k in keys if k.endswith(".parquet")}


def test_lake_on_s3_with_postgres_catalog(tmp_path: Path, s3: S3Server, pg_catalog: str) -> None:
    env = {
        **s3.env(),
        "AIRCARBON_WAREHOUSE_CATALOG": pg_catalog,
        "AIRCARBON_WAREHOUSE_DATA": f"s3://{s3.bucket}/warehouse/",
    }
    settings = load_settings(env, data_dir=tmp_path / "data")
    frame = hourly_frame(HOUR, stations=STATIONS)
    con = warehouse.connect(settings)
    try:
        assert warehouse.migrate(con)
        loaded = warehouse.load_hour(con, "hourly", frame, HOUR)
        again = warehouse.load_hour(con, "hourly", frame, HOUR)  # idempotent on S3 too
    finally:
        con.close()
    assert loaded.rows == frame.height
    assert (again.rows, again.checksum) == (loaded.rows, loaded.checksum)

    # the analysts' read-only session, in the same way as on a local lake
    reader = warehouse.connect(settings, read_only=True)
    try:
        got = reader.execute(
            "select count(*), count(distinct station), round(sum(value), 6) from hourly"
        ).fetchone()
        with pytest.raises(Exception, match=r"(?i)read.only"):
            reader.execute("delete from hourly")
    finally:
        reader.close()
    assert got == (frame.height, STATIONS, round(frame["value"].sum(), 6))

    # files in the bucket, under the lake's data path, in the layout of a local lake
    remote = s3.keys("warehouse/")
    assert remote, "no data files in the bucket"
    local_settings = load_settings({}, data_dir=tmp_path / "local")
    local = warehouse.connect(local_settings)
    try:
        warehouse.migrate(local)
        warehouse.load_hour(local, "hourly", frame, HOUR)
    finally:
        local.close()
    local_root = Path(local_settings.lake_data)
    local_keys = [p.relative_to(local_root).as_posix() for p in local_root.rglob("*.parquet")]
    # hourly is partitioned by month (migration 0012): the same folders in both places
    month = f"main/hourly/year={HOUR.year}/month={HOUR.month}"
    assert _layout(remote, "warehouse/") == _layout(local_keys, "") == {month}


def _raw_batch(hour_end: dt.datetime, n: int) -> pl.DataFrame:
    ts = [hour_end - dt.timedelta(minutes=m) for m in range(n)]
    return pl.DataFrame(
        {
            "station": ["SY-TY-01"] * n,
            "param": ["pm25"] * n,
            "ts": ts,
            "value": [float(i) for i in range(n)],
            "flag": ["N"] * n,
            "period_s": [60] * n,
            "seq": list(range(n)),
            "received_at": ts,
            "source": ["json"] * n,
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")},
    )


def test_raw_sync_ships_the_same_layout(tmp_path: Path, s3: S3Server) -> None:
    data = tmp_path / "data"
    env = {**s3.env(), "AIRCARBON_RAW_SYNC_URL": f"s3://{s3.bucket}/site-a/"}
    settings = load_settings(env, data_dir=data)
    hour = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    batch = _raw_batch(hour, 30)  # spans two hour partitions
    written = write_readings(batch.to_arrow(), settings.raw_dir, "collector-a")
    assert len(written) == 2
    (settings.raw_dir / "date=2026-11-24" / "hour=09" / ".half.parquet.tmp").write_bytes(b"x")

    first = sync_raw(settings)
    expected = sorted(p.relative_to(data).as_posix() for p in written)
    assert sorted(first.uploaded) == expected
    assert s3.keys("site-a/") == [f"site-a/{k}" for k in expected]  # no temporary shipped
    # idempotent: nothing new, nothing uploaded; a new file is shipped alone
    assert sync_raw(settings).summary()["uploaded"] == 0
    later = _raw_batch(hour + dt.timedelta(hours=1), 5).to_arrow()
    more = write_readings(later, settings.raw_dir, "collector-b")
    third = sync_raw(settings)
    assert sorted(third.uploaded) == sorted(p.relative_to(data).as_posix() for p in more)
    assert third.present == 2

    # the shipped files read back as the local ones: same rows, same types
    local = pl.concat([pl.read_parquet(p) for p in [*written, *more]]).sort("ts")
    con = object_store(settings)
    try:
        con.execute("SET TimeZone = 'UTC'")
        remote = con.execute(
            "select * from read_parquet(?, hive_partitioning = false)",
            [f"s3://{s3.bucket}/site-a/raw/**/*.parquet"],
        ).pl()
    finally:
        con.close()
    assert_frame_equal(remote.sort("ts"), local)


def test_raw_sync_command(tmp_path: Path, s3: S3Server) -> None:
    """``aircarbon raw sync --json`` as an operator's timer runs it (settings from env)."""
    import json
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    settings = load_settings({}, data_dir=data)
    written = write_readings(
        _raw_batch(dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC), 3).to_arrow(),
        settings.raw_dir,
        "collector-a",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env |= s3.env() | {
        "AIRCARBON_DATA_DIR": str(data),
        "AIRCARBON_RAW_SYNC_URL": f"s3://{s3.bucket}/site-a",
    }
    cmd = [sys.executable, "-m", "aircarbon", "raw", "sync", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # one JSON line (re-runs: test_raw_sync_ships_…)
    assert (summary["uploaded"], summary["already_present"]) == (1, 0)
    assert s3.keys("site-a/") == [f"site-a/{written[0].relative_to(data).as_posix()}"]
    # without a destination: one line naming the setting
    env.pop("AIRCARBON_RAW_SYNC_URL")
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "AIRCARBON_RAW_SYNC_URL" in bad.stderr
