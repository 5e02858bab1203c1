"""Reading the collector's stores (docs/contract.md §3.2-§3.4) for an interval, and
de-duplicating them.

The collector gives at-least-once delivery: a message re-delivered after a crash lands
twice. Identity is ``(station, param, ts)``: the same value again is a duplicate (stored
once), a different value is a revision (the latest received wins, and is counted).

A local file that is not readable Parquet (truncated by a failing disk, copied in by hand)
is skipped with a warning naming it, rather than failing a whole hour or day: the rest of the
partition is still read, and the warning tells the operator which file to look at.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from aircarbon.core.contracts import RAW
from aircarbon.core.parquet_check import parquet_intact

__all__ = [
    "RawLocation",
    "deduplicate",
    "raw_files",
    "read_dead_letters",
    "readable",
    "scan_raw",
    "scan_status",
]

_HOUR = dt.timedelta(hours=1)

log = logging.getLogger("aircarbon.raw")

_STATUS = pl.Schema(
    {
        "station": pl.String(),
        "state": pl.String(),
        "ts": pl.Datetime("us", "UTC"),
        "received_at": pl.Datetime("us", "UTC"),
    }
)


@dataclass(frozen=True)
class RawLocation:
    """Where the collector's stores (``raw/``, ``status/``, ``dead_letter/``) are read from.

    ``root`` is a local data directory, or an object-store URL (``s3://bucket/prefix``, what
    ``aircarbon raw sync`` ships to) read with Polars' cloud reader and ``storage_options``
    (``aws_endpoint_url``, ``aws_allow_http``, ``aws_region``, keys…). Built by the pipeline
    layer from settings (``aircarbon.pipeline.common.raw_location``); a bare ``Path`` is
    accepted wherever a location is, as the local one.
    """

    root: Path | str
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)  # keys

    @property
    def remote(self) -> bool:
        return isinstance(self.root, str) and "://" in self.root

    def url(self, *parts: str) -> str:
        """``<root>/<parts…>`` as a URL (remote locations only)."""
        return "/".join([str(self.root).rstrip("/"), *parts])


def _local(location: Path | RawLocation) -> Path | None:
    """The local data directory of ``location``, or None when it is remote."""
    if isinstance(location, RawLocation):
        return None if location.remote else Path(location.root)
    return Path(location)


def _hours(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The UTC hour partitions that may hold readings with ``start < ts <= end``."""
    hours: list[dt.datetime] = []
    hour = start.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        hours.append(hour)
        hour += _HOUR
    return hours


def readable(files: list[Path]) -> list[Path]:
    """``files`` without those that are not Parquet, each skipped one reported as a warning."""
    kept = []
    for path in files:
        if parquet_intact(path):
            kept.append(path)
        else:
            log.warning("skipping %s: not a readable Parquet file", path)
    return kept


def raw_files(data_dir: Path, start: dt.datetime, end: dt.datetime) -> list[Path]:
    """Parquet files of the raw partitions that may hold readings with start < ts <= end.

    Partitions are by the UTC hour of ``ts`` (floor), so a reading ending exactly at
    ``end`` sits in ``end``'s own partition: it is included.
    """
    files: list[Path] = []
    for hour in _hours(start, end):
        part = data_dir / "raw" / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        if part.is_dir():
            files.extend(sorted(part.glob("*.parquet")))
    return readable(files)


def scan_raw(location: Path | RawLocation, start: dt.datetime, end: dt.datetime) -> pl.LazyFrame:
    """Raw readings with ``start < ts <= end`` (UTC), every delivery included.

    ``ts`` is the END of a reading's period, so the hour ending H is ``(H - 1 h, H]``.
    On an object store, only the same hour partitions are listed (one glob each,
    ``<root>/raw/date=…/hour=…/*.parquet``; an absent partition lists nothing).
    """
    data_dir = _local(location)
    if data_dir is None:
        assert isinstance(location, RawLocation)
        globs = [
            location.url("raw", f"date={h:%Y-%m-%d}", f"hour={h:%H}", "*.parquet")
            for h in _hours(start, end)
        ]
        if not globs:
            return pl.LazyFrame(schema=RAW)
        frame = pl.scan_parquet(
            globs,
            schema=RAW,
            hive_partitioning=False,
            storage_options=dict(location.storage_options),
        )
        return frame.filter((pl.col("ts") > start) & (pl.col("ts") <= end))
    files = raw_files(data_dir, start, end)
    if not files:
        return pl.LazyFrame(schema=RAW)
    frame = pl.scan_parquet(files, schema=RAW, hive_partitioning=False)
    return frame.filter((pl.col("ts") > start) & (pl.col("ts") <= end))


def scan_status(location: Path | RawLocation) -> pl.LazyFrame:
    """Every station status event the collector landed (small: one row per change)."""
    data_dir = _local(location)
    if data_dir is None:
        assert isinstance(location, RawLocation)
        return pl.scan_parquet(
            location.url("status", "date=*", "*.parquet"),
            schema=_STATUS,
            hive_partitioning=False,
            storage_options=dict(location.storage_options),
        )
    files = readable(sorted((data_dir / "status").glob("date=*/*.parquet")))
    if not files:
        return pl.LazyFrame(schema=_STATUS)
    return pl.scan_parquet(files, schema=_STATUS, hive_partitioning=False)


def read_dead_letters(location: Path | RawLocation, date: dt.date) -> pl.DataFrame | None:
    """The dead letters received on the UTC day ``date`` (``dead_letter/date=D/*.parquet``).

    None when the day has no partition (retention pruned it, or nothing was ever shipped:
    an object store has no empty folders, so a day without files is None there too).
    """
    data_dir = _local(location)
    if data_dir is None:
        assert isinstance(location, RawLocation)
        frame = pl.scan_parquet(
            location.url("dead_letter", f"date={date:%Y-%m-%d}", "*.parquet"),
            hive_partitioning=False,
            storage_options=dict(location.storage_options),
            missing_columns="insert",
            extra_columns="ignore",
        )
        try:
            found = frame.collect()
        except pl.exceptions.ComputeError as exc:
            if "expanded paths were empty" in str(exc):  # the glob matched nothing
                return None
            raise  # an unreadable file: never a silent "no dead letters"
        return None if found.is_empty() else found
    folder = data_dir / "dead_letter" / f"date={date:%Y-%m-%d}"
    if not folder.is_dir():
        return None
    files = readable(sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")))
    frames = []
    for path in files:
        try:
            frames.append(pl.read_parquet(path, hive_partitioning=False))
        except (pl.exceptions.PolarsError, OSError) as exc:
            log.warning("skipping %s: not a readable Parquet file (%s)", path, exc)
    if frames:
        # files from before payloads were stored once per message have no message_id (null
        # here); rows of newer ones reference their message's payload by it (the lake keeps it)
        found = pl.concat(frames, how="diagonal_relaxed")
        if "message_id" not in found.columns:
            found = found.with_columns(message_id=pl.lit(None, pl.String()))
        return found
    return pl.DataFrame(schema={"received_at": pl.Datetime("us", "UTC")})


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
