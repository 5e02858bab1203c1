"""Scheduling rules without Airflow: load versions, stale days, reprocess plans, the wrapper's
refusals, and the bulletin's count of per-hour validation runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from aircarbon.commands import airflow as command
from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import load_settings
from tests.dags.conftest import DAY, SHANGHAI

UTC = dt.UTC


def test_hours_are_named_by_their_local_end_with_the_zone() -> None:
    from aircarbon.pipeline.schedule import describe_hour

    end = dt.datetime(2026, 11, 24, 2, tzinfo=UTC)
    assert describe_hour(end, "Asia/Shanghai") == "2026-11-24 10:00+08:00 (Asia/Shanghai)"


def test_day_hours_and_the_days_that_read_them() -> None:
    from aircarbon.pipeline.schedule import day_hours, days_reading_hours

    hours = day_hours(DAY, "Asia/Shanghai")
    assert len(hours) == 24
    assert hours[0] == dt.datetime(2026, 11, 24, 1, tzinfo=SHANGHAI)
    assert hours[-1] == dt.datetime(2026, 11, 25, 0, tzinfo=SHANGHAI)
    # the hour ending local midnight belongs to the day before
    assert days_reading_hours([hours[-1]], "Asia/Shanghai") == [DAY]
    assert days_reading_hours([hours[-1], hours[-1] + dt.timedelta(hours=1)], "Asia/Shanghai") == [
        DAY,
        DAY + dt.timedelta(days=1),
    ]
    # DST: a local day of 23 hours
    assert len(day_hours(dt.date(2026, 3, 8), "America/New_York")) == 23


def test_reprocess_plan_covers_the_hours_after_and_their_days() -> None:
    settings = load_settings({}, data_dir=Path("/tmp/x"))
    hour = dt.datetime(2026, 11, 24, 10, tzinfo=SHANGHAI)
    late = dt.datetime(2026, 12, 1, tzinfo=UTC)
    hours, days = command.reprocess_plan(hour, settings, late)
    assert hours[0] == hour
    assert len(hours) == 24
    assert hours[-1] == dt.datetime(2026, 11, 25, 9, tzinfo=SHANGHAI)
    assert days == [DAY, DAY + dt.timedelta(days=1)]
    # only what is over: at 11:30 local the hour ending 11:00 is the last; the day is not over
    now = dt.datetime(2026, 11, 24, 11, 30, tzinfo=SHANGHAI)
    hours, days = command.reprocess_plan(hour, settings, now)
    assert hours == [hour, hour + dt.timedelta(hours=1)]
    assert days == []


def test_recorded_env_and_redaction(tmp_path: Path) -> None:
    (tmp_path / command.ENV_FILE).write_text(
        "# comment\nexport AIRCARBON_SCHEDULE_START=2026-11-23\nexport AIRCARBON_DATA_DIR='/a b'\n"
    )
    assert command.recorded_env(tmp_path) == {
        "AIRCARBON_SCHEDULE_START": "2026-11-23",
        "AIRCARBON_DATA_DIR": "/a b",
    }
    assert command.redact("postgresql+psycopg2://u:s3cret@h:5432/airflow") == (
        "postgresql+psycopg2://u:***@h:5432/airflow"
    )
    assert (
        command.redact("postgresql+psycopg2://u@h/airflow") == "postgresql+psycopg2://u@h/airflow"
    )


def test_init_needs_postgres_or_an_explicit_sqlite(tmp_path: Path) -> None:
    result = CliRunner().invoke(command.app, ["init", "--home", str(tmp_path)])
    assert isinstance(result.exception, AirCarbonError)
    assert "--database-url postgresql" in str(result.exception)
    assert "--sqlite" in str(result.exception)
    assert not (tmp_path / "airflow.cfg").exists()


def test_backfill_before_the_schedule_start_is_refused(tmp_path: Path) -> None:
    (tmp_path / "airflow.cfg").write_text("[core]\n")
    (tmp_path / command.ENV_FILE).write_text("export AIRCARBON_SCHEDULE_START=2026-11-23\n")
    args = ["backfill", "--home", str(tmp_path), "--start", "2026-11-20", "--end", "2026-11-24"]
    result = CliRunner().invoke(command.app, args)
    assert isinstance(result.exception, AirCarbonError)
    message = str(result.exception)
    assert "before the schedule start 2026-11-23" in message
    assert "\n" not in message
    assert "aircarbon process hourly" in message


def test_reprocess_none_is_refused() -> None:
    args = ["backfill", "--start", "2026-11-24", "--end", "2026-11-24", "--reprocess", "none"]
    result = CliRunner().invoke(command.app, args)
    assert isinstance(result.exception, AirCarbonError)
    assert "failed or completed" in str(result.exception)


def test_metadata_url_prefers_the_environment(tmp_path: Path) -> None:
    (tmp_path / "airflow.cfg").write_text("[database]\nsql_alchemy_conn = sqlite:////x.db\n")
    assert command.metadata_url(tmp_path, {}) == "sqlite:////x.db"
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://p@h/a"}
    assert command.metadata_url(tmp_path, env) == "postgresql+psycopg2://p@h/a"


def test_validation_day_counts_the_batches_covering_the_day() -> None:
    sql = (
        Path(__file__).resolve().parents[2] / "aircarbon/bulletin/sql/validation_day.sql"
    ).read_text()
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE validation_runs (suite VARCHAR, batch VARCHAR, success BOOLEAN, "
        "severity_max VARCHAR, evaluated INTEGER, unsuccessful INTEGER)"
    )
    rows = [
        ("raw", "2026-11-24T02:00Z", True),  # one hour inside the day (the DAG's name)
        ("raw", "2026-11-23T20:00Z..2026-11-24T16:00Z", True),  # a batch of the whole day
        ("raw", "hour=2026-11-24T03:00Z", False),  # the old naming
        ("raw", "2026-11-23T16:00Z", True),  # the hour ending at the day's start: not in it
        ("daily", "2026-11-24", True),
        # back-fill batches (process --until): a month of hours, a month of days
        ("readings", "2026-10-31T16:00Z..2026-11-30T16:00Z", True),
        ("daily", "2026-11-01..2026-11-30", False),
        # neighbours that only touch the day's bounds are not in it
        ("readings", "2026-11-22T16:00Z..2026-11-23T16:00Z", True),
        ("readings", "2026-11-24T16:00Z..2026-11-25T16:00Z", True),
        ("daily", "2026-11-25..2026-11-30", True),
    ]
    for suite, batch, ok in rows:
        con.execute(
            "INSERT INTO validation_runs VALUES (?, ?, ?, 'warning', 1, ?)",
            [suite, batch, ok, 0 if ok else 1],
        )
    t0, t1 = dt.datetime(2026, 11, 23, 16), dt.datetime(2026, 11, 24, 16)
    found = con.execute(sql, {"day_text": "2026-11-24", "t0": t0, "t1": t1}).fetchall()
    assert {(r[0], r[1], r[2]) for r in found} == {
        ("daily", 2, 1),
        ("raw", 3, 2),
        ("readings", 1, 1),
    }


@pytest.mark.slow
def test_a_reloaded_hour_makes_its_day_stale(tmp_path: Path) -> None:
    from aircarbon.core.catalog import load_catalog
    from aircarbon.pipeline import process_day, process_hour, process_hours
    from aircarbon.pipeline.schedule import day_hours, day_loads, stale_days
    from aircarbon.simulator import SimulationConfig, iter_messages
    from ingest.batch import ReadingBatch
    from ingest.decode import DecodeRules, decode_message
    from ingest.raw_store import write_readings

    data_dir = tmp_path / "data"
    config = SimulationConfig(seed=3, start=DAY, days=1, stations=("SY-TY-01",), status=False)
    batch = ReadingBatch()
    rules = DecodeRules(load_catalog(), check_time=False, check_station=True)
    for m in iter_messages(config):
        decode_message(m.topic, m.payload, rules, 0, batch)
    write_readings(batch.to_arrow(), data_dir / "raw", "test")
    settings = load_settings({}, data_dir=data_dir)
    catalog = load_catalog()

    (before,) = day_loads(settings, [DAY])
    assert (before.built_at, before.hours_loaded_at, before.stale) == (None, None, False)
    process_hours(settings, catalog, day_hours(DAY, settings.timezone), validate=False)
    (hours_only,) = day_loads(settings, [DAY])
    assert hours_only.built_at is None
    assert hours_only.hours_loaded_at is not None
    process_day(settings, catalog, DAY, validate=False)
    assert stale_days(settings, [DAY]) == []
    process_hour(settings, catalog, day_hours(DAY, settings.timezone)[5], validate=False)
    assert stale_days(settings, [DAY]) == [DAY]  # re-loaded after the day was built
    process_day(settings, catalog, DAY, validate=False)
    (after,) = day_loads(settings, [DAY])
    assert not after.stale
    assert after.built_at is not None
    assert before.built_at is None


@pytest.mark.slow
def test_great_expectations_is_quiet_in_task_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a task logs at INFO; GX's import and validation logged ~200 INFO lines per suite
    import logging

    import polars as pl

    from aircarbon.core.catalog import load_catalog
    from aircarbon.core.contracts import HOURLY
    from expectations.runner import validate

    caplog.set_level(logging.INFO)
    frame = pl.DataFrame(schema=dict(HOURLY))
    outcome = validate(
        frame, "hourly", batch_id="x", interval=None, catalog=load_catalog(), data_dir=tmp_path
    )
    assert outcome.suite == "hourly"
    noisy = [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert [r for r in noisy if r.levelno < logging.WARNING] == []
