"""The transforms as they were before the performance work: the oracle the fast paths are
held to (same rows, same values, bit for bit). Not used by the pipeline."""

from __future__ import annotations

import datetime as dt

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import HOURLY, READINGS, QcReason
from transforms.aggregate import _hour_end, _mean
from transforms.qc import QcConfig, _station_flag_valid, parameter_limits


def deduplicate_reference(raw: pl.LazyFrame) -> pl.LazyFrame:
    """One row per reading identity: the latest received value, with its revision count."""
    return (
        raw.sort("received_at")
        .group_by("station", "param", "ts")
        .agg(
            pl.col("value").last(),
            pl.col("flag").last(),
            pl.col("period_s").last(),
            pl.col("source").last(),
            pl.col("received_at").last(),
            (pl.col("value").n_unique() - 1).cast(pl.UInt32).alias("revisions"),
        )
    )


def _maintenance(frame: pl.LazyFrame, status: pl.LazyFrame | None) -> pl.LazyFrame:
    """Mark readings whose station was in maintenance/calibration at their time."""
    if status is None:
        return frame.with_columns(pl.lit(False).alias("_maint"))
    events = (
        status.select(
            "station",
            pl.coalesce("ts", "received_at").alias("_status_ts"),
            pl.col("state").is_in(["maintenance", "calibrating"]).alias("_maint"),
        )
        .drop_nulls("_status_ts")
        .sort("_status_ts")
    )
    return (
        frame.sort("ts")
        .join_asof(events, left_on="ts", right_on="_status_ts", by="station", strategy="backward")
        .with_columns(pl.col("_maint").fill_null(False))
        .drop("_status_ts")
    )


