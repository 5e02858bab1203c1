"""Daily statistics and AQI of hourly forecasts, by the same rules as the observations.

A forecast day's PM2.5, PM10, SO2, NO2 and CO means, its maximum 8-hour O3 and its AQI
(HJ 633, the version in force on the day) go through :func:`transforms.aggregate.daily_stats`
and :func:`transforms.aqi.aqi_daily` — one definition of "daily AQI" for what was measured
and what is forecast. Only the forecast pollutants (``forecast.toml``) feed it: with all six
the forecast AQI sees a dust (PM10), SO2 or CO day as the observed one does. Many issues
are computed in one call by keying each series ``<key>`` (e.g. ``station|origin``) and
splitting the key afterwards.
"""

from __future__ import annotations

import polars as pl

from aircarbon.core.catalog import Catalog

__all__ = ["DAILY_CODE", "daily_aqi", "daily_values"]

#: The daily value of each hourly pollutant that the daily AQI reads (HJ 633: 24-h means,
#: and the maximum 8-hour mean for O3).
DAILY_CODE = {
    "pm25": "pm25", "pm10": "pm10", "so2": "so2", "no2": "no2", "co": "co", "o3": "o3_8h_max",
}  # fmt: skip


def daily_values(hourly: pl.DataFrame, catalog: Catalog, *, timezone: str) -> pl.DataFrame:
    """``key, param, ts, value`` hourly (µg/m³) → ``key, date, param, value, valid`` daily.

    ``param`` of the result is the daily code (:data:`DAILY_CODE`): ``pm25``, ``no2``,
    ``o3_8h_max``, ….
    """
    from transforms.aggregate import daily_stats, moving_averages

    frame = hourly.drop_nulls("value").select(
        pl.col("key").alias("station"),
        "param",
        "ts",
        "value",
        pl.lit(60, pl.UInt32).alias("n"),
        pl.lit(60.0).alias("minutes"),
        pl.lit(True).alias("valid"),
    )
    if frame.is_empty():
        return pl.DataFrame(
            schema={"key": pl.String, "date": pl.Date, "param": pl.String, "value": pl.Float64,
                    "valid": pl.Boolean}
        )  # fmt: skip
    moving = moving_averages(frame, catalog).filter(pl.col("param") == "o3_8h")
    daily = daily_stats(
        pl.concat([frame, moving], how="diagonal_relaxed"), catalog, timezone=timezone
    )
    return daily.filter(pl.col("param").is_in(list(DAILY_CODE.values()))).select(
        pl.col("station").alias("key"), "date", "param", "value", "valid"
    )


def daily_aqi(
    daily: pl.DataFrame, catalog: Catalog, params: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """``key, date, param, value, valid`` daily → ``key, date, aqi, category, category_zh``.

    ``params`` limits the inputs (daily codes), e.g. ``("pm25",)`` for PM2.5's own IAQI
    category (the backtest's per-pollutant hit rate).
    """
    from transforms.aqi import aqi_daily

    frame = daily if params is None else daily.filter(pl.col("param").is_in(list(params)))
    if frame.is_empty():
        return pl.DataFrame(
            schema={"key": pl.String, "date": pl.Date, "aqi": pl.Int32, "category": pl.String,
                    "category_zh": pl.String}
        )  # fmt: skip
    inputs = frame.select(pl.col("key").alias("station"), "date", "param", "value", "valid")
    out = aqi_daily(inputs, catalog)
    return out.select(pl.col("station").alias("key"), "date", "aqi", "category", "category_zh")


def issues_daily(
    pred: pl.DataFrame,
    params: tuple[str, ...],
    catalog: Catalog,
    *,
    timezone: str,
    prefix: str,
) -> pl.DataFrame:
    """Daily values of many issues at once: ``station, origin, date, day, param, value``.

    ``pred`` has ``station, origin, ts`` and ``<prefix>_<p>`` hourly columns (a design
    matrix with predictions, or its ``<p>_persist``/``<p>_clim`` baselines with
    ``prefix`` naming the baseline, e.g. ``"clim"`` reads ``<p>_clim``). ``day`` is 1-3.
    """

    def column(p: str) -> str:
        return f"{prefix}_{p}" if prefix in ("pred", "lower", "upper", "y") else f"{p}_{prefix}"

    key = pl.concat_str(
        pl.col("station"), pl.lit("|"), pl.col("origin").dt.epoch("s").cast(pl.String)
    )
    long = pl.concat(
        [
            pred.select(
                key.alias("key"), pl.lit(p).alias("param"), "ts", pl.col(column(p)).alias("value")
            )
            for p in params
            if column(p) in pred.columns
        ]
    )
    daily = daily_values(long, catalog, timezone=timezone)
    parts = pl.col("key").str.split_exact("|", 1)
    origin = pl.from_epoch(
        parts.struct.field("field_1").cast(pl.Int64), time_unit="s"
    ).dt.replace_time_zone("UTC")
    issue_day = (origin - pl.duration(microseconds=1)).dt.convert_time_zone(timezone).dt.date()
    return (
        daily.with_columns(
            parts.struct.field("field_0").alias("station"),
            origin.dt.cast_time_unit("us").alias("origin"),
        )
        .with_columns((pl.col("date") - issue_day).dt.total_days().cast(pl.Int32).alias("day"))
        .filter(pl.col("day").is_between(1, 3))
        .select("key", "station", "origin", "date", "day", "param", "value", "valid")
    )
