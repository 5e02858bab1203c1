"""Raw rows cut by station group, each group sorted once by series and time and
de-duplicated on that sort, held as arrays.

The chain (:mod:`transforms.chain`) used to cut the raw rows into station groups by
filtering the whole frame once per group, de-duplicate each group by hashing its text keys,
and sort each group again for QC. Here:

* each row's group number (its station's rank // the group size) is sorted by a radix sort
  of small integers, one cheap pass over the interval (:func:`sort_raw`);
* a group's rows are then sorted on one integer packed from the station's and the
  parameter's rank among the distinct values and the time (:meth:`SortedRaw.rows`, in
  whichever thread cleans the group: a 16-bit radix sort by series, the full key only where
  a re-delivery breaks time order);
* a re-delivered reading then sits next to its other deliveries, so de-duplication compares
  neighbouring keys (the latest ``received_at`` wins, the later input row on a tie;
  ``revisions`` counts the other values, as :func:`transforms.raw.deduplicate` does);
* QC (:func:`transforms.qc_windows.qc_sorted_windows`) and hourly means
  (:mod:`transforms.hourly_sorted`) find their series already in order.

The whole-interval arrays are the unsorted columns and the group order; a group's rows are
gathered from them on its turn, so no sorted copy of the interval exists at once. Memory a
process touches for the first time is expensive on these machines (a page fault and a page
clear: about 1 s of system time per GB), so fewer and smaller whole-interval arrays are
faster as well as lighter.

Station, parameter, flag and source travel as ranks into their sorted distinct values; the
text is put back only on the rows that come out (:meth:`SeriesRows.to_frame`). Frames this
cannot hold (a null key, time, ``received_at`` or ``period_s``, a value that is not finite,
a time in another unit, keys too wide to pack into 64 bits) give None: the caller takes the
frame path.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import polars as pl

from aircarbon.core.contracts import READINGS, UTC_US

__all__ = ["SeriesRows", "SortedRaw", "sort_raw", "sort_rows"]

Array = np.ndarray[Any, Any]
#: beyond this many distinct categorical codes in the process, ranks come from an Enum cast
#: instead of a lookup table indexed by code
_MAX_LOOKUP = 50_000_000


@dataclass(frozen=True)
class SeriesRows:
    """Readings sorted by station, parameter and time, one row per reading identity.

    The text columns are ranks into sorted names (``stations``, ``params``, ``flags``,
    ``sources``; a null flag or source is the rank one past the last name, whose name is
    null). ``new`` marks the first row of each (station, parameter) series.
    """

    station: Array  # int64 rank into stations
    param: Array  # int64 rank into params
    ts: Array  # int64, µs since the epoch (UTC)
    value: Array  # float64, NaN = null
    flag: Array  # int32 rank into flags
    period_s: Array  # int32
    source: Array  # int32 rank into sources
    received_at: Array  # int64, µs since the epoch (UTC)
    revisions: Array  # uint32
    new: Array  # bool
    stations: pl.Series
    params: pl.Series
    flags: pl.Series
    sources: pl.Series

    @property
    def height(self) -> int:
        return int(self.ts.size)

    def take(self, mask: Array) -> SeriesRows:
        """The rows where ``mask`` holds, series starts worked out again."""
        station, param = self.station[mask], self.param[mask]
        return SeriesRows(
            station=station,
            param=param,
            ts=self.ts[mask],
            value=self.value[mask],
            flag=self.flag[mask],
            period_s=self.period_s[mask],
            source=self.source[mask],
            received_at=self.received_at[mask],
            revisions=self.revisions[mask],
            new=_series_starts(station, param),
            stations=self.stations,
            params=self.params,
            flags=self.flags,
            sources=self.sources,
        )

    def to_frame(self, mask: Array | None = None) -> pl.DataFrame:
        """The rows (where ``mask`` holds) as the first nine ``readings`` columns, text back."""

        def pick(values: Array) -> Array:
            return values if mask is None else values[mask]

        return pl.DataFrame(
            [
                self.stations.gather(pick(self.station)).alias("station"),
                self.params.gather(pick(self.param)).alias("param"),
                pl.Series("ts", pick(self.ts)).cast(UTC_US),
                pl.Series("value", pick(self.value), nan_to_null=True),
                self.flags.gather(pick(self.flag)).alias("flag"),
                pl.Series("period_s", pick(self.period_s), dtype=pl.Int32),
                self.sources.gather(pick(self.source)).alias("source"),
                pl.Series("received_at", pick(self.received_at)).cast(UTC_US),
                pl.Series("revisions", pick(self.revisions), dtype=pl.UInt32),
            ]
        ).select(READINGS.names()[:9])


def _series_starts(station: Array, param: Array) -> Array:
    new = np.ones(station.size, dtype=bool)
    if station.size > 1:
        new[1:] = (station[1:] != station[:-1]) | (param[1:] != param[:-1])
    return new


@dataclass(frozen=True)
class _Coded:
    """A text column as categorical codes, and each code's rank among the sorted values."""

    codes: Array  # per row: the categorical code (16 or 32 bits); nulls: the last lookup slot
    lookup: Array  # code -> rank (int32); the last slot is a null's
    names: pl.Series  # by rank; a trailing null when the column has nulls

    def ranks(self, codes: Array) -> Array:
        out: Array = np.take(self.lookup, codes)
        return out


