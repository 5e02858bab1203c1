"""The bulletin's typed context: every number the text and charts show, read from the lake.

One context feeds both languages (the templates only choose strings); a section with no data
is an empty list or ``None``, and the template says so in one line instead of inventing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from aircarbon.core.catalog import AqiCategory

__all__ = [
    "BulletinContext",
    "CarbonStation",
    "CityDay",
    "Event",
    "Outlook",
    "PmComponents",
    "Reading",
    "SectorStat",
    "StationDay",
    "Targets",
    "VocStation",
]


@dataclass(frozen=True, slots=True)
class CityDay:
    """The city's daily AQI: HJ 633 on the mean of the assessment stations' daily values."""

    date: dt.date
    aqi: int | None
    category: AqiCategory | None
    primary: tuple[str, ...]
    #: AQI input code (pm25, o3_8h_max, …) → city mean concentration (µg/m³; CO mg/m³).
    concentrations: dict[str, float]
    stations: int
    standard: str


@dataclass(frozen=True, slots=True)
class StationDay:
    """One station's day: official AQI (aqi_daily), exceedances and data completeness.

    A station that measured AQI pollutants but missed the daily minimum (GB 3095 Table 4:
    20 valid hours) for some of them is still a row: ``aqi`` None when none was left, and
    ``valid_hours``/``expected_hours`` say how far it got, so it is listed, not dropped.
    """

    station: str
    name_zh: str
    name_en: str
    type: str
    aqi: int | None
    category: AqiCategory | None
    primary: tuple[str, ...]
    exceedances: tuple[str, ...]
    completeness: float | None  # mean hourly completeness over its parameters, 0..1
    worst_param: str | None
    worst_completeness: float | None
    ox: float | None  # µg/m³
    coexceed_hours: float | None
    #: fewest valid hours of the day among its AQI pollutants (0 when it sent nothing), of
    #: ``expected_hours``, and that pollutant (hourly code)
    valid_hours: int | None = None
    expected_hours: int = 24
    short_param: str | None = None
    #: some AQI pollutant below the daily minimum: no daily value (and AQI) for it
    incomplete: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """A diagnostic ratio with the sentence key its range maps to (readings.toml)."""

    indicator: str
    value: float
    key: str
    source: str


@dataclass(frozen=True, slots=True)
class VocStation:
    station: str
    name_zh: str
    name_en: str
    tvoc_ppbv: float | None
    ofp_total_ug_m3: float | None
    #: (species, name_zh, name_en, voc_group, ofp µg/m³, share 0..1), best first.
    top: list[tuple[str, str, str, str, float, float]]
    #: voc group → (share of TVOC by volume, share of OFP), 0..1.
    groups: dict[str, tuple[float | None, float | None]]
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class PmComponents:
    station: str
    name_zh: str
    name_en: str
    pm25_ug_m3: float | None
    #: component code → daily mean µg/m³ (so4, no3, nh4, oc, ec, …, plus 'other').
    composition: dict[str, float]
    sor: float | None
    nor: float | None
    soc_ug_m3: float | None
    soc_share: float | None
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class CarbonStation:
    station: str
    name_zh: str
    name_en: str
    background: bool
    co2_ppm: float | None
    ch4_ppb: float | None
    n2o_ppb: float | None
    co2_excess_ppm: float | None
    ch4_excess_ppb: float | None
    dco_dco2: float | None
    co2e_mg_m3: float | None
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class SectorStat:
    sector: str
    hours: int
    mean: float
    cpf: float | None


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    station: str
    name_zh: str
    name_en: str
    start_local: dt.datetime
    end_local: dt.datetime
    hours: int
    anchor: str
    anchor_unit: str
    anchor_excess_mean: float | None
    copollutants: tuple[str, ...]
    sector: str | None
    source_class: str | None


@dataclass(frozen=True, slots=True)
class Trend:
    param: str
    days: int
    slope_per_year: float | None
    p_value: float | None
    first: float | None
    last: float | None


@dataclass(frozen=True, slots=True)
class Targets:
    """Year-to-date air quality against GB 3095-2026, and the plan's carbon targets as context."""

    year: int
    ytd_days: int  # days with a city AQI so far this year
    good_days: int
    #: param → (YTD city mean, valid days, transition limit, final limit), µg/m³.
    annual: dict[str, tuple[float, int, float | None, float | None]]
    min_days: int
    carbon_targets: list[dict[str, Any]]
    trends: list[Trend]
    sources: dict[str, str]


