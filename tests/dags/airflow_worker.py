"""Airflow in a child process, for the DAG tests (keeps Airflow's global state out of pytest).

    python -m tests.dags.airflow_worker inspect
    python -m tests.dags.airflow_worker test DAG_ID LOGICAL_DATE CONF_JSON [DAG_ID ...]

The environment (``AIRFLOW_HOME``, ``AIRFLOW__CORE__DAGS_FOLDER``, ``AIRCARBON_DATA_DIR``…) comes
from the caller. The last line on stdout is one JSON object:

* ``inspect``: import errors of the DAG folder (parsed with polars, duckdb, pyarrow and Great
  Expectations made unimportable, so a top-level heavy import shows up as an import error),
  each DAG's structure, and the data intervals its timetable gives;
* ``test``: per ``dag.test()`` run (in the order given, in one process): its state, data
  interval and each task instance's state and try number.
"""

from __future__ import annotations

import datetime as dt
import importlib.abc
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

#: Modules a DAG file must not import when it is parsed (STYLE: no heavy imports at top level).
HEAVY = ("polars", "duckdb", "pyarrow", "great_expectations", "pandas", "sklearn")

#: Interval ends the structure tests ask each timetable about.
PROBES = {
    "aircarbon_hourly": "2026-11-24T10:00:00+00:00",
    "aircarbon_daily": "2026-11-25T00:00:00+08:00",
}


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> None:
        if fullname.partition(".")[0] in HEAVY:
            raise ImportError(f"{fullname} imported while parsing the DAG files")


def _seconds(value: dt.timedelta | float | None) -> float | None:
    return value.total_seconds() if isinstance(value, dt.timedelta) else value


def _intervals(dag: Any, probe: str) -> dict[str, Any]:
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    from airflow.sdk import timezone

    at = timezone.parse(probe)
    manual = timetable.infer_manual_data_interval(run_after=at)
    scheduled = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=at, latest=None, catchup=True),
    )
    following = timetable.next_dagrun_info(
        last_automated_data_interval=scheduled.data_interval,
        restriction=TimeRestriction(earliest=at, latest=None, catchup=True),
    )
    return {
        "manual": [manual.start.isoformat(), manual.end.isoformat()],
        "scheduled": [
            scheduled.data_interval.start.isoformat(),
            scheduled.data_interval.end.isoformat(),
        ],
        "scheduled_logical_date": scheduled.logical_date.isoformat(),
        "scheduled_run_after": scheduled.run_after.isoformat(),
        "following": [
            following.data_interval.start.isoformat(),
            following.data_interval.end.isoformat(),
        ],
    }


def inspect() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    finally:
        sys.meta_path.remove(blocker)
    dags: dict[str, Any] = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "fileloc": dag.fileloc,
            "tags": sorted(dag.tags),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "has_doc_md": bool(dag.doc_md),
            "params": {k: dag.params[k] for k in dag.params},
            "timetable": type(dag.timetable).__name__,
            "timezone": str(getattr(dag.timetable, "timezone", "")),
            "tasks": {
                t.task_id: {
                    "retries": t.retries,
                    "retry_exponential_backoff": t.retry_exponential_backoff,
                    "max_retry_delay": _seconds(t.max_retry_delay),
                    "upstream": sorted(t.upstream_task_ids),
                    "mode": getattr(t, "mode", None),
                    "depends_on_past": t.depends_on_past,
                    "start_date": t.start_date.isoformat() if t.start_date else None,
                    "operator": type(t).__name__,
                }
                for t in dag.tasks
            },
            "intervals": _intervals(dag, PROBES[dag_id]) if dag_id in PROBES else None,
        }
    return {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dags": dags,
        "heavy_loaded": sorted(m for m in HEAVY if m in sys.modules),
    }


def run_tests(runs: Sequence[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        return {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    return {"runs": [run_test(bag.get_dag(d), date, conf) for d, date, conf in runs]}


def run_test(dag: Any, logical_date: str, conf: dict[str, Any]) -> dict[str, Any]:
    """``dag.test()``: the run's interval is the last whole one ending at ``logical_date``."""
    dag_id = dag.dag_id
    run = dag.test(logical_date=dt.datetime.fromisoformat(logical_date), run_conf=conf)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
        tis = {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in rows}
    return {
        "state": str(run.state),
        "run_id": run.run_id,
        "data_interval": [run.data_interval_start.isoformat(), run.data_interval_end.isoformat()],
        "tis": tis,
    }


def main(argv: list[str]) -> None:
    if argv[0] == "inspect":
        result = inspect()
    elif argv[0] == "test":  # test DAG_ID LOGICAL_DATE CONF_JSON [DAG_ID LOGICAL_DATE CONF ...]
        rest = argv[1:]
        result = run_tests(
            [(rest[i], rest[i + 1], json.loads(rest[i + 2])) for i in range(0, len(rest), 3)]
        )
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
