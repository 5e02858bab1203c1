"""The DAG files parse cleanly and cheaply, and say what the pipeline needs (Airflow's DagBag)."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import DAGS

pytestmark = pytest.mark.integration

DAG_FILES = sorted(DAGS.glob("*.py"))
#: What a DAG file may import at top level: the standard library bits it uses and the Task SDK.
LIGHT = {"__future__", "datetime", "typing", "airflow.sdk", "pendulum", "aircarbon.core.settings"}


def _interval(pair: list[str]) -> tuple[dt.datetime, dt.datetime]:
    start, end = (dt.datetime.fromisoformat(v) for v in pair)
    return start, end


def test_dag_folder_has_both_dags() -> None:
    assert {p.stem for p in DAG_FILES} == {"aircarbon_hourly", "aircarbon_daily"}


def test_dag_files_parse_without_import_errors(inspected: dict[str, Any]) -> None:
    assert inspected["import_errors"] == {}
    assert set(inspected["dags"]) == {"aircarbon_hourly", "aircarbon_daily"}


def test_parsing_does_not_import_heavy_modules(inspected: dict[str, Any]) -> None:
    # the worker parsed the folder with polars/duckdb/pyarrow/GX/pandas made unimportable
    assert inspected["heavy_loaded"] == []
    assert inspected["import_errors"] == {}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_top_level_imports_are_light(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in tree.body:  # top level only: task bodies import what they need
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= LIGHT, f"{path.name} imports {sorted(imported - LIGHT)} at top level"


@pytest.mark.parametrize("dag_id", ["aircarbon_hourly", "aircarbon_daily"])
def test_common_settings(inspected: dict[str, Any], dag_id: str) -> None:
    dag = inspected["dags"][dag_id]
    assert "aircarbon" in dag["tags"]
    assert dag["catchup"] is True
    assert dag["max_active_runs"] == 1
    assert dag["has_doc_md"]
    assert dag["params"] == {"validate": True}
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert dag["timezone"] == "Asia/Shanghai"  # the settings' zone, shown in the UI
    for task_id, task in dag["tasks"].items():
        assert task["retries"] >= 2, task_id
        # in order by construction: a run waits for the previous interval's success
        assert task["depends_on_past"] is True, task_id
        # one start setting, local midnight (AIRCARBON_SCHEDULE_START=2026-11-23)
        start = dt.datetime.fromisoformat(task["start_date"])
        assert start == dt.datetime(2026, 11, 23, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_hourly_tasks(inspected: dict[str, Any]) -> None:
    tasks = inspected["dags"]["aircarbon_hourly"]["tasks"]
    assert set(tasks) == {"process"}
    assert tasks["process"]["retries"] == 3
    assert tasks["process"]["retry_exponential_backoff"] == 2.0
    assert tasks["process"]["max_retry_delay"] == 1800


def test_daily_tasks(inspected: dict[str, Any]) -> None:
    tasks = inspected["dags"]["aircarbon_daily"]["tasks"]
    assert set(tasks) == {"hours_loaded", "daily", "forecast", "bulletin", "compact"}
    assert tasks["hours_loaded"]["mode"] == "reschedule"  # waits without holding a worker slot
    assert tasks["daily"]["upstream"] == ["hours_loaded"]
    assert tasks["forecast"]["upstream"] == ["daily"]
    assert tasks["bulletin"]["upstream"] == ["forecast"]  # the outlook reads that forecast
    assert tasks["compact"]["upstream"] == ["bulletin"]  # upkeep never delays the bulletin
    assert tasks["daily"]["retry_exponential_backoff"] == 2.0


def test_hourly_interval_is_one_whole_hour(inspected: dict[str, Any]) -> None:
    intervals = inspected["dags"]["aircarbon_hourly"]["intervals"]
    start, end = _interval(intervals["scheduled"])
    assert start == dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
    assert end - start == dt.timedelta(hours=1)
    # a scheduled run starts once its hour is over; its logical date is the interval's start
    assert dt.datetime.fromisoformat(intervals["scheduled_run_after"]) == end
    assert dt.datetime.fromisoformat(intervals["scheduled_logical_date"]) == start
    following = _interval(intervals["following"])
    assert following == (end, end + dt.timedelta(hours=1))
    # a manual run (dag.test, airflow dags trigger) at 10:00 takes the hour that just ended
    assert _interval(intervals["manual"]) == (start - dt.timedelta(hours=1), start)


def test_daily_interval_is_one_local_day(inspected: dict[str, Any]) -> None:
    intervals = inspected["dags"]["aircarbon_daily"]["intervals"]
    shanghai = dt.timezone(dt.timedelta(hours=8))
    start, end = _interval(intervals["scheduled"])
    assert start == dt.datetime(2026, 11, 25, tzinfo=shanghai)
    assert end == dt.datetime(2026, 11, 26, tzinfo=shanghai)
    assert dt.datetime.fromisoformat(intervals["scheduled_run_after"]) == end
    following = _interval(intervals["following"])
    assert following == (end, end + dt.timedelta(days=1))
    manual = _interval(intervals["manual"])
    assert manual == (start - dt.timedelta(days=1), start)