def _coded(column: pl.Series) -> _Coded:
    """``column``'s categorical codes, their ranks and the sorted distinct values.

    Categorical codes go through a lookup table (no text compared per row); text is made
    categorical first. A column with categories of its own (:func:`transforms.chain.
    read_compact` gives each text column a fresh 16-bit mapping) names its codes directly
    and a count of the codes says which occur: no hash of the column's rows.
    """
    if not isinstance(column.dtype, pl.Categorical):
        column = column.cast(pl.String).cast(pl.Categorical)
    categories = cast(pl.Categorical, column.dtype).categories
    physical = column.to_physical()
    if not categories.is_global() and len(column):
        array = _numpy(physical.fill_null(0), physical.dtype)
        counts = np.bincount(array, minlength=1)
        counts[0] -= physical.null_count()  # the nulls were counted as code 0
        present = np.flatnonzero(counts)
        by_code = categories.to_series().cast(pl.String)
        text = by_code.gather(present)
        codes = present
    else:
        distinct = column.unique().drop_nulls()
        text = distinct.cast(pl.String)
        codes = distinct.to_physical().to_numpy()
        array = None
    order = text.arg_sort().to_numpy()
    names = text.gather(order)
    codes = codes[order]
    top = int(codes.max(initial=0))
    if top > max(_MAX_LOOKUP, 4 * len(column)):  # pragma: no cover - tens of millions of codes
        physical = column.cast(pl.String).cast(pl.Enum(names)).to_physical()
        codes, top, array = np.arange(len(names)), len(names) - 1, None
    lookup = np.full(top + 2, len(names), dtype=np.int32)
    lookup[codes] = np.arange(len(names), dtype=np.int32)
    if physical.null_count():
        physical = physical.fill_null(top + 1)
        names = names.append(pl.Series([None], dtype=pl.String))
        array = None
    if array is None:
        array = _numpy(physical, physical.dtype)
    return _Coded(array, lookup, names.alias(column.name))


