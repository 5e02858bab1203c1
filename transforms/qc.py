"""Quality control: flag, never delete.

Every reading keeps its row; QC adds ``qc`` (a list of :class:`~aircarbon.core.contracts.QcReason`
codes) and ``valid`` (no reason at all). Later steps average only valid values, and an
analyst can always see what was excluded and why.

Checks, each vectorised per (station, param) series ordered by time:

* station flag — the HJ 212 letter says invalid (M, C, D, F, S, B, P; ``T`` stays valid);
* maintenance — inside a maintenance/calibration window announced on the status topic;
* negative — below zero by more than the instrument noise (catalog ``noise``);
* range — outside the catalog's plausibility range;
* spike — Hampel filter: ``|x − median| > k · 1.4826 · MAD`` on a centred rolling window,
  and by more than an absolute floor (a few noise units) so flat series do not trip it;
* flat-line — the same value repeated for at least ``flatline_minutes`` and in at least
  ``flatline_min_values`` readings (stuck sensor), for parameters whose real signal always
  varies: one hourly value covers 60 minutes on its own, and two or three equal hourly
  values of a rounded series (imported history: integers in µg/m³) are common, so a run
  of hourly values is flat only from four readings on;
* rate of change — a step between consecutive values larger than a fraction of the
  plausible span per minute;
* PM2.5 > PM10 — at the same station and time, beyond PM10's noise (both flagged).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog, ParamGroup
from aircarbon.core.contracts import READINGS, QcReason

__all__ = ["REASON_BITS", "QcConfig", "apply_qc", "parameter_limits", "reason_lists"]

#: A row's QC reasons as a bit mask, bit ``i`` for ``REASON_BITS[i]`` (:func:`apply_qc` and
#: :mod:`transforms.qc_windows` build the same mask, :func:`reason_lists` reads it).
REASON_BITS: tuple[QcReason, ...] = (
    QcReason.STATION_FLAG,
    QcReason.MAINTENANCE,
    QcReason.NEGATIVE,
    QcReason.RANGE,
    QcReason.SPIKE,
    QcReason.FLATLINE,
    QcReason.RATE_OF_CHANGE,
    QcReason.PM25_GT_PM10,
)


@functools.cache
def _reason_table() -> pl.Series:
    return pl.Series(
        "qc",
        [
            [r.value for b, r in enumerate(REASON_BITS) if c >> b & 1]
            for c in range(1 << len(REASON_BITS))
        ],
        dtype=pl.List(pl.String),
    )


def reason_lists(codes: np.ndarray[Any, Any]) -> pl.Series:
    """The ``qc`` list column of the masks ``codes`` (uint8): a lookup, built once."""
    return _reason_table().gather(codes)


@dataclass(frozen=True)
class QcConfig:
    """Tunable QC thresholds; defaults documented in docs/qc.md."""

    spike_window: int = 15  # values in the centred Hampel window
    spike_k: float = 4.0  # MAD multiples (3 is the textbook minimum; 4 keeps real plumes)
    spike_floor_noise: float = 5.0  # and at least this many noise units away from the median
    spike_floor_span: float = 0.02  # ... and this share of the plausible span (noise-free params)
    negative_groups: tuple[str, ...] = (  # quantities that cannot be negative
        ParamGroup.CRITERIA.value,
        ParamGroup.GAS.value,
        ParamGroup.VOC.value,
        ParamGroup.GHG.value,
        ParamGroup.PM_COMPONENT.value,
        ParamGroup.ELEMENT.value,
        ParamGroup.RADIATION.value,
    )
    flatline_minutes: float = 60.0
    #: ... and at least this many readings: a minute series needs 60 anyway, an hourly one 4
    flatline_min_values: int = 4
    flatline_exclude_groups: tuple[str, ...] = (
        ParamGroup.METEOROLOGY.value,
        ParamGroup.STATUS.value,
        ParamGroup.ELEMENT.value,
    )
    roc_fraction_per_min: float = 0.25  # of the plausible span, per minute between values
    circular_params: tuple[str, ...] = ("wd",)  # 359° → 1° is a 2° change: no spike/step tests


def parameter_limits(catalog: Catalog) -> pl.DataFrame:
    """The catalog's ranges as a frame to join on ``param`` (one source of truth)."""
    params = list(catalog.parameters.values())
    return pl.DataFrame(
        {
            "param": [p.code for p in params],
            "group": [p.group.value for p in params],
            "lo": [p.plausible[0] for p in params],
            "hi": [p.plausible[1] for p in params],
            "noise": [p.noise for p in params],
        }
    )


