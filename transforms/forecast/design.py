"""Forecast design matrix: one row per (series, origin, lead hour), from history and met.

The model is *direct* and lead-as-feature: one regressor per pollutant sees the lead time
as a column, so a single fit covers hours 1-72 (no recursive error growth, no 72 models).
Each row holds what a forecaster knows at the origin (local midnight ending the issue day):

* lags: the value at the origin and its 3-h, 24-h and 7-day means and 24-h maximum, for
  every forecast pollutant (O3 needs NO2's titration, PM2.5 its own accumulation);
* the two baselines as features and as the yardsticks the backtest scores against —
  ``persist_*`` (same hour of the last observed day) and ``clim_*`` (mean at that hour of
  day over the ``climatology_days`` before the origin);
* the target hour's local hour of day, weekday and season;
* meteorology *forecast* for the target hour (wind as u/v, temperature, humidity,
  boundary-layer height, ventilation ws × BLH) and its means since the origin and over the
  last 24 h, and the count of stagnant hours since the origin — the stagnation that lets a
  heavy episode be seen coming.

Everything is read from data at or before the origin, except the met forecast, which is
itself issued at the origin. Series are stations plus ``city`` (the mean of the stations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

__all__ = [
    "LAG_STATS",
    "MET_COLUMNS",
    "design_matrix",
    "feature_columns",
    "lag_table",
    "origins_utc",
    "wide_hourly",
]

UTC = pl.Datetime("us", "UTC")
#: Met-forecast input columns (aircarbon/pipeline/forecast/met.py documents the file).
MET_COLUMNS = ("ws", "wd", "temp", "rh", "blh")
#: Lag statistics per pollutant, all known at the origin.
LAG_STATS = ("last", "mean3", "mean24", "mean168", "max24")
_TIME = ("lead", "hod", "weekday", "doy_sin", "doy_cos")
_TIME_FEATURES = ("lead", "hod", "weekday")
#: Differences a tree cannot form from two columns itself: the last value against the
#: persistence of the target hour (what the first hours inherit), and the day-on-day change
#: of the last value and of the 24-h mean (a building or clearing episode).
_CHANGES = ("gap", "d_last", "d_mean24")
_MET = (
    "ws", "u", "v", "temp", "rh", "blh", "vent", "ws_since", "blh_since", "rh_since",
    "vent_since", "calm_since", "ws_24", "blh_24", "vent_24",
)  # fmt: skip
#: A stagnant hour for ``calm_since``: wind below this (m/s) under a mixed layer below 600 m.
_CALM_WS, _CALM_BLH = 2.0, 600.0


def feature_columns(params: Sequence[str]) -> list[str]:
    """The model's input columns, in a fixed order (stored with the model)."""
    lags = [f"{p}_{s}" for p in params for s in (*LAG_STATS, "persist", "clim", *_CHANGES)]
    # not the season (doy_sin/doy_cos, still in the design for models stored before): with
    # less than two years of history a tree maps an unseen time of year to the nearest one
    # it knows, and March forecast like February's heating-season episodes; the lags and the
    # 30-day climatology carry the season instead
    return [*_TIME_FEATURES, *lags, *_MET]