@dataclass(frozen=True)
class SortedRaw:
    """An interval's unsorted columns, cut by station group, each group sorted on its turn.

    ``order`` lists the rows group by group (a stable radix sort of the rows' group numbers:
    one cheap pass over the interval); ``bounds[g]:bounds[g + 1]`` are group ``g``'s. Sorting
    a group by its packed key ``(station rank * len(params) + param rank) * span + (ts -
    t_min)`` and de-duplicating it happen in :meth:`rows`, in whichever thread cleans the
    group, so the costly part of the sort runs on every core and no whole-interval key or
    sorted copy is ever built.
    """

    order: Array  # row indexes of the columns, group by group
    bounds: Array  # int64, n_groups + 1
    span: int
    t_min: int
    station: _Coded
    param: _Coded
    ts: Array  # int64 µs
    value: Array
    period_s: Array
    received_at: Array
    revisions: Array | None  # a readings frame's own column, else zeros
    flag: _Coded
    source: _Coded

    @property
    def height(self) -> int:
        return int(self.order.size)

    @property
    def groups(self) -> int:
        return int(self.bounds.size) - 1

    def rows(self, group: int) -> SeriesRows:
        """Group ``group``'s rows sorted by key, gathered from the columns, one per reading."""
        at = self.order[self.bounds[group] : self.bounds[group + 1]]
        n_params = np.uint64(len(self.param.names))
        station = self.station.ranks(np.take(self.station.codes, at))
        series = station.astype(np.uint64) * n_params
        series += self.param.ranks(np.take(self.param.codes, at)).astype(np.uint64)
        key = series * np.uint64(self.span)
        key += (np.take(self.ts, at) - self.t_min).view(np.uint64)
        # rows arrive in time order, mostly: a stable radix sort of the series number within
        # the group (16 bits) then leaves each series in time order, and the full key is
        # sorted only where it is not (a re-delivery), on nearly sorted keys
        first = np.uint64(station.min(initial=0)) * n_params if station.size else np.uint64(0)
        local = series - first
        del series, station
        if local.size and int(local.max()) < 1 << 16:
            by_series = np.argsort(local.astype(np.uint16), kind="stable")
            key, at = key[by_series], at[by_series]
            if np.any(key[1:] < key[:-1]):
                by_key = np.argsort(key, kind="stable")
                key, at = key[by_key], at[by_key]
        else:
            by_key = np.argsort(key, kind="stable")
            key, at = key[by_key], at[by_key]
        value, received_at = np.take(self.value, at), np.take(self.received_at, at)
        if self.revisions is None:
            revisions = np.zeros(key.size, dtype=np.uint32)
        else:
            revisions = np.take(self.revisions, at)
        lost, winners, revised_to = _deliveries(key, at, value, received_at)
        if lost.size:
            revisions[winners] = revised_to
            keep = np.ones(key.size, dtype=bool)
            keep[lost] = False
            key, at, value, received_at = key[keep], at[keep], value[keep], received_at[keep]
            revisions = revisions[keep]
        series = key // np.uint64(self.span)
        new = np.ones(key.size, dtype=bool)
        np.not_equal(series[1:], series[:-1], out=new[1:])
        return SeriesRows(
            station=(series // n_params).astype(np.int64),
            param=(series % n_params).astype(np.int64),
            ts=(key - series * np.uint64(self.span)).astype(np.int64) + self.t_min,
            value=value,
            flag=self.flag.ranks(np.take(self.flag.codes, at)),
            period_s=np.take(self.period_s, at),
            source=self.source.ranks(np.take(self.source.codes, at)),
            received_at=received_at,
            revisions=revisions,
            new=new,
            stations=self.station.names,
            params=self.param.names,
            flags=self.flag.names,
            sources=self.source.names,
        )


def _coverable(frame: pl.DataFrame) -> bool:
    """Whether the arrays can hold ``frame``: times in µs UTC, no null key, time, arrival or
    period, every value finite or null."""
    schema = frame.schema
    for name in ("ts", "received_at"):
        if schema.get(name) != pl.Datetime("us", "UTC"):
            return False
    if any(c not in schema for c in ("station", "param", "value", "flag", "period_s", "source")):
        return False
    required = ["station", "param", "ts", "received_at", "period_s"]
    nulls = frame.select(pl.any_horizontal(pl.col(required).null_count() > 0)).item()
    finite = frame.select(pl.col("value").cast(pl.Float64).drop_nulls().is_finite().all()).item()
    return not nulls and bool(finite)


def _distinct_at_most(column: pl.Series) -> int:
    """How many distinct values ``column`` can hold: its own categories' size (no pass over
    the rows; every value they hold, present or not), else its distinct count."""
    dtype = column.dtype
    if isinstance(dtype, pl.Categorical) and not dtype.categories.is_global():
        return len(dtype.categories.to_series())
    return column.n_unique()


def _numpy(column: pl.Series, dtype: Any) -> Array:
    """``column`` as one numpy array, without a copy of its own.

    A scan gives a column in many chunks (one per row group), which ``to_numpy`` would
    concatenate into fresh numpy memory; Polars' ``rechunk`` does it in Polars' allocator,
    which reuses the chunks a previous column freed (fresh memory costs a page fault and a
    page clear per page: ~1 s per GB on these machines), and the array is then a view.
    """
    out: Array = column.cast(dtype).to_physical().rechunk().to_numpy()
    return out


def sort_raw(
    frame: pl.DataFrame,
    group_size: int | None = None,
    *,
    consume: bool = False,
    workers: int = 1,
) -> SortedRaw | None:
    """``frame`` (raw rows, or readings with ``revisions``) cut into groups of ``group_size``
    stations (all in one group by default), each sorted and de-duplicated by :meth:`SortedRaw.rows`.

    None when the frame is empty or has what the arrays cannot hold (module docstring), or
    when its keys are too wide to pack into 64 bits; ``frame`` is then as it was. ``consume``
    drops the columns from ``frame`` as they are taken (``frame`` is left empty), so no
    column is held twice.
    ``workers`` threads turn the columns into arrays (a copy each, mostly page faults).
    """
    if frame.is_empty() or not _coverable(frame):
        return None
    ts = frame["ts"].to_physical()
    t_min = cast(int, ts.min())
    span = cast(int, ts.max()) - t_min + 1
    del ts

    def take(name: str) -> pl.Series:
        return frame.drop_in_place(name) if consume else frame[name]

    if _distinct_at_most(frame["station"]) * _distinct_at_most(frame["param"]) * span >= 2**63:
        return None  # before any column is taken: the caller's frame stays whole

    convert: dict[str, Callable[[pl.Series], Any]] = {
        "station": _coded,
        "param": _coded,
        "ts": partial(_numpy, dtype=pl.Int64),
        "value": partial(_numpy, dtype=pl.Float64),
        "period_s": partial(_numpy, dtype=pl.Int32),
        "received_at": partial(_numpy, dtype=pl.Int64),
        "flag": _coded,
        "source": _coded,
    }
    if "revisions" in frame.columns:
        convert["revisions"] = lambda c: _numpy(c.fill_null(0), pl.UInt32)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        # each worker takes its column out of the frame itself, so no more than ``workers``
        # columns are ever held twice
        done = {name: pool.submit(lambda n, f: f(take(n)), name, f) for name, f in convert.items()}
        station, param = done["station"].result(), done["param"].result()
        order, bounds = _grouped_order(station, group_size)
        arrays = {name: future.result() for name, future in done.items()}
    return SortedRaw(
        order=order,
        bounds=bounds,
        span=span,
        t_min=t_min,
        station=station,
        param=param,
        ts=arrays["ts"],
        value=arrays["value"],
        period_s=arrays["period_s"],
        received_at=arrays["received_at"],
        revisions=arrays.get("revisions"),
        flag=arrays["flag"],
        source=arrays["source"],
    )


def _grouped_order(station: _Coded, group_size: int | None) -> tuple[Array, Array]:
    """The rows group by group (``group_size`` stations each) and the groups' bounds in that
    order.

    Each row's group (station rank // size) comes through the lookup table, and a sort of
    those small integers orders the rows: one cheap pass over the interval.
    """
    n = station.codes.size
    size = max(1, group_size or len(station.names))
    n_groups = -(-len(station.names) // size)
    if n_groups <= 1:
        return np.arange(n), np.array([0, n])
    dtype = np.uint8 if n_groups <= 256 else np.uint16 if n_groups <= 65536 else np.uint32
    group_of = (station.lookup // size).astype(dtype)
    group = np.empty(n, dtype=dtype)
    for s in range(0, n, _CHUNK_ROWS):
        np.take(group_of, station.codes[s : s + _CHUNK_ROWS], out=group[s : s + _CHUNK_ROWS])
    counts = np.bincount(group, minlength=n_groups)
    # numpy's stable sort of 8/16-bit integers is a radix sort: 0.36 s for 42 M rows, where
    # Polars' arg_sort takes 1.5 s
    order = np.argsort(group, kind="stable")
    return order, np.concatenate(([0], np.cumsum(counts)))


#: rows per chunk of the whole-interval passes: their temporaries stay in the cache
_CHUNK_ROWS = 1 << 20


def sort_rows(frame: pl.DataFrame) -> SeriesRows | None:
    """``frame``'s rows sorted and de-duplicated, as arrays (None: see :func:`sort_raw`)."""
    raw = sort_raw(frame)
    return None if raw is None else raw.rows(0)


def _deliveries(
    key: Array, at: Array, value: Array, received_at: Array
) -> tuple[Array, Array, Array]:
    """Of key-sorted rows (``at``: their input rows): the positions of deliveries that lose to
    another of the same reading, and of the winners with their ``revisions`` (all empty
    without repeats; the winners' positions are before the losers are removed).

    Within a run of deliveries the latest ``received_at`` wins (on a tie the last delivered,
    i.e. the later row of the input), and ``revisions`` is the number of distinct values
    (null counting as one) less one, as :func:`transforms.raw.deduplicate` gives.
    """
    empty = np.empty(0, dtype=np.int64)
    repeats = np.flatnonzero(key[1:] == key[:-1])  # row i + 1 repeats row i
    if repeats.size == 0:
        return empty, empty, np.empty(0, dtype=np.uint32)
    members = np.union1d(repeats, repeats + 1)
    run_start = np.ones(members.size, dtype=bool)
    run_start[1:] = key[members[1:]] != key[members[:-1]]
    run = np.cumsum(run_start) - 1
    # the winner: the last of each run ordered by (run, received_at, input row)
    ranked = members[np.lexsort((at[members], received_at[members], run))]
    winners = ranked[np.append(run[1:] != run[:-1], True)]
    distinct = (
        pl.DataFrame({"run": run, "value": pl.Series(value[members], nan_to_null=True)})
        .group_by("run")
        .agg((pl.col("value").n_unique() - 1).cast(pl.UInt32).alias("revisions"))
        .sort("run")["revisions"]
        .to_numpy()
    )
    return np.setdiff1d(members, winners, assume_unique=True), winners, distinct
