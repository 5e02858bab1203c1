"""The city's daily AQI: one definition for the forecast, the bulletin, warnings and analysts.

HJ 663 assesses a city, not a station: per pollutant, the city's daily concentration is the
mean of the assessment stations' *valid* daily values (``daily.valid``: GB 3095 Table 4
completeness, O3 8-h window rules), and the city AQI is HJ 633 on those means under the
version in force on the day (HJ 633-2012 before 2026-03-01, HJ 633-2026 from it;
``Catalog.aqi_standard_for``) — all six pollutants of that version's daily report. The
HJ 633 step itself is :func:`transforms.aqi.aqi_daily` applied to a pseudo-station
``city``, so rounding, above-the-top rules, primary pollutants and categories are those of
the station AQI, not a second copy of them.

Before this module the same day had two city AQIs: the forecast's (PM2.5/O3/NO2 only, mean
over every station) and the bulletin's (assessment stations, six pollutants) — 96 and 101 on
the demo day. The warehouse macro ``city_aqi_daily(first_day, last_day)`` (migration 0013)
computes the same thing in SQL; ``tests/warehouse/test_city_aqi.py`` holds the two equal.

Which stations assess the city: national, PM-component, VOC and GHG sites (all measure the
criteria pollutants with reference methods); regional background sites, micro sensors,
ecological and radiation sites do not, as in HJ 663's choice of 城市点.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Final

import polars as pl

from aircarbon.core.catalog import Catalog, Station
from aircarbon.core.contracts import AQI_DAILY
from aircarbon.core.errors import AirCarbonError
from transforms.aqi import aqi_daily, report_inputs

__all__ = [
    "ASSESSMENT_TYPES",
    "CITY",
    "CITY_AQI",
    "assessment_stations",
    "city_aqi",
    "city_series",
    "is_assessment",
]

#: Station kinds whose criteria pollutants enter the city assessment (``stations.type``).
ASSESSMENT_TYPES: Final = ("national", "pm_component", "voc", "ghg")
#: The key the city's rows carry where a station id would be (forecasts, warnings).
CITY: Final = "city"

_MEAN = pl.Struct({"pollutant": pl.String(), "value": pl.Float64(), "stations": pl.Int32()})

#: The city AQI frame: ``aqi_daily``'s columns without ``station``, plus the assessment
#: stations averaged that day and the unrounded city mean of each input with its station count
#: (``iaqi`` holds the concentration as the standard rounds it).
CITY_AQI: Final = pl.Schema(
    {
        "date": pl.Date(),
        "standard": pl.String(),
        "aqi": pl.Int32(),
        "level": pl.Int8(),
        "category": pl.String(),
        "category_zh": pl.String(),
        "color": pl.String(),
        "primary_pollutants": pl.List(pl.String()),
        "iaqi": AQI_DAILY["iaqi"],
        "stations": pl.Int32(),
        "means": pl.List(_MEAN),
    }
)


def is_assessment(station: Station) -> bool:
    """Whether a station's daily values enter the city's (type and not a background site)."""
    return str(station.type) in ASSESSMENT_TYPES and not station.background


def assessment_stations(catalog: Catalog) -> list[str]:
    """Ids of the network's assessment stations (see :func:`is_assessment`), sorted."""
    return sorted(s.id for s in catalog.stations.values() if is_assessment(s))


def _report_table(catalog: Catalog, days: list[dt.date]) -> pl.DataFrame:
    """(date, param, ord) of each day's daily-report inputs under the version in force."""
    rows: list[tuple[dt.date, str, int]] = []
    for day in days:
        std = catalog.aqi_standard_for(day)
        rows += [(day, code, i) for i, code in enumerate(report_inputs(std, "daily"))]
    return pl.DataFrame(
        rows, schema={"date": pl.Date(), "param": pl.String(), "ord": pl.Int32()}, orient="row"
    )


def city_aqi(
    daily: pl.DataFrame, catalog: Catalog, *, stations: Collection[str] | None = None
) -> pl.DataFrame:
    """The city AQI of every day of ``daily`` with a valid input (frame :data:`CITY_AQI`).

    ``daily`` is the ``daily`` table's shape (``station, param, date, value, valid``; other
    columns and stations are ignored). ``stations`` overrides the assessment set (default
    :func:`assessment_stations`), e.g. for a forecast's predicted station days. A day whose
    assessment stations have no valid value of any input, or only values no IAQI can be
    computed from (an O3 8-h mean above 800 µg/m³ without the 1-h value HJ 633 then uses),
    has no row: the caller says "no city AQI" rather than invent one.
    """
    needed = ("station", "param", "date", "value", "valid")
    missing = [c for c in needed if c not in daily.columns]
    if missing:
        raise AirCarbonError(f"city AQI: daily frame lacks column(s) {', '.join(missing)}")
    sites = assessment_stations(catalog) if stations is None else sorted(stations)
    rows = daily.filter(
        pl.col("valid") & pl.col("value").is_not_null() & pl.col("station").is_in(sites)
    ).select("station", "param", pl.col("date").cast(pl.Date), pl.col("value").cast(pl.Float64))
    days = rows.get_column("date").unique().sort().to_list()
    rows = rows.join(_report_table(catalog, days), on=["date", "param"], how="inner")
    if rows.is_empty():
        return pl.DataFrame(schema=CITY_AQI)
    means = (
        rows.group_by("date", "param", "ord")
        .agg(pl.col("value").mean(), pl.col("station").n_unique().cast(pl.Int32).alias("n"))
        .sort("date", "ord")
    )
    counts = rows.group_by("date").agg(
        pl.col("station").n_unique().cast(pl.Int32).alias("stations")
    )
    listed = means.group_by("date", maintain_order=True).agg(
        pl.struct(pl.col("param").alias("pollutant"), "value", pl.col("n").alias("stations")).alias(
            "means"
        )
    )
    city = means.select(
        pl.lit(CITY).alias("station"), "param", "date", "value", pl.lit(True).alias("valid")
    )
    # aqi_daily picks each day's version itself (the same Catalog.aqi_standard_for)
    rated = aqi_daily(city, catalog).drop("station")
    return (
        rated.join(counts, on="date", how="inner")
        .join(listed, on="date", how="inner")
        .select(list(CITY_AQI))
        .cast(dict(CITY_AQI))  # type: ignore[arg-type]
        .sort("date")
    )


def city_series(city: pl.DataFrame) -> pl.DataFrame:
    """:func:`city_aqi` rows as one more forecast series: ``station`` (``"city"``), ``date``,
    ``aqi`` (Int64) and the city mean ``o3_8h_max`` (None without one).

    The shape the forecast's observed day and the warnings read
    (``transforms.warnings.heavy_pollution_warnings(observed_aqi=...)``, ``o3_episode_alerts``),
    so the issue day they count is the bulletin's city AQI, not a second computation.
    """
    o3 = pl.element().struct.field("pollutant") == "o3_8h_max"
    return city.select(
        pl.lit(CITY).alias("station"),
        "date",
        pl.col("aqi").cast(pl.Int64),
        pl.col("means")
        .list.eval(pl.element().filter(o3).struct.field("value"))
        .list.first()
        .alias("o3_8h_max"),
    )
