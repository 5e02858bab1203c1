"""``aircarbon_daily``: one run per local calendar day, after the day's hours are loaded.

The run's data interval is the local day ``[D 00:00, D+1 00:00)`` in the network's time zone
(a scheduled run's logical date is its start, local midnight of ``D``). ``hours_loaded`` waits
(in reschedule mode, holding no worker slot) until the warehouse's load log shows every hour of
the day processed — whoever processed it: the hourly DAG, a backfill or ``aircarbon process
hourly``. Then ``daily`` calls :func:`aircarbon.pipeline.process_day`, an idempotent transaction
on that day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

DOC_MD = """
### AirCarbon daily

The local day's hourly means → daily statistics (with GB 3095 validity and the O3 8-hour
maximum) → `daily` and `aqi_daily`, plus the day's dead letters into `dead_letter`.

* **Interval**: the local calendar day `[D 00:00, D+1 00:00)` in `Asia/Shanghai` (the
  network's zone, `Settings.timezone`). Scheduled and backfill runs have logical date
  `D 00:00` local; a manual run takes the last whole day ending at or before its date.
  The task refuses an interval that is not exactly one local day of the settings' zone.
* **`hours_loaded`** pokes the warehouse every 5 min (reschedule mode) until all 24 hours of
  the day are in the load log (logging the missing ones), for up to 6 h; then it fails. An hour
  whose hourly run failed a critical expectation stays missing until it is re-processed
  (`aircarbon airflow reprocess --hour H`); then clear this run (`... reprocess --day D`).
* **`daily`**: 3 retries with exponential backoff; a critical expectation of the `daily`
  suite fails it at once (the results are in `validation_runs`). Param `validate` as hourly.
* **Settings**: `AIRCARBON_DATA_DIR` / `AIRCARBON_CONFIG` in the worker's environment.
* **`forecast`**: the 72-hour forecast issued at the end of the day (PM2.5, O3, NO2 hourly;
  daily AQI) with its early warnings, into `forecasts` / `warnings`; retrains on its schedule.
* **`bulletin`**: the day's air-carbon bulletins under `bulletins/{date}/` (zh and en; HTML
  with embedded charts and a Markdown twin).
* **CLI twins**: `aircarbon process daily --date D`, `aircarbon forecast --date D`,
  `aircarbon bulletin --date D`.
"""

#: The network's time zone (catalog ``[network].timezone``, ``Settings.timezone``). The DAG
#: needs it when the file is parsed, where settings are not read; ``daily`` checks that the
#: settings agree (their zone must make the interval exactly one local day).
TIMEZONE = "Asia/Shanghai"
START = dt.datetime(2026, 11, 23, tzinfo=dt.timezone(dt.timedelta(hours=8)))


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
            "(do AIRCARBON_TIMEZONE and the DAG's TIMEZONE agree?)"
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
        "validate": Param(True, type="boolean", description="Run the Great Expectations suite.")
    },
    default_args={"owner": "aircarbon"},
)
def aircarbon_daily() -> None:
    @task.sensor(
        poke_interval=dt.timedelta(minutes=5).total_seconds(),
        timeout=dt.timedelta(hours=6).total_seconds(),
        mode="reschedule",
        retries=2,
        retry_delay=dt.timedelta(minutes=1),
    )
    def hours_loaded(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
    ) -> PokeReturnValue:
        """Done when every hour of the local day has been processed (per the load log)."""
        import logging

        from aircarbon.pipeline import missing_hours
        from aircarbon.settings import load_settings

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        missing = missing_hours(settings, day)
        if missing:
            logging.getLogger(__name__).info(
                "%s: %d hour(s) not processed yet, first ending %s",
                day,
                len(missing),
                missing[0].astimezone(settings.tz).isoformat(),
            )
        return PokeReturnValue(is_done=not missing, xcom_value=day.isoformat())

    @task(
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
        from airflow.sdk.exceptions import AirflowFailException

        from aircarbon.catalog import load_catalog
        from aircarbon.errors import CatalogError, SettingsError, ValidationFailed
        from aircarbon.pipeline import process_day
        from aircarbon.settings import load_settings

        try:
            settings = load_settings()
            day = _local_day(data_interval_start, data_interval_end, settings.timezone)
            catalog = load_catalog(settings.catalog_dir)
            result = process_day(
                settings, catalog, day, validate=bool((params or {}).get("validate", True))
            )
        except (ValidationFailed, SettingsError, CatalogError) as exc:
            raise AirflowFailException(str(exc)) from exc
        return result.summary()

    @task(
        retries=2,
        retry_delay=dt.timedelta(minutes=2),
        execution_timeout=dt.timedelta(minutes=30),
    )
    def forecast(
        data_interval_start: dt.datetime | None = None,
        data_interval_end: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """The 72-hour forecast issued at the end of the day, its warnings (stored, published)."""
        from aircarbon.catalog import load_catalog
        from aircarbon.pipeline.forecast import forecast_day
        from aircarbon.settings import load_settings

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        return forecast_day(settings, load_catalog(settings.catalog_dir), day).summary()

    @task(
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
        from aircarbon.catalog import load_catalog
        from aircarbon.settings import load_settings

        settings = load_settings()
        day = _local_day(data_interval_start, data_interval_end, settings.timezone)
        return write_bulletins(settings, load_catalog(settings.catalog_dir), day).summary()

    done = daily()
    hours_loaded() >> done
    # the outlook section of the bulletin reads the forecast issued at the end of the same day
    done >> forecast() >> bulletin()


aircarbon_daily()
