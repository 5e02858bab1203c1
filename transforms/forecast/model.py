"""The forecast model: gradient boosting per pollutant, intervals from held-out residuals.

Why this design (docs/forecast.md has the numbers):

* ``HistGradientBoostingRegressor`` (scikit-learn) with Poisson loss: concentrations are
  positive and their errors grow with the level; the log link predicts the conditional
  mean (what RMSE rewards) without a back-transform bias. Histogram boosting trains on a
  year of hourly rows × 72 leads in seconds and takes missing inputs natively.
* Intervals from data, not assumptions: the most recent ``calibration_share`` of origins
  is held out, the model fitted on the rest predicts them, and the quantiles of the ratio
  ``(observed + 1) / (forecast + 1)`` per pollutant and lead day scale every forecast
  into its interval (multiplicative: wider at higher levels). The same hold-out gives
  the stored metrics. The final model is then refitted on all origins.
* The daily AQI interval is calibrated the same way on the hold-out's daily AQI.

sklearn is imported inside the functions (it costs ~1 s to import).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from transforms.forecast.rules import ModelSettings

__all__ = ["ForecastModel", "fit_forecast_model", "lead_day", "predict", "ratio_quantiles"]


def lead_day(lead: pl.Expr) -> pl.Expr:
    """1 for lead hours 1-24, 2 for 25-48, 3 for 49-72."""
    return ((lead - 1) // 24 + 1).cast(pl.Int32)


@dataclass
class ForecastModel:
    """A fitted model set: one regressor per pollutant and the interval ratios."""

    params: tuple[str, ...]
    features: list[str]
    regressors: dict[str, Any]
    ratios: dict[str, dict[int, tuple[float, float]]]
    """Per pollutant and lead day: (low, high) quantiles of (obs + 1) / (forecast + 1)."""
    interval_pct: int
    aqi_ratios: dict[int, tuple[float, float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    fit_seconds: float = 0.0
    threads: int = 1

    def interval(self, param: str, day: int) -> tuple[float, float]:
        table = self.ratios.get(param, {})
        if not table:
            return (0.5, 1.8)
        return table.get(day, table[max(table)])


def _regressor(settings: ModelSettings) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="poisson",
        max_iter=settings.max_iter,
        learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        early_stopping=False,
        random_state=settings.seed,
    )


def _xy(
    frame: pl.DataFrame, features: list[str], param: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rows = frame.filter(pl.col(f"y_{param}").is_not_null() & (pl.col(f"y_{param}") >= 0))
    x = rows.select(pl.col(features).cast(pl.Float64)).to_numpy()
    y = rows[f"y_{param}"].to_numpy()
    return x, y


def ratio_quantiles(
    observed: np.ndarray[Any, Any], forecast: np.ndarray[Any, Any], quantiles: tuple[float, float]
) -> tuple[float, float]:
    """Quantiles of (observed + 1) / (forecast + 1): the multiplicative interval."""
    ok = np.isfinite(observed) & np.isfinite(forecast)
    if ok.sum() < 10:
        return (0.5, 1.8)
    ratio = (observed[ok] + 1.0) / (np.maximum(forecast[ok], 0.0) + 1.0)
    low, high = np.quantile(ratio, quantiles)
    return float(low), float(high)


def _split(frame: pl.DataFrame, share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    origins = frame.select(pl.col("origin").unique().sort()).to_series()
    n_hold = max(1, math.ceil(len(origins) * share)) if len(origins) > 1 else 0
    if n_hold == 0 or n_hold >= len(origins):
        return frame, frame.clear()
    cut = origins[len(origins) - n_hold]
    return frame.filter(pl.col("origin") < cut), frame.filter(pl.col("origin") >= cut)


def _fit(
    frame: pl.DataFrame, features: list[str], params: tuple[str, ...], settings: ModelSettings
) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    out: dict[str, Any] = {}
    with threadpool_limits(limits=settings.threads or None):
        for p in params:
            x, y = _xy(frame, features, p)
            if len(y) < 50:
                continue
            reg = _regressor(settings)
            reg.fit(x, y)
            out[p] = reg
    return out


def predict(model: ForecastModel, design: pl.DataFrame) -> pl.DataFrame:
    """``design`` with ``pred_<p>``, ``lower_<p>``, ``upper_<p>`` per pollutant with a model."""
    from threadpoolctl import threadpool_limits

    x = design.select(pl.col(model.features).cast(pl.Float64)).to_numpy()
    days = design.select(lead_day(pl.col("lead"))).to_series().to_numpy()
    cols: list[pl.Series] = []
    for p in model.params:
        reg = model.regressors.get(p)
        if reg is None:
            continue
        with threadpool_limits(limits=model.threads or None):
            point = np.maximum(reg.predict(x) if len(x) else np.zeros(0), 0.0)
        low = np.empty_like(point)
        high = np.empty_like(point)
        for day in np.unique(days):
            lo, hi = model.interval(p, int(day))
            sel = days == day
            low[sel] = np.maximum((point[sel] + 1.0) * lo - 1.0, 0.0)
            high[sel] = (point[sel] + 1.0) * hi - 1.0
        cols += [
            pl.Series(f"pred_{p}", point),
            pl.Series(f"lower_{p}", np.minimum(low, point)),
            pl.Series(f"upper_{p}", np.maximum(high, point)),
        ]
    return design.with_columns(cols)


def _metrics(hold: pl.DataFrame, params: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        if f"pred_{p}" not in hold.columns:
            continue
        scored = hold.filter(pl.col(f"y_{p}").is_not_null()).with_columns(
            lead_day(pl.col("lead")).alias("day"),
            (pl.col(f"pred_{p}") - pl.col(f"y_{p}")).alias("err"),
            (pl.col(f"{p}_persist") - pl.col(f"y_{p}")).alias("perr"),
        )
        stats = (
            scored.group_by("day")
            .agg(
                pl.len().alias("n"),
                (pl.col("err") ** 2).mean().sqrt().alias("rmse"),
                pl.col("err").abs().mean().alias("mae"),
                (pl.col("perr") ** 2).mean().sqrt().alias("persistence_rmse"),
            )
            .sort("day")
        )
        out[p] = {
            str(r["day"] * 24): {k: r[k] for k in ("n", "rmse", "mae", "persistence_rmse")}
            for r in stats.iter_rows(named=True)
        }
    return out


def fit_forecast_model(
    design: pl.DataFrame,
    settings: ModelSettings,
    *,
    features: list[str],
    refit: bool = True,
) -> tuple[ForecastModel, pl.DataFrame]:
    """Fit, calibrate on the held-out recent origins, then refit on everything.

    Returns the model and the hold-out rows with their predictions (for the daily AQI
    interval, which needs the catalog: see :func:`calibrate_aqi`).
    """
    import time

    start = time.perf_counter()
    params = settings.params
    train, hold = _split(design, settings.calibration_share)
    regs = _fit(train, features, params, settings)
    model = ForecastModel(
        params, features, regs, {}, settings.interval_pct, threads=settings.threads
    )
    hold_pred = predict(model, hold) if hold.height else hold
    for p in regs:
        scored = hold_pred.filter(pl.col(f"y_{p}").is_not_null()).with_columns(
            lead_day(pl.col("lead")).alias("day")
        )
        model.ratios[p] = {
            int(day): ratio_quantiles(
                group[f"y_{p}"].to_numpy(), group[f"pred_{p}"].to_numpy(), settings.quantiles
            )
            for (day,), group in scored.group_by("day")
        }
    model.metrics = {"holdout": _metrics(hold_pred, params)} if hold.height else {}
    if refit and hold.height:
        model.regressors = _fit(design, features, params, settings)
    model.rows = sum(_xy(design, features, p)[1].shape[0] for p in params)
    model.fit_seconds = time.perf_counter() - start
    return model, hold_pred


def calibrate_aqi(
    model: ForecastModel,
    forecast_aqi: pl.DataFrame,
    observed_aqi: pl.DataFrame,
    quantiles: tuple[float, float],
) -> None:
    """Set the daily AQI interval ratios from hold-out ``key, date, day, aqi`` vs observed."""
    joined = forecast_aqi.join(
        observed_aqi.select("station", "date", pl.col("aqi").alias("obs")),
        on=["station", "date"],
        how="inner",
    )
    for (day,), group in joined.group_by("day"):
        model.aqi_ratios[int(day)] = ratio_quantiles(
            group["obs"].cast(pl.Float64).to_numpy(),
            group["aqi"].cast(pl.Float64).to_numpy(),
            quantiles,
        )
