"""What the hourly and daily steps share: the lake connection, the writer lock, validation
bookkeeping and the guards against silent data loss.

The guards, because a step replaces its interval's partitions: a reload whose raw input has
gone missing would otherwise empty published data without a word (12,949 readings → 216),
an interval that has not ended would be published half-empty, and an interval without any
input would be recorded as validated. So: an interval must have ended
(:func:`refuse_future`); a reload may not leave a partition with fewer rows than it holds
unless the operator says so (:func:`refuse_shrink`, ``--allow-shrink``); an interval with no
input touches no data and is recorded as ``no_data`` with validations ``skipped``
(:func:`skipped_validations`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import IntervalRefused, ShrinkRefused
from aircarbon.core.settings import Settings
from transforms.raw import RawLocation

if TYPE_CHECKING:
    import duckdb

    from expectations.runner import ValidationOutcome

__all__ = [
    "NO_DATA",
    "Validator",
    "lake",
    "raw_location",
    "refuse_future",
    "refuse_shrink",
    "skipped_validations",
    "utc_hour",
    "writing",
]

#: The outcome of an interval that had no input (``HourResult``/``DayResult.outcome``).
NO_DATA = "no_data"


def raw_location(settings: Settings) -> RawLocation:
    """Where the hourly and daily steps read the collectors' stores from.

    ``raw_source_url`` (``s3://…``, what ``aircarbon raw sync`` ships to) with the lake's S3
    settings as Polars storage options; unset, the local ``data_dir`` as before.
    """
    url = settings.raw_source_url
    if not url:
        return RawLocation(settings.data_dir)
    from aircarbon.core.duck import storage_options

    return RawLocation(url.rstrip("/"), storage_options(settings))


def utc_hour(value: dt.datetime) -> dt.datetime:
    """An aware datetime on the hour, in UTC (naive input is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    aware = aware.astimezone(dt.UTC)
    if (aware.minute, aware.second, aware.microsecond) != (0, 0, 0):
        raise ValueError(f"an hour end must be on the hour, got {value.isoformat()}")
    return aware


def refuse_future(end: dt.datetime, what: str, *, now: dt.datetime | None = None) -> None:
    """Refuse an interval that has not ended: its data cannot all be in yet."""
    current = now or dt.datetime.now(dt.UTC)
    if end > current:
        raise IntervalRefused(
            f"refused: {what} has not ended yet (it ends {end.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}, "
            f"now {current.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ})"
        )


def refuse_shrink(
    interval: str, table: str, rows_now: int, rows_after: int, *, allow: bool
) -> None:
    """Refuse a reload that leaves ``table``'s partition with fewer rows (unless ``allow``)."""
    if rows_after < rows_now and not allow:
        raise ShrinkRefused(interval, rows_now, rows_after, table=table)


def skipped_validations(suites: Sequence[str], batch: str) -> list[dict[str, object]]:
    """``validation_runs`` rows saying the suites were not run: the batch had no input."""
    now = dt.datetime.now(dt.UTC)
    return [
        {
            "run_id": uuid.uuid4().hex,
            "suite": suite,
            "batch": batch,
            "started_at": now,
            "finished_at": now,
            "success": False,
            "severity_max": None,
            "evaluated": 0,
            "successful": 0,
            "unsuccessful": 0,
            "failed_expectations": "[]",
            "docs_path": None,
            "lake_snapshot": None,
            "outcome": "skipped",
        }
        for suite in suites
    ]


def held_rows(counts: Mapping[str, Sequence[int]]) -> list[tuple[str, int, int]]:
    """``(table, index, rows)`` of every interval that holds rows now."""
    return [(t, i, n) for t, ns in counts.items() for i, n in enumerate(ns) if n]


@contextlib.contextmanager
def writing(settings: Settings, what: str, *, lock_wait_s: float = 0.0) -> Iterator[None]:
    """Hold the data directory's writer lock for a step (re-entrant: a demo's steps nest).

    Interactive callers keep ``lock_wait_s=0`` and fail at once naming the holder; scheduled
    tasks pass a wait, so a backfill in progress delays them instead of failing them.
    """
    from aircarbon.core.writer_lock import writer_lock

    with writer_lock(settings.data_dir, command=what, wait_s=lock_wait_s):
        yield


@contextlib.contextmanager
def lake(
    settings: Settings, catalog: Catalog, *, lock_wait_s: float = 0.0, what: str = "lake writer"
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection to the migrated lake with the dimension tables current.

    Holds the writer lock while open (see :func:`writing`), so whatever runs inside — the
    migrations first — has the data directory to itself.
    """
    from warehouse.lake import connect
    from warehouse.load import load_dimensions
    from warehouse.migrate import migrate

    with writing(settings, what, lock_wait_s=lock_wait_s):
        con = connect(settings)
        try:
            migrate(con)
            load_dimensions(con, catalog)
            yield con
        finally:
            con.close()


@dataclass
class Validator:
    """Runs suites for one batch and keeps their outcomes until they are recorded."""

    catalog: Catalog
    data_dir: Path
    enabled: bool = True
    build_docs: bool = True
    outcomes: list[ValidationOutcome] = field(default_factory=list)

    def check(
        self,
        frame: pl.DataFrame,
        suite: str,
        batch: str,
        interval: tuple[dt.datetime, dt.datetime] | None,
    ) -> ValidationOutcome | None:
        if not self.enabled:
            return None
        from expectations.runner import validate

        outcome = validate(
            frame,
            suite,
            batch_id=batch,
            interval=interval,
            catalog=self.catalog,
            data_dir=self.data_dir,
            build_docs=self.build_docs,
        )
        self.outcomes.append(outcome)
        return outcome

    def record(self, con: duckdb.DuckDBPyConnection, snapshot: int | None) -> None:
        """Land the outcomes in ``validation_runs`` (also when a critical one failed)."""
        if not self.outcomes:
            return
        from warehouse.load import load_validation_runs

        rows = []
        for outcome in self.outcomes:
            row = dict(outcome.to_row())
            row["lake_snapshot"] = snapshot
            rows.append(row)
        load_validation_runs(con, rows)

    def raise_on_critical(self) -> None:
        from expectations.runner import raise_on_critical

        for outcome in self.outcomes:
            raise_on_critical(outcome)
