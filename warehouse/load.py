"""Idempotent loads into the lake: replace one partition per transaction.

Why replace, not append or upsert: DuckLake has no PRIMARY KEY or UNIQUE constraints, and a
pipeline re-runs (late data, a fixed transform, an Airflow retry). Replacing a partition — DELETE
its rows, INSERT the new frame, in one transaction — makes every load a pure function of its
input: running it twice leaves the same rows, and the table's identity (``station, param, ts``
for ``hourly``…) stays unique because every identity lives in exactly one partition. The GX
suites check that uniqueness independently.

Each load records its partition, row count and an order-independent content checksum in
``load_log`` and names its snapshot (``ducklake_snapshots().commit_message``), so a re-run can
be shown to have changed nothing and any earlier state can be read back with
``AT (VERSION => n)``.

Writers are serialised on a SQLite catalog (see :func:`warehouse.lake.load_lock`); frames go
Polars → Arrow → DuckDB without a copy.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from aircarbon.core.contracts import VALIDATION_RUNS
from aircarbon.core.errors import WarehouseError
from warehouse.lake import LAKE, load_lock, read_sql, rollback, set_commit_message, warehouse_error

if TYPE_CHECKING:
    from aircarbon.core.catalog import Catalog, Station

__all__ = [
    "LOADABLE_TABLES",
    "Between",
    "LoadResult",
    "compact",
    "current_snapshot",
    "hour_counts",
    "load_day",
    "load_dead_letters",
    "load_dimensions",
    "load_hour",
    "load_validation_runs",
    "loaded_partitions",
    "partition_label",
    "partition_rows",
    "partition_stats",
    "record_no_data",
    "replace_days",
    "replace_hours",
    "replace_partition",
    "replace_partitions",
]

#: Tables the loaders may write (``load_log`` and ``schema_migrations`` are written internally).
LOADABLE_TABLES = frozenset(
    {
        "stations",
        "parameters",
        "readings",
        "hourly",
        "daily",
        "aqi_hourly",
        "aqi_daily",
        "aqi_daily_other",
        "indicators_daily",
        "emission_events",
        "validation_runs",
        "dead_letter",
        # 0008_forecast (aircarbon/pipeline/forecast.py)
        "forecasts",
        "warnings",
        "forecast_models",
        "forecast_skill",
    }
)
_HOUR = dt.timedelta(hours=1)
_FRAME_VIEW = "_aircarbon_load_frame"
_LOG_VIEW = "_aircarbon_load_log_rows"


@dataclass(frozen=True, slots=True)
class Between:
    """A range partition key: ``low < col <= high`` (``closed="right"``) or ``low <= col < high``.

    Right-closed is the pipeline's convention for period ends: a reading ending at 10:00
    belongs to the hour ending 10:00, and local midnight to the day before.
    """

    low: Any
    high: Any
    closed: Literal["left", "right"] = "right"

    def __str__(self) -> str:
        left, right = ("(", "]") if self.closed == "right" else ("[", ")")
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a load did: partition replaced, its rows and checksum, and the snapshots around it."""

    table: str
    partition: str
    rows: int
    checksum: str
    snapshot_before: int
    snapshot: int


