"""Quality control: flag, never delete.

Every reading keeps its row; QC adds ``qc`` (a list of :class:`~transforms.schemas.QcReason`
codes) and ``valid`` (no reason at all). Later steps average only valid values, and an
analyst can always see what was excluded and why.

Checks, each vectorised per (station, param) series ordered by time:

* station flag — the HJ 212 letter says invalid (M, C, D, F, S, B, P; ``T`` stays valid);
* maintenance — inside a maintenance/calibration window announced on the status topic;
* negative — below zero by more than the instrument noise (catalog ``noise``);
* range — outside the catalog's plausibility range;
* spike — Hampel filter: ``|x − median| > k · 1.4826 · MAD`` on a centred rolling window,
  and by more than an absolute floor (a few noise units) so flat series do not trip it;
* flat-line — the same value repeated for at least ``flatline_minutes`` (stuck sensor),
  for parameters whose real signal always varies;
* rate of change — a step between consecutive values larger than a fraction of the
  plausible span per minute;
* PM2.5 > PM10 — at the same station and time, beyond PM10's noise (both flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from aircarbon.catalog import Catalog, ParamGroup
from transforms.schemas import READINGS, QcReason

__all__ = ["QcConfig", "apply_qc", "parameter_limits"]


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


def apply_qc(
    readings: pl.LazyFrame | pl.DataFrame,
    catalog: Catalog,
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    config: QcConfig | None = None,
) -> pl.DataFrame:
    """De-duplicated readings → the ``readings`` table (SPEC §3) with QC reasons."""
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
        ).alias("_run_min")
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
