"""Hourly means of a station group's sorted readings, from the arrays the chain already holds.

:func:`transforms.aggregate.hourly_means` groups the readings frame by its text keys (station,
parameter, hour): a hash of every row's strings. The chain's rows are sorted by station,
parameter and time, so an hour of a series is a contiguous run of rows and the groups are
segments: their counts and sums are ``np.add.reduceat`` over the segments' starts.

The sums are the same exact fixed-point sums (:func:`transforms.aggregate._exact_sum`: each
value times 2**60, rounded half to even, summed as a 128-bit integer, converted once): numpy
has no 128-bit integer, so each scaled value is split into a high and a low 32-bit-shifted
part, both summed as int64 (exact), and the two sums are joined with one correctly rounded
float addition. The result is bit for bit the frame path's (tested). Wind direction is the same
unit-vector mean, its sines, cosines and arc tangent taken by Polars (numpy's may differ in the
last bit); values too large for the split take the frame path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import HOURLY, UTC_US
from transforms.aggregate import _DEG, _FIXED, hourly_means
from transforms.series_rows import SeriesRows

__all__ = ["hourly_means_sorted"]

Array = np.ndarray[Any, Any]
_HOUR_US = 3_600_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SHIFT = 2.0**32
#: the split holds a group's sum while (largest |value| x rows in a group) stays below this
_SPLIT_LIMIT = 2.0**33


def _exact_sums(values: Array, starts: Array) -> Array:
    """Per segment (``starts``: each segment's first index), the exact sum of its values
    (NaN = none to add), as :func:`transforms.aggregate._exact_sum` gives it."""
    scaled = values * _FIXED
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.rint(scaled, out=scaled)  # integers below 2**84, half to even as Polars' round
    high = scaled / _SHIFT
    np.floor(high, out=high)  # exact: a power-of-two division and an integer floor
    scaled -= high * _SHIFT  # the low part, in [0, 2**32): exact
    high_sum = np.add.reduceat(high.astype(np.int64), starts)
    low_sum = np.add.reduceat(scaled.astype(np.int64), starts)
    high_sum += low_sum >> 32
    low_sum &= 0xFFFFFFFF
    # sum = high_sum * 2**32 + low_sum, exactly; float(high_sum) may round (over 53 bits):
    # its error is an integer small enough to join the low part, and the one float addition
    # of two exact operands then rounds the exact sum once
    high_float = high_sum.astype(np.float64)
    error = high_sum - high_float.astype(np.int64)
    rest = (error * (1 << 32) + low_sum).astype(np.float64)
    out: Array = (high_float * _SHIFT + rest) / _FIXED
    return out


def _sums(values: Array, starts: Array) -> Array:
    """:func:`_exact_sums`, by a plain float sum where that is exact already: whole numbers
    (a reading's coverage in minutes, mostly) add up exactly below 2**53, in any order."""
    present = values[~np.isnan(values)]
    if np.array_equal(present, np.floor(present)) and np.abs(present).sum() < 2.0**53:
        out: Array = np.add.reduceat(np.nan_to_num(values, nan=0.0), starts)
        return out
    return _exact_sums(values, starts)


def hourly_means_sorted(
    rows: SeriesRows,
    readings: pl.DataFrame,
    catalog: Catalog,
    *,
    first_start: dt.datetime,
    hours: int,
) -> pl.DataFrame:
    """The ``hourly`` table of the readings :func:`transforms.qc_windows.qc_sorted_windows`
    returned for ``rows`` (the rows of the hours, in the same order), as
    :func:`transforms.aggregate.hourly_means` gives it."""
    start_us = (first_start - _EPOCH) // dt.timedelta(microseconds=1)
    off = rows.ts - start_us
    mine = (off > 0) & (off <= hours * _HOUR_US)
    if int(mine.sum()) != readings.height or readings.is_empty():  # not these rows' readings
        return hourly_means(readings, catalog)
    station, param = rows.station[mine], rows.param[mine]
    ok = readings["valid"].to_numpy()
    value = np.where(ok, rows.value[mine], np.nan)  # valid values only
    coverage = np.where(ok, np.maximum(rows.period_s[mine] / 60.0, 1.0), np.nan)
    hour = (off[mine] - 1) // _HOUR_US
    start = np.ones(hour.size, dtype=bool)
    start[1:] = (hour[1:] != hour[:-1]) | (station[1:] != station[:-1]) | (param[1:] != param[:-1])
    seg = np.flatnonzero(start)
    largest = max(np.nanmax(np.abs(value), initial=0.0), np.nanmax(coverage, initial=0.0))
    if not largest * int(np.diff(np.append(seg, hour.size)).max()) < _SPLIT_LIMIT:
        return hourly_means(readings, catalog)  # (NaN: every value null) the frame path
    n = np.add.reduceat(ok.astype(np.int64), seg)
    count = np.add.reduceat((~np.isnan(value)).astype(np.int64), seg)
    minutes = np.minimum(_sums(coverage, seg), 60.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _exact_sums(value, seg) / count
    names = rows.params.to_list()
    if "wd" in names:  # a unit-vector mean, with Polars' sin, cos and atan2 (as the frame path)
        wind = param == names.index("wd")
        segments = np.flatnonzero(wind[seg])  # the wind hours (their rows are contiguous)
        at = (np.cumsum(wind) - 1)[seg[segments]]  # their starts among the wind rows
        angle = pl.Series(value[wind] * _DEG, nan_to_null=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = _exact_sums(angle.sin().to_numpy(), at) / count[segments]
            x = _exact_sums(angle.cos().to_numpy(), at) / count[segments]
        atan2 = pl.select(pl.arctan2(pl.lit(pl.Series(y)), pl.lit(pl.Series(x)))).to_series()
        mean[segments] = (atan2.to_numpy() / _DEG + 360.0) % 360.0
    mean = np.where((count > 0) & (n > 0), mean, np.nan)
    return pl.DataFrame(
        [
            rows.stations.gather(station[seg]).alias("station"),
            rows.params.gather(param[seg]).alias("param"),
            pl.Series("ts", start_us + (hour[seg] + 1) * _HOUR_US).cast(UTC_US),
            pl.Series("value", mean, nan_to_null=True),
            pl.Series("n", n, dtype=pl.UInt32),
            pl.Series("minutes", minutes),
            pl.Series("valid", minutes >= catalog.validity.hourly_min_minutes),
        ]
    ).select(list(HOURLY))
