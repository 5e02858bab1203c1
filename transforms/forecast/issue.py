"""One forecast issue: hourly values with intervals, daily AQI, and the warnings they raise.

Two methods, named in the ``method`` column so nobody mistakes one for the other:

* ``gbm`` — the trained model (:mod:`transforms.forecast.model`), with its calibrated
  intervals; ``gbm+met_persistence`` when no met forecast was available for the issue
  and yesterday's weather stood in for it;
* ``persistence_fallback`` — while the history is too short to train (a new network, the
  demo's two days): the same hour of the last observed day (the 30-day hour-of-day mean
  where that hour is missing), with a fixed, *uncalibrated* ratio interval from
  ``forecast.toml``. The result's summary says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.forecast.daily import daily_aqi, daily_values
from transforms.forecast.design import design_matrix, lag_table, wide_hourly
from transforms.forecast.model import ForecastModel, predict
from transforms.forecast.rules import ForecastRules
from transforms.warnings import WARNINGS, heavy_pollution_warnings, o3_episode_alerts

__all__ = ["FORECASTS", "Issue", "issue_forecast", "observed_daily"]

UTC = pl.Datetime("us", "UTC")
FALLBACK = "persistence_fallback"

#: The forecasts frame (warehouse ``forecasts``).
FORECASTS = pl.Schema(
    {
        "issued_date": pl.Date(),
        "issued_at": UTC,
        "model_version": pl.String(),
        "method": pl.String(),
        "station": pl.String(),
        "param": pl.String(),
        "ts": UTC,
        "date": pl.Date(),
        "lead_hours": pl.Int32(),
        "value": pl.Float64(),
        "lower": pl.Float64(),
        "upper": pl.Float64(),
        "interval_pct": pl.Int32(),
        "unit": pl.String(),
        "category": pl.String(),
        "category_zh": pl.String(),
    }
)


@dataclass(frozen=True, slots=True)
class Issue:
    """What one issue produced (frames shaped as the warehouse tables)."""

    forecasts: pl.DataFrame
    warnings: pl.DataFrame
    method: str


def _hourly_long(pred: pl.DataFrame, params: Sequence[str], method: str) -> pl.DataFrame:
    parts = [
        pred.select(
            "station",
            pl.lit(p).alias("param"),
            "ts",
            "origin",
            pl.col("lead").cast(pl.Int32),
            pl.col(f"pred_{p}").alias("value"),
            pl.col(f"lower_{p}").alias("lower"),
            pl.col(f"upper_{p}").alias("upper"),
        )
        for p in params
        if f"pred_{p}" in pred.columns
    ]
    return pl.concat(parts).drop_nulls("value").with_columns(pl.lit(method).alias("method"))


def _fallback(
    design: pl.DataFrame, params: Sequence[str], ratio: tuple[float, float]
) -> pl.DataFrame:
    low, high = ratio
    cols: list[pl.Expr] = []
    for p in params:
        point = pl.coalesce(pl.col(f"{p}_persist"), pl.col(f"{p}_clim"), pl.col(f"{p}_mean168"))
        cols += [
            point.alias(f"pred_{p}"),
            (point * low).alias(f"lower_{p}"),
            (point * high).alias(f"upper_{p}"),
        ]
    return design.with_columns(cols)


def _with_city_aqi(aqi: pl.DataFrame, daily: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """``aqi`` (``key, date, aqi, …``) with the city's rows replaced by the one city AQI.

    :func:`transforms.city_aqi.city_aqi` over the station days of ``daily`` (assessment
    stations' valid daily means, HJ 633 of the version in force) — the bulletin's method —
    not the AQI of the mean-of-stations series. No assessment station: no city row.
    """
    from transforms.city_aqi import CITY, city_aqi

    stations = daily.filter(pl.col("key") != CITY).rename({"key": "station"})
    city = city_aqi(stations, catalog).select(
        pl.lit(CITY).alias("key"), *[c for c in aqi.columns if c != "key"]
    )
    return pl.concat(
        [aqi.filter(pl.col("key") != CITY), city.cast(dict(aqi.schema))],  # type: ignore[arg-type]
        how="vertical",
    )


def observed_daily(
    hist_long: pl.DataFrame, day: dt.date, catalog: Catalog, params: Sequence[str], timezone: str
) -> pl.DataFrame:
    """Observed daily AQI and O3 of local ``day`` per series (stations and city)."""
    wide = wide_hourly(hist_long, params)
    long = wide.unpivot(index=["station", "ts"], on=list(params), variable_name="param")
    long = long.rename({"station": "key"})
    daily = daily_values(long, catalog, timezone=timezone).filter(pl.col("date") == day)
    aqi = _with_city_aqi(daily_aqi(daily, catalog), daily, catalog)
    o3 = daily.filter((pl.col("param") == "o3_8h_max") & pl.col("valid")).select(
        "key", "date", pl.col("value").alias("o3_8h_max")
    )
    return aqi.join(o3, on=["key", "date"], how="full", coalesce=True).rename({"key": "station"})


def _daily_rows(
    hourly: pl.DataFrame,
    day: dt.date,
    origin: dt.datetime,
    catalog: Catalog,
    model: ForecastModel | None,
    timezone: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Daily AQI rows (value, interval, category) and daily max 8-h O3 per station."""
    days = [day + dt.timedelta(days=k) for k in (1, 2, 3)]
    outs: dict[str, pl.DataFrame] = {}
    for which in ("value", "lower", "upper"):
        long = hourly.select(
            pl.col("station").alias("key"), "param", "ts", pl.col(which).alias("value")
        )
        daily = daily_values(long, catalog, timezone=timezone).filter(pl.col("date").is_in(days))
        outs[which] = daily
    point, low, high = (
        _with_city_aqi(daily_aqi(outs[w], catalog), outs[w], catalog)
        for w in ("value", "lower", "upper")
    )
    low = low.select("key", "date", pl.col("aqi").alias("lo"))
    high = high.select("key", "date", pl.col("aqi").alias("hi"))
    frame = point.join(low, on=["key", "date"], how="left").join(
        high, on=["key", "date"], how="left"
    )
    frame = frame.with_columns(((pl.col("date") - day).dt.total_days()).cast(pl.Int32).alias("day"))
    if model is not None and model.aqi_ratios:
        lo = pl.col("day").replace_strict(
            {d: r[0] for d, r in model.aqi_ratios.items()}, default=None
        )
        hi = pl.col("day").replace_strict(
            {d: r[1] for d, r in model.aqi_ratios.items()}, default=None
        )
        value = pl.col("aqi").cast(pl.Float64)
        frame = frame.with_columns(
            pl.coalesce(((value + 1) * lo - 1).clip(lower_bound=0), pl.col("lo")).alias("lo"),
            pl.coalesce((value + 1) * hi - 1, pl.col("hi")).alias("hi"),
        )
    aqi_rows = frame.select(
        pl.col("key").alias("station"),
        pl.lit("aqi").alias("param"),
        (pl.col("date") + dt.timedelta(days=1))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone(timezone)
        .dt.convert_time_zone("UTC")
        .alias("ts"),
        "date",
        (pl.col("day") * 24).cast(pl.Int32).alias("lead_hours"),
        pl.col("aqi").cast(pl.Float64).alias("value"),
        pl.min_horizontal(pl.col("lo").cast(pl.Float64), pl.col("aqi")).alias("lower"),
        pl.max_horizontal(pl.col("hi").cast(pl.Float64), pl.col("aqi")).alias("upper"),
        pl.lit("AQI").alias("unit"),
        "category",
        "category_zh",
    )
    o3 = (
        outs["value"]
        .filter((pl.col("param") == "o3_8h_max") & pl.col("valid"))
        .select(pl.col("key").alias("station"), "date", pl.col("value").alias("o3_8h_max"))
    )
    return aqi_rows, o3


def issue_forecast(
    hist_long: pl.DataFrame,
    day: dt.date,
    origin: dt.datetime,
    met: pl.DataFrame | None,
    catalog: Catalog,
    rules: ForecastRules,
    *,
    model: ForecastModel | None,
    model_version: str | None,
    method: str,
    timezone: str,
) -> Issue:
    """The issue of local ``day`` (origin = local midnight ending it) for 72 hours.

    ``hist_long`` holds valid hourly means up to the origin (at least the climatology
    window); ``model`` None means the persistence fallback.
    """
    ms = rules.model
    params = ms.params
    wide = wide_hourly(hist_long, params)
    lags = lag_table(wide, params, timezone=timezone, climatology_days=ms.climatology_days)
    # only series that reported at the origin's day can be forecast
    recent = lags.filter(pl.col("ts") > origin - dt.timedelta(hours=24)).filter(
        pl.any_horizontal(pl.col(p).is_not_null() for p in params)
    )
    stations = sorted(set(recent["station"].to_list()))
    design = design_matrix(
        lags,
        [origin],
        met,
        params,
        timezone=timezone,
        horizon_hours=ms.horizon_hours,
        stations=stations,
    )
    pred = (
        predict(model, design)
        if model is not None
        else _fallback(design, params, ms.fallback_ratio)
    )
    hourly = _hourly_long(pred, params, method) if design.height else pl.DataFrame()
    if hourly.is_empty():
        return Issue(pl.DataFrame(schema=FORECASTS), pl.DataFrame(schema=WARNINGS), method)
    aqi_rows, o3_daily = _daily_rows(hourly, day, origin, catalog, model, timezone)
    hourly_rows = hourly.select(
        "station",
        "param",
        "ts",
        (pl.col("ts") - dt.timedelta(microseconds=1))
        .dt.convert_time_zone(timezone)
        .dt.date()
        .alias("date"),
        pl.col("lead").alias("lead_hours"),
        "value",
        "lower",
        "upper",
        # the catalog's canonical unit (mg/m3 for CO), as the hourly table stores it
        pl.col("param")
        .replace_strict({p: catalog.parameter(p).unit for p in params}, default="ug/m3")
        .alias("unit"),
        pl.lit(None, pl.String).alias("category"),
        pl.lit(None, pl.String).alias("category_zh"),
    )
    rows = pl.concat([hourly_rows, aqi_rows], how="vertical_relaxed").with_columns(
        pl.lit(day).alias("issued_date"),
        pl.lit(origin).cast(UTC).alias("issued_at"),
        pl.lit(model_version, pl.String).alias("model_version"),
        pl.lit(method).alias("method"),
        pl.lit(ms.interval_pct, pl.Int32).alias("interval_pct"),
    )
    forecasts = rows.select(list(FORECASTS)).cast(dict(FORECASTS)).sort("station", "param", "ts")  # type: ignore[arg-type]
    observed = observed_daily(hist_long, day, catalog, params, timezone)
    heavy = heavy_pollution_warnings(
        aqi_rows.select("station", "date", pl.col("value").round().cast(pl.Int64).alias("aqi")),
        rules,
        observed_aqi=observed.select("station", "date", "aqi").drop_nulls("aqi"),
    )
    o3 = o3_episode_alerts(o3_daily, rules)
    return Issue(forecasts, pl.concat([heavy, o3]), method)
