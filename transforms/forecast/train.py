"""Training a forecast model from hourly history: design matrix, fit, AQI calibration.

Pure given its inputs (history, met per origin, catalog, rules): the pipeline reads them
from the lake and the met archive, the backtest from a simulated year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.forecast.daily import daily_aqi, daily_values, issues_daily
from transforms.forecast.design import (
    design_matrix,
    feature_columns,
    lag_table,
    origins_utc,
    wide_hourly,
)
from transforms.forecast.model import ForecastModel, calibrate_aqi, fit_forecast_model
from transforms.forecast.rules import ModelSettings
from transforms.forecast.scoring import score

__all__ = ["history_days", "observed_daily_aqi", "train_model", "training_design"]


def history_days(hist_long: pl.DataFrame, params: Sequence[str], timezone: str) -> int:
    """Local days with at least one valid value of a forecast pollutant."""
    rows = hist_long.filter(pl.col("valid") & pl.col("param").is_in(list(params)))
    if rows.is_empty():
        return 0
    days = (pl.col("ts") - dt.timedelta(microseconds=1)).dt.convert_time_zone(timezone).dt.date()
    return int(rows.select(days.n_unique()).item())


def training_design(
    hist_long: pl.DataFrame,
    days: Sequence[dt.date],
    met: pl.DataFrame | None,
    settings: ModelSettings,
    *,
    timezone: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The wide observed series and the design rows of issue ``days`` with a target."""
    params = settings.params
    wide = wide_hourly(hist_long, params)
    lags = lag_table(wide, params, timezone=timezone, climatology_days=settings.climatology_days)
    design = design_matrix(
        lags,
        origins_utc(days, timezone),
        met,
        params,
        timezone=timezone,
        horizon_hours=settings.horizon_hours,
    )
    has_target = pl.any_horizontal(pl.col(f"y_{p}").is_not_null() for p in params)
    has_origin = pl.any_horizontal(pl.col(f"{p}_last").is_not_null() for p in params)
    return wide, design.filter(has_target & has_origin)


def observed_daily_aqi(
    wide: pl.DataFrame, params: Sequence[str], catalog: Catalog, timezone: str
) -> pl.DataFrame:
    """Observed daily AQI per series (``station, date, aqi, category``) from wide hourly."""
    long = wide.unpivot(index=["station", "ts"], on=list(params), variable_name="param").rename(
        {"station": "key"}
    )
    daily = daily_values(long, catalog, timezone=timezone)
    return daily_aqi(daily, catalog).rename({"key": "station"})


def train_model(
    hist_long: pl.DataFrame,
    days: Sequence[dt.date],
    met: pl.DataFrame | None,
    catalog: Catalog,
    settings: ModelSettings,
    *,
    timezone: str,
    band_shift: dict[str, float] | None = None,
) -> tuple[ForecastModel, dict[str, Any]]:
    """Fit the model on the issues of ``days``; returns it and its model card.

    ``band_shift``: the ACI shift of the interval levels (see ``adapt_band_shift``).
    """
    params = settings.params
    wide, design = training_design(hist_long, days, met, settings, timezone=timezone)
    model, hold = fit_forecast_model(
        design, settings, features=feature_columns(params), band_shift=band_shift
    )
    skill = pl.DataFrame()
    if hold.height and model.regressors:
        # the hold-out is a one-block backtest of the model before its refit: the skill
        # table the bulletin reads until a full rolling-origin backtest replaces it
        skill = score(hold, wide, params, catalog, timezone=timezone).with_columns(
            pl.lit(None, pl.Float64).alias("coverage")  # the intervals were fitted on it
        )
        fc = issues_daily(hold, params, catalog, timezone=timezone, prefix="pred")
        fc_aqi = daily_aqi(fc, catalog).join(
            fc.select("key", "station", "date", "day").unique(), on=["key", "date"], how="left"
        )
        observed = observed_daily_aqi(wide, params, catalog, timezone)
        calibrate_aqi(model, fc_aqi, observed, settings.quantiles)
        model.metrics["aqi_ratios"] = {str(k): v for k, v in model.aqi_ratios.items()}
    model.metrics["ratios"] = {
        p: {str(k): v for k, v in r.items()} for p, r in model.ratios.items()
    }
    card = {
        "params": list(params),
        "features": model.features,
        "rows": model.rows,
        "series": int(design["station"].n_unique()) if design.height else 0,
        "first_origin": str(min(days)) if days else None,
        "last_origin": str(max(days)) if days else None,
        "train_start": str(hist_long["ts"].min()) if hist_long.height else None,
        "train_end": str(hist_long["ts"].max()) if hist_long.height else None,
        "fit_seconds": round(model.fit_seconds, 2),
        "settings": {k: getattr(settings, k) for k in settings.__slots__},
        "metrics": model.metrics,
        "holdout_first_origin": str(hold["origin"].min()) if hold.height else None,
        "skill": skill,
    }
    return model, card
