"""The hourly step: raw partition → clean readings → hourly means and AQI → the lake.

For the hour ending ``H`` (readings whose periods end in ``(H − 1 h, H]``): de-duplicate,
QC (with 30 minutes of context before the hour, so rolling checks see a full window),
validate the raw batch, the clean readings and the hourly table, then replace the hour's
partitions of ``readings``, ``hourly`` and ``aqi_hourly`` in one lake transaction. A
critical expectation failure stops the load with a message naming it; the run's
validation results are recorded either way.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import HOURLY
from aircarbon.core.errors import ValidationFailed
from aircarbon.core.settings import Settings
from aircarbon.pipeline.backfill import (
    BACKFILL_MEMORY,
    Journal,
    Plan,
    backfill_options,
    consecutive_runs,
    open_lake,
    plan_hour_batches,
)
from aircarbon.pipeline.common import (
    NO_DATA,
    Validator,
    held_rows,
    raw_location,
    refuse_future,
    refuse_shrink,
    skipped_validations,
    utc_hour,
    writing,
)
from transforms.aggregate import MOVING_PARAMS, moving_averages
from transforms.chain import QC_CONTEXT, clean_hours, hour_index
from transforms.raw import scan_raw, scan_status

if TYPE_CHECKING:
    import duckdb

    from expectations.runner import ValidationOutcome

__all__ = [
    "QC_CONTEXT",
    "HourResult",
    "hour_key",
    "iter_process_hours",
    "plan_hours",
    "process_hour",
    "process_hours",
    "recent_hourly",
    "run_hours",
]

_HOUR = dt.timedelta(hours=1)
_MOVING_SOURCES = ("o3", "pm10", "pm25", "so2")
#: the tables an hourly run replaces, and the suites it validates
_HOUR_TABLES = ("readings", "hourly", "aqi_hourly")
_HOUR_SUITES = ("raw", "readings", "hourly")


@dataclass
class HourResult:
    """What one hourly run did."""

    hour_end: dt.datetime
    raw_rows: int
    readings: int
    invalid: int
    hourly_rows: int
    aqi_rows: int
    snapshot: int | None
    validations: list[ValidationOutcome] = field(default_factory=list)
    #: ``loaded``, or ``no_data`` (no raw input: nothing replaced, validations skipped)
    outcome: str = "loaded"

    def summary(self) -> dict[str, Any]:
        return {
            "hour_end": self.hour_end.isoformat(),
            "outcome": self.outcome,
            "raw_rows": self.raw_rows,
            "readings": self.readings,
            "invalid": self.invalid,
            "hourly_rows": self.hourly_rows,
            "aqi_rows": self.aqi_rows,
            "snapshot": self.snapshot,
            "validations": {v.suite: v.success for v in self.validations},
        }


def recent_hourly(
    con: duckdb.DuckDBPyConnection,
    start: dt.datetime,
    end: dt.datetime,
    params: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Stored hourly means with ``start < ts <= end`` (measured parameters only)."""
    columns = ", ".join(HOURLY)
    sql = f"SELECT {columns} FROM hourly WHERE ts > ? AND ts <= ?"
    args: list[Any] = [start, end]
    if params is not None:
        sql += " AND list_contains(?, param)"
        args.append(list(params))
    else:
        sql += " AND NOT list_contains(?, param)"
        args.append(list(MOVING_PARAMS))
    frame = con.execute(sql, args).pl()
    return frame.cast(dict(HOURLY)).select(list(HOURLY))  # type: ignore[arg-type]


