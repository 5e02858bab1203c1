"""When and how much the city emits: activity profiles and station exposure.

Concentrations follow activity: traffic has morning (07-09) and evening (17-19) rush hours
and is lighter at weekends; coal heating runs from 1 November to 31 March, harder in the cold
and around breakfast and supper; vegetation breathes CO2 out at night and takes it up in
summer sunshine and emits isoprene when warm and sunny. Each function returns a dimensionless
profile (about 1 at a typical busy time); the model scales them per species.
"""

from __future__ import annotations

import numpy as np

from aircarbon.core.catalog import Station, StationType
from aircarbon.simulator.timebase import FloatArray, Timeline

__all__ = [
    "biogenic",
    "heating",
    "leaf_on",
    "photosynthesis",
    "respiration",
    "schedule_profile",
    "station_emission_scale",
    "traffic",
    "workday",
]

# Relative traffic flow at each local hour (urban Chinese counts: twin rush-hour peaks).
_WEEKDAY = np.array(
    [0.25, 0.18, 0.14, 0.13, 0.16, 0.30, 0.65, 1.25, 1.45, 1.05, 0.85, 0.85,
     0.85, 0.82, 0.82, 0.90, 1.05, 1.40, 1.45, 1.10, 0.85, 0.70, 0.55, 0.38]
)  # fmt: skip
_WEEKEND = np.array(
    [0.30, 0.22, 0.16, 0.14, 0.14, 0.18, 0.28, 0.45, 0.62, 0.75, 0.82, 0.85,
     0.83, 0.80, 0.78, 0.80, 0.85, 0.92, 0.90, 0.80, 0.68, 0.56, 0.45, 0.36]
)  # fmt: skip


def _hourly(profile: FloatArray, hour: FloatArray) -> FloatArray:
    xp = np.arange(25.0)
    fp = np.append(profile, profile[0])
    out: FloatArray = np.interp(hour, xp, fp)
    return out


def traffic(tl: Timeline) -> FloatArray:
    """Traffic activity: ~1.45 at weekday rush hours, ~0.15 before dawn, weekends lower."""
    weekend = tl.weekday >= 5
    return np.where(weekend, _hourly(_WEEKEND, tl.local_hour), _hourly(_WEEKDAY, tl.local_hour))


def workday(tl: Timeline) -> FloatArray:
    """1 during day shifts (08-18 local, Monday-Friday), a trickle otherwise."""
    on = (tl.weekday < 5) & (tl.local_hour >= 8.0) & (tl.local_hour < 18.0)
    out: FloatArray = np.where(on, 1.0, 0.05)
    return out


def heating(tl: Timeline, temp: FloatArray) -> FloatArray:
    """Coal-heating activity: 0 outside the heating season, ~1 on a -5 °C day.

    Colder days burn more; residential stoves add morning and evening peaks.
    """
    season = tl.heating_season()
    intensity = np.clip((18.0 - temp) / 23.0, 0.3, 1.5)
    diurnal = 1.0 + 0.15 * np.cos(2.0 * np.pi * (tl.local_hour - 7.5) / 12.0)
    out: FloatArray = season * intensity * diurnal
    return out


def leaf_on(tl: Timeline) -> FloatArray:
    """Vegetation activity 0..1: leaves out from May to September in Shenyang."""
    out: FloatArray = np.clip(1.0 - ((tl.doy - 200.0) / 85.0) ** 2, 0.0, 1.0)
    return out


def respiration(temp: FloatArray, leaf: FloatArray) -> FloatArray:
    """Ecosystem respiration (Q10 = 2), never quite zero (soils breathe in winter too)."""
    out: FloatArray = np.exp(0.069 * (np.clip(temp, -20.0, 35.0) - 15.0)) * (0.3 + 0.7 * leaf)
    return out


def photosynthesis(sun: FloatArray, leaf: FloatArray, cloud: FloatArray) -> FloatArray:
    """CO2 uptake by leaves: light-limited, only in the growing season."""
    out: FloatArray = leaf * np.tanh(2.5 * sun) * (1.0 - 0.4 * cloud)
    return out


def biogenic(temp: FloatArray, sun: FloatArray, leaf: FloatArray) -> FloatArray:
    """Isoprene-like emission (Guenther-style: light and an exponential in temperature)."""
    out: FloatArray = leaf * np.tanh(3.0 * sun) * np.exp(0.09 * (np.clip(temp, -20, 40) - 30.0))
    return out


def schedule_profile(schedule: str, tl: Timeline) -> FloatArray:
    """The activity profile a source's ``schedule`` names (sources.toml)."""
    if schedule == "traffic":
        return traffic(tl)
    if schedule == "workday":
        return workday(tl)
    return np.ones(tl.n)


_TYPE_SCALE = {
    StationType.NATIONAL: 1.0,
    StationType.VOC: 1.0,
    StationType.GHG: 1.0,
    StationType.PM_COMPONENT: 1.1,
    StationType.RADIATION: 0.6,
    StationType.ECOLOGICAL: 0.35,
    StationType.MICRO: 1.3,
}


def station_emission_scale(station: Station) -> float:
    """How much local (unresolved) emission a site sees relative to an urban national site.

    Regional background sites see a quarter of it, street-level micro sensors more.
    """
    scale = _TYPE_SCALE.get(station.type, 1.0)
    return 0.25 if station.background else scale
