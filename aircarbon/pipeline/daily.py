"""The daily step: a local day's hourly means → daily statistics and AQI → the lake.

Runs after the day's 24 hours are loaded. The O3 8-hour moving averages are recomputed
from the stored hourly means (the day and the 7 hours before it), so a day whose hours
were back-filled out of order still gets windows built from all of them. Also loads the
day's dead letters into the lake's ``dead_letter`` table for analysts and the bulletin.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import ValidationFailed
from aircarbon.core.settings import Settings
from aircarbon.pipeline.backfill import (
    BACKFILL_MEMORY,
    Journal,
    Plan,
    backfill_options,
    consecutive_runs,
    open_lake,
    plan_day_batches,
)
from aircarbon.pipeline.common import (
    NO_DATA,
    Validator,
    raw_location,
    refuse_future,
    refuse_shrink,
    skipped_validations,
    writing,
)
from aircarbon.pipeline.hourly import recent_hourly
from transforms.aggregate import daily_stats, local_date, moving_averages

if TYPE_CHECKING:
    import duckdb

    from expectations.runner import ValidationOutcome

__all__ = [
    "DayResult",
    "day_bounds",
    "hourly_rows_per_day",
    "missing_hours",
    "plan_days",
    "process_day",
    "process_days",
    "run_days",
]

#: the day's partitions a reload may not shrink without ``allow_shrink``
_DAY_TABLES = ("daily", "aqi_daily", "indicators_daily")
_DAY = dt.timedelta(days=1)


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
    (result,) = process_days(
        settings,
        catalog,
        [day],
        validate=validate,
        build_docs=build_docs,
        lock_wait_s=lock_wait_s,
        allow_shrink=allow_shrink,
    )
    return result


def process_days(
    settings: Settings,
    catalog: Catalog,
    days: Sequence[dt.date],
    *,
    validate: bool = True,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[DayResult]:
    """The daily step for consecutive days at once: a back-fill's path (one transaction).

    Every day gets what :func:`process_day` gives it alone: its statistics, AQI and
    indicators come from its own hours (and the same look-back windows), its emission events
    are found on the same slice of hours, every day is its own partition in the load log
    (so stale-day marking and the bulletin see days, not batches). What the batch shares is
    the fixed cost: one read of the hourly means, one validation of the ``daily`` suite over
    all its days, one transaction for the loaded days and one for the ``no_data`` days.
    """
    if not days:
        return []
    if any(b - a != _DAY for a, b in itertools.pairwise(days)):
        raise ValueError("process_days needs consecutive days, in order")
    what = f"daily step {days[0]}" + (f"..{days[-1]}" if len(days) > 1 else "")
    with writing(settings, what, lock_wait_s=lock_wait_s):
        return _process_days(
            settings,
            catalog,
            list(days),
            validate=validate,
            build_docs=build_docs,
            allow_shrink=allow_shrink,
            lake_con=con,
        )


def _held_per_day(
    con: duckdb.DuckDBPyConnection, table: str, days: list[dt.date]
) -> dict[dt.date, int]:
    """Rows ``table`` holds per day of ``days`` (one grouped query: the shrink guard)."""
    rows = con.execute(
        f"SELECT date, count(*) FROM {table} WHERE date BETWEEN ? AND ? GROUP BY date",
        [days[0], days[-1]],
    ).fetchall()
    return {d: int(n) for d, n in rows}


def _process_days(
    settings: Settings,
    catalog: Catalog,
    days: list[dt.date],
    *,
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
    lake_con: duckdb.DuckDBPyConnection | None,
) -> list[DayResult]:
    from transforms.raw import read_dead_letters
    from warehouse.load import Between, load_dead_letters, record_no_data

    tz = settings.timezone
    bounds = {day: day_bounds(day, tz) for day in days}
    start, end = bounds[days[0]][0], bounds[days[-1]][1]
    batch = days[0].isoformat() + (f"..{days[-1].isoformat()}" if len(days) > 1 else "")
    refuse_future(end, f"the day {days[-1]}")
    source = raw_location(settings)
    with open_lake(settings, catalog, lake_con) as con:
        window = catalog.validity.o3_8h_window_hours
        soc_window = dt.timedelta(days=catalog.indicators.soc_window_days - 1)
        lookback = dt.timedelta(hours=catalog.indicators.events.background_window_hours)
        earliest = min(start - dt.timedelta(hours=window - 1), start - lookback)
        hourly = recent_hourly(con, earliest, end)
        ocec = recent_hourly(con, start - soc_window, start, ("oc", "ec"))
        moving = moving_averages(
            hourly.filter(pl.col("ts") > start - dt.timedelta(hours=window - 1)), catalog
        ).filter(pl.col("param") == "o3_8h")
        in_range = hourly.filter(pl.col("ts") > start)
        dated = in_range.with_columns(local_date(pl.col("ts"), tz).alias("_date"))
        with_input = set(dated["_date"].unique().to_list())
        held = {t: _held_per_day(con, t, days) for t in _DAY_TABLES}
        empty = [
            d for d in days if d not in with_input and not any(h.get(d) for h in held.values())
        ]
        loaded = [d for d in days if d not in empty]
        results: dict[dt.date, DayResult] = {}
        if empty:
            partitions: list[tuple[str, dict[str, Any]]] = []
            skipped: list[dict[str, object]] = []
            for day in empty:
                d_start, d_end = bounds[day]
                partitions += [
                    *((t, {"date": day}) for t in _DAY_TABLES),
                    ("aqi_daily_other", {"date": day}),
                    ("emission_events", {"start_ts": Between(d_start, d_end, closed="left")}),
                ]
                if validate:
                    skipped += skipped_validations(("daily",), day.isoformat())
            done = record_no_data(con, partitions, skipped, f"no_data daily {batch}")
            for day in empty:
                dead = load_dead_letters(con, read_dead_letters(source, day), day)
                snapshot = dead.snapshot if dead is not None else done[-1].snapshot
                results[day] = DayResult(
                    day, 0, 0, 0, 0, 0, dead.rows if dead else 0, snapshot, outcome=NO_DATA
                )
        if loaded:
            results.update(
                _load_days(
                    con,
                    settings,
                    catalog,
                    loaded,
                    bounds,
                    hourly=hourly,
                    ocec=ocec,
                    moving=moving,
                    dated=dated,
                    held=held,
                    validate=validate and bool(with_input & set(loaded)),
                    record_skipped=validate,
                    build_docs=build_docs,
                    allow_shrink=allow_shrink,
                )
            )
    return [results[day] for day in days]


def _load_days(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    catalog: Catalog,
    days: list[dt.date],
    bounds: dict[dt.date, tuple[dt.datetime, dt.datetime]],
    *,
    hourly: pl.DataFrame,
    ocec: pl.DataFrame,
    moving: pl.DataFrame,
    dated: pl.DataFrame,
    held: dict[str, dict[dt.date, int]],
    validate: bool,
    record_skipped: bool,
    build_docs: bool,
    allow_shrink: bool,
) -> dict[dt.date, DayResult]:
    """Compute and load the days that have input (or rows to replace), in one transaction."""
    from transforms.aqi import aqi_daily
    from transforms.indicators import daily_indicators
    from transforms.raw import read_dead_letters
    from transforms.sources import emission_events
    from warehouse.load import (
        current_snapshot,
        load_dead_letters,
        load_validation_runs,
        replace_days,
    )

    tz = settings.timezone
    start, end = bounds[days[0]][0], bounds[days[-1]][1]
    batch = days[0].isoformat() + (f"..{days[-1].isoformat()}" if len(days) > 1 else "")
    validator = Validator(catalog, settings.data_dir, enabled=validate, build_docs=build_docs)
    in_days = dated.filter(pl.col("_date").is_in(days)).drop("_date")
    daily = daily_stats(pl.concat([in_days, moving]), catalog, timezone=tz).filter(
        pl.col("date").is_in(days)
    )
    validator.check(daily, "daily", batch, (start, end))
    aqi = aqi_daily(daily, catalog)
    official = {day: catalog.aqi_standard_for(day).version for day in days}
    others = [
        aqi_daily(daily.filter(pl.col("date").is_in(own)), catalog, standard=version)
        for version in catalog.aqi_standards
        if (own := [d for d in days if official[d] != version])
    ]
    aqi_other = pl.concat(others) if others else aqi.clear()
    ocec_all = pl.concat([ocec, dated.filter(pl.col("param").is_in(["oc", "ec"])).drop("_date")])
    lookback = dt.timedelta(hours=catalog.indicators.events.background_window_hours)
    soc_window = dt.timedelta(days=catalog.indicators.soc_window_days - 1)
    indicator_parts: list[pl.DataFrame] = []
    event_parts: list[pl.DataFrame] = []
    counts: dict[dt.date, tuple[int, int, int, int, int]] = {}
    for day in days:
        d_start, d_end = bounds[day]
        in_day = dated.filter(pl.col("_date") == day).drop("_date")
        # what process_day alone reads: the OC/EC history of the EC-tracer window, the day
        history = ocec_all.filter((pl.col("ts") > d_start - soc_window) & (pl.col("ts") <= d_start))
        day_daily = daily.filter(pl.col("date") == day)
        indicators = daily_indicators(
            pl.concat([history, in_day]), day_daily, catalog, date=day, timezone=tz
        )
        around = hourly.filter((pl.col("ts") > d_start - lookback) & (pl.col("ts") <= d_end))
        events = emission_events(around, catalog).filter(
            (pl.col("start_ts") >= d_start) & (pl.col("start_ts") < d_end)
        )
        indicator_parts.append(indicators)
        event_parts.append(events)
        day_aqi = aqi.filter(pl.col("date") == day).height
        counts[day] = (in_day.height, day_daily.height, day_aqi, indicators.height, events.height)
        for table, rows in (
            ("daily", day_daily.height),
            ("aqi_daily", day_aqi),
            ("indicators_daily", indicators.height),
        ):
            now = held[table].get(day, 0)
            refuse_shrink(f"the day {day}", table, now, rows, allow=allow_shrink)
    if any(not v.success for v in validator.outcomes):
        validator.record(con, current_snapshot(con))
        validator.raise_on_critical()
    indicators_all = pl.concat(indicator_parts) if indicator_parts else pl.DataFrame()
    events_all = pl.concat(event_parts) if event_parts else pl.DataFrame()
    loads = [
        ("daily", daily),
        ("aqi_daily", aqi),
        ("aqi_daily_other", aqi_other),
        ("indicators_daily", indicators_all),
        ("emission_events", events_all),
    ]
    done = replace_days(con, loads, days, tz, f"daily {batch}")
    snapshot = done[-1].snapshot
    source = raw_location(settings)
    results: dict[dt.date, DayResult] = {}
    for day in days:
        dead = load_dead_letters(con, read_dead_letters(source, day), day)
        if dead is not None:
            snapshot = dead.snapshot
        hours, daily_n, aqi_n, indicators_n, events_n = counts[day]
        results[day] = DayResult(
            date=day,
            hourly_rows=hours,
            daily_rows=daily_n,
            aqi_rows=aqi_n,
            indicators=indicators_n,
            events=events_n,
            dead_letters=dead.rows if dead is not None else 0,
            snapshot=dead.snapshot if dead is not None else done[-1].snapshot,
            validations=validator.outcomes,
        )
    validator.record(con, snapshot)
    # --allow-shrink emptied a day without data: not validated
    unvalidated = [d for d in days if counts[d][0] == 0]
    if unvalidated and record_skipped:
        skipped: list[dict[str, object]] = []
        for day in unvalidated:
            skipped += skipped_validations(("daily",), day.isoformat())
        load_validation_runs(con, skipped)
    return results


def hourly_rows_per_day(settings: Settings, days: Sequence[dt.date]) -> dict[dt.date, int]:
    """Stored hourly rows per local day of ``days`` (one grouped query; what a batch reads)."""
    from warehouse.lake import connect

    if not days:
        return {}
    lake_file = settings.lake_catalog.removeprefix("sqlite:")
    if settings.lake_catalog.startswith("sqlite:") and not Path(lake_file).is_file():
        return {}
    start, end = (
        day_bounds(days[0], settings.timezone)[0],
        day_bounds(days[-1], settings.timezone)[1],
    )
    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT CAST(timezone($tz, ts - INTERVAL 1 microsecond) AS DATE) AS d, count(*) "
            "FROM hourly WHERE ts > $start AND ts <= $end GROUP BY d",
            {"tz": settings.timezone, "start": start, "end": end},
        ).fetchall()
    finally:
        con.close()
    return {d: int(n) for d, n in rows}


def plan_days(
    settings: Settings,
    days: Sequence[dt.date],
    *,
    batch_days: int | None = None,
    redo: bool = False,
    validate: bool = True,
) -> Plan[dt.date]:
    """A back-fill of consecutive days: its journal, and the batches still to run.

    Days an interrupted run of the same range committed under the same options are left
    out unless ``redo`` (a journal written under other options is refused, see
    :func:`~aircarbon.pipeline.hourly.plan_hours`); the rest are cut into batches within a
    calendar month and the hourly-row budget
    (:func:`~aircarbon.pipeline.backfill.plan_day_batches`), or ``batch_days`` each.
    """
    if not days:
        return Plan(None, [], 0, 0, validate)
    first, last = days[0].isoformat(), days[-1].isoformat()
    options = backfill_options(settings, validate=validate)
    journal = Journal.open(settings.data_dir, "daily", first, last, redo=redo, options=options)
    todo = [d for d in days if not journal.covers(d.isoformat())]
    rows = hourly_rows_per_day(settings, todo) if todo and batch_days is None else {}
    batches: list[list[dt.date]] = []
    for run in consecutive_runs(todo, _DAY):
        batches += plan_day_batches(
            run,
            batch_days=batch_days,
            rows_of_day=lambda d: rows.get(d, 0),
        )
    return Plan(journal, batches, len(days) - len(todo), len(days), validate)


def run_days(
    settings: Settings,
    catalog: Catalog,
    plan: Plan[dt.date],
    *,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
) -> Iterator[tuple[dt.date, DayResult | ValidationFailed]]:
    """Run a planned back-fill of days batch by batch, journalling each committed batch.

    Validation is the plan's (``plan_days(validate=...)``, part of the journal's key).
    Yields ``(day, result)`` per day, in order. When a critical expectation stops a batch,
    its days are re-run one by one, so every good day still lands and the bad one comes
    back as its :class:`~aircarbon.core.errors.ValidationFailed`. A run that loads every day
    removes the journal; one that stopped leaves it for the same command to resume.
    """
    journal = plan.journal
    validate = plan.validate
    failed = False
    with (
        writing(settings, "daily backfill", lock_wait_s=lock_wait_s),
        open_lake(settings, catalog, memory_limit=BACKFILL_MEMORY) as con,
    ):
        for i, chunk in enumerate(plan.batches):
            docs = build_docs and i == len(plan.batches) - 1
            outcomes: list[tuple[dt.date, DayResult | ValidationFailed]]
            try:
                results = process_days(
                    settings,
                    catalog,
                    chunk,
                    validate=validate,
                    build_docs=docs,
                    allow_shrink=allow_shrink,
                    con=con,
                )
                outcomes = list(zip(chunk, results, strict=True))
            except ValidationFailed as exc:
                if len(chunk) == 1:
                    outcomes = [(chunk[0], exc)]
                else:
                    outcomes = [(day, _one_day(settings, catalog, day, validate, docs,
                                               allow_shrink, con)) for day in chunk]  # fmt: skip
            done = [day for day, r in outcomes if not isinstance(r, ValidationFailed)]
            failed = failed or len(done) < len(chunk)
            if journal is not None:
                if len(done) == len(chunk):
                    journal.record(chunk[0].isoformat(), chunk[-1].isoformat())
                else:
                    for day in done:
                        journal.record(day.isoformat(), day.isoformat())
            yield from outcomes
    if journal is not None and not failed:
        journal.finish()


def _one_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
    con: duckdb.DuckDBPyConnection,
) -> DayResult | ValidationFailed:
    try:
        (result,) = process_days(
            settings,
            catalog,
            [day],
            validate=validate,
            build_docs=build_docs,
            allow_shrink=allow_shrink,
            con=con,
        )
    except ValidationFailed as exc:
        return exc
    return result