def origins_utc(days: Sequence[dt.date], timezone: str) -> list[dt.datetime]:
    """The forecast origins of issue days: local midnight ending each day, in UTC."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    return [
        dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(dt.UTC)
        for d in days
    ]


def wide_hourly(hourly: pl.DataFrame, params: Sequence[str], *, city: bool = True) -> pl.DataFrame:
    """Valid hourly means ``(station, param, ts, value, valid)`` → ``station, ts, <params>``.

    Adds the ``city`` series (mean over the stations reporting each hour) and fills every
    series to a complete hourly grid (missing hours are null), so rolling windows and joins
    by time are exact.
    """
    long = hourly.filter(pl.col("valid") & pl.col("param").is_in(list(params))).select(
        "station", "param", pl.col("ts").cast(UTC), "value"
    )
    if city and long.height:
        mean = (
            long.group_by("param", "ts")
            .agg(pl.col("value").mean())
            .with_columns(pl.lit("city").alias("station"))
        )
        long = pl.concat([long, mean.select(long.columns)])
    if long.is_empty():
        schema: dict[str, pl.DataType] = {"station": pl.String(), "ts": UTC}
        schema.update({p: pl.Float64() for p in params})
        return pl.DataFrame(schema=schema)
    wide = long.pivot(
        on="param", index=["station", "ts"], values="value", aggregate_function="mean"
    )
    for p in params:
        if p not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(p))
    bounds = wide.group_by("station").agg(
        pl.col("ts").min().alias("t0"), pl.col("ts").max().alias("t1")
    )
    grid = (
        bounds.with_columns(
            pl.datetime_ranges("t0", "t1", interval="1h", time_unit="us", time_zone="UTC").alias(
                "ts"
            )
        )
        .explode("ts")
        .select("station", "ts")
    )
    return (
        grid.join(wide, on=["station", "ts"], how="left")
        .select("station", "ts", *params)
        .sort("station", "ts")
    )


def _hod(ts: pl.Expr, timezone: str) -> pl.Expr:
    """Local hour of day (0-23) in which the hour ending at ``ts`` starts."""
    return (ts - dt.timedelta(hours=1)).dt.convert_time_zone(timezone).dt.hour().cast(pl.Int8)


def lag_table(
    wide: pl.DataFrame, params: Sequence[str], *, timezone: str, climatology_days: int
) -> pl.DataFrame:
    """Per station-hour: the lag statistics and the hour-of-day climatology ending there."""
    frame = wide.with_columns(_hod(pl.col("ts"), timezone).alias("hod")).sort("station", "ts")
    exprs: list[pl.Expr] = []
    for p in params:
        col = pl.col(p)
        exprs += [
            col.alias(f"{p}_last"),
            col.rolling_mean_by("ts", window_size="3h").over("station").alias(f"{p}_mean3"),
            col.rolling_mean_by("ts", window_size="24h").over("station").alias(f"{p}_mean24"),
            col.rolling_mean_by("ts", window_size="168h").over("station").alias(f"{p}_mean168"),
            col.rolling_max_by("ts", window_size="24h").over("station").alias(f"{p}_max24"),
        ]
    frame = frame.with_columns(exprs)
    clim = [
        pl.col(p)
        .rolling_mean_by("ts", window_size=f"{climatology_days}d")
        .over("station", "hod")
        .alias(f"{p}_clim")
        for p in params
    ]
    return frame.sort("station", "hod", "ts").with_columns(clim).sort("station", "ts")


def _met_features(met: pl.DataFrame) -> pl.DataFrame:
    """Met forecast ``origin, ts, ws, wd, temp, rh, blh`` → the model's met columns."""
    rad = pl.col("wd").radians()

    def since(c: str) -> pl.Expr:
        return (pl.col(c).cum_sum() / pl.col(c).cum_count()).over("origin").alias(f"{c}_since")

    return (
        met.sort("origin", "ts")
        .with_columns(
            (-pl.col("ws") * rad.sin()).alias("u"),  # wind blowing FROM wd
            (-pl.col("ws") * rad.cos()).alias("v"),
            (pl.col("ws") * pl.col("blh")).alias("vent"),  # ventilation coefficient, m²/s
        )
        .with_columns(
            since("ws"),
            since("blh"),
            since("rh"),
            since("vent"),
            # hours of stagnation since the origin: how long secondary aerosol has been building
            ((pl.col("ws") < _CALM_WS) & (pl.col("blh") < _CALM_BLH))
            .cast(pl.Int32)
            .cum_sum()
            .over("origin")
            .cast(pl.Float64)
            .alias("calm_since"),
            pl.col("ws").rolling_mean(24, min_samples=1).over("origin").alias("ws_24"),
            pl.col("blh").rolling_mean(24, min_samples=1).over("origin").alias("blh_24"),
            pl.col("vent").rolling_mean(24, min_samples=1).over("origin").alias("vent_24"),
        )
        .select("origin", "ts", *_MET)
    )