def _station_flag_valid(catalog: Catalog) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "flag": list(catalog.flags),
            "_flag_valid": [f.valid for f in catalog.flags.values()],
        }
    )


def _maintenance_rows(frame: pl.DataFrame, status: pl.LazyFrame | None) -> pl.Series | None:
    """Per row of ``frame``: was its station in maintenance/calibration at its time?

    The last status event at or before ``ts`` (as-of join by station) decides. Only the
    stations that announced a maintenance/calibrating state at all are joined; every
    other row is False. None when no row is in maintenance.
    """
    if status is None or frame.is_empty():
        return None
    events = (
        status.select(
            "station",
            pl.coalesce("ts", "received_at").alias("_status_ts"),
            pl.col("state").is_in(["maintenance", "calibrating"]).alias("_maint"),
        )
        .drop_nulls("_status_ts")
        .sort("_status_ts")
        .collect()
    )
    stations = events.filter(pl.col("_maint"))["station"].unique()
    if stations.is_empty():
        return None
    events = events.filter(pl.col("station").is_in(stations.implode()))
    rows = (
        frame.lazy()
        .select("station", "ts")
        .with_row_index("_i")
        .filter(pl.col("station").is_in(stations.implode()))
        .sort("ts")
        .join_asof(
            events.lazy(),
            left_on="ts",
            right_on="_status_ts",
            by="station",
            strategy="backward",
            check_sortedness=False,  # both sides sorted just above
        )
        .filter(pl.col("_maint").fill_null(False))
        .select("_i")
        .collect()
    )
    if rows.is_empty():
        return None
    mask = np.zeros(frame.height, dtype=bool)
    mask[rows["_i"].to_numpy()] = True
    return pl.Series("_maint", mask)


def sort_series(frame: pl.DataFrame, window: str | None = None) -> pl.DataFrame:
    """``frame`` sorted by station, param (and ``window``) and ts (ties in any order)."""
    return _sort_series(frame, window)[0]


def _sort_series(
    frame: pl.DataFrame, window: str | None = None
) -> tuple[pl.DataFrame, np.ndarray[Any, Any] | None]:
    """``frame`` sorted by its series, then ts, cheaply; and where each series starts.

    A multi-column sort over string keys is slow on tens of millions of rows; the keys are
    packed into one unsigned 64-bit integer instead (the station's and the parameter's rank
    among the frame's sorted distinct values, the window's offset, then the time offset)
    and sorted once. The series part of the same key marks the series starts (no string
    comparison of neighbours). Falls back to the plain sort when a key is null or the
    packing overflows (series starts: None, found by comparing neighbours).
    """
    keys = ["station", "param", *([window] if window else [])]
    if frame.height < 2:
        return frame, None
    if frame.select(pl.any_horizontal(pl.col(*keys, "ts").null_count() > 0)).item():
        return frame.sort(*keys, "ts"), None
    stations = frame["station"].cast(pl.String).unique().sort()
    params = frame["param"].cast(pl.String).unique().sort()
    t = frame["ts"].to_physical()
    t_min, t_max = cast(int, t.min()), cast(int, t.max())  # no nulls (checked above)
    span = t_max - t_min + 1
    w_min, n_windows = 0, 1
    if window:
        w = frame[window]
        w_min = cast(int, w.min())
        n_windows = cast(int, w.max()) - w_min + 1
    if len(stations) * len(params) * n_windows * span >= 2**64:
        return frame.sort(*keys, "ts"), None
    series = pl.col("station").cast(pl.Enum(stations)).to_physical().cast(pl.UInt64) * len(
        params
    ) + pl.col("param").cast(pl.Enum(params)).to_physical().cast(pl.UInt64)
    if window:
        series = series * n_windows + (pl.col(window) - w_min).cast(pl.UInt64)
    key = (
        frame.select(series * span + (pl.col("ts").to_physical() - t_min).cast(pl.UInt64))
        .to_series()
        .to_numpy()
    )
    if np.any(key[1:] < key[:-1]):
        # numpy's stable sort of 64-bit integers is a radix sort: ~2x Polars' arg_sort here.
        # One chunk first: a gather across many chunks (row groups, concatenated frames) is
        # several times slower than the copy
        order = np.argsort(key, kind="stable")
        frame = frame.rechunk().select(pl.all().gather(order))
        key = key[order]
    ids = key // span
    new = np.empty(len(ids), dtype=bool)
    new[0] = True
    np.not_equal(ids[1:], ids[:-1], out=new[1:])
    return frame, new


