"""``aircarbon_daily``: one run per local calendar day, in order, after the day's hours.

The run's data interval is the local day ``[D 00:00, D+1 00:00)`` in the network's time zone
(a scheduled run's logical date is its start, local midnight of ``D``). Order by construction:

- every task has ``depends_on_past`` and the DAG ``max_active_runs=1``: day ``D`` runs only
  after day ``D - 1`` succeeded, scheduled or back-filled (its moving averages, EC-tracer
  history and year to date read the days before);
- ``hours_loaded`` (a sensor in reschedule mode, holding no worker slot) waits until every
  hour of the day is in the warehouse's load log *and* no hourly run of the day is pending in
  Airflow (queued, running, cleared for a re-run): a day re-run after ``reprocess --hour``
  waits for the re-loaded hours instead of reading the old ones.

Then ``daily`` calls :func:`aircarbon.pipeline.process_day`, an idempotent transaction on the
day; a day built before is *revised* (its summary and the bulletin say so).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

from aircarbon.core.settings import load_settings

DOC_MD = """
### AirCarbon daily

The local day's hourly means → daily statistics (with GB 3095 validity and the O3 8-hour
maximum) → `daily` and `aqi_daily`, plus the day's dead letters into `dead_letter`.

* **Interval**: the local calendar day `[D 00:00, D+1 00:00)` in the network's zone
  (``[network] timezone``, shown in the timetable). Scheduled and backfill runs have logical
  date `D 00:00` local; a manual run takes the last whole day ending at or before its date.
  The schedule starts at `AIRCARBON_SCHEDULE_START` (local midnight), as the hourly DAG's.
* **Order**: `depends_on_past` on every task + `max_active_runs=1`: day D runs only after
  day D - 1 succeeded (scheduled or back-filled). A failed day holds the later ones.
* **`hours_loaded`** pokes every minute (reschedule mode) until all hours of the day are in
  the load log and no hourly run of the day is pending in Airflow (queued, running, cleared
  for a re-run), logging what it waits for, for up to 6 h; then it fails. An hour whose run
  failed a critical expectation stays missing until it is re-processed
  (`aircarbon airflow reprocess --hour H`, which also re-runs this day).
* **`daily`**: 3 retries with exponential backoff; a critical expectation of the `daily`
  suite fails it at once (the results are in `validation_runs`). Param `validate` as hourly.
  A day built before is *revised* (summary `revised: true`).
* **Settings**: `AIRCARBON_DATA_DIR` / `AIRCARBON_CONFIG` in the worker's environment.
* **`forecast`**: the 72-hour forecast issued at the end of the day (PM2.5, O3, NO2 hourly;
  daily AQI) with its early warnings, into `forecasts` / `warnings`; retrains on its schedule.
* **`bulletin`**: the day's air-carbon bulletins under `bulletins/{date}/` (zh and en; HTML
  with embedded charts and a Markdown twin).
* **`compact`**: merges the small files the day's hourly loads wrote (every snapshot kept,
  so time travel is unchanged); last, so it never delays the bulletin.
* **CLI twins**: `aircarbon process daily --date D`, `aircarbon forecast --date D`,
  `aircarbon bulletin --date D`, `aircarbon compact`.
