"""The time grid of a simulated block: UTC instants, local clock, season, sun.

The physics is driven by local solar time (sun, boundary layer, photochemistry) and by the
local civil clock (rush hours, working days, the heating season), so both are computed here
once per block, vectorised, from UTC epoch seconds. Nothing here reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

__all__ = ["FloatArray", "Timeline", "make_timeline", "solar_elevation_sin"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Timeline:
    """``n`` periods: END instants (UTC epoch s) and the local calendar at each mid-period."""

    t_end: FloatArray
    step_s: float
    period_s: int
    local_hour: FloatArray
    """Fractional local clock hour [0, 24) at mid-period."""
    doy: FloatArray
    """Local day of year (1..366) with fraction."""
    weekday: NDArray[np.int64]
    """Local weekday, 0 = Monday."""
    local_day: NDArray[np.int64]
    """Local calendar day as days since 1970-01-01."""
    winter: FloatArray
    """Season index: +1 in mid-January, -1 in mid-July (cosine of the day of year)."""
    tz: ZoneInfo

    @property
    def n(self) -> int:
        return int(self.t_end.shape[0])

    @property
    def t_mid(self) -> FloatArray:
        return self.t_end - 0.5 * self.step_s

    def heating_season(self) -> FloatArray:
        """1 from 1 November to 31 March (Shenyang's official heating period), else 0."""
        months = _local_months(self.local_day)
        on: FloatArray = ((months >= 11) | (months <= 3)).astype(np.float64)
        return on


def _local_months(local_day: NDArray[np.int64]) -> NDArray[np.int64]:
    days = local_day.astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return months.astype(np.int64)


@lru_cache(maxsize=4096)
def _utc_offset_s(tz: ZoneInfo, hour_index: int) -> float:
    instant = dt.datetime.fromtimestamp(hour_index * 3600.0, dt.UTC)
    offset = instant.astimezone(tz).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def make_timeline(
    start_utc: dt.datetime, first_step: int, n: int, step_s: float, period_s: int, tz: ZoneInfo
) -> Timeline:
    """Periods ``first_step .. first_step + n - 1`` of a run starting at ``start_utc``."""
    t0 = start_utc.timestamp()
    k = np.arange(first_step + 1, first_step + n + 1, dtype=np.float64)
    t_end = t0 + k * step_s
    t_mid = t_end - 0.5 * step_s
    hours = np.floor(t_mid / 3600.0).astype(np.int64)
    uniq, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array([_utc_offset_s(tz, int(h)) for h in uniq], dtype=np.float64)[inverse]
    local = t_mid + offsets
    local_day = np.floor(local / 86400.0).astype(np.int64)
    local_hour = (local - local_day * 86400.0) / 3600.0
    days = local_day.astype("datetime64[D]")
    year_start = days.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (days - year_start).astype(np.int64).astype(np.float64) + 1.0 + local_hour / 24.0
    weekday = ((local_day + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday
    winter = np.cos(2.0 * np.pi * (doy - 15.0) / 365.25)
    return Timeline(
        t_end=t_end,
        step_s=step_s,
        period_s=period_s,
        local_hour=local_hour,
        doy=doy,
        weekday=weekday,
        local_day=local_day,
        winter=winter,
        tz=tz,
    )


def solar_elevation_sin(t_utc: FloatArray, lat: float, lon: float) -> FloatArray:
    """Sine of the solar elevation angle (negative at night).

    Declination and equation of time from the usual low-order Fourier fits (accurate to a
    fraction of a degree, plenty for boundary-layer and photolysis cycles).
    """
    days = t_utc / 86400.0
    date = (days.astype(np.int64)).astype("datetime64[D]")
    year_start = date.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (date - year_start).astype(np.int64).astype(np.float64) + 1.0
    gamma = 2.0 * np.pi / 365.0 * (doy - 1.0 + (np.mod(days, 1.0) * 24.0 - 12.0) / 24.0)
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    eqtime_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    utc_min = np.mod(days, 1.0) * 1440.0
    true_solar_min = utc_min + eqtime_min + 4.0 * lon
    hour_angle = np.deg2rad(true_solar_min / 4.0 - 180.0)
    phi = np.deg2rad(lat)
    out: FloatArray = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return out
