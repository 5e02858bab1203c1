"""Concentrations at one station: background + local emissions diluted + plumes + chemistry.

For each species the model adds

* a regional background (seasonal, modulated by the polluted/clean air-mass index),
* local, unresolved emissions (traffic, coal heating, industry, vegetation) scaled by the
  station's exposure and divided by the ventilation (boundary-layer height x wind speed):
  the reason primary pollutants and CO2 build up at night under a shallow layer,
* the plumes of the point and line sources of ``sources.toml`` (see :mod:`.sources`),

then lets chemistry act (NO titration of O3, photochemical O3 and OVOC production, OH
ageing of VOCs) and finally adds instrument noise and rounds to what the analyser reports.
Every series is computed for a whole block at once with numpy.
"""

from __future__ import annotations

import numpy as np

from aircarbon.core.catalog import Catalog, Parameter, ParamGroup, Station, StationType
from aircarbon.simulator import emissions as em
from aircarbon.simulator.chemistry import (
    MOLAR_VOLUME_L,
    element_fractions,
    j_no2,
    photostationary_no2,
    pm_fractions,
)
from aircarbon.simulator.noise import ou
from aircarbon.simulator.timebase import FloatArray, Timeline
from aircarbon.simulator.voc import VocProfiles
from aircarbon.simulator.weather import StationClimate, Weather

__all__ = ["StationModel", "decimals_for", "site_climate"]

_M_NO2 = 46.0055
_M_O3 = 47.997
_M_NO = 30.006


def decimals_for(param: Parameter) -> int:
    """Decimals an analyser of ``param`` typically reports in its canonical unit."""
    by_unit = {
        "mg/m3": 3,
        "ppm": 2,
        "ppbv": 3,
        "ng/m3": 1,
        "m/s": 1,
        "deg": 0,
        "degC": 1,
        "%": 1,
        "hPa": 1,
        "m": 0,
        "nGy/h": 1,
        "L/min": 2,
    }
    if param.code == "n2o":
        return 2
    if param.code == "ch4":
        return 1
    if param.group == ParamGroup.PM_COMPONENT:
        return 2
    return by_unit.get(param.unit, 1)


def site_climate(station: Station, rng: np.random.Generator) -> StationClimate:
    """Fixed site effects of a station, drawn once from its own seed."""
    exposure = {
        StationType.MICRO: 0.75,
        StationType.ECOLOGICAL: 1.2,
        StationType.RADIATION: 1.1,
    }.get(station.type, 0.9)
    if station.background:
        exposure = 1.25
    urban = station.type in {StationType.NATIONAL, StationType.MICRO, StationType.PM_COMPONENT}
    return StationClimate(
        ws_factor=exposure * float(rng.uniform(0.9, 1.1)),
        wd_bias=float(rng.normal(0.0, 6.0)),
        temp_bias=float(rng.normal(0.0, 0.3)) - (0.8 if station.background else 0.0),
        uhi=1.2 if urban else 0.4,
        p_bias=float(rng.normal(0.0, 0.8)),
        blh_factor=float(rng.uniform(0.95, 1.05)),
    )