def _series_layout(
    frame: pl.DataFrame, new: np.ndarray[Any, Any] | None, window: str | None
) -> tuple[np.ndarray[Any, Any], ...]:
    """For a frame sorted by series and ts: each row's series start, length, position."""
    n = frame.height
    if new is None:
        keys = ["station", "param", *([window] if window else [])]
        changed = pl.any_horizontal(pl.col(k) != pl.col(k).shift(1) for k in keys)
        new = frame.select(changed.fill_null(True)).to_series().to_numpy(allow_copy=True).copy()
        if n:
            new[0] = True
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, n))
    start = np.repeat(starts, lengths)
    length = np.repeat(lengths, lengths)
    position = np.arange(n) - start
    return new, start, length, position


def _rolling_median_segmented(
    column: pl.Series, new_series: np.ndarray[Any, Any], window: int, min_samples: int
) -> pl.Series:
    """``rolling_median(window, center=True).over(series)`` on a series-sorted column.

    Half a window of nulls is put between consecutive series, and one rolling median runs
    over the padded column: a window then never reaches into the next series (rolling
    kernels skip nulls, and ``min_samples`` counts only values), so every row gets its own
    series' median, also near the series' ends, from one kernel call. Short series (the
    hourly step's windows are 90 one-minute values) cost a few percent of padding, not a
    second, grouped pass over their heads and tails.
    """
    n = len(column)
    if n == 0:
        return column.cast(pl.Float64)
    half = window // 2
    pos = np.arange(n) + half * (np.cumsum(new_series) - 1)
    size = int(pos[-1]) + 1
    data = np.zeros(size)
    data[pos] = column.fill_null(0.0).to_numpy()
    valid = np.zeros(size, dtype=bool)
    valid[pos] = column.is_not_null().to_numpy()
    padded = pl.select(pl.when(pl.Series(valid)).then(pl.Series(data))).to_series()
    rolled = padded.rolling_median(window, center=True, min_samples=min_samples)
    return rolled.gather(pos).alias(column.name)


def _rolling_median_at(
    column: pl.Series,
    rows: np.ndarray[Any, Any],
    start: np.ndarray[Any, Any],
    length: np.ndarray[Any, Any],
    cfg: QcConfig,
) -> pl.Series:
    """The per-series centred rolling median of ``column`` at ``rows`` only (null elsewhere).

    Each row gets its own small group: the rows up to a window away on either side within
    its series, where the centred window is exactly the one the whole series would give.
    """
    w = cfg.spike_window
    out = pl.repeat(None, len(column), dtype=pl.Float64, eager=True).alias(column.name)
    if rows.size == 0:
        return out
    window = rows[:, None] + np.arange(-w, w + 1)[None, :]
    inside = (window >= start[rows][:, None]) & (window < (start[rows] + length[rows])[:, None])
    group = np.broadcast_to(np.arange(rows.size)[:, None], window.shape)[inside]
    centre = (window == rows[:, None])[inside]
    extract = pl.DataFrame({"_g": group, "_v": column.gather(window[inside])})
    medians = (
        extract.select(pl.col("_v").rolling_median(w, center=True, min_samples=5).over("_g"))
        .to_series()
        .filter(pl.Series(centre))
    )
    return out.scatter(rows, medians)


