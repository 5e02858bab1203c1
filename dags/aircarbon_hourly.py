"""``aircarbon_hourly``: one run per hour, processing the hour that just ended.

The run's data interval is the hour ``[H - 1 h, H)`` (its logical date, as for every scheduled
run, is the interval's start ``H - 1 h``); the task processes the hour *ending* ``H``, which is
how the pipeline names hours (``aircarbon process hourly --hour H``). The one task calls
:func:`aircarbon.pipeline.process_hour`, an idempotent transaction on that hour: a retry, a
backfill or a re-run replaces the hour's partitions, never appends twice. Heavy imports
(Polars, DuckDB, Great Expectations) happen inside the task, so parsing this file stays cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

DOC_MD = """
### AirCarbon hourly

Raw store → de-duplication and QC → Great Expectations suites (`raw`, `readings`, `hourly`) →
`readings`, `hourly` and `aqi_hourly` partitions of the DuckLake warehouse, in one transaction.

* **Interval**: the hour `[H - 1 h, H)` (UTC, on the hour); the task processes the hour
  *ending* `H`. Scheduled and backfill runs have logical date `H - 1 h` (the interval's start);
  a manual run (`airflow dags trigger`, `airflow dags test DAG X`) takes the last whole hour
  ending at or before its date. Catchup is on: after an outage the scheduler runs every missed
  hour, oldest first, one at a time (`max_active_runs=1`; a backfill runs beside the schedule
  under its own limit of one; lake loads are serialised by the warehouse's load lock anyway).
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

#: Start of the first interval the scheduler runs (catchup runs every hour since). Deployments
#: with older raw data backfill it explicitly: ``aircarbon airflow backfill``.
START = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@dag(
    dag_id="aircarbon_hourly",
    # Data intervals from one full hour (UTC) to the next; a run starts when its hour is over.
    # A plain cron string would give a zero-length interval in Airflow 3, and a trigger
    # timetable a manual run's interval unaligned to the hour.
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START,
    catchup=True,
    max_active_runs=1,
    tags=["aircarbon", "hourly", "warehouse"],
    doc_md=DOC_MD,
    params={
        "validate": Param(True, type="boolean", description="Run the Great Expectations suites.")
    },
    default_args={"owner": "aircarbon"},
)
def aircarbon_hourly() -> None:
    @task(
        retries=3,
        retry_delay=dt.timedelta(minutes=2),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=30),
        execution_timeout=dt.timedelta(minutes=30),
    )
    def process(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Process the hour ending at the data interval's end; returns the run's summary."""
        from airflow.sdk.exceptions import AirflowFailException

        from aircarbon.catalog import load_catalog
        from aircarbon.errors import CatalogError, SettingsError, ValidationFailed
        from aircarbon.pipeline import process_hour
        from aircarbon.settings import load_settings

        if data_interval_start is None or data_interval_end is None:
            raise AirflowFailException("aircarbon_hourly needs a data interval")
        if data_interval_end - data_interval_start != HOUR or data_interval_end.minute:
            raise AirflowFailException(
                f"data interval {data_interval_start} – {data_interval_end} is not one whole hour"
            )
        try:
            settings = load_settings()
            catalog = load_catalog(settings.catalog_dir)
            result = process_hour(
                settings,
                catalog,
                # a plain datetime (Airflow passes pendulum's subclass)
                dt.datetime.fromtimestamp(data_interval_end.timestamp(), dt.UTC),
                validate=bool((params or {}).get("validate", True)),
            )
        except (ValidationFailed, SettingsError, CatalogError) as exc:
            # Retrying cannot help: the data or the configuration must be fixed first.
            raise AirflowFailException(str(exc)) from exc
        return result.summary()

    process()


aircarbon_hourly()