class StationModel:
    """The measured series of one station, block after block."""

    def __init__(
        self,
        station: Station,
        catalog: Catalog,
        voc: VocProfiles,
        rng: np.random.Generator,
    ) -> None:
        self.station = station
        self.catalog = catalog
        self.voc = voc
        self.params: tuple[str, ...] = tuple(station.params)
        self.scale = em.station_emission_scale(station) * float(rng.uniform(0.85, 1.15))
        self.site = site_climate(station, rng)
        self.gamma_offset = float(rng.normal(0.0, 5.0))
        self.micro = station.type == StationType.MICRO
        self.micro_bias = float(rng.uniform(0.9, 1.15))
        params = [catalog.parameter(p) for p in self.params]
        self.decimals = [decimals_for(p) for p in params]
        self.voc_codes = [p.code for p in params if p.group == ParamGroup.VOC]

    # -- instrument --------------------------------------------------------------------------
    def _noise_sd(self, param: Parameter, value: FloatArray) -> FloatArray:
        """Minute-data instrument noise: a fraction of the catalog's noise floor, or relative."""
        group = param.group
        if group == ParamGroup.METEOROLOGY:
            return np.zeros_like(value)  # already in the station weather
        if group == ParamGroup.VOC:
            sd = 0.03 * np.abs(value) + 0.003
        elif group in {ParamGroup.PM_COMPONENT, ParamGroup.ELEMENT}:
            sd = 0.06 * np.abs(value) + 0.3 * param.noise
        elif param.code == "co2":
            sd = np.full_like(value, 0.08)
        elif param.code in {"ch4", "n2o"}:
            sd = np.full_like(value, 0.3 * param.noise)
        else:
            sd = np.full_like(value, 0.3 * param.noise)
        return sd * (4.0 if self.micro else 1.0)

    # -- physics -----------------------------------------------------------------------------
    def run(
        self,
        tl: Timeline,
        wx: Weather,
        o3_regional: FloatArray,
        plumes: dict[str, FloatArray],
        rng: np.random.Generator,
    ) -> FloatArray:
        """The block's reported values (n x params), canonical units, rounded, no faults.

        ``plumes`` holds the source contributions in µg/m³ by parameter code (NOx as NO2).
        """
        n, dt = tl.n, tl.step_s
        zero = np.zeros(n)

        def plume(code: str) -> FloatArray:
            return plumes.get(code, zero)

        s = self.scale
        traffic = em.traffic(tl)
        heat = em.heating(tl, wx.temp)
        season_heat = tl.heating_season()
        leaf = em.leaf_on(tl)
        vent = np.maximum(wx.blh * np.maximum(wx.ws, 0.3), 30.0)
        dil = np.clip((1000.0 / vent) ** 0.6, 0.25, 4.5)
        local = dil * np.exp(ou(rng, n, dt, 600.0, 0.15))
        w = tl.winter
        vm = MOLAR_VOLUME_L
        out: dict[str, FloatArray] = {}

        # NO / NO2 / O3: titration and photostationary state
        nox_ug = s * (40.0 * traffic + 6.0 * heat + 5.0) * local + 6.0 * wx.airmass
        nox_ug = nox_ug + plume("nox")
        nox_ppb = nox_ug * vm / _M_NO2
        ox_ppb = o3_regional * vm / _M_O3 + 0.12 * nox_ppb
        no2_ppb = photostationary_no2(nox_ppb, ox_ppb, j_no2(wx.sun, wx.cloud), wx.temp)
        out["no2"] = no2_ppb * _M_NO2 / vm
        out["o3"] = np.maximum(ox_ppb - no2_ppb, 0.0) * _M_O3 / vm
        out["no"] = np.maximum(nox_ppb - no2_ppb, 0.0) * _M_NO / vm
        out["nox"] = nox_ug

        out["co"] = (
            0.3 * wx.airmass
            + s * (0.25 * traffic + 0.3 * heat + 0.05) * local
            + plume("co") / 1000.0
        )
        out["so2"] = (
            3.0 + 3.0 * wx.airmass * (1.0 + heat) + s * (2.0 + 8.0 * heat) * local + plume("so2")
        )

        # particles: secondary (regional, humid, stagnant) + primary + coarse dust
        stagnation = np.clip((1000.0 / vent) ** 0.2, 0.6, 1.6)
        secondary = (
            (16.0 + 12.0 * season_heat) * wx.airmass * (1.0 + 0.8 * (wx.rh / 100.0) ** 3)
        ) * stagnation
        primary = s * (6.0 * traffic + 10.0 * heat + 3.0) * local + plume("pm25")
        pm25 = secondary + primary
        spring = np.clip(np.cos(2.0 * np.pi * (tl.doy - 105.0) / 365.25), 0.0, None)
        dry = np.clip((60.0 - wx.rh) / 30.0, 0.0, 1.0)
        blown = 12.0 * np.clip(wx.ws - 5.0, 0.0, None) ** 1.5 * (1.0 + 2.0 * spring) * dry
        coarse = 8.0 + s * (10.0 * traffic + 5.0) * np.sqrt(dil) + blown
        coarse = coarse + np.maximum(plume("pm10") - plume("pm25"), 0.0)
        out["pm25"] = pm25
        out["pm10"] = pm25 + coarse

        # greenhouse gases: background, combustion, biosphere; all pile up in a shallow layer
        bg_co2 = 428.5 + 4.0 * np.cos(2.0 * np.pi * (tl.doy - 110.0) / 365.25)
        bio = 5.0 * em.respiration(wx.temp, leaf) - 10.0 * em.photosynthesis(wx.sun, leaf, wx.cloud)
        comb = s * (7.0 * traffic + 9.0 * heat + 2.0) * local
        out["co2"] = bg_co2 + comb + bio * dil + plume("co2") / 1000.0 * vm / 44.009
        out["ch4"] = (
            2005.0 + 8.0 * w + s * (40.0 + 25.0 * heat) * local + plume("ch4") * vm / 16.043
        )
        out["n2o"] = (
            337.3 + s * (0.6 + 0.4 * traffic) * dil + 0.8 * leaf * dil + plume("n2o") * vm / 44.013
        )

        # meteorology as measured on site
        out["ws"], out["wd"], out["temp"] = wx.ws, wx.wd, wx.temp
        out["rh"], out["pressure"], out["blh"] = wx.rh, wx.pressure, wx.blh

        wet = np.clip((wx.cloud - 0.75) / 0.2, 0.0, 1.0) * np.clip((wx.rh - 85.0) / 10.0, 0.0, 1.0)
        out["gamma"] = 78.0 + self.gamma_offset + 2.0 * np.tanh(dil - 1.0) + 7.0 * wet
        out["sample_flow"] = np.full(n, 16.67)
        out["shelter_temp"] = 25.0 + 0.8 * np.sin(2.0 * np.pi * (tl.local_hour - 9.0) / 24.0)

        wanted = set(self.params)
        if wanted & {"so4", "no3", "nh4", "cl", "k", "na", "ca", "mg", "oc", "ec"}:
            share = coarse / (coarse + pm25)
            for code, frac in pm_fractions(w, heat, wx.rh, share).items():
                out[code] = frac * pm25 * np.exp(ou(rng, n, dt, 1800.0, 0.08))
        if any(self.catalog.parameter(p).group == ParamGroup.ELEMENT for p in self.params):
            crustal, anthropogenic = element_fractions(heat)
            dust = 0.1 * pm25 + 0.15 * coarse
            for code in self.params:
                if self.catalog.parameter(code).group != ParamGroup.ELEMENT:
                    continue
                ng = 1000.0 * (crustal.get(code, 0.0) * dust + anthropogenic.get(code, zero) * pm25)
                out[code] = ng * np.exp(ou(rng, n, dt, 1800.0, 0.1))

        if self.voc_codes:
            photo = np.clip(o3_regional / 120.0, 0.0, 1.5)
            vocs = self.voc.series(
                self.voc_codes,
                tl=tl,
                wx=wx,
                traffic=traffic * s,
                heat=heat * s,
                local=local,
                photo=photo,
                plumes=plumes,
                rng=rng,
            )
            out.update(vocs)

        if self.micro:  # optical PM sensors count water: overestimate in humid air
            growth = 1.0 + 0.08 * np.minimum(wx.rh, 95.0) / (100.0 - np.minimum(wx.rh, 95.0))
            out["pm25"] = out["pm25"] * growth * self.micro_bias
            out["pm10"] = out["pm10"] * growth * self.micro_bias

        return self._report(out, rng, n)

    def _report(self, out: dict[str, FloatArray], rng: np.random.Generator, n: int) -> FloatArray:
        table = np.empty((n, len(self.params)))
        for j, code in enumerate(self.params):
            param = self.catalog.parameter(code)
            series = out.get(code)
            if series is None:
                table[:, j] = np.nan  # a parameter the model does not know: never sent
                continue
            true = np.maximum(series, 0.0) if param.group != ParamGroup.METEOROLOGY else series
            value = true + self._noise_sd(param, true) * rng.standard_normal(n)
            if param.group != ParamGroup.METEOROLOGY:
                value = np.maximum(value, -param.noise)
            table[:, j] = np.round(value, self.decimals[j])
        if "wd" in self.params:
            j = self.params.index("wd")
            table[:, j] = np.mod(table[:, j], 360.0)
        return table
