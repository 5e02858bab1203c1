"""The daily step: a local day's hourly means → daily statistics and AQI → the lake.

Runs after the day's 24 hours are loaded. The O3 8-hour moving averages are recomputed
from the stored hourly means (the day and the 7 hours before it), so a day whose hours
were back-filled out of order still gets windows built from all of them. Also loads the
day's dead letters into the lake's ``dead_letter`` table for analysts and the bulletin.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.catalog import Catalog
from aircarbon.pipeline.common import Validator, lake, raw_location, writing
from aircarbon.pipeline.hourly import recent_hourly
from aircarbon.settings import Settings
from transforms.aggregate import daily_stats, moving_averages

if TYPE_CHECKING:
    from expectations.runner import ValidationOutcome

__all__ = ["DayResult", "day_bounds", "missing_hours", "process_day"]


@dataclass
class DayResult:
    """What one daily run did."""

    date: dt.date
    hourly_rows: int
    daily_rows: int
    aqi_rows: int
    indicators: int
    events: int
    dead_letters: int
    snapshot: int | None
    validations: list[ValidationOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "hourly_rows": self.hourly_rows,
            "daily_rows": self.daily_rows,
            "aqi_rows": self.aqi_rows,
            "indicators": self.indicators,
            "events": self.events,
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


def missing_hours(settings: Settings, day: dt.date) -> list[dt.datetime]:
    """The UTC hour ends of a local day whose hourly step has not loaded yet.

    The daily step's precondition: an hour counts once ``process_hour`` has replaced its
    ``hourly`` partition (even with zero rows), whoever ran it (a DAG run, a backfill or
    ``aircarbon process hourly``). Before the first load every hour is missing.
    """
    from warehouse.lake import connect
    from warehouse.load import Between, loaded_partitions

    start, end = day_bounds(day, settings.timezone)
    hours = int((end - start) / dt.timedelta(hours=1))
    ends = [start + dt.timedelta(hours=i + 1) for i in range(hours)]
    lake_file = settings.lake_catalog.removeprefix("sqlite:")
    if settings.lake_catalog.startswith("sqlite:") and not Path(lake_file).is_file():
        return ends  # no warehouse yet: nothing was loaded
    con = connect(settings, read_only=True)
    try:
        done = loaded_partitions(
            con, "hourly", [{"ts": Between(e - dt.timedelta(hours=1), e)} for e in ends]
        )
    finally:
        con.close()
    return [e for e, loaded in zip(ends, done, strict=True) if not loaded]


def process_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    validate: bool = True,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
) -> DayResult:
    """Run the daily step for a local calendar day (idempotent), under the writer lock."""
    with writing(settings, f"daily step {day}", lock_wait_s=lock_wait_s):
        return _process_day(settings, catalog, day, validate=validate, build_docs=build_docs)


def _process_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    validate: bool,
    build_docs: bool,
) -> DayResult:
    from transforms.aqi import aqi_daily
    from transforms.indicators import daily_indicators
    from transforms.sources import emission_events
    from warehouse.load import Between, current_snapshot, load_dead_letters, replace_partitions

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
        official = catalog.aqi_standard_for(day).version
        others = [
            aqi_daily(daily, catalog, standard=version)
            for version in catalog.aqi_standards
            if version != official
        ]
        aqi_other = pl.concat(others) if others else aqi.clear()
        # indicators: the day's hours, plus the OC/EC history of the EC-tracer ratio window
        soc_window = dt.timedelta(days=catalog.indicators.soc_window_days - 1)
        history = recent_hourly(con, start - soc_window, start, ("oc", "ec"))
        indicators = daily_indicators(
            pl.concat([history, in_day]), daily, catalog, date=day, timezone=tz
        )
        # the events' rolling background looks back this far (catalog indicators.toml)
        lookback = dt.timedelta(hours=catalog.indicators.events.background_window_hours)
        around = recent_hourly(con, start - lookback, end)
        events = emission_events(around, catalog).filter(
            (pl.col("start_ts") >= start) & (pl.col("start_ts") < end)
        )
        if any(not v.success for v in validator.outcomes):
            validator.record(con, current_snapshot(con))
            validator.raise_on_critical()
        loads = replace_partitions(
            con,
            [
                ("daily", daily, {"date": day}),
                ("aqi_daily", aqi, {"date": day}),
                ("aqi_daily_other", aqi_other, {"date": day}),
                ("indicators_daily", indicators, {"date": day}),
                ("emission_events", events, {"start_ts": Between(start, end, closed="left")}),
            ],
            f"daily {batch}",
        )
        dead = load_dead_letters(con, raw_location(settings), day)
        snapshot = dead.snapshot if dead is not None else loads[-1].snapshot
        validator.record(con, snapshot)
    return DayResult(
        date=day,
        hourly_rows=in_day.height,
        daily_rows=daily.height,
        aqi_rows=aqi.height,
        indicators=indicators.height,
        events=events.height,
        dead_letters=dead.rows if dead is not None else 0,
        snapshot=snapshot,
        validations=validator.outcomes,
    )
