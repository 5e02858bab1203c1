"""Typed records of the domain catalog; plain frozen data, loaded once and shared."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

__all__ = [
    "AqiCategory",
    "AqiStandard",
    "CoexceedanceLimits",
    "DataFlag",
    "EventRules",
    "Fingerprint",
    "HJ212Version",
    "Hj212LegacyCode",
    "IndicatorRules",
    "Network",
    "ParamGroup",
    "Parameter",
    "Station",
    "StationType",
    "Validity",
]


class ParamGroup(StrEnum):
    """Families of parameters; transforms and the bulletin select by group."""

    CRITERIA = "criteria"
    GAS = "gas"
    VOC = "voc"
    GHG = "ghg"
    METEOROLOGY = "meteorology"
    PM_COMPONENT = "pm_component"
    ELEMENT = "element"
    RADIATION = "radiation"
    STATUS = "status"


class StationType(StrEnum):
    """The station kinds the city's synergy plan asks its network to build."""

    NATIONAL = "national"
    VOC = "voc"
    GHG = "ghg"
    PM_COMPONENT = "pm_component"
    RADIATION = "radiation"
    ECOLOGICAL = "ecological"
    MICRO = "micro"


@dataclass(frozen=True, slots=True)
class Parameter:
    """One measurable quantity, with everything ingest, QC, SQL and GX need to know."""

    code: str
    name_zh: str
    name_en: str
    group: ParamGroup
    unit: str
    accepted: tuple[str, ...]
    physical: tuple[float, float]
    plausible: tuple[float, float]
    noise: float
    source: str
    range_source: str
    hj212: str | None = None
    hj212_unit: str | None = None
    molar_mass: float | None = None
    # VOC species
    cas: str | None = None
    voc_group: str | None = None
    pams: bool = False
    mir: float | None = None
    mir_source: str | None = None
    koh: float | None = None
    koh_source: str | None = None
    # greenhouse gases
    gwp100: float | None = None
    gwp_source: str | None = None


#: Which HJ 212 pollutant-code table a station's logger speaks ("auto": 2017, then 2005).
HJ212Version = Literal["2005", "2017", "auto"]


@dataclass(frozen=True, slots=True)
class Hj212LegacyCode:
    """One HJ/T 212-2005 pollutant code and the catalog parameter it lands as, if any."""

    code: str
    name_zh: str
    name_en: str
    hj212_2017: str | None
    param: str | None
    unit: str
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Station:
    """One monitoring site of the network."""

    id: str
    name_zh: str
    name_en: str
    type: StationType
    lat: float
    lon: float
    mn: str
    params: tuple[str, ...]
    instruments: tuple[str, ...]
    district: str = ""
    timezone: str = "Asia/Shanghai"
    background: bool = False
    hj212_version: HJ212Version = "auto"
    #: The national (CNEMC) station code, e.g. ``"1001A"``: how public files name the site.
    national_code: str | None = None
    #: First local day the station reports (None: since before the lake's history).
    valid_from: dt.date | None = None
    #: Last local day it reported (retired); None while it is in service.
    valid_to: dt.date | None = None

    def active_on(self, day: dt.date) -> bool:
        """Whether the station was in service on local ``day`` (inclusive bounds)."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to


@dataclass(frozen=True, slots=True)
class Network:
    """The city the sample network belongs to; its time zone defines local days."""

    city: str
    name_zh: str
    name_en: str
    timezone: str
    center: tuple[float, float]


@dataclass(frozen=True, slots=True)
class DataFlag:
    """An HJ 212 data flag letter and whether values carrying it may be averaged."""

    letter: str
    valid: bool
    name_en: str
    name_zh: str
    keep_marked: bool = False


@dataclass(frozen=True, slots=True)
class AqiCategory:
    """One AQI level of HJ 633 (the same six in both versions)."""

    level: int
    aqi_max: int
    roman: str
    name_zh: str
    name_en: str
    color: str


@dataclass(frozen=True, slots=True)
class AqiStandard:
    """One version of HJ 633 as data: breakpoints, special rules and report composition."""

    version: str
    name: str
    effective_from: dt.date
    effective_until: dt.date | None
    breakpoints: dict[str, tuple[float, ...]]
    above_top: dict[str, dict[str, str | int]]
    reports: dict[str, dict[str, str]]
    input_decimals: dict[str, int]
    exceedance_pollutant_above: int | None
    source: str


@dataclass(frozen=True, slots=True)
class Validity:
    """Data-completeness minimums (GB 3095 Table 4, HJ 663), in one place for every step."""

    hourly_min_minutes: int
    hourly_params: tuple[str, ...]
    daily_min_hours: int
    daily_params: tuple[str, ...]
    o3_8h_window_hours: int
    o3_8h_min_hours: int
    o3_8h_max_first_end_hour: int
    o3_8h_max_last_end_hour: int
    o3_8h_max_min_windows: int
    o3_8h_max_valid_if_exceeds: float
    annual_min_days: int
    annual_min_days_per_month: int
    annual_min_days_february: int
    sources: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class CoexceedanceLimits:
    """GB 3095 Grade II limits that define a PM2.5/O3 co-exceedance from a day on."""

    effective_from: dt.date
    pm25_24h: float
    o3_1h: float
    o3_8h: float
    source: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A source class as ranges of event enhancement ratios (``indicators.toml``)."""

    source_class: str
    name_en: str
    ranges: Mapping[str, tuple[float, float]]
    source: str


@dataclass(frozen=True, slots=True)
class EventRules:
    """How co-emission events are detected (``[events]`` of ``indicators.toml``)."""

    background_quantile: float
    background_window_hours: int
    background_min_hours: int
    anchors: tuple[str, ...]
    min_copollutants: int
    min_duration_hours: int
    merge_gap_hours: int
    min_class_score: float
    min_class_metrics: int
    thresholds: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class IndicatorRules:
    """Coefficients of the daily indicators and source tracing (``indicators.toml``)."""

    avogadro: float
    coexceedance: tuple[CoexceedanceLimits, ...]
    city_min_station_fraction: float
    voc_min_species_fraction: float
    voc_top_n: int
    reconstruction_factors: Mapping[str, float]
    reconstruction_required: tuple[str, ...]
    soc_ratio_quantile: float
    soc_window_days: int
    soc_min_ratio_hours: int
    ghg_background_quantile: float
    ghg_background_window_days: int
    regression_min_hours: int
    regression_min_r2: float
    mce_min_dco2_ppm: float
    sectors: int
    calm_ws: float
    cpf_percentile: float
    cpf_min_hours: int
    events: EventRules
    fingerprints: tuple[Fingerprint, ...]

    def coexceedance_for(self, day: dt.date) -> CoexceedanceLimits:
        """The limits in force on local day ``day`` (the earliest set before its start)."""
        chosen = self.coexceedance[0]
        for limits in self.coexceedance:
            if day >= limits.effective_from:
                chosen = limits
        return chosen
