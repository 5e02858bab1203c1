"""Column contracts of every dataset (docs/contract.md §3, §4), as Polars schemas: declared
once, here.

One place that names every column and its type, so transforms, GX suites, the warehouse
DDL and the tests agree. Timestamps are UTC microseconds; ``date`` is the local calendar
day of the network's time zone.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "AQI_DAILY",
    "AQI_HOURLY",
    "DAILY",
    "DEAD_LETTER",
    "DEAD_LETTER_NULLABLE",
    "EMISSION_EVENTS",
    "HOURLY",
    "IAQI_ITEM",
    "INDICATORS_DAILY",
    "LAKE_TABLES",
    "MOVING_SOURCES",
    "RAW",
    "RAW_NULLABLE",
    "READINGS",
    "VALIDATION_RESULTS",
    "VALIDATION_RUNS",
    "QcReason",
    "arrow_schema",
]

UTC_US = pl.Datetime("us", "UTC")

#: Hourly series derived from a measured one (moving averages, stored in ``hourly`` beside
#: the measured series) → their source parameter.
MOVING_SOURCES = {"o3_8h": "o3", "pm10_24h": "pm10", "pm25_24h": "pm25", "so2_24h": "so2"}

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


#: The raw store (docs/contract.md §3.2), as the collector writes it.
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

#: Raw-store columns that may be null (the others are required of every reading).
RAW_NULLABLE = frozenset({"seq"})

#: The dead-letter store (``dead_letter/date=D/*.parquet``, warehouse ``dead_letter``): one row
#: per refused message or reading, with the reason code of ``ingest/reasons.py``.
DEAD_LETTER = pl.Schema(
    {
        "received_at": UTC_US,
        "topic": pl.String(),
        "station": pl.String(),  # null when the topic names none
        "reason": pl.String(),
        "param": pl.String(),  # set for per-reading refusals
        "detail": pl.String(),
        "payload": pl.Binary(),  # once per message (see message_id), truncated to the limit
        "payload_size": pl.Int64(),
        "message_id": pl.String(),  # shared by every row of one message
    }
)
DEAD_LETTER_NULLABLE = frozenset({"station", "param", "payload", "message_id"})

#: Validation results (warehouse ``validation_runs``; the runner's ``gx/`` files lack ``outcome``).
VALIDATION_RUNS = pl.Schema(
    {  # (instances, not classes: keeps the mapping's value type one type for mypy)
        "run_id": pl.String(),
        "suite": pl.String(),
        "batch": pl.String(),
        "started_at": UTC_US,
        "finished_at": UTC_US,
        "success": pl.Boolean(),
        "severity_max": pl.String(),  # null when every expectation passed
        "evaluated": pl.Int32(),
        "successful": pl.Int32(),
        "unsuccessful": pl.Int32(),
        "failed_expectations": pl.String(),  # JSON list
        "docs_path": pl.String(),
        "lake_snapshot": pl.Int64(),  # the DuckLake snapshot the batch was loaded in
        "outcome": pl.String(),  # passed | failed | skipped (no input)
    }
)
#: What the validation runner writes per run, before the warehouse adds ``outcome``.
VALIDATION_RESULTS = pl.Schema({k: v for k, v in VALIDATION_RUNS.items() if k != "outcome"})

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

#: Daily indicators in long form (warehouse ``indicators_daily``; docs/indicators.md).
INDICATORS_DAILY = pl.Schema(
    {
        "station": pl.String(),  # station id, or "city" for city-wide values
        "date": pl.Date(),  # local calendar day
        "indicator": pl.String(),  # code: ox, sor, ofp_total, ofp:<species>, co2e, ...
        "value": pl.Float64(),
        "unit": pl.String(),
        "n": pl.UInt32(),  # valid inputs: hours, species, hourly pairs or stations
        "valid": pl.Boolean(),
    }
)

#: Co-emission events found by source tracing (warehouse ``emission_events``).
EMISSION_EVENTS = pl.Schema(
    {
        "event_id": pl.String(),  # "{station}/{start:%Y%m%dT%H%MZ}"
        "station": pl.String(),
        "start_ts": UTC_US,  # start of the first event hour ("start"/"end" are SQL keywords)
        "end_ts": UTC_US,  # end of the last event hour
        "hours": pl.UInt32(),  # event hours (merged gaps included in start..end, not counted)
        "anchor": pl.String(),  # co2 | tvoc
        "anchor_unit": pl.String(),
        "anchor_excess_mean": pl.Float64(),
        "anchor_excess_max": pl.Float64(),
        "copollutants": pl.List(pl.String),  # series above their thresholds in ≥ 1 event hour
        "wd_mean": pl.Float64(),  # vector mean wind direction over the event hours, degrees
        "ws_mean": pl.Float64(),
        "sector": pl.String(),  # dominant 16-point sector (N, NNE, ...) of the event hours
        "sector_share": pl.Float64(),  # fraction of event hours in that sector
        "dco_dco2": pl.Float64(),  # ppb/ppm, ratio of summed excesses
        "dch4_dco2": pl.Float64(),  # ppb/ppm
        "so2_no2": pl.Float64(),  # µg/µg
        "toluene_benzene": pl.Float64(),  # ppbv/ppbv
        "ipentane_npentane": pl.Float64(),  # ppbv/ppbv
        "alkene_share": pl.Float64(),  # of the NMHC excess (alkane+alkene+alkyne+aromatic)
        "alkyne_share": pl.Float64(),
        "aromatic_share": pl.Float64(),
        "k_pm25": pl.Float64(),  # µg/µg
        "source_class": pl.String(),  # vehicle | coal_combustion | ... | unclassified
        "class_score": pl.Float64(),  # fraction of the class's evaluated metrics in range
        "class_metrics": pl.UInt32(),  # metrics the class could evaluate
    }
)

#: Each contract's warehouse table (tests/test_contracts.py compares them with a migrated lake).
LAKE_TABLES: dict[str, pl.Schema] = {
    "readings": READINGS,
    "hourly": HOURLY,
    "daily": DAILY,
    "aqi_hourly": AQI_HOURLY,
    "aqi_daily": AQI_DAILY,
    "indicators_daily": INDICATORS_DAILY,
    "emission_events": EMISSION_EVENTS,
    "validation_runs": VALIDATION_RUNS,
    "dead_letter": DEAD_LETTER,
}

_ARROW_SCALARS = {
    pl.String: "string",
    pl.Float64: "float64",
    pl.Int8: "int8",
    pl.Int32: "int32",
    pl.Int64: "int64",
    pl.UInt32: "uint32",
    pl.Boolean: "bool_",
    pl.Binary: "binary",
    pl.Date: "date32",
}


def arrow_schema(schema: pl.Schema, *, nullable: Collection[str]) -> pa.Schema:
    """The Arrow schema of a contract, as the collector writes its Parquet files.

    Polars would export ``large_string``/``string_view``; the stores keep plain ``string``
    (what every file written so far holds), and columns not in ``nullable`` are required.
    The collector spells its two schemas out in pyarrow (this module imports polars, which
    the collector never loads); tests/warehouse/test_contracts.py checks them equal to this.
    """
    import pyarrow as pa

    fields = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Datetime):
            arrow_type = pa.timestamp(dtype.time_unit, tz=dtype.time_zone)
        else:
            arrow_type = getattr(pa, _ARROW_SCALARS[dtype.base_type()])()
        fields.append(pa.field(name, arrow_type, nullable=name in nullable))
    return pa.schema(fields)
