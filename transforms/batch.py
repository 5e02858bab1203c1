"""The whole chain over a long interval, by station group, so memory stays bounded.

Raw → de-duplicated → QC'd readings → hourly means is per station (QC looks along each
series; the PM pair and maintenance checks stay within a station), so a day of the whole
network is processed a group of stations at a time: each group's readings are handed to
``on_readings`` (the caller writes them out) and dropped, only the small hourly table
accumulates. The moving averages, daily statistics and AQI then run once over it.

The raw rows are read once, with only the columns the chain uses and the text columns
as categoricals; a group is cut from them by station. Results are the same as the
unpartitioned chain (tested), in the same sort order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from aircarbon.core.catalog import Catalog
from transforms.aggregate import daily_stats, hourly_means, moving_averages
from transforms.aqi import aqi_daily, aqi_hourly
from transforms.qc import QcConfig, apply_qc
from transforms.raw import deduplicate

__all__ = ["ChainResult", "process_partitions"]

_COLUMNS = ("station", "param", "ts", "value", "flag", "period_s", "source", "received_at")


@dataclass(frozen=True)
class ChainResult:
    """The aggregate tables of one run (readings went to the callback)."""

    hourly: pl.DataFrame  # measured hourly means and the moving averages
    daily: pl.DataFrame
    aqi_hourly: pl.DataFrame
    aqi_daily: pl.DataFrame
    readings: int  # rows handed to on_readings
    groups: int


def process_partitions(
    raw: pl.LazyFrame,
    catalog: Catalog,
    *,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    on_readings: Callable[[pl.DataFrame], object] | None = None,
    group_size: int = 100,
    config: QcConfig | None = None,
    timezone: str | None = None,
) -> ChainResult:
    """Raw readings → readings (to ``on_readings``), hourly, daily, hourly and daily AQI.

    ``group_size`` stations are cleaned and aggregated at a time (smaller groups, less
    memory, a little more overhead).
    """
    # read once, compactly: the four text columns as categoricals (a few distinct values
    # each), turned back into text one group at a time
    text = ["station", "param", "flag", "source"]
    frame = raw.select(_COLUMNS).with_columns(pl.col(text).cast(pl.Categorical)).collect()
    stations = frame["station"].cast(pl.String).unique().sort()
    st = status.lazy().collect() if status is not None else None
    hourly_parts: list[pl.DataFrame] = []
    n_readings = 0
    groups = [stations[i : i + group_size] for i in range(0, len(stations), group_size)]
    for group in groups:
        part = frame.filter(pl.col("station").cast(pl.String).is_in(group.implode()))
        part = part.with_columns(pl.col(text).cast(pl.String))
        readings = apply_qc(deduplicate(part.lazy()), catalog, status=st, config=config)
        del part
        n_readings += readings.height
        if on_readings is not None:
            on_readings(readings)
        hourly_parts.append(hourly_means(readings, catalog))
        del readings
    del frame
    hourly = (
        pl.concat(hourly_parts)
        if hourly_parts
        else hourly_means(pl.DataFrame(schema=_empty_readings()), catalog)
    )
    moving = moving_averages(hourly, catalog)
    hourly_all = pl.concat([hourly, moving]).sort("station", "param", "ts")
    daily = daily_stats(hourly_all, catalog, timezone=timezone)
    return ChainResult(
        hourly=hourly_all,
        daily=daily,
        aqi_hourly=aqi_hourly(hourly_all, catalog),
        aqi_daily=aqi_daily(daily, catalog),
        readings=n_readings,
        groups=len(groups),
    )


def _empty_readings() -> pl.Schema:
    from aircarbon.core.contracts import READINGS

    return READINGS
