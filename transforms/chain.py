"""The processing chain: raw rows → clean readings → hourly means, by station group.

One chain for every caller: the hourly step (one hour, or a back-fill batch of consecutive
hours), :func:`transforms.batch.process_partitions` (a day of the network, what the
benchmark measures) and anything else that turns raw rows into readings.

QC sees each hour the way the hourly step sees it when the hour ends: the hour and the
``QC_CONTEXT`` before it, nothing after (the centred Hampel and flat-line checks look
both ways, so a later hour must not change an earlier one's flags). Every hour of a batch
is QC'd on its own window in one vectorised pass over one sort of the rows, only what a
window's cut changes being worked out per window (:mod:`transforms.qc_windows`); repeating
the context rows once per window (:func:`qc_hours_repeated`) gives the same flags.

Everything here is per station (QC along a station's series, the PM pair and maintenance
checks within a station, hourly means per station), so stations are processed a group at a
time, two groups at once in threads (:data:`WORKERS`): only those groups' working sets are in
memory next to the interval's compact raw columns, and the results are the same as for the
whole network in one piece (tested), in the same order (station, param, ts). The rows travel
as integer ranks and arrays from the read to the output (:mod:`transforms.series_rows`,
:func:`transforms.qc_windows.qc_sorted_windows`, :mod:`transforms.hourly_sorted`); text is
put back on the rows that come out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.aggregate import hourly_means
from transforms.hourly_sorted import hourly_means_sorted
from transforms.qc import QcConfig, apply_qc
from transforms.qc_windows import qc_hour_windows, qc_sorted_windows
from transforms.raw import deduplicate
from transforms.series_rows import sort_raw

__all__ = [
    "GROUP_SIZE",
    "QC_CONTEXT",
    "WORKERS",
    "CleanGroup",
    "clean_hours",
    "hour_ends",
    "hour_index",
    "ordered_map",
    "qc_hours",
    "qc_hours_repeated",
    "read_compact",
    "small_pages",
    "split_groups",
    "station_groups",
]

#: how far back QC looks from an hour's start (a full centred Hampel window and then some)
QC_CONTEXT = dt.timedelta(minutes=30)
#: stations per group: a group's QC working set (a day: 50 x 30 x 1,440 readings, half as many
#: again as context) stays near a gigabyte, next to the whole interval's compact raw rows
GROUP_SIZE = 50
#: station groups cleaned at a time (threads): the machine's cores, at most two (a third
#: group's working set costs memory and gains little on the array kernels)
WORKERS = max(1, min(2, os.cpu_count() or 1))
T = TypeVar("T")
R = TypeVar("R")
_HOUR = dt.timedelta(hours=1)
_HOUR_US = 3_600_000_000
_WINDOW = "_window"
_TEXT = ("station", "param", "flag", "source")


@dataclass(frozen=True)
class CleanGroup:
    """One station group's clean readings of the hours, and their hourly means."""

    readings: pl.DataFrame
    hourly: pl.DataFrame


def hour_index(first_start: dt.datetime) -> pl.Expr:
    """The 0-based hour ``(first_start + k h, first_start + (k + 1) h]`` a ``ts`` falls in."""
    return ((pl.col("ts") - first_start).dt.total_microseconds() - 1) // _HOUR_US


