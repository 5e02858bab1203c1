"""When a day may be built, and when a built day is stale: the orchestrators' rules.

Why this module: the daily step reads its own hours *and* the previous days' results (O3 8-h
and PM 24-h windows, the EC-tracer history, the bulletin's year to date), so running a day
early, or not re-running it after one of its hours changed, publishes numbers the CLI path
over the same raw data would not give. The DAGs order runs with Airflow's own mechanisms
(``depends_on_past``, ``max_active_runs=1``, a sensor); this module gives them the facts
those mechanisms cannot see, from the warehouse's ``load_log`` (every partition load is a
row with its ``loaded_at``, a "load version"):

- :func:`day_hours`: the logical dates of the hourly runs of a local day, to ask Airflow
  whether any of them is still pending (queued, running, cleared for a re-run);
- :func:`day_loads`: per day, when its ``daily`` partition and its latest hour were loaded.
  A day whose hour was re-loaded after the day was built is **stale**; a day built before
  is **revised** when it is built again.

Nothing here imports Airflow: the same facts serve ``aircarbon airflow reprocess``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from aircarbon.core.settings import Settings

__all__ = [
    "HOUR",
    "PENDING_STATES",
    "DayLoads",
    "day_hours",
    "day_loads",
    "days_reading_hours",
    "describe_hour",
    "stale_days",
]

HOUR = dt.timedelta(hours=1)
#: Task-instance states of an hourly run that will still (re)load its hour: a day must not be
#: built while one of its hours is in one of them. ``null`` is a cleared task (a re-run, a
#: back-fill with ``--reprocess``) not yet scheduled; Airflow's execution API spells it so.
PENDING_STATES = (
    "null",
    "scheduled",
    "queued",
    "running",
    "up_for_retry",
    "up_for_reschedule",
    "restarting",
    "deferred",
)
#: Hours after a re-loaded hour whose statistics read it (the PM 24-h means look back 23 h).
MOVING_WINDOW_HOURS = 23


def describe_hour(hour_end: dt.datetime, timezone: str) -> str:
    """How an operator reads an hour everywhere: its local END, with the zone.

    ``2026-11-24 10:00+08:00 (Asia/Shanghai)`` is the hour 09:00–10:00 local, the hour the
    pipeline calls "ending 10:00" (``aircarbon process hourly --hour 2026-11-24T10:00``).
    """
    local = hour_end.astimezone(ZoneInfo(timezone))
    return f"{local.isoformat(sep=' ', timespec='minutes')} ({timezone})"


def day_hours(day: dt.date, timezone: str) -> list[dt.datetime]:
    """The UTC *ends* of the hours of local ``day`` (23, 24 or 25 of them across DST)."""
    from aircarbon.pipeline.daily import day_bounds

    start, end = day_bounds(day, timezone)
    return [start + HOUR * (i + 1) for i in range(int((end - start) / HOUR))]


def days_reading_hours(hour_ends: Sequence[dt.datetime], timezone: str) -> list[dt.date]:
    """The local days whose daily step reads any of the hours ending ``hour_ends``, in order."""
    zone = ZoneInfo(timezone)
    # an hour ending at local midnight belongs to the day before (hours are named by their end)
    days = {(end - HOUR).astimezone(zone).date() for end in hour_ends}
    return sorted(days)


@dataclass(frozen=True, slots=True)
class DayLoads:
    """When a day was built and when its hours were last loaded (``load_log``)."""

    day: dt.date
    built_at: dt.datetime | None
    hours_loaded_at: dt.datetime | None

    @property
    def stale(self) -> bool:
        """Built, then one of its hours was re-loaded: the day's results are out of date."""
        return (
            self.built_at is not None
            and self.hours_loaded_at is not None
            and self.hours_loaded_at > self.built_at
        )


def day_loads(settings: Settings, days: Sequence[dt.date]) -> list[DayLoads]:
    """Load versions of ``days``: the latest ``daily`` load and the latest load of an hour."""
    from warehouse.lake import connect
    from warehouse.load import Between, partition_label

    if not days:
        return []
    catalog = settings.lake_catalog
    if catalog.startswith("sqlite:") and not Path(catalog.removeprefix("sqlite:")).is_file():
        return [DayLoads(d, None, None) for d in days]  # no warehouse yet
    labels: dict[str, tuple[int, str]] = {}
    for i, day in enumerate(days):
        labels[partition_label({"date": day})] = (i, "daily")
        for end in day_hours(day, settings.timezone):
            labels[partition_label({"ts": Between(end - HOUR, end)})] = (i, "hourly")
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, partition, max(loaded_at) FROM load_log "
            "WHERE table_name IN ('daily', 'hourly') AND list_contains($labels, partition) "
            "GROUP BY ALL",
            {"labels": list(labels)},
        ).fetchall()
    finally:
        con.close()
    built: dict[int, dt.datetime] = {}
    hours: dict[int, dt.datetime] = {}
    for table, partition, loaded_at in rows:
        index, kind = labels[str(partition)]
        if kind != table:
            continue
        target = built if kind == "daily" else hours
        target[index] = max(loaded_at, target.get(index, loaded_at))
    return [DayLoads(day, built.get(i), hours.get(i)) for i, day in enumerate(days)]


def stale_days(settings: Settings, days: Sequence[dt.date]) -> list[dt.date]:
    """The days of ``days`` built before one of their hours was re-loaded."""
    return [loads.day for loads in day_loads(settings, days) if loads.stale]