@dataclass(frozen=True, slots=True)
class Outlook:
    """Forecast and warnings issued on the day (migration 0008), when they exist.

    Day 0 is the observed city AQI (the headline's, :func:`transforms.city_aqi.city_aqi`),
    so the table starts from what was measured, not from the forecast's own view of today.
    ``method`` is the forecast's method code (``forecasts.method``): the templates word it
    from i18n.toml and never print it; ``day1_skill`` is the recorded skill of the daily AQI
    one day ahead (``forecast_skill``: 1 − RMSE / RMSE of persistence; > 0 beats it).
    """

    days: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    #: (param, lead hours, rmse, persistence rmse): the model beats persistence when rmse < it.
    skill: list[tuple[str, int, float, float]]
    method: str | None = None
    model_version: str | None = None
    day1_skill: float | None = None
    today: CityDay | None = None


@dataclass(slots=True)
class BulletinContext:
    """Everything one day's bulletin shows, in both languages."""

    day: dt.date
    city_zh: str
    city_en: str
    timezone: str
    snapshot: int | None
    standard: str
    categories: tuple[AqiCategory, ...]
    city: CityDay | None
    yesterday: CityDay | None
    last_year: CityDay | None
    month: list[CityDay]
    assessment_stations: list[str]
    distribution: list[tuple[AqiCategory, int]]
    stations: list[StationDay]
    city_ox: float | None
    city_coexceed_hours: float | None
    coexceed_stations: list[str]
    coexceed_limits: tuple[float, float, float]  # PM2.5 24-h, O3 1-h, O3 8-h
    voc: list[VocStation]
    pm: list[PmComponents]
    carbon: list[CarbonStation]
    #: where the day's primary pollutant peaked (station, hourly param, daily value) and its
    #: concentration by wind sector there
    rose_station: str | None
    rose_param: str | None
    rose_value: float | None
    rose: list[SectorStat]
    events: list[Event]
    #: GB 3095 Table 4 daily minimum (valid hours of 24), and stations below it on average
    min_hours: int
    low_completeness: int
    validation: list[dict[str, Any]]
    dead_letters: list[tuple[str, int]]
    targets: Targets | None
    outlook: Outlook | None
    #: param → [(local hour 1..24, value)], city means of the day.
    diurnal: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    station_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: coefficients the methods section names (from the catalog), already formatted
    method_values: dict[str, str] = field(default_factory=dict)
    #: the day's statistics were rebuilt after a first issue (an hour re-processed after a
    #: late file, a re-run day): the bulletin says it is a revised issue
    revised: bool = False

    def headline(self) -> dict[str, Any]:
        """The headline numbers, JSON-able (the summary and the tests compare them)."""
        city = self.city
        return {
            "date": self.day.isoformat(),
            "aqi": city.aqi if city else None,
            "category": city.category.name_en if city and city.category else None,
            "category_zh": city.category.name_zh if city and city.category else None,
            "primary_pollutants": list(city.primary) if city else [],
            "pm25_ug_m3": city.concentrations.get("pm25") if city else None,
            "stations": city.stations if city else 0,
            "yesterday_aqi": self.yesterday.aqi if self.yesterday else None,
            "last_year_aqi": self.last_year.aqi if self.last_year else None,
            "snapshot": self.snapshot,
        }