def _fmt(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(sep=" ") if value.tzinfo else str(value)
    if isinstance(value, list | tuple | frozenset | set):
        return "[" + ", ".join(_fmt(v) for v in sorted(value, key=str)) + "]"
    return str(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(read_sql("table_columns"), {"table_name": table}).fetchall()
    return {str(name): str(dtype) for name, dtype in rows}


def _predicate(where: Mapping[str, Any], columns: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """SQL for the partition (identifiers checked against the table, values bound)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for i, (column, value) in enumerate(where.items()):
        if column not in columns:
            raise WarehouseError(f"partition column {column!r} is not a column of the table")
        col = _quote(column)
        if isinstance(value, Between):
            low_op, high_op = (">", "<=") if value.closed == "right" else (">=", "<")
            clauses.append(f"{col} {low_op} $p{i}_lo AND {col} {high_op} $p{i}_hi")
            params[f"p{i}_lo"] = value.low
            params[f"p{i}_hi"] = value.high
        elif isinstance(value, list | tuple | frozenset | set):
            clauses.append(f"list_contains($p{i}, {col})")
            params[f"p{i}"] = list(value)
        elif value is None:
            clauses.append(f"{col} IS NULL")
        else:
            clauses.append(f"{col} = $p{i}")
            params[f"p{i}"] = value
    return (" AND ".join(clauses) or "TRUE"), params


def partition_label(where: Mapping[str, Any]) -> str:
    """How the load log names a partition (``ts=A..B``, ``date=D``): stable, so the scheduler
    can find an interval's loads by name."""
    return "; ".join(f"{k}={_fmt(v)}" for k, v in where.items()) or "all"


def partition_stats(
    con: duckdb.DuckDBPyConnection, table: str, where: Mapping[str, Any]
) -> tuple[int, str]:
    """Rows and content checksum of a partition as stored now (order-independent).

    The checksum is the sum of DuckDB's row hashes over the table's columns, hex-encoded: equal
    contents give equal checksums whatever the row order, and duplicated rows change it.
    """
    columns = _table_columns(con, table)
    if not columns:
        raise WarehouseError(f"no table {table!r} in the warehouse (run migrations first)")
    predicate, params = _predicate(where, columns)
    select = ", ".join(_quote(c) for c in columns)
    sql = (
        f"SELECT count(*), coalesce(sum(hash(r)::HUGEINT), 0) "
        f"FROM (SELECT {select} FROM {_quote(table)} WHERE {predicate}) AS r"
    )
    row = con.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0]), f"{int(row[1]):x}"


def loaded_partitions(
    con: duckdb.DuckDBPyConnection, table: str, partitions: Sequence[Mapping[str, Any]]
) -> list[bool]:
    """Whether each partition of ``table`` has been loaded at least once (per ``load_log``).

    A load of zero rows counts: it is how an hour without readings is marked as processed.
    Orchestrators use it as a precondition (the daily step waits for its day's hours).
    """
    labels = [partition_label(where) for where in partitions]
    try:
        rows = con.execute(
            read_sql("loaded_partitions"), {"table_name": table, "partitions": labels}
        ).fetchall()
    except duckdb.Error as exc:
        raise warehouse_error(f"cannot read the load log of {table}", exc) from exc
    done = {str(row[0]) for row in rows}
    return [label in done for label in labels]


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    """The lake's current snapshot id: record it to re-read this state with ``AT (VERSION => n)``.

    Inside an open transaction it is the snapshot the transaction started from.
    """
    try:
        row = con.execute(read_sql("current_snapshot")).fetchone()
    except duckdb.Error as exc:
        raise warehouse_error("cannot read the current snapshot", exc) from exc
    assert row is not None
    return int(row[0])


def _delete_and_insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where: Mapping[str, Any],
) -> tuple[dict[str, str], str, dict[str, Any]]:
    """Delete the partition ``where`` and insert ``frame`` (inside the caller's transaction).

    Returns the table's columns and the partition's bound predicate, for the checks after.
    """
    if table not in LOADABLE_TABLES:
        raise WarehouseError(f"cannot load table {table!r}: not a warehouse fact/dimension table")
    columns = _table_columns(con, table)
    if not columns:
        raise WarehouseError(f"no table {table!r} in the warehouse (run migrations first)")
    unknown = [c for c in frame.columns if c not in columns]
    if unknown:
        raise WarehouseError(f"frame for {table!r} has columns the table lacks: {unknown}")
    predicate, params = _predicate(where, columns)
    con.execute(f"DELETE FROM {_quote(table)} WHERE {predicate}", params)
    if frame.height:
        con.register(_FRAME_VIEW, frame.to_arrow())
        try:
            names = ", ".join(_quote(c) for c in frame.columns)
            con.execute(f"INSERT INTO {_quote(table)} ({names}) SELECT {names} FROM {_FRAME_VIEW}")
        finally:
            con.unregister(_FRAME_VIEW)
    return columns, predicate, params


def _replace_in_transaction(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where: Mapping[str, Any],
    snapshot_before: int,
) -> tuple[str, int, str]:
    _delete_and_insert(con, table, frame, where)
    partition = partition_label(where)
    rows, checksum = partition_stats(con, table, where)
    if rows != frame.height:
        raise WarehouseError(
            f"load of {table} {partition}: {frame.height - rows} of {frame.height} rows fall "
            "outside the partition"
        )
    con.execute(
        read_sql("record_load"),
        {
            "table_name": table,
            "partition": partition,
            "rows": rows,
            "checksum": checksum,
            "snapshot": snapshot_before,
        },
    )
    return partition, rows, checksum