def design_matrix(
    lags: pl.DataFrame,
    origins: Sequence[dt.datetime],
    met: pl.DataFrame | None,
    params: Sequence[str],
    *,
    timezone: str,
    horizon_hours: int,
    stations: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Rows ``station, origin, lead, ts`` with features, ``y_<p>`` targets and baselines.

    ``lags`` is :func:`lag_table`'s output; ``met`` has ``origin, ts`` and the
    :data:`MET_COLUMNS` (null columns when absent). A target is null when not observed.
    """
    names = sorted(set(lags["station"].unique().to_list()))
    if stations is not None:
        names = [s for s in names if s in set(stations)]
    leads = pl.DataFrame({"lead": list(range(1, horizon_hours + 1))}, schema={"lead": pl.Int32})
    grid = (
        pl.DataFrame({"origin": list(origins)}, schema={"origin": UTC})
        .join(leads, how="cross")
        .join(pl.DataFrame({"station": names}, schema={"station": pl.String}), how="cross")
        .with_columns(
            (pl.col("origin") + pl.duration(hours=pl.col("lead"))).alias("ts"),
            (
                pl.col("origin")
                - pl.duration(hours=24)
                + pl.duration(hours=(pl.col("lead") - 1) % 24 + 1)
            ).alias("ref_ts"),
        )
    )
    at_origin = lags.select(
        "station",
        pl.col("ts").alias("origin"),
        *[f"{p}_{s}" for p in params for s in LAG_STATS],
    )
    at_ref = lags.select(
        "station",
        pl.col("ts").alias("ref_ts"),
        *[pl.col(f"{p}_last").alias(f"{p}_persist") for p in params],
        *[pl.col(f"{p}_clim") for p in params],
    )
    day_before = lags.select(
        "station",
        (pl.col("ts") + dt.timedelta(hours=24)).alias("origin"),
        *[pl.col(f"{p}_last").alias(f"_{p}_last_prev") for p in params],
        *[pl.col(f"{p}_mean24").alias(f"_{p}_mean24_prev") for p in params],
    )
    targets = lags.select("station", "ts", *[pl.col(p).alias(f"y_{p}") for p in params])
    local = (pl.col("ts") - dt.timedelta(hours=1)).dt.convert_time_zone(timezone)
    doy = local.dt.ordinal_day().cast(pl.Float64) * (2.0 * 3.141592653589793 / 365.25)
    frame = (
        grid.join(at_origin, on=["station", "origin"], how="left")
        .join(at_ref, on=["station", "ref_ts"], how="left")
        .join(targets, on=["station", "ts"], how="left")
        .join(day_before, on=["station", "origin"], how="left")
        .with_columns(
            *[(pl.col(f"{p}_last") - pl.col(f"{p}_persist")).alias(f"{p}_gap") for p in params],
            *[
                (pl.col(f"{p}_last") - pl.col(f"_{p}_last_prev")).alias(f"{p}_d_last")
                for p in params
            ],
            *[
                (pl.col(f"{p}_mean24") - pl.col(f"_{p}_mean24_prev")).alias(f"{p}_d_mean24")
                for p in params
            ],
        )
        .drop(*[f"_{p}_{s}_prev" for p in params for s in ("last", "mean24")])
        .with_columns(
            _hod(pl.col("ts"), timezone).alias("hod"),
            local.dt.weekday().cast(pl.Int8).alias("weekday"),
            doy.sin().alias("doy_sin"),
            doy.cos().alias("doy_cos"),
        )
    )
    if met is None or met.is_empty():
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias(c) for c in _MET)
    else:
        typed = met.with_columns(pl.col("origin").cast(UTC), pl.col("ts").cast(UTC))
        frame = frame.join(_met_features(typed), on=["origin", "ts"], how="left")
    for p in params:  # the climatology baseline falls back to the last day where it is unknown
        frame = frame.with_columns(pl.col(f"{p}_clim").fill_null(pl.col(f"{p}_persist")))
    return frame.sort("station", "origin", "lead")
