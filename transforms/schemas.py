"""Column contracts of the tables transforms produce (SPEC §3), as Polars schemas.

One place that names every column and its type, so transforms, GX suites, the warehouse
DDL and the tests agree. Timestamps are UTC microseconds; ``date`` is the local calendar
day of the network's time zone.
"""

from __future__ import annotations

from enum import StrEnum

import polars as pl

__all__ = [
    "AQI_DAILY",
    "AQI_HOURLY",
    "DAILY",
    "HOURLY",
    "IAQI_ITEM",
    "RAW",
    "READINGS",
    "QcReason",
]

UTC_US = pl.Datetime("us", "UTC")

#: One pollutant's share of an AQI row: the input code, its (rounded) concentration, its IAQI.
IAQI_ITEM = pl.Struct({"pollutant": pl.String(), "concentration": pl.Float64(), "iaqi": pl.Int32})


class QcReason(StrEnum):
    """Why QC marked a reading invalid (or suspicious). QC flags, it never deletes."""

    STATION_FLAG = "station_flag"  # the station's own HJ 212 flag says invalid (M, C, D…)
    MAINTENANCE = "maintenance"  # inside a maintenance/calibration window from status
    RANGE = "range"  # outside the catalog's plausibility range
    NEGATIVE = "negative"  # below zero by more than the instrument noise
    SPIKE = "spike"  # Hampel/MAD outlier on a rolling window
    FLATLINE = "flatline"  # stuck sensor: identical values for too long
    RATE_OF_CHANGE = "rate_of_change"  # implausible jump between consecutive values
    PM25_GT_PM10 = "pm25_gt_pm10"  # PM2.5 above PM10 at the same time (beyond noise)


#: The raw store (SPEC §3), as the collector writes it.
RAW = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "ts": UTC_US,
        "value": pl.Float64(),
        "flag": pl.String(),
        "period_s": pl.Int32(),
        "seq": pl.Int64(),
        "received_at": UTC_US,
        "source": pl.String(),
    }
)

#: Clean readings with QC flags (warehouse table ``readings``).
READINGS = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "ts": UTC_US,
        "value": pl.Float64(),
        "flag": pl.String(),
        "period_s": pl.Int32(),
        "source": pl.String(),
        "received_at": UTC_US,
        "revisions": pl.UInt32(),  # how many other values arrived for this identity
        "qc": pl.List(pl.String),  # QcReason codes; empty = passed
        "valid": pl.Boolean(),
    }
)

#: Hourly means (warehouse ``hourly``): ``ts`` is the END of the hour, UTC.
HOURLY = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "ts": UTC_US,
        "value": pl.Float64(),
        "n": pl.UInt32(),  # valid values averaged
        "minutes": pl.Float64(),  # minutes of the hour covered by valid values
        "valid": pl.Boolean(),
    }
)

#: Daily statistics (warehouse ``daily``): ``date`` is the local calendar day.
DAILY = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "date": pl.Date(),
        "value": pl.Float64(),
        "n": pl.UInt32(),  # valid hours (or valid 8-h windows for o3_8h_max)
        "valid": pl.Boolean(),
    }
)

#: Hourly AQI (warehouse ``aqi_hourly``).
AQI_HOURLY = pl.Schema(
    {
        "station": pl.String(),
        "ts": UTC_US,
        "aqi": pl.Int32(),
        "level": pl.Int8(),
        "category": pl.String(),
        "category_zh": pl.String(),
        "color": pl.String(),
        "primary_pollutants": pl.List(pl.String),
        "iaqi": pl.List(IAQI_ITEM),
        "standard": pl.String(),  # "HJ 633-2012" / "HJ 633-2026"
    }
)

#: Daily AQI (warehouse ``aqi_daily``).
AQI_DAILY = pl.Schema(
    {
        "station": pl.String(),
        "date": pl.Date(),
        "aqi": pl.Int32(),
        "level": pl.Int8(),
        "category": pl.String(),
        "category_zh": pl.String(),
        "color": pl.String(),
        "primary_pollutants": pl.List(pl.String),
        "iaqi": pl.List(IAQI_ITEM),
        "standard": pl.String(),
    }
)
