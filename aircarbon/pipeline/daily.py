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
from aircarbon.pipeline.common import (
    NO_DATA,
    Validator,
    lake,
    raw_location,
    refuse_future,
    refuse_shrink,
    skipped_validations,
    writing,
)
from aircarbon.pipeline.hourly import recent_hourly
from aircarbon.settings import Settings
from transforms.aggregate import daily_stats, moving_averages

if TYPE_CHECKING:
    from expectations.runner import ValidationOutcome

__all__ = ["DayResult", "day_bounds", "missing_hours", "process_day"]

#: the day's partitions a reload may not shrink without ``allow_shrink``
_DAY_TABLES = ("daily", "aqi_daily", "indicators_daily")


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
    #: ``loaded``, or ``no_data`` (no hourly data that day: nothing replaced, validation skipped)
    outcome: str = "loaded"

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "outcome": self.outcome,
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
    allow_shrink: bool = False,
) -> DayResult:
    """Run the daily step for a local calendar day (idempotent), under the writer lock.

    Refuses a day that has not ended, and a reload that would leave the day's ``daily``,
    ``aqi_daily`` or ``indicators_daily`` with fewer rows than they hold unless
    ``allow_shrink``. A day without any hourly data replaces nothing and is recorded as
    ``no_data`` (validation ``skipped``); its dead letters still load.
    """
    with writing(settings, f"daily step {day}", lock_wait_s=lock_wait_s):
        return _process_day(
            settings,
            catalog,
            day,
            validate=validate,
            build_docs=build_docs,
            allow_shrink=allow_shrink,
        )


def _process_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
) -> DayResult:
    from transforms.aqi import aqi_daily
    from transforms.indicators import daily_indicators
    from transforms.sources import emission_events
    from warehouse.load import (
        Between,
        current_snapshot,
        load_dead_letters,
        load_validation_runs,
        partition_rows,
        record_no_data,
        replace_partitions,
    )

    tz = settings.timezone
    start, end = day_bounds(day, tz)
    batch = day.isoformat()
    refuse_future(end, f"the day {day}")
    with lake(settings, catalog) as con:
        window = catalog.validity.o3_8h_window_hours
        hourly = recent_hourly(con, start - dt.timedelta(hours=window - 1), end)
        moving = moving_averages(hourly, catalog).filter(pl.col("param") == "o3_8h")
        in_day = hourly.filter(pl.col("ts") > start)
        no_input = in_day.height == 0
        held = {t: partition_rows(con, t, {"date": day}) for t in _DAY_TABLES}
        if no_input and not any(held.values()):
            partitions: list[tuple[str, dict[str, Any]]] = [
                *((t, {"date": day}) for t in _DAY_TABLES),
                ("aqi_daily_other", {"date": day}),
                ("emission_events", {"start_ts": Between(start, end, closed="left")}),
            ]
            done = record_no_data(
                con,
                partitions,
                skipped_validations(("daily",), batch) if validate else [],
                f"no_data daily {batch}",
            )
            dead = load_dead_letters(con, raw_location(settings), day)
            snapshot = dead.snapshot if dead is not None else done[-1].snapshot
            return DayResult(
                day, 0, 0, 0, 0, 0, dead.rows if dead else 0, snapshot, outcome=NO_DATA
            )
        validator = Validator(
            catalog, settings.data_dir, enabled=validate and not no_input, build_docs=build_docs
        )
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
        for table, frame in (
            ("daily", daily),
            ("aqi_daily", aqi),
            ("indicators_daily", indicators),
        ):
            refuse_shrink(f"the day {day}", table, held[table], frame.height, allow=allow_shrink)
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
        if no_input and validate:  # --allow-shrink emptied a day without data: not validated
            load_validation_runs(con, skipped_validations(("daily",), batch))
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
