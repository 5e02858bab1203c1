"""Real ``dag.test()`` runs of both DAGs on simulated data in a temporary data directory.

Readings are simulated for one local day and landed in the raw store without a broker (decode
each message as the collector does, then ``write_readings``). Each test runs Airflow in a child
process with ``AIRCARBON_DATA_DIR`` pointing at its data directory, then reads the warehouse
back read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from aircarbon.core.catalog import load_catalog
from aircarbon.core.settings import Settings, load_settings
from ingest.batch import ReadingBatch
from ingest.decode import DecodeRules, decode_message
from ingest.raw_store import write_readings
from tests.dags.conftest import DAY, ROOT, SHANGHAI, run_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The hour the hourly tests process: 10:00 local on DAY, i.e. the UTC interval (01:00, 02:00].
HOUR_END = dt.datetime.combine(DAY, dt.time(10), tzinfo=SHANGHAI).astimezone(dt.UTC)
DAY_END = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)


def _land(data_dir: Path, messages: Iterator[tuple[str, bytes]], *, check_station: bool) -> int:
    batch = ReadingBatch()
    rules = DecodeRules(load_catalog(), check_time=False, check_station=check_station)
    for topic, payload in messages:
        decode_message(topic, payload, rules, 0, batch)
    write_readings(batch.to_arrow(), data_dir / "raw", "test")
    return len(batch)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory holding one simulated local day (DAY) of one national station."""
    from aircarbon.simulator import SimulationConfig, iter_messages

    config = SimulationConfig(seed=11, start=DAY, days=1, stations=("SY-TY-01",), status=False)
    messages = ((m.topic, m.payload) for m in iter_messages(config))
    directory = tmp_path / "data"
    assert _land(directory, messages, check_station=True) > 0
    return directory


def _settings(data_dir: Path) -> Settings:
    return load_settings({}, data_dir=data_dir)


def _lake(data_dir: Path) -> duckdb.DuckDBPyConnection:
    from warehouse.lake import connect

    return connect(_settings(data_dir), read_only=True)


