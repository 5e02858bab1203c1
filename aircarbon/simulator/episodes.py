"""Winter heavy-pollution episodes, injected into the simulated city weather.

A northeast-China haze episode is a meteorological event first: a stagnant high, weak
wind, a shallow boundary layer under an inversion and humid air, in which secondary
aerosol accumulates day after day until a cold front sweeps it out. The injection acts
on exactly those drivers of :class:`~aircarbon.simulator.weather.Weather` (wind speed,
boundary-layer height, humidity and the regional air-mass factor), so the station models
turn it into PM2.5 (and CO, SO2, NO2) through their usual physics, and a forecaster with a
meteorology forecast can see it coming: the stagnation is in the weather, not only in the
pollution.

:class:`EpisodeEngine` is the simulation engine with episodes applied to each block's
city weather before the stations see it; the clean engine is untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np

from aircarbon.core.catalog import Catalog
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.engine import Engine
from aircarbon.simulator.timebase import FloatArray, Timeline
from aircarbon.simulator.weather import Weather

__all__ = ["Episode", "EpisodeEngine", "apply_episodes", "winter_episodes"]


@dataclass(frozen=True, slots=True)
class Episode:
    """A stagnant episode from local midnight of ``start`` lasting ``days`` days.

    ``intensity`` scales the air-mass build-up (1.0: a typical heavy episode, daily AQI
    around 200-300 in Shenyang's winter; 1.6: severe).
    """

    start: dt.date
    days: float = 3.0
    intensity: float = 1.0

    def bounds(self, tz: ZoneInfo) -> tuple[float, float]:
        t0 = dt.datetime.combine(self.start, dt.time(0), tzinfo=tz).timestamp()
        return t0, t0 + self.days * 86400.0


def _smooth(x: FloatArray) -> FloatArray:
    y = np.clip(x, 0.0, 1.0)
    out: FloatArray = y * y * (3.0 - 2.0 * y)
    return out


def apply_episodes(city: Weather, tl: Timeline, episodes: Sequence[Episode]) -> Weather:
    """The city weather with the episodes' stagnation (and the cold front after each)."""
    if not episodes:
        return city
    ws, blh, rh, airmass = city.ws.copy(), city.blh.copy(), city.rh.copy(), city.airmass.copy()
    t = tl.t_mid
    for ep in episodes:
        t0, t1 = ep.bounds(tl.tz)
        if t[-1] < t0 - 86400.0 or t[0] > t1 + 86400.0:
            continue
        hours_in = (t - t0) / 3600.0
        hours_left = (t1 - t) / 3600.0
        inside = (t >= t0 - 12 * 3600.0) & (t <= t1)
        # onset over the 12 h before the start, clearance over the last 6 h
        g = _smooth((hours_in + 12.0) / 12.0) * _smooth(hours_left / 6.0) * inside
        progress = np.clip(hours_in / max(ep.days * 24.0, 1.0), 0.0, 1.0)
        # calm under the stagnant high, a shallow mixed layer under the inversion
        ws = ws * (1.0 - g) + g * np.minimum(0.5 * ws, 1.6)
        blh = blh * (1.0 - g) + g * np.minimum(0.55 * blh, 500.0)
        rh = rh + (90.0 - rh) * 0.7 * g
        build = np.maximum(airmass, 1.0) * (1.0 + ep.intensity * (1.1 + 0.9 * progress))
        airmass = airmass * (1.0 - g) + g * build
        # the cold front: strong dry wind for the 18 h after the end flushes the air mass
        front = _smooth(-hours_left / 3.0) * _smooth((18.0 + hours_left) / 6.0) * (t > t1)
        ws = ws * (1.0 + 1.5 * front)
        rh = rh - 0.5 * rh * front
        airmass = airmass * (1.0 - 0.6 * front)
    return replace(city, ws=ws, blh=blh, rh=np.clip(rh, 5.0, 100.0), airmass=airmass)


def winter_episodes(first: dt.date, last: dt.date, *, seed: int = 0) -> list[Episode]:
    """A plausible season of episodes between ``first`` and ``last``: 2-4 days each.

    Roughly one every three weeks from mid-November to mid-February (the heating season's
    worst months in Shenyang), intensity 0.7-1.3, never overlapping.
    """
    rng = np.random.default_rng(seed)
    out: list[Episode] = []
    day = first
    while day <= last:
        winter = day.month in (11, 12, 1, 2) and not (day.month == 11 and day.day < 10)
        if winter and rng.random() < 1.0 / 18.0:
            days = float(rng.integers(2, 5))
            out.append(Episode(day, days, float(rng.uniform(0.7, 1.3))))
            day += dt.timedelta(days=int(days) + 6)
            continue
        day += dt.timedelta(days=1)
    return out


class EpisodeEngine(Engine):
    """The simulation engine with episodes in the city weather.

    ``city_weather`` keeps the last block's (episode-modified) city weather: the truth a
    simulated numerical weather forecast is made from.
    """

    def __init__(
        self,
        config: SimulationConfig,
        catalog: Catalog | None = None,
        *,
        episodes: Sequence[Episode] = (),
    ) -> None:
        super().__init__(config, catalog)
        self.episodes = tuple(episodes)
        self.city_weather: Weather | None = None

    def _city(self, tl: Timeline, index: int) -> Weather:
        """The city weather with :func:`apply_episodes`, kept as ``city_weather``."""
        self.city_weather = apply_episodes(super()._city(tl, index), tl, self.episodes)
        return self.city_weather
