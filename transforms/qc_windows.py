"""QC of consecutive hours, each on its own window, from one sort of the rows.

The chain hands its station groups over already sorted and de-duplicated, as arrays
(:class:`transforms.series_rows.SeriesRows`, :func:`qc_sorted_windows`); a frame is sorted first
(:func:`qc_hour_windows`).

The hourly step QCs an hour when it ends, seeing the hour and ``context`` before it and nothing
after; a batch of hours must flag every hour exactly as that run would. Repeating the context
rows once per window that sees them (the window then being a series key) does that, but QC then
handles 1.5 times the rows, sorted with a third key. Here every row is sorted and QC'd once, and
only what the cut of a window can change is worked out per window, from the window's bounds in
the sorted rows (``a``: its first row, context included; ``b``: its last, the hour's last row):

* **Hampel median** (centred, ``half`` values either side): the median of the row's window cut
  to ``[a, b]`` (an hour's last ``half`` rows, and rows with little or no context, see fewer
  values than in the whole series), computed with the interpolation of Polars' kernel
  (``lo + (hi - lo) * 0.5`` for an even count; nulls skipped). It is computed only where a
  spike is possible at all: a value's distance to any median of a window around it is at most
  its *reach*, its largest distance to a value within ``half`` rows either side (windowed min
  and max, a few whole-column passes), and a row whose reach does not clear the absolute floors
  cannot be a spike. On the benchmark's day (benchmarks/transforms.py) 1.9 % of the rows remain.
* **MAD**: only needed where the deviation clears the absolute floors (else no spike whatever
  the MAD): there, each of the ``2 * half + 1`` deviations around the row is taken with the
  median the window gives it.
* **Rate of change**: the previous non-spike value of the window. Within the row's own hour it is
  a forward fill; when none is there, it is the last context row that is not a spike *as this
  window sees it* (a context row's own flags come from its own hour's window, which ends right
  after it), found by walking back from the hour's start over the rare spikes.
* **Flat line**: a run of equal values cut by the window: the run's bounds in the whole series,
  clipped to the window's.
* **Time step**: none for a window's first row.

Every other check looks at a row alone (or at the PM pair of a station and time, paired by a
binary search over the sorted rows' station and time). The result is
row for row and bit for bit what :func:`transforms.qc.apply_qc` gives on the repeated windows
(tested against it, and against the reference oracle, on random series with gaps, spikes, flat
runs and hourly data). Frames this path does not cover (null keys, non-finite values, time not
in microseconds, an even Hampel window, keys too wide to pack) return None: the caller falls back
to the repeated windows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import READINGS, QcReason
from transforms.qc import (
    REASON_BITS,
    QcConfig,
    _maintenance_rows,
    parameter_limits,
    reason_lists,
)
from transforms.series_rows import SeriesRows, sort_rows

__all__ = ["qc_hour_windows", "qc_sorted_windows"]

_HOUR_US = 3_600_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: candidates handled at once by the explicit MAD (each needs a (w, w) block of values)
_CHUNK = 2_000
_MIN_SAMPLES = 5  # of the Hampel median and MAD (as the whole-series QC)

Array = np.ndarray[Any, Any]


def _row_medians(block: Array, min_samples: int) -> Array:
    """Per row of ``block`` (NaN = no value): the median as Polars' rolling kernel gives it.

    NaN where fewer than ``min_samples`` values. An odd count gives the middle value, an even
    one ``lo + (hi - lo) * 0.5`` of the two middle values (Polars' linear interpolation; not
    ``(lo + hi) / 2``, which differs in the last bit).
    """
    ordered = np.sort(block, axis=1)  # NaN sort last
    count = block.shape[1] - np.isnan(block).sum(axis=1)
    rows = np.arange(block.shape[0])
    lo = ordered[rows, np.maximum((count - 1) // 2, 0)]
    hi = ordered[rows, np.maximum(count // 2, 0)]
    median: Array = np.where(count % 2 == 1, lo, lo + (hi - lo) * 0.5)
    median[count < min_samples] = np.nan
    return median


def _range_medians(values: Array, lo: Array, hi: Array, width: int) -> Array:
    """The median of ``values[lo[i] : hi[i] + 1]`` for each ``i`` (at most ``width`` values)."""
    out = np.empty(lo.size)
    offsets = np.arange(width)
    for s in range(0, lo.size, _CHUNK * width):
        idx = lo[s : s + _CHUNK * width, None] + offsets
        inside = idx <= hi[s : s + _CHUNK * width, None]
        block = np.where(inside, values[np.minimum(idx, values.size - 1)], np.nan)
        out[s : s + _CHUNK * width] = _row_medians(block, _MIN_SAMPLES)
    return out


@dataclass(frozen=True)
class _Series:
    """The sorted rows' columns as arrays, and each parameter's limits per row."""

    value: Array  # float, NaN = null
    reach: Array  # how far each value is from the farthest within half a window either side
    noise: Array
    span: Array  # plausible hi - lo
    no_spike: Array  # circular parameters: no spike or step tests
    half: int
    cfg: QcConfig

    def medians(self, rows: Array, a: Array, b: Array) -> Array:
        """The Hampel median of ``rows``, each in the window ``[a, b]`` (row indexes)."""
        half = self.half
        lo, hi = np.maximum(rows - half, a), np.minimum(rows + half, b)
        return _range_medians(self.value, lo, hi, 2 * half + 1)

    def spikes(self, rows: Array, a: Array, b: Array) -> Array:
        """Whether each of ``rows`` is a Hampel spike as its window ``[a, b]`` sees it.

        A value's distance from its window's median is at most its ``reach`` (the median lies
        between the window's smallest and largest values, and a window cut short holds fewer
        of them): where the reach does not clear the absolute floors, no median is needed.
        """
        cfg = self.cfg
        found = np.zeros(rows.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            floor = np.maximum(
                cfg.spike_floor_noise * self.noise[rows], cfg.spike_floor_span * self.span[rows]
            )
            possible = np.flatnonzero((self.reach[rows] > floor) & ~self.no_spike[rows])
        if possible.size == 0:
            return found
        r, ra, rb = rows[possible], a[possible], b[possible]
        dev = np.abs(self.value[r] - self.medians(r, ra, rb))
        with np.errstate(invalid="ignore"):
            candidate = (dev > cfg.spike_floor_noise * self.noise[r]) & (
                dev > cfg.spike_floor_span * self.span[r]
            )
        picked = np.flatnonzero(candidate)
        for s in range(0, picked.size, _CHUNK):
            i = picked[s : s + _CHUNK]
            mad = self._mads(r[i], ra[i], rb[i])
            with np.errstate(invalid="ignore"):
                found[possible[i]] = dev[i] > cfg.spike_k * 1.4826 * mad  # NaN (no MAD): False
        return found

    def _mads(self, rows: Array, a: Array, b: Array) -> Array:
        """The MAD of ``rows`` in their windows: the median of the deviations around them."""
        half = self.half
        around = rows[:, None] + np.arange(-half, half + 1)
        lo, hi = a[:, None], b[:, None]
        inside = (around >= lo) & (around <= hi)
        j = np.clip(around, lo, hi)[inside]
        owner = np.broadcast_to(np.arange(rows.size)[:, None], around.shape)[inside]
        med = self.medians(j, a[owner], b[owner])
        dev = np.full(around.shape, np.nan)
        dev[inside] = np.abs(self.value[j] - med)
        return _row_medians(dev, _MIN_SAMPLES)


def _window_extreme(values: Array, width: int, pick: np.ufunc) -> Array:
    """``pick`` (``np.fmax`` / ``np.fmin``: NaN ignored) over each ``values[i : i + width]``,
    for every ``i`` where the window fits: log2(width) passes of the doubling trick."""
    extreme, size = values, 1
    while size * 2 <= width:
        extreme = pick(extreme[:-size], extreme[size:])
        size *= 2
    rest = width - size
    out: Array = pick(extreme[: extreme.size - rest], extreme[rest:]) if rest else extreme
    return out


def _reach(values: Array, half: int) -> Array:
    """Per value: its largest distance to a value within ``half`` rows either side (NaN for a
    null), an upper bound of its distance to the median of any window around it."""
    padded = np.full(values.size + 2 * half, np.nan)
    padded[half : half + values.size] = values
    width = 2 * half + 1
    with np.errstate(invalid="ignore"):
        low = _window_extreme(padded, width, np.fmin)
        high = _window_extreme(padded, width, np.fmax)
        out: Array = np.fmax(values - low, high - values)
    return out


def _layout(new: Array, off: Array, context_us: int) -> tuple[Array, ...] | None:
    """Per sorted row (``off``: its ``ts`` in µs from the first hour's start): its hour (-1:
    context before the first), window start ``a``, hour start and hour end ``b`` (row
    indexes). None if keys overflow."""
    n = off.size
    hour = (off - 1) // _HOUR_US
    group_new = new.copy()
    np.not_equal(hour[1:], hour[:-1], out=group_new[1:])
    group_new |= new
    starts = np.flatnonzero(group_new)
    ends = np.append(starts[1:], n) - 1
    lengths = ends - starts + 1
    series = np.cumsum(new) - 1
    # a window's first row: the first of its series after (hour start - context), by a search
    # over (series, time) packed into one integer
    lo_off = int(off.min())
    width = int(off.max()) - lo_off + 2
    if (int(series[-1]) + 1) * width >= 2**62:
        return None
    key = series * width + (off - lo_off)
    after = np.clip(hour[starts] * _HOUR_US - context_us - lo_off, -1, width - 1)
    first = np.searchsorted(key, series[starts] * width + after, side="right")
    series_start = np.flatnonzero(new)[series[starts]]
    first = np.maximum(first, series_start)
    return (
        hour,
        np.repeat(first, lengths),
        np.repeat(starts, lengths),
        np.repeat(ends, lengths),
    )


def _previous_in_context(series: _Series, hour_starts: Array, a: Array, b: Array) -> Array:
    """Per window (given by its hour's first row): its last context row that is a value and not
    a spike as this window sees it (-1: none). Walks back over spikes (rare) a step at a time."""
    found = np.full(hour_starts.size, -1, dtype=np.int64)
    active = np.flatnonzero(hour_starts > a)
    row = hour_starts[active] - 1
    while active.size:
        spike = series.spikes(row, a[active], b[active])
        usable = ~spike & ~np.isnan(series.value[row])
        found[active[usable]] = row[usable]
        more = ~usable & (row - 1 >= a[active])
        active, row = active[more], row[more] - 1
    return found


def _steps(
    series: _Series, spike: Array, keep: Array, hour_start: Array, a: Array, b: Array, off: Array
) -> tuple[Array, Array]:
    """Per row: the step from its window's previous non-spike value, and the minutes since the
    window's previous row (NaN: none, the window's first row)."""
    value = series.value
    n = value.size
    index = np.arange(n)
    usable = np.where(~spike & ~np.isnan(value), index, -1)
    previous = np.empty(n, dtype=np.int64)
    previous[0] = -1
    np.maximum.accumulate(usable[:-1], out=previous[1:])
    # within the row's own hour a forward fill (its spikes are the window's); before it, the
    # context as this window sees it
    window_starts = np.flatnonzero(keep & (index == hour_start))
    context = _previous_in_context(series, window_starts, a[window_starts], b[window_starts])
    from_context = np.full(n, -1, dtype=np.int64)
    lengths = np.diff(np.append(window_starts, n))  # the rows from one hour's start to the next
    from_context[window_starts[0] :] = np.repeat(context, lengths)
    prev = np.where(previous >= hour_start, previous, from_context)
    step = np.where(prev >= 0, np.abs(value - value[np.maximum(prev, 0)]), np.nan)
    gap = np.full(n, np.nan)
    gap[1:] = np.diff(off).astype(np.float64)  # exact below 2**53 µs
    gap[1:] /= 60e6
    gap[index == a] = np.nan
    return step, gap


def _runs(
    period_s: Array, new: Array, value: Array, a: Array, b: Array, off: Array
) -> tuple[Array, Array]:
    """Per row: the minutes and the readings of its run of equal values, cut to its window."""
    n = value.size
    index = np.arange(n)
    run_new = new.copy()
    with np.errstate(invalid="ignore"):
        run_new[1:] |= ~(value[1:] == value[:-1])  # a null on either side starts a run
    run_first = np.maximum.accumulate(np.where(run_new, index, 0))
    run_end = np.append(run_new[1:], True)
    run_last = np.minimum.accumulate(np.where(run_end, index, n)[::-1])[::-1]
    first = np.maximum(run_first, a)
    last = np.minimum(run_last, b)
    return (off[last] - off[first]) / 60e6 + period_s[first] / 60, last - first + 1


def _pm_pair(rows: SeriesRows, keep: Array, catalog: Catalog) -> Array:
    """Rows (of those kept) of a station's PM2.5 and PM10 readings at the same time where
    PM2.5 > PM10 + PM10's noise: both are flagged (as :func:`transforms.qc._pm_pair_rows`).

    Within one parameter the sorted rows run by station, then time, so the two parameters'
    (station, time) keys are each sorted and one binary search pairs them.
    """
    names = rows.params.to_list()
    if "pm25" not in names or "pm10" not in names:
        return np.empty(0, dtype=np.int64)
    pm25 = np.flatnonzero((rows.param == names.index("pm25")) & keep)
    pm10 = np.flatnonzero((rows.param == names.index("pm10")) & keep)
    if pm25.size == 0 or pm10.size == 0:
        return np.empty(0, dtype=np.int64)
    span = int(rows.ts.max()) - int(rows.ts.min()) + 1
    t0 = int(rows.ts.min())

    def keys(at: Array) -> Array:
        out: Array = rows.station[at] * span + (rows.ts[at] - t0)
        return out

    k25, k10 = keys(pm25), keys(pm10)
    at = np.minimum(np.searchsorted(k10, k25), k10.size - 1)
    paired = k10[at] == k25
    a, b = pm25[paired], pm10[at[paired]]
    with np.errstate(invalid="ignore"):
        bad = rows.value[a] > rows.value[b] + catalog.parameter("pm10").noise  # NaN: False
    return np.concatenate([a[bad], b[bad]])


def qc_hour_windows(
    deduplicated: pl.DataFrame,
    catalog: Catalog,
    *,
    first_start: dt.datetime,
    hours: int,
    context: dt.timedelta,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame | None:
    """QC the ``hours`` hours from ``first_start``, each on ``(its start - context, its end]``.

    Returns the readings of the hours (the ``readings`` table, sorted by station, param and ts),
    or None when the frame needs the repeated-window path (see the module docstring).
    """
    if deduplicated.schema["ts"] != pl.Datetime("us", "UTC"):
        return None
    context_us = context // dt.timedelta(microseconds=1)
    offset = (pl.col("ts") - first_start).dt.total_microseconds()
    # only the windows' rows are sorted; qc_sorted_windows checks the rest
    rows = sort_rows(deduplicated.filter((offset > -context_us) & (offset <= hours * _HOUR_US)))
    if rows is None:
        return None
    return qc_sorted_windows(
        rows,
        catalog,
        first_start=first_start,
        hours=hours,
        context=context,
        status=status,
        config=config,
    )


def qc_sorted_windows(
    rows: SeriesRows,
    catalog: Catalog,
    *,
    first_start: dt.datetime,
    hours: int,
    context: dt.timedelta,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame | None:
    """:func:`qc_hour_windows` of rows already sorted and de-duplicated (the chain's path).

    Rows outside the windows are left out; None when the frame path is needed (an even Hampel
    window, fewer than two rows, no row in the hours, keys too wide to pack).
    """
    cfg = config or QcConfig()
    if cfg.spike_window % 2 == 0:
        return None
    context_us = context // dt.timedelta(microseconds=1)
    start_us = (first_start - _EPOCH) // dt.timedelta(microseconds=1)
    off = rows.ts - start_us
    inside = (off > -context_us) & (off <= hours * _HOUR_US)
    if not inside.all():
        rows = rows.take(inside)
        off = off[inside]
    if rows.height < 2:
        return None
    new = rows.new
    layout = _layout(new, off, context_us)
    if layout is None:
        return None
    hour, a, hour_start, b = layout
    n = rows.height
    keep = hour >= 0
    if not keep.any():
        return None

    known = pl.DataFrame({"param": rows.params}).join(
        parameter_limits(catalog), on="param", how="left", maintain_order="left"
    )
    code = rows.param

    def per_row(values: Any) -> Array:
        out: Array = np.take(np.asarray(values), code)
        return out

    lo = per_row(known["lo"].cast(pl.Float64).to_numpy())
    hi = per_row(known["hi"].cast(pl.Float64).to_numpy())
    noise = per_row(known["noise"].cast(pl.Float64).to_numpy())
    group = known["group"]
    negative_group = per_row(group.is_in(list(cfg.negative_groups)).fill_null(False).to_numpy())
    flat_group = per_row(
        (~group.is_in(list(cfg.flatline_exclude_groups))).fill_null(False).to_numpy()
    )
    circular = per_row(rows.params.is_in(list(cfg.circular_params)).to_numpy())

    value = rows.value
    series = _Series(
        value=value,
        reach=_reach(value, cfg.spike_window // 2),
        noise=noise,
        span=hi - lo,
        no_spike=circular,
        half=cfg.spike_window // 2,
        cfg=cfg,
    )
    kept = np.flatnonzero(keep)
    spike = np.zeros(n, dtype=bool)
    spike[kept] = series.spikes(kept, a[kept], b[kept])

    step, gap = _steps(series, spike, keep, hour_start, a, b, off)
    run_minutes, run_n = _runs(rows.period_s, new, value, a, b, off)
    with np.errstate(invalid="ignore"):
        checks = {  # the station flag, maintenance and PM pair come after, on the kept rows
            QcReason.NEGATIVE: (value < -noise) & negative_group,
            QcReason.RANGE: (value > hi)
            | ((value < lo - noise) & ((value >= 0) | ~negative_group)),
            QcReason.SPIKE: spike,
            QcReason.FLATLINE: (run_minutes >= cfg.flatline_minutes)
            & (run_n >= cfg.flatline_min_values)
            & flat_group
            & (noise > 0),
            QcReason.RATE_OF_CHANGE: (gap > 0)
            & ~circular
            & (step / np.maximum(gap, 1.0) > cfg.roc_fraction_per_min * series.span),
        }
    bit = {r: np.uint8(1 << i) for i, r in enumerate(REASON_BITS)}
    codes = np.zeros(n, dtype=np.uint8)
    for reason, cond in checks.items():
        codes[cond] |= bit[reason]
    valid_flags = [c for c, f in catalog.flags.items() if f.valid]
    bad_flag = (~rows.flags.is_in(valid_flags).fill_null(False)).to_numpy()
    codes[np.take(bad_flag, rows.flag)] |= bit[QcReason.STATION_FLAG]
    codes[_pm_pair(rows, keep, catalog)] |= bit[QcReason.PM25_GT_PM10]
    out = rows.to_frame(keep)
    codes = codes[keep]
    maint = _maintenance_rows(out, status.lazy() if status is not None else None)
    if maint is not None:
        codes[maint.to_numpy()] |= bit[QcReason.MAINTENANCE]
    return out.with_columns(
        reason_lists(codes),
        pl.Series("valid", codes == 0),
    ).select(*READINGS)
