"""Hourly history without MQTT: a year of the network in seconds, and its weather forecasts.

The forecast needs long hourly histories (training, backtests) that the minute-message path
would take hours to produce. The same engine runs here at one step per hour, vectorised over
month-long blocks, and its output goes straight into the shape of the warehouse's
``hourly`` table (``station, param, ts, value, n, minutes, valid``; ``ts`` = end of hour,
UTC). Values are hourly samples of the clean model (no faults, no QC needed).

:func:`met_forecasts` turns the simulated city weather into the *forecast* a numerical
weather service would have issued at the end of each day: the truth for the next 72 hours
plus errors that grow with lead time (random walks: ~0.35 log-units of wind speed and
boundary-layer height, 2.5 °C, 10 % RH and 35° of wind direction at 72 h).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.episodes import Episode, EpisodeEngine

__all__ = [
    "HOURLY_PARAMS",
    "HourlyHistory",
    "met_forecast_frame",
    "met_forecasts",
    "simulate_hourly",
]

#: What the history keeps: the forecast pollutants, PM10 and the station meteorology.
HOURLY_PARAMS = ("pm25", "pm10", "o3", "no2", "so2", "co", "ws", "wd", "temp", "rh", "blh")
UTC = pl.Datetime("us", "UTC")
_BLOCK_STEPS = 24 * 30


@dataclass(frozen=True, slots=True)
class HourlyHistory:
    """Simulated hourly means and the true city weather (for the met forecasts)."""

    hourly: pl.DataFrame
    weather: pl.DataFrame
    """``ts, ws, wd, temp, rh, blh`` of the city (the truth)."""
    episodes: tuple[Episode, ...]

    def write_met_forecasts(
        self,
        data_dir: Path,
        days: Sequence[dt.date],
        *,
        seed: int = 0,
        timezone: str = "Asia/Shanghai",
    ) -> list[Path]:
        """Write the simulated met forecast of each issue day as the documented input file
        (:mod:`aircarbon.pipeline.forecast.met`, ``<data dir>/met_forecast/``)."""
        from aircarbon.pipeline.forecast.met import MET_FORECAST_DIR, write_met_forecast

        paths = []
        for day, frame in met_forecasts(self.weather, days, seed=seed, timezone=timezone).items():
            origin = _origin(day, timezone)
            full = frame.with_columns(
                pl.lit(origin).cast(UTC).alias("issued_at"), pl.lit("city").alias("station")
            )
            paths.append(write_met_forecast(data_dir / MET_FORECAST_DIR, day, full))
        return paths


def _origin(day: dt.date, timezone: str) -> dt.datetime:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(
        dt.UTC
    )


def simulate_hourly(
    start: dt.date,
    days: int,
    *,
    seed: int = 0,
    stations: Sequence[str] | None = None,
    episodes: Sequence[Episode] = (),
    catalog: Catalog | None = None,
    timezone: str = "Asia/Shanghai",
) -> HourlyHistory:
    """``days`` local days of hourly values from local midnight of ``start``."""
    config = SimulationConfig(
        seed=seed,
        start=start,
        days=float(days),
        period_s=3600,
        stations=tuple(stations) if stations is not None else None,
        operations=False,
        status=False,
        timezone=timezone,
    )
    engine = EpisodeEngine(config, catalog, episodes=episodes)
    frames: list[pl.DataFrame] = []
    weather: list[pl.DataFrame] = []
    for block in engine.blocks(per=_BLOCK_STEPS):
        ts = (
            pl.Series("ts", (block.timeline.t_end * 1e6).astype(np.int64))
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
        for sb in block.stations:
            cols = {p: sb.values[:, j] for j, p in enumerate(sb.params) if p in HOURLY_PARAMS}
            wide = pl.DataFrame({"ts": ts, **cols}).with_columns(
                pl.lit(sb.station.id).alias("station")
            )
            frames.append(wide.unpivot(index=["station", "ts"], variable_name="param"))
        city = engine.city_weather
        assert city is not None
        weather.append(
            pl.DataFrame(
                {
                    "ts": ts,
                    "ws": city.ws,
                    "wd": city.wd,
                    "temp": city.temp,
                    "rh": city.rh,
                    "blh": city.blh,
                }
            )
        )
    long = pl.concat(frames).filter(pl.col("value").is_not_nan() & pl.col("value").is_not_null())
    hourly = long.select(
        "station",
        "param",
        "ts",
        pl.col("value").cast(pl.Float64),
        pl.lit(60, pl.UInt32).alias("n"),
        pl.lit(60.0).alias("minutes"),
        pl.lit(True).alias("valid"),
    ).sort("station", "param", "ts")
    return HourlyHistory(hourly, pl.concat(weather).sort("ts"), tuple(episodes))


def met_forecasts(
    weather: pl.DataFrame,
    days: Sequence[dt.date],
    *,
    seed: int = 0,
    horizon_hours: int = 72,
    timezone: str = "Asia/Shanghai",
) -> dict[dt.date, pl.DataFrame]:
    """The met forecast issued at the end of each day: truth + lead-growing errors.

    Each frame is the documented input file's content (``ts, ws, wd, temp, rh, blh``);
    hours past the simulated truth are left out.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    truth = weather.sort("ts")
    ts_us = truth["ts"].dt.epoch("us").to_numpy()
    cols = {c: truth[c].to_numpy() for c in ("ws", "wd", "temp", "rh", "blh")}
    sigma72 = {"ws": 0.35, "blh": 0.35, "temp": 2.5, "rh": 10.0, "wd": 35.0}
    out: dict[dt.date, pl.DataFrame] = {}
    for day in days:
        origin = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
        o_us = int(origin.timestamp() * 1e6)
        first = int(np.searchsorted(ts_us, o_us, side="right"))
        sel = slice(first, min(first + horizon_hours, len(ts_us)))
        n = sel.stop - sel.start
        if n <= 0:
            continue
        rng = np.random.default_rng([seed, day.toordinal()])
        walk = {
            k: np.cumsum(rng.standard_normal(n)) / np.sqrt(horizon_hours) * s
            for k, s in sigma72.items()
        }
        frame = pl.DataFrame(
            {
                "ts": truth["ts"][sel],
                "ws": cols["ws"][sel] * np.exp(walk["ws"]),
                "wd": np.mod(cols["wd"][sel] + walk["wd"], 360.0),
                "temp": cols["temp"][sel] + walk["temp"],
                "rh": np.clip(cols["rh"][sel] + walk["rh"], 5.0, 100.0),
                "blh": cols["blh"][sel] * np.exp(walk["blh"]),
            }
        )
        out[day] = frame
    return out


def met_forecast_frame(
    weather: pl.DataFrame,
    days: Sequence[dt.date],
    *,
    seed: int = 0,
    horizon_hours: int = 72,
    timezone: str = "Asia/Shanghai",
) -> pl.DataFrame:
    """All issues of :func:`met_forecasts` in one frame keyed by ``origin`` (in memory)."""
    frames = met_forecasts(weather, days, seed=seed, horizon_hours=horizon_hours, timezone=timezone)
    parts = [
        frame.with_columns(pl.lit(_origin(day, timezone)).cast(UTC).alias("origin"))
        for day, frame in frames.items()
    ]
    return pl.concat(parts).select("origin", "ts", "ws", "wd", "temp", "rh", "blh")