def apply_qc_reference(
    readings: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame:
    """De-duplicated readings → the ``readings`` table (contract.md §4.3) with QC reasons."""
    cfg = config or QcConfig()
    lf = readings.lazy()
    st = status.lazy() if status is not None else None
    series = ["station", "param"]
    lf = (
        lf.join(parameter_limits(catalog).lazy(), on="param", how="left")
        .join(_station_flag_valid(catalog).lazy(), on="flag", how="left")
        .with_columns(pl.col("_flag_valid").fill_null(False))
    )
    lf = _maintenance(lf, st).sort([*series, "ts"])

    value = pl.col("value")
    med = value.rolling_median(cfg.spike_window, center=True, min_samples=5).over(series)
    lf = lf.with_columns(med.alias("_med"))
    mad = (
        (value - pl.col("_med"))
        .abs()
        .rolling_median(cfg.spike_window, center=True, min_samples=5)
        .over(series)
    )
    dt_min = (pl.col("ts").diff().over(series).dt.total_microseconds() / 60e6).alias("_dt_min")
    run_id = (value != value.shift(1)).fill_null(True).cum_sum().over(series).alias("_run")
    lf = lf.with_columns(mad.alias("_mad"), dt_min, run_id)
    run_keys = [*series, "_run"]
    lf = lf.with_columns(
        (
            (pl.col("ts").max() - pl.col("ts").min()).over(run_keys).dt.total_microseconds() / 60e6
            + pl.col("period_s").first().over(run_keys) / 60
        ).alias("_run_min"),
        pl.len().over(run_keys).alias("_run_n"),
    )

    spike = (
        ((value - pl.col("_med")).abs() > cfg.spike_k * 1.4826 * pl.col("_mad"))
        & ((value - pl.col("_med")).abs() > cfg.spike_floor_noise * pl.col("noise"))
        & ((value - pl.col("_med")).abs() > cfg.spike_floor_span * (pl.col("hi") - pl.col("lo")))
        & pl.col("_mad").is_not_null()
        & ~pl.col("param").is_in(list(cfg.circular_params))
    ).fill_null(False)
    lf = lf.with_columns(spike.alias("_spike"))
    # the step is measured from the last non-spike value, so the value after a spike
    # (returning to normal) is not blamed for the spike's jump
    previous = (
        pl.when(pl.col("_spike")).then(None).otherwise(value).shift(1).forward_fill().over(series)
    )
    lf = lf.with_columns((value - previous).abs().alias("_step"))
    span = pl.col("hi") - pl.col("lo")
    cannot_be_negative = pl.col("group").is_in(list(cfg.negative_groups))
    checks: list[tuple[QcReason, pl.Expr]] = [
        (QcReason.STATION_FLAG, ~pl.col("_flag_valid")),
        (QcReason.MAINTENANCE, pl.col("_maint")),
        (QcReason.NEGATIVE, (value < -pl.col("noise")) & cannot_be_negative),
        (
            QcReason.RANGE,
            (value > pl.col("hi"))
            | ((value < pl.col("lo") - pl.col("noise")) & ((value >= 0) | ~cannot_be_negative)),
        ),
        (QcReason.SPIKE, pl.col("_spike")),
        (
            QcReason.FLATLINE,
            (pl.col("_run_min") >= cfg.flatline_minutes)
            & (pl.col("_run_n") >= cfg.flatline_min_values)
            & ~pl.col("group").is_in(list(cfg.flatline_exclude_groups))
            & (pl.col("noise") > 0),
        ),
        (
            QcReason.RATE_OF_CHANGE,
            (pl.col("_dt_min") > 0)
            & ~pl.col("param").is_in(list(cfg.circular_params))
            & (
                pl.col("_step") / pl.col("_dt_min").clip(lower_bound=1.0)
                > cfg.roc_fraction_per_min * span
            ),
        ),
    ]
    lf = lf.with_columns(
        pl.concat_list(
            [
                pl.when(cond.fill_null(False)).then(pl.lit(r.value)).otherwise(None)
                for r, cond in checks
            ]
        )
        .list.drop_nulls()
        .alias("qc")
    )
    frame = lf.collect()
    frame = _pm_pair(frame, catalog)
    return frame.with_columns(
        (pl.col("qc").list.len() == 0).alias("valid"),
        pl.col("revisions").fill_null(0).cast(pl.UInt32),
    ).select(list(READINGS))


def _pm_pair(frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Flag PM2.5 and PM10 readings of the same station and time where PM2.5 > PM10."""
    noise = catalog.parameter("pm10").noise
    pm = frame.filter(pl.col("param").is_in(["pm25", "pm10"])).pivot(
        on="param", index=["station", "ts"], values="value", aggregate_function="first"
    )
    if "pm25" not in pm.columns or "pm10" not in pm.columns:
        return frame
    bad = pm.filter(pl.col("pm25") > pl.col("pm10") + noise).select(
        "station", "ts", pl.lit(True).alias("_pm_bad")
    )
    if bad.is_empty():
        return frame
    frame = frame.join(bad, on=["station", "ts"], how="left")
    flagged = pl.col("_pm_bad").fill_null(False) & pl.col("param").is_in(["pm25", "pm10"])
    return frame.with_columns(
        pl.when(flagged)
        .then(pl.col("qc").list.concat(pl.lit([QcReason.PM25_GT_PM10.value])))
        .otherwise(pl.col("qc"))
        .alias("qc")
    ).drop("_pm_bad")


def hourly_means_reference(readings: pl.DataFrame | pl.LazyFrame, catalog: Catalog) -> pl.DataFrame:
    """Clean readings → the ``hourly`` table: one row per station, parameter and hour.

    ``minutes`` is the valid coverage of the hour (a 1-minute value covers 1 minute, an
    hourly value 60; instantaneous values count one minute each), capped at 60.
    """
    min_minutes = catalog.validity.hourly_min_minutes
    lf = readings.lazy().with_columns(_hour_end(pl.col("ts")).alias("_hour"))
    valid_value = pl.when(pl.col("valid")).then(pl.col("value"))
    coverage = pl.when(pl.col("valid")).then(
        (pl.col("period_s").cast(pl.Float64) / 60.0).clip(lower_bound=1.0)
    )
    out = (
        lf.group_by("station", "param", "_hour")
        .agg(
            _mean(pl.col("param") == "wd", valid_value).alias("value"),
            pl.col("valid").sum().cast(pl.UInt32).alias("n"),
            coverage.sum().clip(upper_bound=60.0).fill_null(0.0).alias("minutes"),
        )
        .rename({"_hour": "ts"})
        .with_columns((pl.col("minutes") >= min_minutes).alias("valid"))
        .with_columns(pl.when(pl.col("n") > 0).then(pl.col("value")).alias("value"))
    )
    return out.select(list(HOURLY)).sort("station", "param", "ts").collect()


#: joins a station id and a QC window's index (station ids are [A-Za-z0-9_-], contract.md §1.1)
_WINDOW_SEP = "\x1f"
_HOUR = dt.timedelta(hours=1)
_HOUR_US = 3_600_000_000


def _hour_index(first_start: dt.datetime) -> pl.Expr:
    return ((pl.col("ts") - first_start).dt.total_microseconds() - 1) // _HOUR_US


def _windowed_station() -> pl.Expr:
    return pl.concat_str(pl.col("station"), pl.lit(_WINDOW_SEP), pl.col("_window").cast(pl.String))


def qc_per_hour_reference(
    deduplicated: pl.LazyFrame,
    catalog: Catalog,
    status: pl.LazyFrame,
    ends: list[dt.datetime],
    context: dt.timedelta,
) -> pl.DataFrame:
    """The hourly step's windowed QC as it was (pipeline/hourly.py before the one chain).

    Each hour's window ``(end - 1 h - context, end]`` becomes a series of its own by
    suffixing the station id with the window's index (context rows appear twice); status
    events are repeated per window. A single hour is QC'd on the rows as given. Built on
    :func:`apply_qc_reference`, so it holds the fast chain to the straightforward rules.
    """
    if len(ends) == 1:
        start, end = ends[0] - _HOUR, ends[0]
        clean = apply_qc_reference(deduplicated, catalog, status=status)
        return clean.filter((pl.col("ts") > start) & (pl.col("ts") <= end)).sort(
            "station", "param", "ts"
        )
    first_start = ends[0] - _HOUR
    frame = deduplicated.with_columns(_hour_index(first_start).alias("_hour"))
    last = len(ends) - 1
    hour_start = first_start + pl.duration(hours=pl.col("_hour"))
    in_context = pl.col("ts") - hour_start > _HOUR - context
    own = frame.filter(pl.col("_hour") >= 0).with_columns(pl.col("_hour").alias("_window"))
    ctx = frame.filter(in_context & (pl.col("_hour") < last)).with_columns(
        (pl.col("_hour") + 1).alias("_window")
    )
    windows = pl.concat([own, ctx]).with_columns(_windowed_station().alias("station"))
    status_windows = status.join(
        pl.LazyFrame({"_window": list(range(len(ends)))}, schema={"_window": pl.Int64}),
        how="cross",
    ).with_columns(_windowed_station().alias("station"))
    clean = apply_qc_reference(
        windows.drop("_hour", "_window"), catalog, status=status_windows.drop("_window")
    )
    split = pl.col("station").str.split_exact(_WINDOW_SEP, 1)
    clean = clean.with_columns(
        split.struct.field("field_0").alias("station"),
        split.struct.field("field_1").cast(pl.Int64).alias("_window"),
    )
    return (
        clean.filter(_hour_index(first_start) == pl.col("_window"))
        .drop("_window")
        .sort("station", "param", "ts")
    )