def _replace_many(
    con: duckdb.DuckDBPyConnection,
    loads: Sequence[tuple[str, pl.DataFrame, Mapping[str, Any]]],
    message: str,
) -> list[LoadResult]:
    """Replace several partitions in ONE transaction, under the load lock."""

    def run(before: int) -> list[tuple[str, str, int, str]]:
        return [
            (table, *_replace_in_transaction(con, table, frame, where, before))
            for table, frame, where in loads
        ]

    return _in_load_transaction(con, message, run)


def _in_load_transaction(
    con: duckdb.DuckDBPyConnection,
    message: str,
    body: Callable[[int], list[tuple[str, str, int, str]]],
) -> list[LoadResult]:
    """Run ``body(snapshot_before)`` in one committed transaction under the load lock.

    ``body`` returns ``(table, partition, rows, checksum)`` per partition it replaced; any
    error rolls everything back (DuckDB's errors become :class:`WarehouseError`).
    """
    with load_lock(con):
        try:
            con.execute("BEGIN TRANSACTION")
            set_commit_message(con, message)
            before = current_snapshot(con)
            done = body(before)
            con.execute("COMMIT")
        except duckdb.Error as exc:
            rollback(con)
            raise warehouse_error(message, exc) from exc
        except BaseException:
            rollback(con)
            raise
        after = current_snapshot(con)
    return [LoadResult(t, p, r, c, before, after) for t, p, r, c in done]


def replace_partitions(
    con: duckdb.DuckDBPyConnection,
    loads: Sequence[tuple[str, pl.DataFrame, Mapping[str, Any]]],
    message: str,
) -> list[LoadResult]:
    """Replace several tables' partitions in ONE transaction (one lake snapshot).

    An hour's readings, hourly means and AQI become visible to analysts together, or not
    at all.
    """
    return _replace_many(con, loads, message)


def replace_hours(
    con: duckdb.DuckDBPyConnection,
    loads: Sequence[tuple[str, pl.DataFrame]],
    hour_ends: Sequence[dt.datetime],
    message: str,
) -> list[LoadResult]:
    """Replace consecutive hour partitions of ``ts``-keyed tables in ONE transaction.

    The same result as :func:`replace_partitions` with one ``ts=(end - 1 h, end]`` partition
    per hour and table (the same load-log rows and checksums), at the cost of one delete, one
    insert and one grouped checksum query per table instead of one of each per hour: how a
    backfill of many hours commits without paying a round of statements for every hour.
    """
    ends = sorted(_aware(e, "hour end") for e in hour_ends)
    if not ends:
        return []
    if any(b - a != _HOUR for a, b in itertools.pairwise(ends)):
        raise WarehouseError("replace_hours needs consecutive hour ends")
    low, high = ends[0] - _HOUR, ends[-1]
    span = {"ts": Between(low, high)}
    hour_us = int(_HOUR.total_seconds() * 1_000_000)

    labels = [partition_label({"ts": Between(end - _HOUR, end)}) for end in ends]

    def run(before: int) -> list[tuple[str, str, int, str]]:
        done: list[tuple[str, str, int, str]] = []
        for table, frame in loads:
            stats = _replace_span(con, table, frame, span, hour_us)
            for end, label in zip(ends, labels, strict=True):
                rows, checksum = stats.get(_epoch_us(end) // hour_us, (0, "0"))
                done.append((table, label, rows, checksum))
        # one statement for the whole log (a month of hours is thousands of rows; one
        # INSERT each cost more than the data); now() is the transaction's start either way
        _record_loads(con, done, before)
        return done

    return _in_load_transaction(con, message, run)


def replace_days(
    con: duckdb.DuckDBPyConnection,
    loads: Sequence[tuple[str, pl.DataFrame]],
    days: Sequence[dt.date],
    timezone: str,
    message: str,
) -> list[LoadResult]:
    """Replace the partitions of several local days in ONE transaction, a statement per table.

    The same result as :func:`replace_partitions` with one partition per day and table —
    ``date = D`` for ``date``-keyed tables, ``start_ts = [00:00, 24:00)`` local for
    ``emission_events`` — the same load-log rows and checksums, at the cost of one delete,
    one insert and one grouped checksum query per table: how a month of days commits.
    """
    if not days:
        return []
    days = sorted(days)
    zone = ZoneInfo(timezone)

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)

    bounds = {d: (midnight(d), midnight(d + dt.timedelta(days=1))) for d in days}

    def run(before: int) -> list[tuple[str, str, int, str]]:
        done: list[tuple[str, str, int, str]] = []
        for table, frame in loads:
            columns = _table_columns(con, table)
            if "date" in columns:
                span: dict[str, Any] = {"date": list(days)}
                bucket = _quote("date")
                labels = {d: partition_label({"date": d}) for d in days}
            elif "start_ts" in columns:
                low, high = bounds[days[0]][0], bounds[days[-1]][1]
                span = {"start_ts": Between(low, high, closed="left")}
                bucket = f"CAST(timezone('{zone.key}', r.start_ts) AS DATE)"
                labels = {
                    d: partition_label(
                        {"start_ts": Between(bounds[d][0], bounds[d][1], closed="left")}
                    )
                    for d in days
                }
            else:
                raise WarehouseError(f"table {table!r} has neither a date nor a start_ts column")
            _, predicate, params = _delete_and_insert(con, table, frame, span)
            select = ", ".join(_quote(c) for c in columns)
            rows = con.execute(
                f"SELECT {bucket} AS bucket, count(*), coalesce(sum(hash(r)::HUGEINT), 0) "
                f"FROM (SELECT {select} FROM {_quote(table)} WHERE {predicate}) AS r "
                "GROUP BY bucket",
                params,
            ).fetchall()
            stats = {b: (int(n), f"{int(h):x}") for b, n, h in rows}
            if sum(n for n, _ in stats.values()) != frame.height or set(stats) - set(labels):
                raise WarehouseError(
                    f"load of {table} {partition_label(span)}: rows fall outside the days"
                )
            for d in days:
                n, checksum = stats.get(d, (0, "0"))
                done.append((table, labels[d], n, checksum))
        _record_loads(con, done, before)
        return done

    return _in_load_transaction(con, message, run)