def apply_qc(
    readings: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
    window: str | None = None,
    keep: pl.Expr | None = None,
) -> pl.DataFrame:
    """De-duplicated readings → the ``readings`` table (contract.md §4.3) with QC reasons.

    ``window`` names an integer column that cuts each (station, parameter) series further:
    the hourly step QCs every hour on its own window (the hour and the context before it),
    a context row appearing once in each window that sees it. The column is kept, last.
    ``keep`` (an expression over the input's columns) returns only the rows it holds for,
    the others having served as context; they are dropped before the reasons are built.
    Rows come out sorted by station, parameter (window) and time. Every series-wise quantity is
    computed once over the sorted frame with the series boundaries known (no ``over()``
    re-grouping of the whole frame); the reasons are a bit mask per row, turned into the
    list column through a 256-entry lookup.
    """
    cfg = config or QcConfig()
    st = status.lazy() if status is not None else None
    frame, new_series = _sort_series(readings.lazy().collect(), window)
    n = frame.height
    new_series, start, length, position = _series_layout(frame, new_series, window)
    limits = parameter_limits(catalog).lazy()
    valid_flags = [code for code, f in catalog.flags.items() if f.valid]
    maint = _maintenance_rows(frame, st)
    value = pl.col("value")
    frame = frame.join(limits.collect(), on="param", how="left", maintain_order="left")
    lf = frame.lazy().with_columns(
        pl.col("flag").is_in(valid_flags).fill_null(False).alias("_flag_valid"),
        (maint if maint is not None else pl.repeat(False, n)).alias("_maint"),
        pl.Series("_new", new_series),
        pl.Series("_start", start, dtype=pl.Int64),
    )
    # Hampel median: exact per-series rolling median, in one kernel call
    med = _rolling_median_segmented(frame["value"], new_series, cfg.spike_window, 5).alias("_med")
    dev = frame.select((value - med).abs().alias("_dev"))
    # the MAD only matters where the deviation clears both absolute floors (else no spike)
    candidate = (
        frame.select(
            (
                (dev["_dev"] > cfg.spike_floor_noise * pl.col("noise"))
                & (dev["_dev"] > cfg.spike_floor_span * (pl.col("hi") - pl.col("lo")))
                & ~pl.col("param").is_in(list(cfg.circular_params))
            ).fill_null(False)
        )
        .to_series()
        .to_numpy()
    )
    if candidate.sum() * (2 * cfg.spike_window + 1) < n:
        mad = _rolling_median_at(dev["_dev"], np.flatnonzero(candidate), start, length, cfg)
    else:
        mad = _rolling_median_segmented(dev["_dev"], new_series, cfg.spike_window, 5)
    del dev, candidate, position, length  # tens of millions of rows each: free them
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    new_run = ((value != value.shift(1)).fill_null(True) | pl.col("_new")).alias("_new_run")
    lf = lf.with_columns(med, mad.alias("_mad")).with_columns(
        pl.when(~pl.col("_new"))
        .then(pl.col("ts").diff().dt.total_microseconds() / 60e6)
        .alias("_dt_min"),
        new_run,
    )
    run_first = pl.when(pl.col("_new_run")).then(row).forward_fill()
    run_last = pl.when(pl.col("_new_run").shift(-1).fill_null(True)).then(row).backward_fill()
    lf = lf.with_columns(
        (
            (pl.col("ts").gather(run_last) - pl.col("ts").gather(run_first)).dt.total_microseconds()
            / 60e6
            + pl.col("period_s").gather(run_first) / 60
        ).alias("_run_min"),
        (run_last - run_first + 1).alias("_run_n"),
    )
    dev_e = (value - pl.col("_med")).abs()
    spike = (
        (dev_e > cfg.spike_k * 1.4826 * pl.col("_mad"))
        & (dev_e > cfg.spike_floor_noise * pl.col("noise"))
        & (dev_e > cfg.spike_floor_span * (pl.col("hi") - pl.col("lo")))
        & pl.col("_mad").is_not_null()
        & ~pl.col("param").is_in(list(cfg.circular_params))
    ).fill_null(False)
    lf = lf.with_columns(spike.alias("_spike"))
    # the step is measured from the last non-spike value of the same series, so the value
    # after a spike (returning to normal) is not blamed for the spike's jump
    source = pl.when(pl.col("_spike")).then(None).otherwise(value)
    last = pl.when(source.is_not_null()).then(row).shift(1).forward_fill()
    previous = pl.when(last >= pl.col("_start")).then(value.gather(last))
    lf = lf.with_columns((value - previous).abs().alias("_step"))
    span = pl.col("hi") - pl.col("lo")
    cannot_be_negative = pl.col("group").is_in(list(cfg.negative_groups))
    checks: dict[QcReason, pl.Expr] = {  # the PM pair comes after, on the kept rows
        QcReason.STATION_FLAG: ~pl.col("_flag_valid"),
        QcReason.MAINTENANCE: pl.col("_maint"),
        QcReason.NEGATIVE: (value < -pl.col("noise")) & cannot_be_negative,
        QcReason.RANGE: (value > pl.col("hi"))
        | ((value < pl.col("lo") - pl.col("noise")) & ((value >= 0) | ~cannot_be_negative)),
        QcReason.SPIKE: pl.col("_spike"),
        QcReason.FLATLINE: (pl.col("_run_min") >= cfg.flatline_minutes)
        & (pl.col("_run_n") >= cfg.flatline_min_values)
        & ~pl.col("group").is_in(list(cfg.flatline_exclude_groups))
        & (pl.col("noise") > 0),
        QcReason.RATE_OF_CHANGE: (pl.col("_dt_min") > 0)
        & ~pl.col("param").is_in(list(cfg.circular_params))
        & (
            pl.col("_step") / pl.col("_dt_min").clip(lower_bound=1.0)
            > cfg.roc_fraction_per_min * span
        ),
    }
    code = pl.sum_horizontal(
        checks[r].fill_null(False).cast(pl.UInt8) * (1 << bit)
        for bit, r in enumerate(REASON_BITS)
        if r in checks
    ).cast(pl.UInt8)
    extra = [window] if window else []
    kept = lf.filter(keep) if keep is not None else lf
    out = kept.select(*READINGS.names()[:9], *extra, code.alias("_code")).collect()
    pm_bad = _pm_pair_rows(out, catalog)
    codes = out["_code"].to_numpy(allow_copy=True).copy()
    if pm_bad is not None:
        codes[pm_bad] |= 1 << REASON_BITS.index(QcReason.PM25_GT_PM10)
    return out.with_columns(
        reason_lists(codes),
        pl.Series("valid", codes == 0),
        pl.col("revisions").fill_null(0).cast(pl.UInt32),
    ).select(*READINGS, *extra)


def _pm_pair_rows(frame: pl.DataFrame, catalog: Catalog) -> np.ndarray[Any, Any] | None:
    """Rows of PM2.5 and PM10 readings of a station and time where PM2.5 > PM10 + noise."""
    noise = catalog.parameter("pm10").noise
    pm = (
        frame.lazy()
        .select("station", "param", "ts", "value")
        .with_row_index("_i")
        .filter(pl.col("param").is_in(["pm25", "pm10"]))
        .collect()
    )
    pm25 = pm.filter(pl.col("param") == "pm25").unique(["station", "ts"], keep="first")
    pm10 = pm.filter(pl.col("param") == "pm10").unique(["station", "ts"], keep="first")
    if pm25.is_empty() or pm10.is_empty():
        return None
    bad = (
        pm25.select("station", "ts", pl.col("value").alias("pm25"))
        .join(pm10.select("station", "ts", pl.col("value").alias("pm10")), on=["station", "ts"])
        .filter(pl.col("pm25") > pl.col("pm10") + noise)
        .select("station", "ts")
    )
    if bad.is_empty():
        return None
    rows = pm.join(bad, on=["station", "ts"], how="semi")["_i"].to_numpy()
    return rows
