"""``aircarbon_hourly``: one run per hour, processing the hour that just ended.

The run's data interval is the hour ``[H - 1 h, H)`` (its logical date, as for every scheduled
run, is the interval's start ``H - 1 h``); the task processes the hour *ending* ``H``, which is
how the pipeline names hours (``aircarbon process hourly --hour H``) and how the task's log
names it (local end, with the zone). Hours run in order by construction: ``process`` has
``depends_on_past`` (an hour's 8-h and 24-h moving averages read the hours before it, so it
runs only after the previous hour succeeded, whether that run was scheduled or back-filled)
and ``max_active_runs=1``. The schedule starts at local midnight of ``schedule_start`` (the
setting both DAGs read). The one task calls
:func:`aircarbon.pipeline.process_hour`, an idempotent transaction on that hour: a retry, a
backfill or a re-run replaces the hour's partitions, never appends twice. Heavy imports
(Polars, DuckDB, Great Expectations) happen inside the task, so parsing this file stays cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from aircarbon.core.settings import load_settings

DOC_MD = """
### AirCarbon hourly

Raw store → de-duplication and QC → Great Expectations suites (`raw`, `readings`, `hourly`) →
`readings`, `hourly` and `aqi_hourly` partitions of the DuckLake warehouse, in one transaction.

* **Interval**: the hour `[H - 1 h, H)` on the hour, in the network's zone (shown in the
  UI's timetable); the task processes the hour *ending* `H` and its log names it so, e.g.
  `hour ending 2026-11-24 10:00+08:00 (Asia/Shanghai)`. Scheduled and backfill runs have
  logical date `H - 1 h` (the interval's start); a manual run takes the last whole hour
  ending at or before its date.
* **Order**: `depends_on_past` + `max_active_runs=1`: an hour runs only after the previous
  hour's run succeeded, scheduled or back-filled (its moving averages read it). A failed
  hour holds the later ones until it is re-processed. Catchup is on from the start setting
  (`AIRCARBON_SCHEDULE_START`, local midnight): after an outage the missed hours run oldest
  first.
* **Writer lock**: the task waits up to 20 min for the data directory's writer lock (a
  daily run or a CLI load holding it), then fails and retries.
* **Settings**: the task reads `load_settings()` in the worker, so the scheduler/worker needs
  `AIRCARBON_DATA_DIR` (absolute path of the data directory) and, optionally,
  `AIRCARBON_CONFIG` (a TOML file); `aircarbon airflow standalone` sets them.
* **Params**: `validate` (default true) runs the GX suites; false skips them (re-loads only).
* **Retries**: 3, exponential backoff from 2 min (capped at 30 min) for transient errors (a
  locked catalog, a full disk). A **critical expectation** failure fails the task at once, with
  the expectation named in the log; its results are still in `validation_runs`. Fix the data
  (or the catalog) and re-run the hour: `aircarbon airflow reprocess --hour H`.
* **CLI twin**: `aircarbon process hourly --hour H` does the same without Airflow.
"""

#: The settings the scheduler parses this file with (``AIRCARBON_*``, ``AIRCARBON_CONFIG``):
#: the zone of the intervals and the local day the schedule starts (catchup runs every hour
#: since). Unset, the DAG does not load: the import error names the setting.
SETTINGS = load_settings()
if SETTINGS.schedule_start_at is None:
    raise ValueError(
        "AIRCARBON_SCHEDULE_START is not set: the first local day to schedule "
        "(`aircarbon airflow init` records today)"
    )
START = pendulum.instance(SETTINGS.schedule_start_at)
HOUR = dt.timedelta(hours=1)
#: How long a scheduled hour waits for the data directory's writer lock before it fails
#: (and retries): a daily run or an operator's CLI load may hold it for minutes.
LOCK_WAIT_S = 20 * 60.0


@dag(
    dag_id="aircarbon_hourly",
    # Data intervals from one full hour to the next (in the network's zone, so the UI shows
    # it); a run starts when its hour is over. A plain cron string would give a zero-length
    # interval in Airflow 3, and a trigger timetable a manual run's interval unaligned to
    # the hour.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone=SETTINGS.timezone),
    start_date=START,
    catchup=True,
    max_active_runs=1,
    tags=["aircarbon", "hourly", "warehouse"],
    doc_md=DOC_MD,
    params={
        "validate": Param(
            SETTINGS.airflow_validate,
            type="boolean",
            description="Run the Great Expectations suites.",
        )
    },
    default_args={"owner": "aircarbon"},
)
def aircarbon_hourly() -> None:
    @task(
        multiple_outputs=False,  # one summary XCom, not one per key
        retries=3,
        retry_delay=dt.timedelta(minutes=2),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=30),
        execution_timeout=dt.timedelta(minutes=30),
        # the hour's 8-h/24-h moving averages read the hours before it: never run ahead
        depends_on_past=True,
    )
    def process(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Process the hour ending at the data interval's end; returns the run's summary."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException

        from aircarbon.core.catalog import catalog_for
        from aircarbon.core.errors import CatalogError, SettingsError, ValidationFailed
        from aircarbon.pipeline import process_hour
        from aircarbon.pipeline.schedule import describe_hour

        if data_interval_start is None or data_interval_end is None:
            raise AirflowFailException("aircarbon_hourly needs a data interval")
        if data_interval_end - data_interval_start != HOUR or data_interval_end.minute:
            raise AirflowFailException(
                f"data interval {data_interval_start} – {data_interval_end} is not one whole hour"
            )
        # a plain datetime (Airflow passes pendulum's subclass)
        hour_end = dt.datetime.fromtimestamp(data_interval_end.timestamp(), dt.UTC)
        try:
            settings = load_settings()
            logging.getLogger(__name__).info(
                "hour ending %s", describe_hour(hour_end, settings.timezone)
            )
            catalog = catalog_for(settings)
            result = process_hour(
                settings,
                catalog,
                hour_end,
                validate=bool((params or {}).get("validate", True)),
                lock_wait_s=LOCK_WAIT_S,
            )
        except (ValidationFailed, SettingsError, CatalogError) as exc:
            # Retrying cannot help: the data or the configuration must be fixed first.
            raise AirflowFailException(str(exc)) from exc
        return result.summary()

    process()


aircarbon_hourly()
