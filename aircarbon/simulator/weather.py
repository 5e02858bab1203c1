"""City meteorology per time step, and its small per-station perturbations.

Everything downstream is driven by this: wind carries plumes, the boundary-layer height and
wind speed set how much local emissions are diluted, temperature drives heating and biogenic
emissions, sun drives photochemistry. The city state evolves as mean-reverting random walks
(synoptic weather, days) around a Shenyang climatology:

* wind direction: prevailing NW/N in winter and S/SW in summer (the monsoon), with synoptic
  swings of tens of degrees over a day or two, and minute-scale turbulence;
* wind speed: seasonal (windy spring), synoptic, and a diurnal cycle with an afternoon
  maximum (momentum mixed down from aloft by convection);
* temperature: seasonal (-10 °C January, +25 °C July) plus diurnal and synoptic terms;
  relative humidity follows from a dew point, so it peaks at dawn and dips in the afternoon;
* boundary-layer height (BLH): 100-300 m at night, growing after sunrise with the square root
  of the heat received (encroachment) to 800-1800 m in the afternoon (lower in winter, under
  cloud and at low wind), collapsing around sunset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from aircarbon.simulator.noise import ou
from aircarbon.simulator.timebase import FloatArray, Timeline, solar_elevation_sin

__all__ = ["StationClimate", "Weather", "WeatherModel"]

DAY = 86400.0
_WINTER_WIND_FROM = 330.0  # NNW
_SUMMER_WIND_FROM = 200.0  # SSW


@dataclass(frozen=True, slots=True)
class Weather:
    """Meteorology at one place over a block (arrays of the block length)."""

    ws: FloatArray
    """Wind speed, m/s."""
    wd: FloatArray
    """Wind direction, degrees the wind blows FROM (0 = north)."""
    temp: FloatArray
    rh: FloatArray
    pressure: FloatArray
    """hPa."""
    blh: FloatArray
    """Mixing-layer height, m."""
    sun: FloatArray
    """Sine of the solar elevation, clipped at 0."""
    cloud: FloatArray
    """Cloud fraction 0..1."""
    airmass: FloatArray
    """Regional pollution factor (~1; > 1 during stagnant, polluted episodes)."""


@dataclass(frozen=True, slots=True)
class StationClimate:
    """Fixed site effects: exposure to wind, urban heat island, sensor offsets."""

    ws_factor: float = 1.0
    wd_bias: float = 0.0
    temp_bias: float = 0.0
    uhi: float = 0.0
    """Night-time urban heat island, °C."""
    p_bias: float = 0.0
    blh_factor: float = 1.0


@lru_cache(maxsize=2048)
def _insolation_curve(local_day: int, utc_offset_s: float, lat: float, lon: float) -> FloatArray:
    """Cumulative 'useful' insolation over a local day on a 10-minute grid, normalised to 1.

    'Useful' = sine of elevation above 0.15: the surface heat flux that grows the convective
    boundary layer turns negative an hour or so before sunset.
    """
    grid = local_day * DAY - utc_offset_s + np.arange(0.0, DAY + 1.0, 600.0)
    heat = np.clip(solar_elevation_sin(grid, lat, lon) - 0.15, 0.0, None)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (heat[1:] + heat[:-1]))])
    total = float(cum[-1])
    out: FloatArray = cum / total if total > 0 else cum
    return out


class WeatherModel:
    """City weather as a stateful generator: call :meth:`city` block after block."""

    def __init__(
        self,
        *,
        lat: float,
        lon: float,
        wind_dir: float | None = None,
        wind_speed: float | None = None,
    ) -> None:
        self.lat = lat
        self.lon = lon
        self.wind_dir = wind_dir
        self.wind_speed = wind_speed
        self._state: dict[str, float | None] = {}

    def _ou(
        self, rng: np.random.Generator, key: str, tl: Timeline, tau: float, sigma: float
    ) -> FloatArray:
        path = ou(rng, tl.n, tl.step_s, tau, sigma, self._state.get(key))
        self._state[key] = float(path[-1])
        return path

    def city(self, tl: Timeline, rng: np.random.Generator) -> Weather:
        """City-wide meteorology for the block ``tl`` (continues the previous block)."""
        h, w = tl.local_hour, tl.winter
        spring = np.cos(2.0 * np.pi * (tl.doy - 105.0) / 365.25)
        sun = np.clip(solar_elevation_sin(tl.t_mid, self.lat, self.lon), 0.0, None)

        # clouds: logit-space OU around a seasonal mean (summer cloudier)
        cloud_z = self._ou(rng, "cloud", tl, 1.2 * DAY, 1.3)
        cloud = 1.0 / (1.0 + np.exp(-(cloud_z - 0.2 - 0.4 * w)))

        # wind direction: seasonal prevailing (vector blend) + synoptic + turbulent swings
        wwt = 0.5 * (1.0 + w)
        ang_w, ang_s = np.deg2rad(_WINTER_WIND_FROM), np.deg2rad(_SUMMER_WIND_FROM)
        prevailing = np.rad2deg(
            np.arctan2(
                wwt * math.sin(ang_w) + (1 - wwt) * math.sin(ang_s),
                wwt * math.cos(ang_w) + (1 - wwt) * math.cos(ang_s),
            )
        )
        dev = self._ou(rng, "wd_dev", tl, 1.5 * DAY, 50.0)

        # wind speed: seasonal base x synoptic (log-normal) x diurnal (afternoon max)
        ws_log = self._ou(rng, "ws_log", tl, 1.0 * DAY, 0.35)
        base = 2.6 + 0.5 * spring
        diurnal = 1.0 + 0.35 * (1.0 - 0.5 * cloud) * np.cos(2.0 * np.pi * (h - 14.5) / 24.0)
        gust = self._ou(rng, "ws_fast", tl, 600.0, 0.12)
        ws = np.clip(base * np.exp(ws_log - 0.06) * diurnal * (1.0 + gust), 0.1, None)
        if self.wind_speed is not None:
            ws = np.full(tl.n, float(self.wind_speed))

        fast = self._ou(rng, "wd_fast", tl, 900.0, 1.0) * (6.0 + 14.0 / np.maximum(ws, 0.5))
        wd = np.mod(prevailing + dev + fast, 360.0)
        if self.wind_dir is not None:
            wd = np.full(tl.n, float(self.wind_dir) % 360.0)

        # temperature: season + synoptic + diurnal (amplitude damped by clouds)
        t_anom = self._ou(rng, "temp", tl, 3.0 * DAY, 3.0)
        t_daily = 7.5 - 18.0 * w + t_anom
        temp = t_daily + 5.5 * (1.0 - 0.5 * cloud) * np.cos(2.0 * np.pi * (h - 15.0) / 24.0)

        # humidity from a dew point below the daily mean temperature (dry winters, humid summers)
        dep = np.clip(6.5 + 1.5 * w + self._ou(rng, "dep", tl, 2.0 * DAY, 2.5), 1.0, None)
        dew = t_daily - dep + 2.0 * (cloud - 0.5)
        rh = np.clip(
            100.0 * np.exp(17.62 * dew / (243.12 + dew) - 17.62 * temp / (243.12 + temp)),
            8.0,
            100.0,
        )

        # pressure: winter Siberian high, synoptic systems, semi-diurnal tide
        p_anom = self._ou(rng, "pressure", tl, 2.5 * DAY, 6.0)
        pressure = 1006.0 + 11.0 * w + p_anom + 0.8 * np.cos(4.0 * np.pi * (h - 10.0) / 24.0)

        # regional air mass: polluted stagnant episodes build over days, flushed by strong wind
        air_z = self._ou(rng, "airmass", tl, 2.0 * DAY, 0.45)
        airmass = np.exp(air_z - 0.1 - 0.25 * np.clip(ws - 3.5, 0.0, None))

        blh = self._blh(tl, ws, cloud, sun)
        return Weather(ws, wd, temp, rh, pressure, blh, sun, cloud, airmass)

    def _blh(self, tl: Timeline, ws: FloatArray, cloud: FloatArray, sun: FloatArray) -> FloatArray:
        w = tl.winter
        night = np.clip(80.0 + 45.0 * ws, 100.0, 300.0) * (1.0 - 0.15 * np.clip(w, 0.0, None))
        day_max = (1400.0 - 450.0 * w) * (0.75 + 0.25 * np.tanh(ws / 3.0)) * (1.0 - 0.35 * cloud)
        frac = np.empty(tl.n)
        seconds = tl.local_hour * 3600.0
        offset_s = (tl.local_day * DAY + seconds) - tl.t_mid
        for day in np.unique(tl.local_day):
            sel = tl.local_day == day
            curve = _insolation_curve(int(day), float(offset_s[sel][0]), self.lat, self.lon)
            frac[sel] = np.interp(seconds[sel], np.arange(0.0, DAY + 1.0, 600.0), curve)
        convective = (sun > 0.15) & (frac > 0.0)
        target = np.where(convective, night + (day_max - night) * np.sqrt(frac), night)
        # the mixed layer grows and collapses over tens of minutes, not instantly
        up = 1.0 - math.exp(-tl.step_s / 1800.0)
        down = 1.0 - math.exp(-tl.step_s / 2700.0)
        prev = self._state.get("blh")
        level = float(target[0]) if prev is None else prev
        out = [0.0] * tl.n
        for k, goal in enumerate(target.tolist()):
            level += (goal - level) * (up if goal > level else down)
            out[k] = level
        self._state["blh"] = level
        return np.asarray(out, dtype=np.float64)

    def at_station(
        self, city: Weather, tl: Timeline, site: StationClimate, rng: np.random.Generator
    ) -> Weather:
        """The city weather as one station measures it: site effects plus small noise."""
        n, dt = tl.n, tl.step_s
        ws = city.ws * site.ws_factor * (1.0 + ou(rng, n, dt, 300.0, 0.08))
        ws = np.clip(ws + 0.05 * rng.standard_normal(n), 0.0, None)
        wd_noise = ou(rng, n, dt, 300.0, 1.0) * (4.0 + 8.0 / np.maximum(ws, 0.5))
        wd = np.mod(city.wd + site.wd_bias + wd_noise, 360.0)
        if self.wind_speed is not None:
            ws = city.ws.copy()
        if self.wind_dir is not None:
            wd = city.wd.copy()
        night = 1.0 - np.clip(city.sun * 3.0, 0.0, 1.0)
        temp = city.temp + site.temp_bias + site.uhi * night + ou(rng, n, dt, 600.0, 0.12)
        rh = np.clip(city.rh - 3.0 * site.uhi * night + ou(rng, n, dt, 900.0, 1.2), 5.0, 100.0)
        pressure = city.pressure + site.p_bias + 0.05 * rng.standard_normal(n)
        blh = city.blh * site.blh_factor * np.exp(ou(rng, n, dt, 1200.0, 0.05))
        return replace(city, ws=ws, wd=wd, temp=temp, rh=rh, pressure=pressure, blh=blh)