def process_hour(
    settings: Settings,
    catalog: Catalog,
    hour_end: dt.datetime,
    *,
    validate: bool = True,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> HourResult:
    """Run the hourly step for the hour ending ``hour_end`` (idempotent)."""
    (result,) = process_hours(
        settings,
        catalog,
        [hour_end],
        validate=validate,
        build_docs=build_docs,
        lock_wait_s=lock_wait_s,
        allow_shrink=allow_shrink,
        con=con,
    )
    return result


def process_hours(
    settings: Settings,
    catalog: Catalog,
    hour_ends: Sequence[dt.datetime],
    *,
    validate: bool = True,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[HourResult]:
    """Run the hourly step for consecutive hours at once: a backfill's (or the demo's) path.

    Each hour gets exactly what :func:`process_hour` would give it, run after the one before:
    QC sees the same 30 minutes of context per hour (every hour's window is QC'd as its own
    series, in one vectorised pass), the O3/PM moving averages see the batch's own earlier
    hours, and every hour is its own partition in the load log. What the batch shares is the
    fixed cost: one raw scan, one QC pass, one validation per suite over the whole interval
    and one lake transaction, instead of one of each per hour. A critical expectation stops
    the whole batch; re-run its hours one by one to find the hour at fault.

    Holds the data directory's writer lock throughout (``lock_wait_s``: see
    :func:`~aircarbon.pipeline.common.writing`). Refuses hours that have not ended, and a
    reload that would leave any hour of ``readings``, ``hourly`` or ``aqi_hourly`` with fewer
    rows than it holds (its raw files gone) unless ``allow_shrink``; a batch without any raw
    input replaces nothing and is recorded as ``no_data`` (validations ``skipped``).
    """
    with writing(settings, "hourly step", lock_wait_s=lock_wait_s):
        return _process_hours(
            settings,
            catalog,
            hour_ends,
            validate=validate,
            build_docs=build_docs,
            allow_shrink=allow_shrink,
            lake_con=con,
        )


def _process_hours(
    settings: Settings,
    catalog: Catalog,
    hour_ends: Sequence[dt.datetime],
    *,
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
    lake_con: duckdb.DuckDBPyConnection | None,
) -> list[HourResult]:
    from transforms.aqi import aqi_hourly
    from warehouse.load import current_snapshot, hour_counts, replace_hours

    ends = [utc_hour(h) for h in hour_ends]
    if not ends:
        return []
    if any(b - a != _HOUR for a, b in itertools.pairwise(ends)):
        raise ValueError("process_hours needs consecutive hour ends, in order")
    first_start, last_end = ends[0] - _HOUR, ends[-1]
    data_dir = settings.data_dir
    batch = f"{last_end:%Y-%m-%dT%H:%M}Z"
    if len(ends) > 1:
        batch = f"{first_start:%Y-%m-%dT%H:%M}Z..{batch}"
    refuse_future(last_end, f"the hour ending {last_end:%Y-%m-%dT%H:%MZ}")

    source = raw_location(settings)
    raw = scan_raw(source, first_start - QC_CONTEXT, last_end).collect()
    in_batch = (pl.col("ts") > first_start) & (pl.col("ts") <= last_end)
    raw_batch = raw.filter(in_batch)
    # no raw input: no suite runs (GX "passes" an empty frame); see _record_no_data
    no_input = raw_batch.height == 0
    validator = Validator(
        catalog, data_dir, enabled=validate and not no_input, build_docs=build_docs
    )
    validator.check(raw_batch, "raw", batch, (first_start, last_end))

    # the one chain (transforms.chain): de-duplicate, QC each hour on its own window, hourly
    # means, a station group at a time
    groups = list(clean_hours(raw, catalog, ends, status=scan_status(source)))
    clean = pl.concat([g.readings for g in groups])
    hourly = pl.concat([g.hourly for g in groups])
    del groups
    validator.check(clean, "readings", batch, (first_start, last_end))

    with open_lake(settings, catalog, lake_con) as con:
        previous = recent_hourly(
            con, first_start - dt.timedelta(hours=23), first_start, _MOVING_SOURCES
        )
        base = hourly.filter(pl.col("param").is_in(list(_MOVING_SOURCES)))
        moving = moving_averages(pl.concat([previous, base]), catalog).filter(
            pl.col("ts").is_in(ends)
        )
        hourly_all = pl.concat([hourly, moving])
        validator.check(hourly_all, "hourly", batch, (first_start, last_end))
        aqi = aqi_hourly(hourly_all, catalog)
        tables = [("readings", clean), ("hourly", hourly_all), ("aqi_hourly", aqi)]
        stored = {table: hour_counts(con, table, ends) for table, _ in tables}
        after = {table: _rows_per_hour(frame, first_start, len(ends)) for table, frame in tables}
        if no_input and not held_rows(stored) and not held_rows(after):
            return _record_no_data(con, ends, batch, validate=validate)
        for table, _ in tables:
            for end, now, new in zip(ends, stored[table], after[table], strict=True):
                refuse_shrink(_hour_label(end), table, now, new, allow=allow_shrink)
        if any(not v.success for v in validator.outcomes):
            validator.record(con, current_snapshot(con))
            validator.raise_on_critical()
        results = replace_hours(con, tables, ends, f"hourly {batch}")
        snapshot = results[-1].snapshot
        validator.record(con, snapshot)
        if no_input and validate:
            from warehouse.load import load_validation_runs

            load_validation_runs(con, skipped_validations(_HOUR_SUITES, batch))
    raw_n, readings_n, hourly_n, aqi_n, invalid_n = (
        _rows_per_hour(frame, first_start, len(ends))
        for frame in (raw_batch, clean, hourly_all, aqi, clean.filter(~pl.col("valid")))
    )
    return [
        HourResult(
            hour_end=end,
            raw_rows=raw_n[i],
            readings=readings_n[i],
            invalid=invalid_n[i],
            hourly_rows=hourly_n[i],
            aqi_rows=aqi_n[i],
            snapshot=snapshot,
            validations=validator.outcomes,
        )
        for i, end in enumerate(ends)
    ]


def _hour_label(end: dt.datetime) -> str:
    return f"the hour ending {end:%Y-%m-%dT%H:%MZ}"


def _record_no_data(
    con: duckdb.DuckDBPyConnection, ends: list[dt.datetime], batch: str, *, validate: bool
) -> list[HourResult]:
    """Hours without raw input and without stored rows: record them, replace nothing.

    The load log gets its zero-row entries (so the daily step's precondition sees the hours
    as processed) and, when validation was asked for, ``validation_runs`` a ``skipped`` row
    per suite, in one commit; no fact table is touched and no suite runs on an empty frame
    (which would "pass").
    """
    from warehouse.load import Between, record_no_data

    partitions = [
        (table, {"ts": Between(end - _HOUR, end)}) for table in _HOUR_TABLES for end in ends
    ]
    results = record_no_data(
        con,
        partitions,
        skipped_validations(_HOUR_SUITES, batch) if validate else [],
        f"no_data hourly {batch}",
    )
    snapshot = results[-1].snapshot if results else None
    return [HourResult(end, 0, 0, 0, 0, 0, snapshot, outcome=NO_DATA) for end in ends]


def _rows_per_hour(frame: pl.DataFrame, first_start: dt.datetime, hours: int) -> list[int]:
    """Rows of ``frame`` in each of the ``hours`` hours after ``first_start``, in order."""
    counts = frame.group_by(hour_index(first_start).alias("_hour")).len()
    by_hour = dict(zip(counts["_hour"].to_list(), counts["len"].to_list(), strict=True))
    return [int(by_hour.get(i, 0)) for i in range(hours)]


def iter_process_hours(
    settings: Settings,
    catalog: Catalog,
    hour_ends: Sequence[dt.datetime],
    *,
    batch_hours: int = 24,
    validate: bool = True,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
) -> Iterator[tuple[dt.datetime, HourResult | ValidationFailed]]:
    """Process many hours in batches of ``batch_hours``, as a backfill wants it.

    Yields ``(hour_end, result)`` per hour, in order. When a critical expectation stops a
    batch, its hours are re-run one by one, so every good hour still lands and the bad one
    comes back as its :class:`~aircarbon.core.errors.ValidationFailed` (what the hourly DAG
    would have reported for it). The writer lock is held from the first batch to the last.
    """
    ends = [utc_hour(h) for h in hour_ends]
    with writing(settings, "hourly backfill", lock_wait_s=lock_wait_s):
        yield from _iter_batches(
            settings, catalog, ends, batch_hours, validate, build_docs, allow_shrink
        )


def _iter_batches(
    settings: Settings,
    catalog: Catalog,
    ends: list[dt.datetime],
    batch_hours: int,
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
) -> Iterator[tuple[dt.datetime, HourResult | ValidationFailed]]:
    for i in range(0, len(ends), max(1, batch_hours)):
        chunk = ends[i : i + max(1, batch_hours)]
        last = i + len(chunk) >= len(ends)
        yield from _run_batch(settings, catalog, chunk, validate, build_docs and last, allow_shrink)


def _run_batch(
    settings: Settings,
    catalog: Catalog,
    chunk: list[dt.datetime],
    validate: bool,
    build_docs: bool,
    allow_shrink: bool,
    con: duckdb.DuckDBPyConnection | None = None,
) -> Iterator[tuple[dt.datetime, HourResult | ValidationFailed]]:
    """One batch; when a critical expectation stops it, its hours one by one."""
    options: dict[str, Any] = {
        "validate": validate,
        "build_docs": build_docs,
        "allow_shrink": allow_shrink,
        "con": con,
    }
    try:
        results = process_hours(settings, catalog, chunk, **options)
    except ValidationFailed as exc:
        if len(chunk) == 1:
            yield chunk[0], exc
            return
        for end in chunk:
            try:
                yield end, process_hour(settings, catalog, end, **options)
            except ValidationFailed as exc:
                yield end, exc
    else:
        yield from zip(chunk, results, strict=True)


def hour_key(end: dt.datetime) -> str:
    """How a back-fill journal names an hour: its UTC end, sortable as text."""
    return f"{end.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def plan_hours(
    settings: Settings,
    hour_ends: Sequence[dt.datetime],
    *,
    batch_hours: int | None = None,
    redo: bool = False,
    validate: bool = True,
) -> Plan[dt.datetime]:
    """A back-fill of consecutive hours: its journal, and the batches still to run.

    Hours a previous, interrupted run of the same range committed under the same options
    (its journal; :func:`~aircarbon.pipeline.backfill.backfill_options`) are left out
    unless ``redo``; a journal written under other options is refused
    (:class:`~aircarbon.pipeline.backfill.JournalMismatchError`). The rest are cut into batches
    by :func:`~aircarbon.pipeline.backfill.plan_hour_batches` (whole local days up to a
    month, within the raw-row budget, or ``batch_hours`` each).
    """
    ends = [utc_hour(h) for h in hour_ends]
    if not ends:
        return Plan(None, [], 0, 0, validate)
    journal = Journal.open(
        settings.data_dir,
        "hourly",
        hour_key(ends[0]),
        hour_key(ends[-1]),
        redo=redo,
        options=backfill_options(settings, validate=validate),
    )
    todo = [e for e in ends if not journal.covers(hour_key(e))]
    batches: list[list[dt.datetime]] = []
    for run in consecutive_runs(todo, _HOUR):
        batches += plan_hour_batches(settings, run, batch_hours=batch_hours)  # type: ignore[arg-type]
    return Plan(journal, batches, len(ends) - len(todo), len(ends), validate)


def run_hours(
    settings: Settings,
    catalog: Catalog,
    plan: Plan[dt.datetime],
    *,
    build_docs: bool = True,
    lock_wait_s: float = 0.0,
    allow_shrink: bool = False,
) -> Iterator[tuple[dt.datetime, HourResult | ValidationFailed]]:
    """Run a planned back-fill batch by batch, journalling each committed batch.

    Validation is the plan's (``plan_hours(validate=...)``): it is part of the journal's
    key, so the run cannot differ from what the journal records. Yields
    ``(hour_end, result)`` per hour, in order (a hour a critical expectation stopped comes
    back as its :class:`~aircarbon.core.errors.ValidationFailed`, its batch's other hours
    re-run one by one). A run that ends with every hour loaded removes the journal; one that
    stopped (a crash, a stopped hour) leaves it, and the same command resumes from it.
    """
    journal = plan.journal
    validate = plan.validate
    failed = False
    with (
        writing(settings, "hourly backfill", lock_wait_s=lock_wait_s),
        open_lake(settings, catalog, memory_limit=BACKFILL_MEMORY) as con,
    ):
        for i, chunk in enumerate(plan.batches):
            last = i == len(plan.batches) - 1
            done: list[dt.datetime] = []
            for end, result in _run_batch(
                settings, catalog, chunk, validate, build_docs and last, allow_shrink, con
            ):
                if isinstance(result, ValidationFailed):
                    failed = True
                else:
                    done.append(end)
                yield end, result
            if journal is None:
                continue
            if len(done) == len(chunk):
                journal.record(hour_key(chunk[0]), hour_key(chunk[-1]))
            else:
                for end in done:
                    journal.record(hour_key(end), hour_key(end))
    if journal is not None and not failed:
        journal.finish()