def _record_loads(
    con: duckdb.DuckDBPyConnection, done: Sequence[tuple[str, str, int, str]], snapshot: int
) -> None:
    """``load_log`` rows for ``(table, partition, rows, checksum)`` loads, in one INSERT."""
    if not done:
        return
    frame = pl.DataFrame(
        {
            "table_name": [d[0] for d in done],
            "partition": [d[1] for d in done],
            "rows": [d[2] for d in done],
            "checksum": [d[3] for d in done],
        },
        schema={"table_name": pl.String, "partition": pl.String, "rows": pl.Int64,
                "checksum": pl.String},
    )  # fmt: skip
    con.register(_LOG_VIEW, frame.to_arrow())
    try:
        con.execute(
            "INSERT INTO load_log (table_name, partition, rows, checksum, loaded_at, snapshot) "
            f"SELECT table_name, partition, rows, checksum, now(), $snapshot FROM {_LOG_VIEW}",
            {"snapshot": snapshot},
        )
    finally:
        con.unregister(_LOG_VIEW)


def hour_counts(
    con: duckdb.DuckDBPyConnection, table: str, hour_ends: Sequence[dt.datetime]
) -> list[int]:
    """Rows ``table`` holds now in each hour ``(end - 1 h, end]`` of ``hour_ends`` (in order).

    What a reload is compared against before it replaces those hours (the shrink guard).
    """
    ends = [_aware(e, "hour end") for e in hour_ends]
    if not ends:
        return []
    hour_us = int(_HOUR.total_seconds() * 1_000_000)
    try:
        rows = con.execute(
            f"SELECT (epoch_us(ts) - 1) // {hour_us} + 1 AS bucket, count(*) "
            f"FROM {_quote(table)} WHERE ts > $low AND ts <= $high GROUP BY bucket",
            {"low": min(ends) - _HOUR, "high": max(ends)},
        ).fetchall()
    except duckdb.Error as exc:
        raise warehouse_error(f"cannot count the rows of {table}", exc) from exc
    counts = {int(b): int(n) for b, n in rows}
    return [counts.get(_epoch_us(e) // hour_us, 0) for e in ends]


def partition_rows(con: duckdb.DuckDBPyConnection, table: str, where: Mapping[str, Any]) -> int:
    """Rows of one partition as stored now (the shrink guard of day loads)."""
    return partition_stats(con, table, where)[0]


def record_no_data(
    con: duckdb.DuckDBPyConnection,
    partitions: Sequence[tuple[str, Mapping[str, Any]]],
    validation_rows: Sequence[dict[str, Any]],
    message: str,
) -> list[LoadResult]:
    """Record intervals that had no input: zero-row load-log entries, skipped validations.

    No fact table is touched (no DELETE, no INSERT): the one commit carries only the record,
    named ``message``, so an orchestrator sees the interval as processed and an analyst sees
    why it is empty. Refuses a partition that holds rows (that would be a shrink).
    """

    def run(before: int) -> list[tuple[str, str, int, str]]:
        done: list[tuple[str, str, int, str]] = []
        for table, where in partitions:
            rows = partition_rows(con, table, where)
            if rows:
                raise WarehouseError(
                    f"{table} {partition_label(where)} holds {rows} rows: not no_data"
                )
            label = partition_label(where)
            con.execute(
                read_sql("record_load"),
                {"table_name": table, "partition": label, "rows": 0, "checksum": "0",
                 "snapshot": before},
            )  # fmt: skip
            done.append((table, label, 0, "0"))
        if validation_rows:
            frame, where = _validation_frame(list(validation_rows))
            label, rows, checksum = _replace_in_transaction(
                con, "validation_runs", frame, where, before
            )
            done.append(("validation_runs", label, rows, checksum))
        return done

    return _in_load_transaction(con, message, run)


def _epoch_us(value: dt.datetime) -> int:
    delta = value.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _replace_span(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    span: Mapping[str, Any],
    hour_us: int,
) -> dict[int, tuple[int, str]]:
    """Delete and re-insert ``span`` of ``table``; rows and checksum per hour-end bucket."""
    columns, predicate, params = _delete_and_insert(con, table, frame, span)
    select = ", ".join(_quote(c) for c in columns)
    # the hour END a ts belongs to, (end - 1 h, end], as an index: timezone-free arithmetic
    rows = con.execute(
        f"SELECT (epoch_us(r.ts) - 1) // {hour_us} + 1 AS bucket, count(*), "
        f"coalesce(sum(hash(r)::HUGEINT), 0) "
        f"FROM (SELECT {select} FROM {_quote(table)} WHERE {predicate}) AS r GROUP BY bucket",
        params,
    ).fetchall()
    stats = {int(b): (int(n), f"{int(h):x}") for b, n, h in rows}
    stored = sum(n for n, _ in stats.values())
    if stored != frame.height:
        raise WarehouseError(
            f"load of {table} {partition_label(span)}: {frame.height - stored} of "
            f"{frame.height} rows fall outside the partition"
        )
    return stats


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    where: Mapping[str, Any],
) -> LoadResult:
    """Replace the rows of ``table`` matching ``where`` with ``frame``, atomically.

    ``where`` maps columns to a value (equality), a :class:`Between` range, a list (any of),
    or ``{}`` for the whole table. Every row of ``frame`` must fall inside the partition, or
    nothing is loaded: a row outside would survive the next replace of its own partition and
    break the table's identity.
    """
    return _replace_many(con, [(table, frame, where)], f"load {table} {partition_label(where)}")[0]


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None:
        raise WarehouseError(f"{what} must be timezone-aware (UTC), got {value.isoformat()}")
    return value.astimezone(dt.UTC)


def load_hour(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, hour_end: dt.datetime
) -> LoadResult:
    """Replace one hour of a ``ts``-keyed table: rows with ``ts`` in ``(hour_end - 1 h, hour_end]``.

    For ``hourly`` and ``aqi_hourly`` that is exactly the rows stamped ``hour_end``; for
    ``readings`` every period ending within the hour (the hour they are averaged into).
    """
    end = _aware(hour_end, "hour_end")
    if (end.minute, end.second, end.microsecond) != (0, 0, 0):
        raise WarehouseError(f"hour_end must be on the hour, got {end.isoformat()}")
    return replace_partition(con, table, frame, {"ts": Between(end - _HOUR, end)})


def load_day(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    date: dt.date,
    *,
    tz: str | ZoneInfo = "Asia/Shanghai",
) -> LoadResult:
    """Replace one local calendar day.

    ``date``-keyed tables (``daily``, ``aqi_daily``, ``indicators_daily``) replace
    ``date = date``; ``ts``-keyed ones the periods ending in ``(00:00, 24:00]`` local time of
    ``tz`` (the hours 1–24 of the day, as daily means count them).
    """
    columns = _table_columns(con, table)
    if "date" in columns:
        return replace_partition(con, table, frame, {"date": date})
    if "ts" not in columns:
        raise WarehouseError(f"table {table!r} has neither a date nor a ts column")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    start = dt.datetime.combine(date, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return replace_partition(
        con, table, frame, {"ts": Between(start.astimezone(dt.UTC), end.astimezone(dt.UTC))}
    )


_STATION_SCHEMA: dict[str, pl.DataType] = {
    "station": pl.String(),
    "name_zh": pl.String(),
    "name_en": pl.String(),
    "type": pl.String(),
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "mn": pl.String(),
    "params": pl.List(pl.String()),
    "instruments": pl.List(pl.String()),
    "district": pl.String(),
    "timezone": pl.String(),
    "background": pl.Boolean(),
    "national_code": pl.String(),
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "is_current": pl.Boolean(),
}
#: What makes a new version of a station (its service dates only close or open one).
_STATION_ATTRS = tuple(
    c for c in _STATION_SCHEMA if c not in {"station", "valid_from", "valid_to", "is_current"}
)


def _station_attrs(s: Station) -> dict[str, Any]:
    return {
        "name_zh": s.name_zh,
        "name_en": s.name_en,
        "type": s.type.value,
        "lat": s.lat,
        "lon": s.lon,
        "mn": s.mn,
        "params": list(s.params),
        "instruments": list(s.instruments),
        "district": s.district,
        "timezone": s.timezone,
        "background": s.background,
        "national_code": s.national_code,
    }


def _station_versions(
    stored: Sequence[Mapping[str, Any]], catalog: Catalog, today: dt.date
) -> pl.DataFrame:
    """The ``stations`` table after the network file of ``catalog``, on local day ``today``.

    A slowly changing dimension of type 2: rows of earlier versions stay as stored; a
    station whose attributes changed gets its current row closed on the day before
    ``today`` and a new row from ``today`` (changed twice in one day: the day's row is
    overwritten, no empty version); a retirement (``valid_to`` in the file) closes the
    current row on that day without a new one; a station gone from the file keeps its
    rows, the current one closed yesterday. Rows stored before migration 0011 (no
    ``is_current``) count as current.
    """
    out: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    history: set[str] = set()
    for stored_row in stored:
        row: dict[str, Any] = {c: stored_row.get(c) for c in _STATION_SCHEMA}
        if row["is_current"] is False:
            out.append(row)
            history.add(row["station"])
        else:
            current[row["station"]] = row
    yesterday = today - dt.timedelta(days=1)
    for s in catalog.stations.values():
        attrs = _station_attrs(s)
        old = current.pop(s.id, None)
        if old is None:
            out.append(_version(s, attrs, s.valid_from))
            continue
        changed = not all(_same(old[c], attrs[c]) for c in _STATION_ATTRS)
        opened: dt.date | None = old["valid_from"]
        if s.id not in history and not changed:  # the only version: the station's first day
            opened = s.valid_from
        retired_before = s.valid_to is not None and s.valid_to < today
        if not changed or retired_before or (opened is not None and opened >= today):
            # unchanged, a correction after retirement, or a second change the same day
            out.append(_version(s, attrs, opened))
            continue
        last = old["valid_to"]
        out.append(
            dict(
                old, is_current=False, valid_to=yesterday if last is None else min(last, yesterday)
            )
        )
        out.append(_version(s, attrs, today))
    for old in current.values():  # no longer in the network file: kept, closed yesterday
        start, last = old["valid_from"], old["valid_to"]
        if last is None:
            last = yesterday if start is None or start <= yesterday else start
        out.append(dict(old, valid_to=last, is_current=True))
    return pl.DataFrame(out, schema=_STATION_SCHEMA).sort("station", "valid_from", nulls_last=False)


def _version(s: Station, attrs: Mapping[str, Any], opened: dt.date | None) -> dict[str, Any]:
    """The current row of ``s`` holding from ``opened`` to its last day in service."""
    return {"station": s.id, **attrs, "valid_from": opened, "valid_to": s.valid_to,
            "is_current": True}  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    """Equal as stored: lists compare as lists, floats exactly (the file's own digits)."""
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a or []) == list(b or [])
    return bool(a == b) if a is not None and b is not None else a is None and b is None


_PARAMETER_SCHEMA: dict[str, pl.DataType] = {
    "param": pl.String(),
    "name_zh": pl.String(),
    "name_en": pl.String(),
    "param_group": pl.String(),
    "unit": pl.String(),
    "accepted_units": pl.List(pl.String),
    "physical_min": pl.Float64(),
    "physical_max": pl.Float64(),
    "plausible_min": pl.Float64(),
    "plausible_max": pl.Float64(),
    "noise": pl.Float64(),
    "hj212": pl.String(),
    "hj212_unit": pl.String(),
    "molar_mass": pl.Float64(),
    "cas": pl.String(),
    "voc_group": pl.String(),
    "pams": pl.Boolean(),
    "mir": pl.Float64(),
    "koh": pl.Float64(),
    "gwp100": pl.Float64(),
    "source": pl.String(),
    "range_source": pl.String(),
    "mir_source": pl.String(),
    "koh_source": pl.String(),
    "gwp_source": pl.String(),
}


def _parameters_frame(catalog: Catalog) -> pl.DataFrame:
    rows = [
        {
            "param": p.code,
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "param_group": p.group.value,
            "unit": p.unit,
            "accepted_units": list(p.accepted),
            "physical_min": p.physical[0],
            "physical_max": p.physical[1],
            "plausible_min": p.plausible[0],
            "plausible_max": p.plausible[1],
            "noise": p.noise,
            "hj212": p.hj212,
            "hj212_unit": p.hj212_unit,
            "molar_mass": p.molar_mass,
            "cas": p.cas,
            "voc_group": p.voc_group,
            "pams": p.pams,
            "mir": p.mir,
            "koh": p.koh,
            "gwp100": p.gwp100,
            "source": p.source,
            "range_source": p.range_source,
            "mir_source": p.mir_source,
            "koh_source": p.koh_source,
            "gwp_source": p.gwp_source,
        }
        for p in catalog.parameters.values()
    ]
    return pl.DataFrame(rows, schema=_PARAMETER_SCHEMA)


def load_dimensions(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, *, today: dt.date | None = None
) -> list[LoadResult]:
    """Bring ``stations`` and ``parameters`` up to the catalog, together in one transaction.

    ``parameters`` is replaced by the shipped catalog's; ``stations`` keeps one row per
    station version (see :func:`_station_versions`), the change dated ``today`` (default:
    the network's local today). Every step opens the lake this way, so an unchanged
    catalog commits nothing: otherwise each run (even one that then refuses its interval)
    would add a snapshot of its own.
    """
    if today is None:
        today = dt.datetime.now(ZoneInfo(catalog.network.timezone)).date()
    try:
        stored = con.execute("SELECT * FROM stations").pl().to_dicts()
    except duckdb.Error as exc:
        raise warehouse_error("cannot read stations", exc) from exc
    loads: list[tuple[str, pl.DataFrame, Mapping[str, Any]]] = [
        ("stations", _station_versions(stored, catalog, today), {}),
        ("parameters", _parameters_frame(catalog), {}),
    ]
    zone = catalog.network.timezone
    same_zone = _lake_timezone(con) in {zone, None}
    if same_zone and all(_unchanged(con, table, frame) for table, frame, _ in loads):
        now = current_snapshot(con)
        return [
            LoadResult(table, partition_label(where), *partition_stats(con, table, where), now, now)
            for table, _, where in loads
        ]

    def run(before: int) -> list[tuple[str, str, int, str]]:
        if not same_zone:  # the analyst macros count local days in network_tz()
            ZoneInfo(zone)  # an IANA name (the loader checked it): no quote can hide in it
            con.execute(f"CREATE OR REPLACE MACRO network_tz() AS '{zone}'")
        return [
            (table, *_replace_in_transaction(con, table, frame, where, before))
            for table, frame, where in loads
        ]

    return _in_load_transaction(con, "load dimensions stations, parameters", run)


def _lake_timezone(con: duckdb.DuckDBPyConnection) -> str | None:
    """The zone the lake's ``network_tz()`` macro names (None before migration 0011)."""
    try:
        row = con.execute("SELECT network_tz()").fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row else None


def _unchanged(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> bool:
    """Whether ``table`` holds exactly ``frame``'s rows (as a multiset, in the table's types)."""
    columns = _table_columns(con, table)
    if not columns or any(c not in columns for c in frame.columns):
        return False
    stored = ", ".join(_quote(c) for c in columns)
    given = ", ".join(
        f"CAST({_quote(c)} AS {columns[c]})" if c in frame.columns else f"NULL::{columns[c]}"
        for c in columns
    )
    con.register(_FRAME_VIEW, frame.to_arrow())
    try:
        row = con.execute(
            f"SELECT (SELECT count(*) FROM (SELECT {stored} FROM {_quote(table)} EXCEPT ALL "
            f"SELECT {given} FROM {_FRAME_VIEW})) + (SELECT count(*) FROM (SELECT {given} "
            f"FROM {_FRAME_VIEW} EXCEPT ALL SELECT {stored} FROM {_quote(table)}))"
        ).fetchone()
    except duckdb.Error:
        return False  # a type the comparison cannot handle: reload, as before
    finally:
        con.unregister(_FRAME_VIEW)
    return row is not None and int(row[0]) == 0


def load_dead_letters(
    con: duckdb.DuckDBPyConnection, frame: pl.DataFrame | None, date: dt.date
) -> LoadResult | None:
    """Load the dead letters received on the UTC day ``date``, replacing that day's rows.

    ``frame`` is what ``transforms.raw.read_dead_letters`` read for the day (the pipeline
    reads, the warehouse loads: the two layers stay siblings). None means the day's folder is
    gone (retention pruned the raw store): nothing is loaded and the warehouse keeps the only
    remaining copy rather than erasing it.
    """
    if frame is None:
        return None
    start = dt.datetime.combine(date, dt.time(0), tzinfo=dt.UTC)
    where = {"received_at": Between(start, start + dt.timedelta(days=1), closed="left")}
    return replace_partition(con, "dead_letter", frame, where)


_OUTCOMES = frozenset({"passed", "failed", "skipped"})


def load_validation_runs(
    con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]
) -> LoadResult | None:
    """Record validation results; a run recorded again (same ``run_id``) replaces its row.

    ``outcome`` defaults to ``passed``/``failed`` from ``success``; ``skipped`` marks an
    interval without input (never with ``success``).

    ``failed_expectations`` may be given as a list/dict (stored as JSON text); a missing
    ``run_id`` gets a fresh UUID and a missing ``lake_snapshot`` the current snapshot, so a
    bulletin can later query exactly the data that was validated.
    """
    records: list[dict[str, Any]] = []
    snapshot: int | None = None
    for row in rows:
        record = {key: row.get(key) for key in VALIDATION_RUNS}
        unknown = set(row) - set(VALIDATION_RUNS)
        if unknown:
            raise WarehouseError(f"validation run has unknown fields: {sorted(unknown)}")
        record["run_id"] = record["run_id"] or uuid.uuid4().hex
        failed = record["failed_expectations"]
        if failed is not None and not isinstance(failed, str):
            record["failed_expectations"] = json.dumps(failed, ensure_ascii=False, default=str)
        if record["lake_snapshot"] is None:
            snapshot = current_snapshot(con) if snapshot is None else snapshot
            record["lake_snapshot"] = snapshot
        if record["outcome"] is None:
            record["outcome"] = "passed" if record["success"] else "failed"
        if record["outcome"] not in _OUTCOMES or (
            record["outcome"] == "passed" and not record["success"]
        ):
            raise WarehouseError(f"validation run outcome {record['outcome']!r} is not valid")
        for key in ("started_at", "finished_at"):
            value = record[key]
            if isinstance(value, dt.datetime):
                record[key] = _aware(value, key)
        records.append(record)
    if not records:
        return None
    frame, where = _validation_frame(records)
    return replace_partition(con, "validation_runs", frame, where)


def _validation_frame(records: list[dict[str, Any]]) -> tuple[pl.DataFrame, dict[str, Any]]:
    frame = pl.DataFrame(records, schema=VALIDATION_RUNS)
    ids = sorted(set(frame["run_id"].to_list()))
    if len(ids) != frame.height:
        raise WarehouseError("validation runs repeat a run_id within one batch")
    return frame, {"run_id": ids}


def compact(
    con: duckdb.DuckDBPyConnection, *, expire_older_than: dt.timedelta | None = None
) -> None:
    """Compact the lake: flush inlined rows to Parquet and merge small adjacent files.

    Hourly loads write many small files (or inline rows in the catalog); compaction keeps
    scans fast. Time travel is untouched unless ``expire_older_than`` is given: then
    snapshots older than that are expired and the files only they referenced are deleted,
    after which ``AT (VERSION => n)`` for those snapshots no longer works.
    """
    with load_lock(con):
        try:
            con.execute(f"CALL ducklake_flush_inlined_data('{LAKE}')")
            con.execute(f"CALL ducklake_merge_adjacent_files('{LAKE}')")
            if expire_older_than is not None:
                cutoff = dt.datetime.now(dt.UTC) - expire_older_than
                con.execute(f"CALL ducklake_expire_snapshots('{LAKE}', older_than => ?)", [cutoff])
            con.execute(f"CALL ducklake_cleanup_old_files('{LAKE}', cleanup_all => true)")
        except duckdb.Error as exc:
            raise warehouse_error("compaction failed", exc) from exc
