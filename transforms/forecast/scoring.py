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
import math
from collections.abc import Sequence

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.forecast.daily import DAILY_CODE, daily_aqi, daily_values, issues_daily
from transforms.forecast.model import lead_day

__all__ = ["score", "skill_intervals"]


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
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Category hit rates per pollutant and the daily AQI's errors, by lead day.

    Also the daily AQI's squared errors per issue (``origin, day, se, pse``) for the CI.
    """
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
    per_issue = pl.DataFrame()
    for p in (*params, "aqi"):
        code = DAILY_CODE.get(p)
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
            per_issue = joined.filter(pl.col("pe").is_not_null()).select(
                "origin",
                "day",
                ((pl.col("fc").cast(pl.Float64) - pl.col("obs")) ** 2).alias("se"),
                ((pl.col("pe").cast(pl.Float64) - pl.col("obs")) ** 2).alias("pse"),
            )
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
    return pl.concat(rows, how="diagonal_relaxed"), per_issue


def _hourly_per_issue(pred: pl.DataFrame, params: Sequence[str]) -> pl.DataFrame:
    """Squared errors of model and persistence summed per issue, pollutant and lead day."""
    parts = []
    for p in params:
        if f"pred_{p}" not in pred.columns:
            continue
        y = pl.col(f"y_{p}")
        parts.append(
            pred.filter(y.is_not_null() & pl.col(f"{p}_persist").is_not_null())
            .group_by("origin", lead_day(pl.col("lead")).alias("day"))
            .agg(
                ((pl.col(f"pred_{p}") - y) ** 2).sum().alias("se"),
                ((pl.col(f"{p}_persist") - y) ** 2).sum().alias("pse"),
            )
            .with_columns(pl.lit(p).alias("param"))
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def skill_intervals(
    per_issue: pl.DataFrame,
    *,
    level: float = 0.95,
    n_boot: int = 1000,
    block_days: int = 7,
    seed: int = 0,
) -> pl.DataFrame:
    """Bootstrap confidence intervals of skill per ``param, day``: ``skill_low, skill_high``.

    ``per_issue`` holds ``origin, param, day, se, pse`` (squared errors of the model and of
    persistence summed over one issue). Issues are resampled in moving blocks of
    ``block_days`` consecutive issue days — one episode spans several issues, so resampling
    single days would understate the uncertainty.
    """
    import numpy as np

    if per_issue.is_empty():
        return pl.DataFrame(
            schema={"param": pl.String, "day": pl.Int32, "skill_low": pl.Float64,
                    "skill_high": pl.Float64}
        )  # fmt: skip
    origins = per_issue["origin"].unique().sort()
    index = {o: i for i, o in enumerate(origins.to_list())}
    n = len(index)
    rng = np.random.default_rng(seed)
    block = max(1, min(block_days, n))
    starts = rng.integers(0, n - block + 1, size=(n_boot, math.ceil(n / block)))
    picks = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n]
    weights = np.stack([np.bincount(row, minlength=n) for row in picks]).astype(np.float64)
    tail = (1.0 - level) / 2.0
    out = []
    for (param, day), group in per_issue.group_by("param", "day"):
        at = np.array([index[o] for o in group["origin"].to_list()])
        se = np.zeros(n)
        pse = np.zeros(n)
        np.add.at(se, at, group["se"].to_numpy())
        np.add.at(pse, at, group["pse"].to_numpy())
        num = weights @ se
        den = weights @ pse
        ok = den > 0
        skills = 1.0 - np.sqrt(num[ok] / den[ok])
        low, high = np.quantile(skills, [tail, 1.0 - tail]) if ok.any() else (None, None)
        out.append({"param": param, "day": day, "skill_low": low, "skill_high": high})
    return pl.DataFrame(
        out, schema={"param": pl.String, "day": pl.Int32, "skill_low": pl.Float64,
                     "skill_high": pl.Float64}
    )  # fmt: skip


def score(
    pred: pl.DataFrame,
    wide: pl.DataFrame,
    params: tuple[str, ...],
    catalog: Catalog,
    *,
    timezone: str,
    bootstrap: bool = True,
) -> pl.DataFrame:
    """The skill table (forecast_skill's scores) of scored forecasts ``pred``.

    With ``bootstrap``, ``skill_low`` / ``skill_high`` bound the skill (95 %, issues
    resampled in weekly blocks: :func:`skill_intervals`).
    """
    hourly = _hourly_scores(pred, params)
    daily, aqi_issues = _daily_scores(pred, wide, params, catalog, timezone)
    per_issue = pl.concat(
        [_hourly_per_issue(pred, params), aqi_issues.with_columns(pl.lit("aqi").alias("param"))],
        how="diagonal_relaxed",
    )
    intervals = skill_intervals(per_issue) if bootstrap else None
    hits = daily.select(
        "param", "day", "category_hit_rate", "persistence_hit_rate", "climatology_hit_rate"
    )
    aqi = daily.filter(pl.col("param") == "aqi").drop(
        "category_hit_rate", "persistence_hit_rate", "climatology_hit_rate", "n_days"
    )
    table = pl.concat([hourly, aqi], how="diagonal_relaxed").join(
        hits, on=["param", "day"], how="left"
    )
    if intervals is not None:
        table = table.with_columns(pl.col("day").cast(pl.Int32)).join(
            intervals, on=["param", "day"], how="left"
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
