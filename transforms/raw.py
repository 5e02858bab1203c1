"""Reading the collector's stores (SPEC §3) for an interval, and de-duplicating them.

The collector gives at-least-once delivery: a message re-delivered after a crash lands
twice. Identity is ``(station, param, ts)``: the same value again is a duplicate (stored
once), a different value is a revision (the latest received wins, and is counted).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from transforms.schemas import RAW

__all__ = ["deduplicate", "raw_files", "scan_raw", "scan_status"]

_HOUR = dt.timedelta(hours=1)


def raw_files(data_dir: Path, start: dt.datetime, end: dt.datetime) -> list[Path]:
    """Parquet files of the raw partitions that may hold readings with start < ts <= end.

    Partitions are by the UTC hour of ``ts`` (floor), so a reading ending exactly at
    ``end`` sits in ``end``'s own partition: it is included.
    """
    files: list[Path] = []
    hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        part = data_dir / "raw" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        if part.is_dir():
            files.extend(sorted(part.glob("*.parquet")))
        hour += _HOUR
    return files


def scan_raw(data_dir: Path, start: dt.datetime, end: dt.datetime) -> pl.LazyFrame:
    """Raw readings with ``start < ts <= end`` (UTC), every delivery included.

    ``ts`` is the END of a reading's period, so the hour ending H is ``(H - 1 h, H]``.
    """
    files = raw_files(data_dir, start, end)
    if not files:
        return pl.LazyFrame(schema=RAW)
    frame = pl.scan_parquet(files, schema=RAW, hive_partitioning=False)
    return frame.filter((pl.col("ts") > start) & (pl.col("ts") <= end))


def scan_status(data_dir: Path) -> pl.LazyFrame:
    """Every station status event the collector landed (small: one row per change)."""
    files = sorted((data_dir / "status").glob("date=*/*.parquet"))
    schema = pl.Schema(
        {
            "station": pl.String(),
            "state": pl.String(),
            "ts": pl.Datetime("us", "UTC"),
            "received_at": pl.Datetime("us", "UTC"),
        }
    )
    if not files:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(files, schema=schema, hive_partitioning=False)


def deduplicate(raw: pl.LazyFrame) -> pl.LazyFrame:
    """One row per reading identity: the latest received value, with its revision count.

    Re-deliveries are rare, so the identities are first screened with a 64-bit hash of
    ``(station, param, ts)``: rows whose hash occurs once are unique and pass through with
    ``revisions = 0``; only the others (true duplicates, and any hash collision, which the
    exact grouping then separates again) are sorted and grouped. Row order is not defined.
    """
    keys = ["station", "param", "ts"]
    columns = ["value", "flag", "period_s", "source", "received_at"]
    screened = raw.select(*keys, *columns).with_columns(
        pl.struct(keys).hash().is_duplicated().alias("_dup")
    )
    single = screened.filter(~pl.col("_dup")).select(
        *keys, *columns, pl.lit(0, dtype=pl.UInt32).alias("revisions")
    )
    repeated = (
        screened.filter(pl.col("_dup"))
        .sort("received_at")
        .group_by(keys)
        .agg(
            *(pl.col(c).last() for c in columns),
            (pl.col("value").n_unique() - 1).cast(pl.UInt32).alias("revisions"),
        )
    )
    return pl.concat([single, repeated], how="vertical")
