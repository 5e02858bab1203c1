"""Skill tables: forecasts scored next to persistence and climatology, by lead day.

Separate from training and the backtest so both can score without importing each other:

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
from collections.abc import Sequence

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.forecast.daily import daily_aqi, daily_values, issues_daily
from transforms.forecast.model import lead_day

__all__ = ["score"]

_DAILY_CODE = {"pm25": "pm25", "no2": "no2", "o3": "o3_8h_max"}


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
