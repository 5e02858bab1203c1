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
from transforms.forecast_daily import daily_aqi, daily_values, issues_daily
from transforms.forecast_design import feature_columns, origins_utc
from transforms.forecast_model import fit_forecast_model, lead_day, predict
from transforms.forecast_rules import ModelSettings
from transforms.forecast_train import training_design

__all__ = ["BacktestResult", "backtest", "score"]

_DAILY_CODE = {"pm25": "pm25", "no2": "no2", "o3": "o3_8h_max"}


class BacktestResult:
    """The skill table and the scored forecasts (for plots and further analysis)."""

    def __init__(self, skill: pl.DataFrame, predictions: pl.DataFrame, folds: int) -> None:
        self.skill = skill
        self.predictions = predictions
        self.folds = folds


def _hourly_scores(pred: pl.DataFrame, params: Sequence[str]) -> pl.DataFrame:
    parts = []
    for p in params:
        if f"pred_{p}" not in pred.columns:
            continue
        y = pl.col(f"y_{p}")
        scored = pred.filter(y.is_not_null() & pl.col(f"{p}_persist").is_not_null())
        parts.append(
            scored.group_by(lead_day(pl.col("lead")).alias("day"))
            .agg(
                pl.len().alias("n"),
                ((pl.col(f"pred_{p}") - y) ** 2).mean().sqrt().alias("rmse"),
                (pl.col(f"pred_{p}") - y).abs().mean().alias("mae"),
                ((pl.col(f"{p}_persist") - y) ** 2).mean().sqrt().alias("persistence_rmse"),
                (pl.col(f"{p}_persist") - y).abs().mean().alias("persistence_mae"),
                ((pl.col(f"{p}_clim") - y) ** 2).mean().sqrt().alias("climatology_rmse"),
                (pl.col(f"{p}_clim") - y).abs().mean().alias("climatology_mae"),
                y.is_between(pl.col(f"lower_{p}"), pl.col(f"upper_{p}")).mean().alias("coverage"),
            )
            .with_columns(pl.lit(p).alias("param"))
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def _categories(daily: pl.DataFrame, catalog: Catalog, code: str | None) -> pl.DataFrame:
    params = (code,) if code is not None else None
    return daily_aqi(daily, catalog, params).select("key", "date", "aqi", "category")


def _daily_scores(
    pred: pl.DataFrame,
    wide: pl.DataFrame,
    params: tuple[str, ...],
    catalog: Catalog,
    timezone: str,
) -> pl.DataFrame:
    """Category hit rates per pollutant and the daily AQI's errors, by lead day."""
    frames = {
        which: issues_daily(pred, params, catalog, timezone=timezone, prefix=which)
        for which in ("pred", "clim")
    }
    keys = frames["pred"].select("key", "station", "origin", "date", "day").unique()
    long = wide.unpivot(index=["station", "ts"], on=list(params), variable_name="param")
    observed = daily_values(long.rename({"station": "key"}), catalog, timezone=timezone)
    issue_day = (
        (pl.col("origin") - dt.timedelta(microseconds=1)).dt.convert_time_zone(timezone).dt.date()
    )
    rows = []
    for p in (*params, "aqi"):
        code = _DAILY_CODE.get(p)
        obs = _categories(observed, catalog, code).rename(
            {"key": "station", "aqi": "obs", "category": "obs_cat"}
        )
        fc = _categories(frames["pred"], catalog, code).rename({"aqi": "fc", "category": "fc_cat"})
        cl = _categories(frames["clim"], catalog, code).rename({"aqi": "cl", "category": "cl_cat"})
        joined = (
            keys.join(fc, on=["key", "date"], how="inner")
            .join(cl, on=["key", "date"], how="left")
            .join(obs, on=["station", "date"], how="inner")
            .with_columns(issue_day.alias("issue_date"))
            .join(
                obs.rename({"date": "issue_date", "obs": "pe", "obs_cat": "pe_cat"}),
                on=["station", "issue_date"],
                how="left",
            )
        )
        agg = [
            pl.len().alias("n_days"),
            (pl.col("fc_cat") == pl.col("obs_cat")).mean().alias("category_hit_rate"),
            (pl.col("pe_cat") == pl.col("obs_cat")).mean().alias("persistence_hit_rate"),
            (pl.col("cl_cat") == pl.col("obs_cat")).mean().alias("climatology_hit_rate"),
        ]
        if p == "aqi":
            err, perr, cerr = (pl.col(c) - pl.col("obs") for c in ("fc", "pe", "cl"))
            agg += [
                pl.len().alias("n"),
                (err**2).mean().sqrt().alias("rmse"),
                err.abs().mean().alias("mae"),
                (perr**2).mean().sqrt().alias("persistence_rmse"),
                perr.abs().mean().alias("persistence_mae"),
                (cerr**2).mean().sqrt().alias("climatology_rmse"),
                cerr.abs().mean().alias("climatology_mae"),
            ]
        rows.append(
            joined.with_columns(pl.col("fc", "pe", "cl", "obs").cast(pl.Float64))
            .group_by("day")
            .agg(agg)
            .with_columns(pl.lit(p).alias("param"))
        )
    return pl.concat(rows, how="diagonal_relaxed")


def score(
    pred: pl.DataFrame,
    wide: pl.DataFrame,
    params: tuple[str, ...],
    catalog: Catalog,
    *,
    timezone: str,
) -> pl.DataFrame:
    """The skill table (forecast_skill's scores) of scored forecasts ``pred``."""
    hourly = _hourly_scores(pred, params)
    daily = _daily_scores(pred, wide, params, catalog, timezone)
    hits = daily.select(
        "param", "day", "category_hit_rate", "persistence_hit_rate", "climatology_hit_rate"
    )
    aqi = daily.filter(pl.col("param") == "aqi").drop(
        "category_hit_rate", "persistence_hit_rate", "climatology_hit_rate", "n_days"
    )
    table = pl.concat([hourly, aqi], how="diagonal_relaxed").join(
        hits, on=["param", "day"], how="left"
    )
    order = {p: i for i, p in enumerate((*params, "aqi"))}
    return (
        table.with_columns(
            (pl.col("day") * 24).cast(pl.Int32).alias("lead_hours"),
            (1.0 - pl.col("rmse") / pl.col("persistence_rmse")).alias("skill"),
            (1.0 - pl.col("rmse") / pl.col("climatology_rmse")).alias("skill_climatology"),
            pl.col("param").replace_strict(order, default=99).alias("_o"),
        )
        .sort("_o", "lead_hours")
        .drop("_o", "day")
    )


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
    for i, block in enumerate(blocks):
        first_origin = origins_utc([block[0]], timezone)[0]
        horizon = dt.timedelta(hours=settings.horizon_hours)
        train = design.filter(pl.col("origin") + horizon <= first_origin)
        test_origins = origins_utc(block, timezone)
        test = design.filter(pl.col("origin").is_in(test_origins))
        if train.height == 0 or test.height == 0:
            continue
        model, _ = fit_forecast_model(train, settings, features=features)
        preds.append(predict(model, test))
        if progress is not None:
            progress(i + 1, len(blocks))
    if not preds:
        return BacktestResult(pl.DataFrame(), pl.DataFrame(), 0)
    pred = pl.concat(preds, how="diagonal_relaxed")
    skill = score(pred, wide, params, catalog, timezone=timezone)
    return BacktestResult(skill, pred, len(blocks))
