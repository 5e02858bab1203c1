"""The chemistry that shapes the diurnal cycles: ozone, NO/NO2, OH ageing, PM composition.

* Ozone is produced photochemically in the regional air mass (peaking mid-afternoon, more in
  warm sunny weather) and is titrated locally by fresh NO (``NO + O3 -> NO2 + O2``) while
  sunlight photolyses NO2 back (``NO2 + hν -> NO + O``). Solving the photostationary state
  for the conserved totals NOx and Ox = O3 + NO2 makes the afternoon O3 peak and the
  rush-hour NO2 peaks come out anti-correlated, as observed at urban stations.
* VOCs are oxidised by OH on their way from sources to the station: reactive alkenes and
  xylenes decay faster than benzene, so ratios shift with photochemical age.
* PM2.5 composition follows the season: more nitrate (and its ammonium) in the cold, more
  chloride, potassium and carbon in the heating season, crustal elements with coarse dust.
"""

from __future__ import annotations

import math

import numpy as np

from aircarbon.simulator.timebase import FloatArray, Timeline
from aircarbon.simulator.weather import Weather

__all__ = [
    "MOLAR_VOLUME_L",
    "OzoneModel",
    "aged",
    "element_fractions",
    "j_no2",
    "oh_concentration",
    "photostationary_no2",
    "pm_fractions",
]

#: L/mol at 298.15 K, 101.325 kPa, the GB 3095 reference state of gas concentrations.
MOLAR_VOLUME_L = 24.465
_AIR_MOLEC_CM3_PER_PPB = 2.46e10


def j_no2(sun: FloatArray, cloud: FloatArray) -> FloatArray:
    """NO2 photolysis frequency, s⁻¹ (~9e-3 at high sun under a clear sky)."""
    out: FloatArray = 9.0e-3 * np.clip(sun, 0.0, None) ** 0.8 * (1.0 - 0.4 * cloud)
    return out


def photostationary_no2(
    nox_ppb: FloatArray, ox_ppb: FloatArray, j: FloatArray, temp_c: FloatArray
) -> FloatArray:
    """NO2 (ppb) in photostationary state for given NOx and Ox totals.

    ``j NO2 = k NO O3`` with ``NO = NOx - NO2``, ``O3 = Ox - NO2``: the smaller root of
    ``k NO2² - (k (NOx + Ox) + j) NO2 + k NOx Ox = 0``, written in the cancellation-free
    form. At night (j = 0) this is full titration: NO2 = min(NOx, Ox).
    """
    temp_k = temp_c + 273.15
    k = 1.4e-12 * np.exp(-1310.0 / temp_k) * _AIR_MOLEC_CM3_PER_PPB * (298.15 / temp_k)
    b = k * (nox_ppb + ox_ppb) + j
    disc = np.sqrt(np.maximum(b * b - 4.0 * k * k * nox_ppb * ox_ppb, 0.0))
    out: FloatArray = 2.0 * k * nox_ppb * ox_ppb / np.maximum(b + disc, 1e-12)
    return out


def oh_concentration(sun: FloatArray, winter: FloatArray) -> FloatArray:
    """Daytime OH, molecules cm⁻³: ~6e6 at a summer noon, a third of that in winter."""
    out: FloatArray = 6.0e6 * np.clip(sun, 0.0, None) * (0.65 - 0.35 * winter)
    return out


def aged(koh: float, oh: FloatArray, age_s: float) -> FloatArray:
    """Fraction of a VOC left after ``age_s`` seconds of transport through ``oh``."""
    out: FloatArray = np.exp(-koh * oh * age_s)
    return out


class OzoneModel:
    """Regional surface O3 (µg/m³) before local titration; keeps state across blocks."""

    def __init__(self) -> None:
        self._photo: float | None = None

    def regional(self, tl: Timeline, wx: Weather) -> FloatArray:
        """Residual-layer background plus a photochemical increment.

        The increment is produced in proportion to sunlight (more when warm, less under
        cloud) and relaxes with a 4-hour time scale, so it lags the sun and peaks at
        14-16 local. At night the surface layer decouples from the residual layer and
        loses O3 to deposition: the background shrinks with the boundary-layer height.
        """
        spring = np.cos(2.0 * np.pi * (tl.doy - 130.0) / 365.25)
        base = 80.0 - 5.0 * tl.winter + 10.0 * np.clip(spring, 0.0, None)
        warm = np.clip(wx.temp / 25.0, 0.12, 1.3)
        prod = 8.5e-3 * wx.sun * warm * (1.0 - 0.6 * wx.cloud) * wx.airmass**0.3
        decay = math.exp(-tl.step_s / (4.0 * 3600.0))
        level = 0.0 if self._photo is None else self._photo
        out = [0.0] * tl.n
        tau = 4.0 * 3600.0
        for k, p in enumerate(prod.tolist()):
            level = level * decay + p * tau * (1.0 - decay)
            out[k] = level
        self._photo = level
        photo = np.asarray(out, dtype=np.float64)
        coupling = 0.6 + 0.4 * np.clip(wx.blh / 900.0, 0.0, 1.0)
        result: FloatArray = base * coupling + photo
        return result


def pm_fractions(
    winter: FloatArray, heat: FloatArray, rh: FloatArray, coarse_share: FloatArray
) -> dict[str, FloatArray]:
    """Mass fractions of PM2.5 per component of the super site (ions, OC, EC).

    Nitrate is semi-volatile and favoured by cold and humid air; ammonium follows from
    neutralising sulphate and nitrate ((NH4)2SO4: 36/96, NH4NO3: 18/62 by mass).
    """
    cold = np.clip(winter, 0.0, 1.0)
    so4 = 0.12 + 0.05 * np.clip(-winter, 0.0, 1.0) + 0.02 * (rh / 100.0)
    no3 = (0.10 + 0.12 * cold) * (0.8 + 0.4 * rh / 100.0)
    nh4 = 0.375 * so4 + 0.29 * no3
    return {
        "so4": so4,
        "no3": no3,
        "nh4": nh4,
        "oc": 0.15 + 0.05 * heat,
        "ec": 0.045 + 0.012 * heat,
        "cl": 0.008 + 0.025 * heat,
        "k": 0.007 + 0.008 * heat,
        "na": np.full_like(winter, 0.004),
        "ca": 0.004 + 0.03 * coarse_share,
        "mg": 0.001 + 0.005 * coarse_share,
    }


def element_fractions(heat: FloatArray) -> tuple[dict[str, float], dict[str, FloatArray]]:
    """(crustal fractions of dust, anthropogenic fractions of PM2.5) for the XRF elements."""
    crustal = {"si": 0.28, "al": 0.08, "fe": 0.045, "ti": 0.004, "mn": 0.0008}
    coal = 1.0 + 1.5 * heat
    anthropogenic = {
        "fe": np.full_like(heat, 0.002),
        "zn": 0.003 * (1.0 + 0.3 * heat),
        "pb": 0.0006 * coal,
        "as": 0.00006 * coal,
        "cd": 0.00003 * coal,
        "mn": np.full_like(heat, 0.0003),
        "cu": np.full_like(heat, 0.0006),
        "cr": np.full_like(heat, 0.0002),
        "ni": np.full_like(heat, 0.0001),
        "v": np.full_like(heat, 0.00008),
    }
    return crustal, anthropogenic
