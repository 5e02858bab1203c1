"""A long interval of the whole network through the chain: a day, as the benchmark runs it.

The same chain as the hourly step (:func:`transforms.chain.clean_hours`: de-duplication,
QC of every hour on its own window, hourly means, by station group), then the moving
averages, daily statistics and AQI once over the small hourly table. Each group's readings
are handed to ``on_readings`` (the caller writes them out) and dropped, so memory stays
bounded by one group's working set, the compact raw rows and the hourly table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import HOURLY
from transforms.aggregate import daily_stats, moving_averages
from transforms.aqi import aqi_daily, aqi_hourly
from transforms.chain import GROUP_SIZE, WORKERS, clean_hours, hour_ends
from transforms.qc import QcConfig

__all__ = ["ChainResult", "interval_ends", "process_partitions"]

_HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ChainResult:
    """The aggregate tables of one run (readings went to the callback)."""

    hourly: pl.DataFrame  # measured hourly means and the moving averages
    daily: pl.DataFrame
    aqi_hourly: pl.DataFrame
    aqi_daily: pl.DataFrame
    readings: int  # rows handed to on_readings
    groups: int


def interval_ends(raw: pl.LazyFrame | pl.DataFrame) -> list[dt.datetime]:
    """The hour ends covering every ``ts`` of ``raw`` (none when it has no rows)."""
    span = raw.lazy().select(pl.col("ts").min().alias("lo"), pl.col("ts").max().alias("hi"))
    lo, hi = cast(tuple[dt.datetime | None, dt.datetime | None], span.collect().row(0))
    if lo is None or hi is None:
        return []
    first_end = (lo - dt.timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    last_end = (hi - dt.timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    return hour_ends(first_end, last_end + _HOUR)


def process_partitions(
    raw: pl.LazyFrame,
    catalog: Catalog,
    *,
    ends: Sequence[dt.datetime] | None = None,
    status: pl.LazyFrame | pl.DataFrame | None = None,
    on_readings: Callable[[pl.DataFrame], object] | None = None,
    group_size: int = GROUP_SIZE,
    config: QcConfig | None = None,
    timezone: str | None = None,
    workers: int = WORKERS,
) -> ChainResult:
    """Raw readings → readings (to ``on_readings``), hourly, daily, hourly and daily AQI.

    ``ends`` are the hours to process (consecutive hour ends; by default those covering the
    raw rows); ``raw`` should hold the ``QC_CONTEXT`` before the first hour too, as the
    hourly step's scan does. ``group_size`` stations are cleaned at a time, ``workers``
    groups at once (threads).
    """
    hours = list(ends) if ends is not None else interval_ends(raw)
    hourly_parts: list[pl.DataFrame] = []
    n_readings = 0
    groups = 0
    if hours:
        for group in clean_hours(
            raw,
            catalog,
            hours,
            status=status,
            group_size=group_size,
            config=config,
            workers=workers,
        ):
            groups += 1
            n_readings += group.readings.height
            if on_readings is not None:
                on_readings(group.readings)
            hourly_parts.append(group.hourly)
            del group
    hourly = pl.concat(hourly_parts) if hourly_parts else pl.DataFrame(schema=HOURLY)
    moving = moving_averages(hourly, catalog)
    hourly_all = pl.concat([hourly, moving]).sort("station", "param", "ts")
    daily = daily_stats(hourly_all, catalog, timezone=timezone)
    return ChainResult(
        hourly=hourly_all,
        daily=daily,
        aqi_hourly=aqi_hourly(hourly_all, catalog),
        aqi_daily=aqi_daily(daily, catalog),
        readings=n_readings,
        groups=groups,
    )