"""

#: The settings the scheduler parses this file with: the zone of the local days and the day
#: the schedule starts (the hourly DAG reads the same two, so both start at one local
#: midnight and the first day's hours are all scheduled). Unset start: the DAG does not load.
SETTINGS = load_settings()
if SETTINGS.schedule_start_at is None:
    raise ValueError(
        "AIRCARBON_SCHEDULE_START is not set: the first local day to schedule "
        "(`aircarbon airflow init` records today)"
    )
TIMEZONE = SETTINGS.timezone
START = pendulum.instance(SETTINGS.schedule_start_at)
HOUR = dt.timedelta(hours=1)
#: How long a task waits for the data directory's writer lock (an hourly load, a CLI run)
#: before it fails and retries.
LOCK_WAIT_S = 20 * 60.0


def _local_day(start: dt.datetime | None, end: dt.datetime | None, timezone: str) -> dt.date:
    """The local calendar day a data interval spans exactly (fails the task otherwise)."""
    from zoneinfo import ZoneInfo

    from airflow.sdk.exceptions import AirflowFailException

    from aircarbon.pipeline.daily import day_bounds

    if start is None or end is None:
        raise AirflowFailException("aircarbon_daily needs a data interval")
    day = start.astimezone(ZoneInfo(timezone)).date()
    if day_bounds(day, timezone) != (start, end):
        raise AirflowFailException(
            f"data interval {start} – {end} is not one local day in {timezone} "
            "(did the network's time zone change since the DAG was parsed?)"
        )
    return day


@dag(
    dag_id="aircarbon_daily",
    # Data intervals from one local midnight to the next (calendar days, also across DST
    # changes); a run starts when its day is over.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=TIMEZONE),
    start_date=START,
    catchup=True,
    max_active_runs=1,
    tags=["aircarbon", "daily", "warehouse"],
    doc_md=DOC_MD,
    params={
        "validate": Param(
            SETTINGS.airflow_validate,
            type="boolean",
            description="Run the Great Expectations suite.",
        )
    },
    # a day reads the days before it (moving averages, EC history, year to date)
    default_args={"owner": "aircarbon", "depends_on_past": True},
)
def aircarbon_daily() -> None:
    @task.sensor(
        poke_interval=dt.timedelta(minutes=1).total_seconds(),
        timeout=dt.timedelta(hours=6).total_seconds(),
        mode="reschedule",
        retries=2,
        retry_delay=dt.timedelta(minutes=1),
    )
    def hours_loaded(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
        ti: Any = None,
    ) -> PokeReturnValue:
        """Done when every hour of the day is loaded and none is pending a (re-)run."""
        import logging

        from aircarbon.pipeline import missing_hours
        from aircarbon.pipeline.schedule import PENDING_STATES, day_hours, describe_hour

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        log = logging.getLogger(__name__)
        missing = missing_hours(settings, day)
        if missing:
            log.info(
                "%s: %d hour(s) not loaded yet, first ending %s",
                day,
                len(missing),
                describe_hour(missing[0], settings.timezone),
            )
            return PokeReturnValue(is_done=False)
        # the hourly runs of the day (logical date = the hour's start) still to (re)load
        starts = [end - HOUR for end in day_hours(day, settings.timezone)]
        pending = ti.get_ti_count(
            dag_id="aircarbon_hourly",
            task_ids=["process"],
            logical_dates=starts,
            states=list(PENDING_STATES),
        )
        if pending:
            log.info("%s: %d hourly run(s) of the day pending (re-run or queued)", day, pending)
        return PokeReturnValue(is_done=not pending, xcom_value=day.isoformat())

    @task(
        multiple_outputs=False,  # one summary XCom, not one per key
        retries=3,
        retry_delay=dt.timedelta(minutes=2),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=30),
        execution_timeout=dt.timedelta(minutes=30),
    )
    def daily(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Daily statistics and AQI of the local day; returns the run's summary."""
        import logging

        from airflow.sdk.exceptions import AirflowFailException

        from aircarbon.core.catalog import catalog_for
        from aircarbon.core.errors import CatalogError, SettingsError, ValidationFailed
        from aircarbon.pipeline import process_day
        from aircarbon.pipeline.schedule import day_loads

        try:
            settings = load_settings()
            day = _local_day(data_interval_start, data_interval_end, settings.timezone)
            (before,) = day_loads(settings, [day])
            if before.built_at is not None:
                logging.getLogger(__name__).info(
                    "%s was built at %s: this run revises it%s",
                    day,
                    before.built_at.isoformat(),
                    " (an hour was re-loaded since)" if before.stale else "",
                )
            catalog = catalog_for(settings)
            result = process_day(
                settings,
                catalog,
                day,
                validate=bool((params or {}).get("validate", True)),
                lock_wait_s=LOCK_WAIT_S,
            )
        except (ValidationFailed, SettingsError, CatalogError) as exc:
            raise AirflowFailException(str(exc)) from exc
        return {**result.summary(), "revised": before.built_at is not None}

    @task(
        multiple_outputs=False,  # one summary XCom, not one per key
        retries=2,
        retry_delay=dt.timedelta(minutes=2),
        execution_timeout=dt.timedelta(minutes=30),
    )
    def forecast(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The 72-hour forecast issued at the end of the day, its warnings (stored, published)."""
        from aircarbon.core.catalog import catalog_for
        from aircarbon.core.writer_lock import writer_lock
        from aircarbon.pipeline.forecast import forecast_day

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        # waits for the lock here; the forecast's own (re-entrant) take then succeeds at once
        with writer_lock(settings.data_dir, command=f"forecast {day}", wait_s=LOCK_WAIT_S):
            return forecast_day(settings, catalog_for(settings), day).summary()

    @task(
        multiple_outputs=False,  # one summary XCom, not one per key
        retries=2,
        retry_delay=dt.timedelta(minutes=2),
        execution_timeout=dt.timedelta(minutes=15),
    )
    def bulletin(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The day's bulletins (zh and en, HTML and Markdown) under ``bulletins/{date}/``."""
        from aircarbon.bulletin import write_bulletins
        from aircarbon.core.catalog import catalog_for

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        catalog = catalog_for(settings)
        return write_bulletins(settings, catalog, day, lock_wait_s=LOCK_WAIT_S).summary()

    @task(
        multiple_outputs=False,  # one summary XCom, not one per key
        retries=2,
        retry_delay=dt.timedelta(minutes=5),
        execution_timeout=dt.timedelta(hours=1),
    )
    def compact() -> dict[str, Any]:
        """Merge the day's small files (every snapshot kept); after the bulletin, never before."""
        from aircarbon.core.catalog import catalog_for
        from aircarbon.pipeline.maintenance import compact_lake

        settings = load_settings()
        return compact_lake(settings, catalog_for(settings), lock_wait_s=LOCK_WAIT_S).summary()

    done = daily()
    hours_loaded() >> done
    # the outlook section of the bulletin reads the forecast issued at the end of the same day
    done >> forecast() >> bulletin() >> compact()


aircarbon_daily()