def hour_ends(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The ends of the whole hours in ``(start, end]`` (both on the hour, UTC)."""
    ends: list[dt.datetime] = []
    hour = start + _HOUR
    while hour <= end:
        ends.append(hour)
        hour += _HOUR
    return ends


def _check_ends(ends: Sequence[dt.datetime]) -> None:
    if not ends:
        raise ValueError("the chain needs at least one hour end")
    if any(b - a != _HOUR for a, b in itertools.pairwise(ends)):
        raise ValueError("the chain needs consecutive hour ends, in order")


def qc_hours(
    deduplicated: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    ends: Sequence[dt.datetime],
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame:
    """QC every hour on its own window ``(end - 1 h - QC_CONTEXT, end]``, in one pass.

    Returns the readings of the hours themselves (context rows only serve as context),
    sorted by station, param and ts. Rows outside the windows are left out. Every row is
    sorted and QC'd once, and what a window's cut changes is worked out per window
    (:func:`transforms.qc_windows.qc_hour_windows`); the frames that path does not cover take
    the repeated windows (:func:`qc_hours_repeated`), which give the same flags.
    """
    _check_ends(ends)
    frame = deduplicated.lazy().collect()
    clean = qc_hour_windows(
        frame,
        catalog,
        first_start=ends[0] - _HOUR,
        hours=len(ends),
        context=QC_CONTEXT,
        status=status,
        config=config,
    )
    if clean is not None:
        return clean
    return qc_hours_repeated(frame, catalog, ends, status=status, config=config)


def qc_hours_repeated(
    deduplicated: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    ends: Sequence[dt.datetime],
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame:
    """:func:`qc_hours` by repeating the context rows once per window that sees them.

    The window is then a series key of :func:`~transforms.qc.apply_qc` (1.5 times the rows,
    sorted with a third key): the straightforward form of the windows, which the one-sort
    path is tested against, and its fallback.
    """
    _check_ends(ends)
    first_start = ends[0] - _HOUR
    last = len(ends) - 1
    # the hour a reading belongs to (0-based; -1 for the context before the first hour);
    # context rows are the last QC_CONTEXT of an hour, seen again by the next hour's window
    frame = deduplicated.lazy().with_columns(hour_index(first_start).alias("_hour"))
    hour_start = first_start + pl.duration(hours=pl.col("_hour"))
    in_context = pl.col("ts") - hour_start > _HOUR - QC_CONTEXT
    hour = pl.col("_hour")
    own = frame.filter(hour.is_between(0, last)).with_columns(hour.alias(_WINDOW))
    context = frame.filter(in_context & hour.is_between(-1, last - 1)).with_columns(
        (hour + 1).alias(_WINDOW)
    )
    windows = pl.concat([own, context]).drop("_hour")
    # each window's own hour; window k's hour ends at ends[k] (sorted by station, param,
    # window, ts: within a series the windows' own hours follow each other in time)
    own_hour = hour_index(first_start) == pl.col(_WINDOW)
    clean = apply_qc(windows, catalog, status=status, config=config, window=_WINDOW, keep=own_hour)
    return clean.drop(_WINDOW)


def station_groups(stations: pl.Series, group_size: int) -> list[pl.Series]:
    """The distinct stations, sorted, cut into groups of ``group_size``."""
    distinct = stations.cast(pl.String).unique().drop_nulls().sort()
    size = max(1, group_size)
    return [distinct[i : i + size] for i in range(0, len(distinct), size)]


def read_compact(raw: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The raw rows the chain uses, read once, the text columns as categoricals.

    Station, parameter, flag and source have a few distinct values each: as categoricals of
    their own 16-bit mapping the rows take about a third of the memory while they wait for
    their group's turn (a default categorical is 32-bit, and a text id 16 bytes). A column
    with more distinct values than 16 bits hold takes the default categorical.
    """
    columns = [c for c in raw.collect_schema().names() if c != "seq"]
    text = [c for c in _TEXT if c in columns]
    lf = raw.lazy().select(columns)
    # the streaming engine casts each batch as it is read: the text never exists as one
    # whole column of 16-byte string views (in memory: 4.2 GB at the peak for a 42 M-row
    # day, streaming 1.9 GB, and faster)
    try:
        return lf.with_columns(
            pl.col(c).cast(pl.Categorical(pl.Categories.random(physical=pl.UInt16))) for c in text
        ).collect(engine="streaming")
    except pl.exceptions.PolarsError:  # over 65,536 distinct values in a column
        return lf.with_columns(pl.col(text).cast(pl.Categorical)).collect(engine="streaming")


def split_groups(frame: pl.DataFrame, group_size: int) -> Iterator[pl.DataFrame]:
    """``frame``'s rows ``group_size`` stations at a time, in station order, text as text.

    Rows of a null station are left out (they belong to no group).
    """
    text = [c for c in _TEXT if c in frame.columns]
    station = frame["station"]
    if not isinstance(station.dtype, pl.Categorical):
        yield from _split_text(frame, group_size)
        return
    # each row's group once, from the categorical codes (station rank // group size through a
    # lookup table): no cast of every row's station to text
    distinct = station.unique().drop_nulls()
    if len(distinct) <= max(1, group_size):
        yield frame.with_columns(_as_text(frame[c]) for c in text)
        return
    names = distinct.cast(pl.String)
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[names.arg_sort().to_numpy()] = np.arange(len(distinct))
    size = max(1, group_size)
    n_groups = -(-len(distinct) // size)
    codes = distinct.to_physical().to_numpy().astype(np.int64)
    lookup = np.full(int(codes.max(initial=0)) + 2, n_groups, dtype=np.int64)  # last: null
    lookup[codes] = rank // size
    row_codes = station.to_physical().fill_null(len(lookup) - 1).to_numpy()
    group_of = pl.Series(lookup[row_codes])
    for i in range(n_groups):
        rows = frame.filter(group_of == i)
        yield rows.with_columns(_as_text(rows[c]) for c in text)


def _as_text(column: pl.Series) -> pl.Series:
    """A categorical column as String: its few distinct values gathered by code (a third of
    a cast's cost for short ids); other columns cast."""
    if not isinstance(column.dtype, pl.Categorical):
        return column.cast(pl.String)
    distinct = column.unique()
    codes = distinct.to_physical().to_numpy(allow_copy=True).copy()
    if distinct.null_count():
        return column.cast(pl.String)
    lookup = np.zeros(int(codes.max(initial=0)) + 1, dtype=np.int64)
    lookup[codes] = np.arange(len(distinct))
    index = lookup[column.to_physical().to_numpy()]
    return distinct.cast(pl.String).gather(index).alias(column.name)


def _split_text(frame: pl.DataFrame, group_size: int) -> Iterator[pl.DataFrame]:
    """:func:`split_groups` for a frame whose stations are text."""
    groups = station_groups(frame["station"], group_size)
    text = [c for c in _TEXT if c in frame.columns]
    if len(groups) <= 1:
        yield frame.with_columns(pl.col(text).cast(pl.String))
        return
    ranks = pl.Enum(pl.concat(groups))
    group_of = frame.select(
        pl.col("station").cast(ranks).to_physical() // max(1, group_size)
    ).to_series()
    for i in range(len(groups)):
        yield frame.filter(group_of == i).with_columns(pl.col(text).cast(pl.String))


def clean_hours(
    raw: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    ends: Sequence[dt.datetime],
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    group_size: int = GROUP_SIZE,
    config: QcConfig | None = None,
    workers: int = WORKERS,
) -> Iterator[CleanGroup]:
    """Raw rows of ``(first start - QC_CONTEXT, last end]`` → readings and hourly means.

    De-duplication, windowed QC (:func:`qc_hours`) and hourly means, ``group_size`` stations
    at a time, in station order (concatenated, the groups' frames are the whole network's,
    row for row). The raw rows are read once (:func:`read_compact`) and cut into station
    groups by one radix pass (:func:`transforms.series_rows.sort_raw`); each group is sorted
    on its packed integer key and de-duplicated on that sort in the thread that cleans it
    (:meth:`~transforms.series_rows.SortedRaw.rows`). ``workers`` groups are cleaned at a time
    (the array work releases the GIL); results come back in station order, at most
    ``workers`` ahead of the caller. Smaller groups: less memory, a little more overhead.
    Frames the sorted arrays cannot hold take the frame path (:func:`split_groups`, then
    :func:`transforms.raw.deduplicate` and :func:`qc_hours` per group), with the same result.
    """
    _check_ends(ends)
    with small_pages():
        yield from _clean_hours(raw, catalog, ends, status, group_size, config, workers)


def _clean_hours(
    raw: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    ends: Sequence[dt.datetime],
    status: pl.LazyFrame | pl.DataFrame | None,
    group_size: int,
    config: QcConfig | None,
    workers: int,
) -> Iterator[CleanGroup]:
    frame = read_compact(raw)
    st = status.lazy().collect() if status is not None else None
    rows = sort_raw(frame, group_size, consume=True, workers=workers)
    if rows is None:
        for part in split_groups(frame, group_size):
            readings = qc_hours(deduplicate(part.lazy()), catalog, ends, status=st, config=config)
            del part
            yield CleanGroup(readings=readings, hourly=hourly_means(readings, catalog))
        return
    del frame

    def clean(index: int) -> CleanGroup:
        assert rows is not None
        group = rows.rows(index)
        readings = qc_sorted_windows(
            group,
            catalog,
            first_start=ends[0] - _HOUR,
            hours=len(ends),
            context=QC_CONTEXT,
            status=st,
            config=config,
        )
        if readings is None:
            readings = qc_hours_repeated(group.to_frame(), catalog, ends, status=st, config=config)
            return CleanGroup(readings=readings, hourly=hourly_means(readings, catalog))
        hourly = hourly_means_sorted(
            group, readings, catalog, first_start=ends[0] - _HOUR, hours=len(ends)
        )
        return CleanGroup(readings=readings, hourly=hourly)

    yield from ordered_map(clean, range(rows.groups), workers)


@contextlib.contextmanager
def small_pages() -> Iterator[None]:
    """numpy's arrays on ordinary pages while the chain runs.

    numpy asks for transparent huge pages (``madvise``) on every array over 4 MB, and where
    the kernel's THP defrag setting is ``madvise`` (as on these machines) a fault on such an
    array may compact memory synchronously. The chain allocates and frees a few hundred
    group-sized arrays: with other work running on the machine it spent 11.5 of 27.6 CPU s
    in the kernel with huge pages and 6.2 of 23.1 without (a 42 M-row day, 28.5 s against
    18.7 s); on an idle machine the two are within noise (huge pages ~0.5 s ahead). The
    previous setting is restored afterwards.
    """
    multiarray = importlib.import_module("numpy._core.multiarray")  # numpy >= 2
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is None:  # pragma: no cover - another numpy
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, in order, at most ``workers`` results ahead.

    Items are taken from ``items`` only as results are consumed, so a generator of large
    parts is not drained ahead; leaving the loop early cancels what has not started.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chain") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
