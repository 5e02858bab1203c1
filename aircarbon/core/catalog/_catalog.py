"""The catalog: lookups over parameters, units, stations, flags and AQI rules.

It is the single source of truth shared by ingest (decoding, range checks), transforms
(units, QC ranges, AQI), GX suites (generated from it) and SQL (the dimension tables).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from aircarbon.core.catalog._model import (
    AqiCategory,
    AqiStandard,
    DataFlag,
    Hj212LegacyCode,
    IndicatorRules,
    Network,
    Parameter,
    ParamGroup,
    Station,
    Validity,
)
from aircarbon.core.catalog._units import IDENTITY, Conversion, UnitRegistry
from aircarbon.core.errors import UnknownParameterError, UnknownStationError, UnknownUnitError

__all__ = ["Catalog"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(eq=False)
class Catalog:
    """Everything the pipeline knows about its domain; build with ``load_catalog()``."""

    parameters: Mapping[str, Parameter]
    stations: Mapping[str, Station]
    network: Network
    units: UnitRegistry
    flags: Mapping[str, DataFlag]
    categories: tuple[AqiCategory, ...]
    iaqi_steps: tuple[int, ...]
    aqi_standards: Mapping[str, AqiStandard]
    #: AQI above which the pollutant(s) with the largest IAQI are "primary" (HJ 633 §4.4.2/§4.3.1).
    primary_pollutant_above: int
    validity: Validity
    sources: Mapping[str, str]
    #: Coefficients of the daily indicators and source tracing (``indicators.toml``).
    indicators: IndicatorRules
    station_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: HJ/T 212-2005 pollutant codes (``hj212_2005.toml``), by code.
    hj212_2005: Mapping[str, Hj212LegacyCode] = field(default_factory=dict)
    _conversions: dict[tuple[str, str], Conversion] = field(default_factory=dict, repr=False)

    # --- parameters ---------------------------------------------------------------------
    def parameter(self, code: str) -> Parameter:
        """The parameter ``code``; raises UnknownParameterError naming it."""
        try:
            return self.parameters[code]
        except KeyError:
            raise UnknownParameterError(code) from None

    @cached_property
    def _by_hj212(self) -> dict[str, Parameter]:
        return {p.hj212: p for p in self.parameters.values() if p.hj212}

    def parameter_by_hj212(self, code: str) -> Parameter:
        """The parameter an HJ 212 pollutant code (e.g. ``a34004``) stands for."""
        try:
            return self._by_hj212[code]
        except KeyError:
            raise UnknownParameterError(code, kind="HJ 212 code") from None

    def hj212_param(self, code: str) -> Parameter | None:
        """Like parameter_by_hj212 but None when unknown (``aircarbon decode`` shows null)."""
        return self._by_hj212.get(code)

    def hj212_2005_code(self, code: str) -> Hj212LegacyCode | None:
        """The HJ/T 212-2005 code ``code`` (``'02'``: SO2), or None when not in the table."""
        return self.hj212_2005.get(code)

    def in_group(self, *groups: ParamGroup | str) -> list[Parameter]:
        wanted = {ParamGroup(g) for g in groups}
        return [p for p in self.parameters.values() if p.group in wanted]

    # --- units --------------------------------------------------------------------------
    def conversion(self, code: str, unit: str | None) -> Conversion:
        """The map from ``unit`` into ``code``'s canonical unit (cached per pair).

        Only units listed in the parameter's ``accepted`` list are allowed: a unit that is
        dimensionally convertible but not plausible for the instrument (say ppm for PM2.5)
        is an error, named with the parameter.
        """
        if unit is None:
            return IDENTITY
        key = (code, unit)
        conv = self._conversions.get(key)
        if conv is not None:
            return conv
        param = self.parameter(code)
        try:
            name = self.units.normalise(unit)
        except UnknownUnitError:
            raise UnknownUnitError(unit, code) from None
        if name not in param.accepted:
            raise UnknownUnitError(
                unit, code, why=f"accepted units are {', '.join(param.accepted)}"
            )
        conv = self.units.conversion(name, param.unit, molar_mass=param.molar_mass, param=code)
        self._conversions[key] = conv
        return conv

    def to_canonical(self, code: str, value: float, unit: str | None) -> float:
        return self.conversion(code, unit).apply(value)

    # --- stations -----------------------------------------------------------------------
    def station(self, station_id: str) -> Station:
        try:
            return self.stations[station_id]
        except KeyError:
            raise UnknownStationError(station_id) from None

    @cached_property
    def _by_mn(self) -> dict[str, Station]:
        return {s.mn: s for s in self.stations.values()}

    def stations_by_mn(self) -> Mapping[str, Station]:
        """Stations keyed by their HJ 212 MN (the decoder's hot-path lookup)."""
        return self._by_mn

    def station_by_mn(self, mn: str) -> Station:
        """The station whose data logger has HJ 212 device code ``mn``."""
        try:
            return self._by_mn[mn]
        except KeyError:
            raise UnknownStationError(mn, kind="HJ 212 MN") from None

    @cached_property
    def _by_code(self) -> dict[str, Station]:
        return {s.national_code: s for s in self.stations.values() if s.national_code}

    def station_by_code(self, code: str) -> Station:
        """The station with national (CNEMC) code ``code``, e.g. ``"1001A"``."""
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownStationError(code, kind="national station code") from None

    @cached_property
    def retired_after_us(self) -> dict[str, int]:
        """Retired stations → the end of their last local day, µs since the epoch (UTC).

        The decoders' hot-path check: a reading whose period ends after this instant was
        measured after the station's ``valid_to`` and is dead-lettered as retired.
        """
        out: dict[str, int] = {}
        for s in self.stations.values():
            if s.valid_to is not None:
                end = dt.datetime.combine(
                    s.valid_to + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(s.timezone)
                )
                out[s.id] = (end - _EPOCH) // dt.timedelta(microseconds=1)
        return out

    def stations_on(self, day: dt.date) -> list[Station]:
        """The stations in service on local ``day`` (retired and not-yet-opened left out)."""
        return [s for s in self.stations.values() if s.active_on(day)]

    # --- flags and AQI ------------------------------------------------------------------
    def flag(self, letter: str) -> DataFlag | None:
        return self.flags.get(letter)

    def aqi_standard_for(self, day: dt.date) -> AqiStandard:
        """The HJ 633 version in force on a (local) calendar day."""
        for std in sorted(
            self.aqi_standards.values(), key=lambda s: s.effective_from, reverse=True
        ):
            if day >= std.effective_from:
                return std
        return min(self.aqi_standards.values(), key=lambda s: s.effective_from)

    def category_for(self, aqi: int) -> AqiCategory:
        for cat in self.categories:
            if aqi <= cat.aqi_max:
                return cat
        return self.categories[-1]

    # --- export -------------------------------------------------------------------------
    def stations_json(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The `aircarbon stations --json` records (docs/contract.md §2.4)."""
        chosen = [self.station(i) for i in ids] if ids is not None else self.stations.values()
        return [
            {
                "id": s.id,
                "name": s.name_en,
                "name_zh": s.name_zh,
                "type": s.type.value,
                "lat": s.lat,
                "lon": s.lon,
                "params": list(s.params),
                "mn": s.mn,
                "timezone": s.timezone,
                "national_code": s.national_code,
                "district": s.district,
                "hj212_version": s.hj212_version,
                "valid_from": s.valid_from.isoformat() if s.valid_from else None,
                "valid_to": s.valid_to.isoformat() if s.valid_to else None,
            }
            for s in chosen
        ]
