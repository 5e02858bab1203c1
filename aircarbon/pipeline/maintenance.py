"""Lake upkeep: compaction on a schedule, so analysts' scans stay fast as hours pile up.

Every hourly load commits a few small Parquet files (or inlines its rows in the catalog); a
year of hours is ~9,000 commits per table. Queries then open thousands of files, and the
sorted month partitions of ``hourly`` (migration 0012) only pay off once a month's files are
merged. The daily DAG's ``compact`` task and ``aircarbon compact`` call :func:`compact_lake`.

Compaction never changes what a query returns (tested); by default it keeps every snapshot,
so time travel (``AT (VERSION => n)``) keeps working. Expiring snapshots is an explicit choice
(``--expire-days``): only then are files that no current snapshot needs deleted.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from aircarbon.core.catalog import Catalog
    from aircarbon.core.settings import Settings

__all__ = ["CompactResult", "compact_lake", "live_data_files"]


@dataclass(frozen=True)
class CompactResult:
    """What one compaction did: live data files before and after, and how long it took."""

    files_before: int
    files_after: int
    seconds: float
    expired_before: dt.datetime | None

    def summary(self) -> dict[str, Any]:
        return {
            "files_before": self.files_before,
            "files_after": self.files_after,
            "seconds": round(self.seconds, 2),
            "expired_before": self.expired_before.isoformat() if self.expired_before else None,
        }


def live_data_files(con: duckdb.DuckDBPyConnection) -> int:
    """Data files the current snapshot reads (DuckLake's own metadata: same on S3 and disk)."""
    from warehouse.lake import LAKE

    row = con.execute(
        f"SELECT count(*) FROM __ducklake_metadata_{LAKE}.ducklake_data_file "
        "WHERE end_snapshot IS NULL"
    ).fetchone()
    return int(row[0]) if row else 0


def compact_lake(
    settings: Settings,
    catalog: Catalog,
    *,
    expire_older_than: dt.timedelta | None = None,
    lock_wait_s: float = 0.0,
) -> CompactResult:
    """Flush inlined rows, merge small adjacent files, optionally expire old snapshots.

    Holds the data directory's writer lock for the whole run (a load waits, an analyst's
    read-only session does not).
    """
    from aircarbon.pipeline.common import lake
    from warehouse.lake import connect
    from warehouse.load import compact

    # a lake that does not exist is an error (a mistyped --data-dir), not one to create
    connect(settings, read_only=True).close()
    started = time.perf_counter()
    with lake(settings, catalog, lock_wait_s=lock_wait_s, what="compact") as con:
        before = live_data_files(con)
        compact(con, expire_older_than=expire_older_than)
        after = live_data_files(con)
    cutoff = None if expire_older_than is None else dt.datetime.now(dt.UTC) - expire_older_than
    return CompactResult(before, after, time.perf_counter() - started, cutoff)
