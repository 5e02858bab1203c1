"""The daily step: a local day's hourly means → daily statistics and AQI → the lake.

Runs after the day's 24 hours are loaded. The O3 8-hour moving averages are recomputed
from the stored hourly means (the day and the 7 hours before it), so a day whose hours
were back-filled out of order still gets windows built from all of them. Also loads the
day's dead letters into the lake's ``dead_letter`` table for analysts and the bulletin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.catalog import Catalog
from aircarbon.pipeline.common import Validator, lake
from aircarbon.pipeline.hourly import recent_hourly
from aircarbon.settings import Settings
from transforms.aggregate import daily_stats, moving_averages

if TYPE_CHECKING:
    from expectations.runner import ValidationOutcome

__all__ = ["DayResult", "day_bounds", "process_day"]


@dataclass
class DayResult:
    """What one daily run did."""

    date: dt.date
    hourly_rows: int
    daily_rows: int
    aqi_rows: int
    dead_letters: int
    snapshot: int | None
    validations: list[ValidationOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "hourly_rows": self.hourly_rows,
            "daily_rows": self.daily_rows,
            "aqi_rows": self.aqi_rows,
            "dead_letters": self.dead_letters,
            "snapshot": self.snapshot,
            "validations": {v.suite: v.success for v in self.validations},
        }


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC interval ``(start, end]`` of a local calendar day's hour ends."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


def process_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    validate: bool = True,
    build_docs: bool = True,
) -> DayResult:
    """Run the daily step for a local calendar day (idempotent)."""
    from transforms.aqi import aqi_daily
    from warehouse.load import current_snapshot, load_dead_letters, replace_partitions

    tz = settings.timezone
    start, end = day_bounds(day, tz)
    batch = day.isoformat()
    validator = Validator(catalog, settings.data_dir, enabled=validate, build_docs=build_docs)
    with lake(settings, catalog) as con:
        window = catalog.validity.o3_8h_window_hours
        hourly = recent_hourly(con, start - dt.timedelta(hours=window - 1), end)
        moving = moving_averages(hourly, catalog).filter(pl.col("param") == "o3_8h")
        in_day = hourly.filter(pl.col("ts") > start)
        daily = daily_stats(pl.concat([in_day, moving]), catalog, timezone=tz).filter(
            pl.col("date") == day
        )
        validator.check(daily, "daily", batch, (start, end))
        aqi = aqi_daily(daily, catalog)
        if any(not v.success for v in validator.outcomes):
            validator.record(con, current_snapshot(con))
            validator.raise_on_critical()
        loads = replace_partitions(
            con,
            [("daily", daily, {"date": day}), ("aqi_daily", aqi, {"date": day})],
            f"daily {batch}",
        )
        dead = load_dead_letters(con, settings.data_dir, day)
        snapshot = dead.snapshot if dead is not None else loads[-1].snapshot
        validator.record(con, snapshot)
    return DayResult(
        date=day,
        hourly_rows=in_day.height,
        daily_rows=daily.height,
        aqi_rows=aqi.height,
        dead_letters=dead.rows if dead is not None else 0,
        snapshot=snapshot,
        validations=validator.outcomes,
    )
