"""What the hourly and daily steps share: the lake connection and validation bookkeeping."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from aircarbon.catalog import Catalog
from aircarbon.settings import Settings
from transforms.raw import RawLocation

if TYPE_CHECKING:
    import duckdb

    from expectations.runner import ValidationOutcome

__all__ = ["Validator", "lake", "raw_location", "utc_hour", "writing"]


def raw_location(settings: Settings) -> RawLocation:
    """Where the hourly and daily steps read the collectors' stores from.

    ``raw_source_url`` (``s3://…``, what ``aircarbon raw sync`` ships to) with the lake's S3
    settings as Polars storage options; unset, the local ``data_dir`` as before.
    """
    url = settings.raw_source_url
    if not url:
        return RawLocation(settings.data_dir)
    from warehouse.lake import storage_options

    return RawLocation(url.rstrip("/"), storage_options(settings))


def utc_hour(value: dt.datetime) -> dt.datetime:
    """An aware datetime on the hour, in UTC (naive input is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    aware = aware.astimezone(dt.UTC)
    if (aware.minute, aware.second, aware.microsecond) != (0, 0, 0):
        raise ValueError(f"an hour end must be on the hour, got {value.isoformat()}")
    return aware


@contextlib.contextmanager
def writing(settings: Settings, what: str, *, lock_wait_s: float = 0.0) -> Iterator[None]:
    """Hold the data directory's writer lock for a step (re-entrant: a demo's steps nest).

    Interactive callers keep ``lock_wait_s=0`` and fail at once naming the holder; scheduled
    tasks pass a wait, so a backfill in progress delays them instead of failing them.
    """
    from aircarbon.writer_lock import writer_lock

    with writer_lock(settings.data_dir, command=what, wait_s=lock_wait_s):
        yield


@contextlib.contextmanager
def lake(
    settings: Settings, catalog: Catalog, *, lock_wait_s: float = 0.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection to the migrated lake with the dimension tables current.

    Holds the writer lock while open (see :func:`writing`), so whatever runs inside — the
    migrations first — has the data directory to itself.
    """
    from warehouse.lake import connect
    from warehouse.load import load_dimensions
    from warehouse.migrate import migrate

    with writing(settings, "lake writer", lock_wait_s=lock_wait_s):
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
