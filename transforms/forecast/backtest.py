"""Rolling-origin backtest: what a forecaster would have seen, day after day, scored.

The held history is cut into test blocks of ``refit_every_days`` issue days. For each block
the model is trained exactly as in production (:func:`fit_forecast_model`: hold-out
calibration, then refit) on the issues whose 72 hours were fully observed before the
block's first origin, and then forecasts every issue of the block. Nothing of the block
is seen in training; features only ever look back from their origin.

Every forecast is scored next to two baselines made from the same information:

* **persistence** — hourly: the same hour of the last observed day; daily AQI: the issue
  day's observed AQI for all three days;
* **climatology** — the mean at that hour of day over the 30 days before the origin (its
  daily AQI is the AQI of those hourly values).

By pollutant and lead day (hours 1-24, 25-48, 49-72): RMSE, MAE, skill = 1 - RMSE/RMSE of
persistence (> 0 beats it), interval coverage, and the daily category hit rate (the daily
IAQI category of the pollutant, or the AQI category for ``aqi``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.forecast.design import feature_columns, origins_utc
from transforms.forecast.model import (
    adapt_band_shift,
    fit_forecast_model,
    predict,
    verified_rows,
)
from transforms.forecast.rules import ModelSettings
from transforms.forecast.scoring import score
from transforms.forecast.train import training_design

__all__ = ["BacktestResult", "backtest"]


class BacktestResult:
    """The skill table and the scored forecasts (for plots and further analysis)."""

    def __init__(self, skill: pl.DataFrame, predictions: pl.DataFrame, folds: int) -> None:
        self.skill = skill
        self.predictions = predictions
        self.folds = folds


def backtest(
    hist_long: pl.DataFrame,
    days: Sequence[dt.date],
    met: pl.DataFrame | None,
    catalog: Catalog,
    settings: ModelSettings,
    *,
    timezone: str,
    first_test_day: dt.date,
    refit_every_days: int = 30,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest over the issue ``days`` from ``first_test_day`` on."""
    params = settings.params
    wide, design = training_design(hist_long, days, met, settings, timezone=timezone)
    tests = [d for d in days if d >= first_test_day]
    blocks = [tests[i : i + refit_every_days] for i in range(0, len(tests), refit_every_days)]
    features = feature_columns(params)
    preds: list[pl.DataFrame] = []
    shift: dict[str, float] = {}
    verified_to: dt.datetime | None = None
    nominal = settings.quantiles[1] - settings.quantiles[0]
    for i, block in enumerate(blocks):
        first_origin = origins_utc([block[0]], timezone)[0]
        horizon = dt.timedelta(hours=settings.horizon_hours)
        train = design.filter(pl.col("origin") + horizon <= first_origin)
        test_origins = origins_utc(block, timezone)
        test = design.filter(pl.col("origin").is_in(test_origins))
        if train.height == 0 or test.height == 0:
            continue
        if preds:
            # ACI feedback, as in production: the earlier folds' forecasts of the hours
            # observed since the last update (each hour once, none after this origin)
            seen = pl.col("ts") <= first_origin
            if verified_to is not None:
                seen = seen & (pl.col("ts") > verified_to)
            past = pl.concat([p.filter(seen) for p in preds], how="diagonal_relaxed")
            shift = adapt_band_shift(
                shift, verified_rows(past, params), nominal, settings.band_adapt
            )
            verified_to = first_origin
        model, _ = fit_forecast_model(train, settings, features=features, band_shift=shift)
        preds.append(predict(model, test))
        if progress is not None:
            progress(i + 1, len(blocks))
    if not preds:
        return BacktestResult(pl.DataFrame(), pl.DataFrame(), 0)
    pred = pl.concat(preds, how="diagonal_relaxed")
    skill = score(pred, wide, params, catalog, timezone=timezone)
    return BacktestResult(skill, pred, len(blocks))