def _count(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> int:
    row = con.execute(sql, list(args)).fetchone()
    assert row is not None
    return int(row[0])


def _dag_test(
    airflow_env: dict[str, str], data_dir: Path, *runs: tuple[str, dt.datetime, dict[str, Any]]
) -> tuple[list[dict[str, Any]], str]:
    args = [a for d, at, conf in runs for a in (d, at.isoformat(), json.dumps(conf))]
    done = run_worker(airflow_env, "test", *args, extra_env={"AIRCARBON_DATA_DIR": str(data_dir)})
    assert "import_errors" not in done.result, done.result
    return done.result["runs"], done.output


def test_hourly_run_loads_its_hour(airflow_env: dict[str, str], data_dir: Path) -> None:
    # GX off (the param): validation is the point of the critical-failure test below
    conf = {"validate": False}
    (run,), _ = _dag_test(airflow_env, data_dir, ("aircarbon_hourly", HOUR_END, conf))
    assert run["state"] == "success", run
    assert run["tis"]["process"] == {"state": "success", "try_number": 1}
    start, end = (dt.datetime.fromisoformat(v) for v in run["data_interval"])
    assert (start, end) == (HOUR_END - dt.timedelta(hours=1), HOUR_END)
    with _lake(data_dir) as con:
        readings = "SELECT count(*) FROM readings WHERE ts > ? AND ts <= ?"
        assert _count(con, readings, start, end) == 60 * 13  # 60 minutes x 13 parameters
        assert _count(con, "SELECT count(*) FROM readings") == 60 * 13  # that hour only
        assert _count(con, "SELECT count(*) FROM hourly WHERE ts = ?", end) >= 13
        assert _count(con, "SELECT count(*) FROM hourly WHERE ts <> ?", end) == 0
        assert _count(con, "SELECT count(*) FROM aqi_hourly WHERE ts = ?", end) == 1
        assert _count(con, "SELECT count(*) FROM validation_runs") == 0


def test_daily_run_after_the_days_hours(airflow_env: dict[str, str], data_dir: Path) -> None:
    from aircarbon.pipeline import missing_hours

    settings = _settings(data_dir)
    assert len(missing_hours(settings, DAY)) == 24
    # 23 hours through the CLI twin (the DAG's library call), without GX to keep it fast
    first = dt.datetime.combine(DAY, dt.time(1), tzinfo=SHANGHAI)
    last = dt.datetime.combine(DAY, dt.time(23), tzinfo=SHANGHAI)
    hours = ["--hour", first.isoformat(), "--until", last.isoformat()]
    proc = subprocess.run(
        [sys.executable, "-m", "aircarbon", "process", "hourly", "--no-validate", "--json", *hours],
        env={**airflow_env, "AIRCARBON_DATA_DIR": str(data_dir)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proc.stdout.splitlines()) == 23
    assert missing_hours(settings, DAY) == [DAY_END.astimezone(dt.UTC)]

    # the last hour through the hourly DAG, then the day: a manual run at local midnight
    # takes the interval that just ended (the hour 23:00-24:00, the day DAY)
    hourly, daily = _dag_test(
        airflow_env,
        data_dir,
        ("aircarbon_hourly", DAY_END, {"validate": False}),
        ("aircarbon_daily", DAY_END, {"validate": False}),
    )[0]
    assert hourly["state"] == "success", hourly
    assert daily["state"] == "success", daily
    start, end = (dt.datetime.fromisoformat(v) for v in daily["data_interval"])
    assert (start, end) == (DAY_END - dt.timedelta(days=1), DAY_END)
    assert daily["tis"]["hours_loaded"]["state"] == "success"
    assert daily["tis"]["daily"] == {"state": "success", "try_number": 1}
    assert daily["tis"]["forecast"] == {"state": "success", "try_number": 1}
    assert daily["tis"]["bulletin"] == {"state": "success", "try_number": 1}
    assert daily["tis"]["compact"] == {"state": "success", "try_number": 1}
    assert missing_hours(settings, DAY) == []
    folder = data_dir / "bulletins" / DAY.isoformat()
    for name in ("bulletin.zh.html", "bulletin.en.html", "bulletin.zh.md", "bulletin.en.md"):
        assert (folder / name).stat().st_size > 0, name
    with _lake(data_dir) as con:
        assert _count(con, "SELECT count(DISTINCT ts) FROM hourly") == 24
        assert _count(con, "SELECT count(*) FROM daily WHERE date = ?", DAY) >= 13
        assert _count(con, "SELECT count(*) FROM daily WHERE date <> ?", DAY) == 0
        assert _count(con, "SELECT count(*) FROM aqi_daily WHERE date = ?", DAY) == 1
        # one day of history is too short to train: the forecast falls back and says so
        assert _count(con, "SELECT count(*) FROM forecasts WHERE issued_date = ?", DAY) > 0


def test_critical_expectation_fails_the_hour(airflow_env: dict[str, str], data_dir: Path) -> None:
    # a station the catalog does not know lands in the hour (the collector would refuse it;
    # a replay with --no-station-check or a hand-copied file would not)
    def rogue() -> Iterator[tuple[str, bytes]]:
        for minute in range(10):
            ts = HOUR_END - dt.timedelta(minutes=minute)
            payload = {"station": "SY-ZZ-99", "ts": ts.isoformat(), "period_s": 60, "seq": minute}
            payload["readings"] = {"pm25": 30.0, "no2": 20.0}
            yield "aircarbon/v1/SY-ZZ-99/readings", json.dumps(payload).encode()

    assert _land(data_dir, rogue(), check_station=False) == 20
    (run,), output = _dag_test(airflow_env, data_dir, ("aircarbon_hourly", HOUR_END, {}))
    assert run["state"] == "failed", run
    # failed at the first try: AirflowFailException, no retries for a data error
    assert run["tis"]["process"] == {"state": "failed", "try_number": 1}
    assert "AirflowFailException" in output
    assert "critical expectation 'expect_column_values_to_be_in_set(station)'" in output
    with _lake(data_dir) as con:
        rows = con.execute(
            "SELECT suite, success FROM validation_runs WHERE batch = ? ORDER BY suite",
            [f"{HOUR_END:%Y-%m-%dT%H:%M}Z"],
        ).fetchall()
        assert ("raw", False) in rows
        assert _count(con, "SELECT count(*) FROM readings") == 0  # nothing of the hour loaded
