"""The hourly step: raw partition → clean readings → hourly means and AQI → the lake.

For the hour ending ``H`` (readings whose periods end in ``(H − 1 h, H]``): de-duplicate,
QC (with 30 minutes of context before the hour, so rolling checks see a full window),
validate the raw batch, the clean readings and the hourly table, then replace the hour's
partitions of ``readings``, ``hourly`` and ``aqi_hourly`` in one lake transaction. A
critical expectation failure stops the load with a message naming it; the run's
validation results are recorded either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.catalog import Catalog
from aircarbon.pipeline.common import Validator, lake, utc_hour
from aircarbon.settings import Settings
from transforms.aggregate import MOVING_PARAMS, hourly_means, moving_averages
from transforms.qc import apply_qc
from transforms.raw import deduplicate, scan_raw, scan_status
from transforms.schemas import HOURLY

if TYPE_CHECKING:
    import duckdb

    from expectations.runner import ValidationOutcome

__all__ = ["QC_CONTEXT", "HourResult", "process_hour", "recent_hourly"]

QC_CONTEXT = dt.timedelta(minutes=30)
_HOUR = dt.timedelta(hours=1)
_MOVING_SOURCES = ("o3", "pm10", "pm25", "so2")


@dataclass
class HourResult:
    """What one hourly run did."""

    hour_end: dt.datetime
    raw_rows: int
    readings: int
    invalid: int
    hourly_rows: int
    aqi_rows: int
    snapshot: int | None
    validations: list[ValidationOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "hour_end": self.hour_end.isoformat(),
            "raw_rows": self.raw_rows,
            "readings": self.readings,
            "invalid": self.invalid,
            "hourly_rows": self.hourly_rows,
            "aqi_rows": self.aqi_rows,
            "snapshot": self.snapshot,
            "validations": {v.suite: v.success for v in self.validations},
        }


def recent_hourly(
    con: duckdb.DuckDBPyConnection,
    start: dt.datetime,
    end: dt.datetime,
    params: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Stored hourly means with ``start < ts <= end`` (measured parameters only)."""
    columns = ", ".join(HOURLY)
    sql = f"SELECT {columns} FROM hourly WHERE ts > ? AND ts <= ?"
    args: list[Any] = [start, end]
    if params is not None:
        sql += " AND list_contains(?, param)"
        args.append(list(params))
    else:
        sql += " AND NOT list_contains(?, param)"
        args.append(list(MOVING_PARAMS))
    frame = con.execute(sql, args).pl()
    return frame.cast(dict(HOURLY)).select(list(HOURLY))  # type: ignore[arg-type]


def process_hour(
    settings: Settings,
    catalog: Catalog,
    hour_end: dt.datetime,
    *,
    validate: bool = True,
    build_docs: bool = True,
) -> HourResult:
    """Run the hourly step for the hour ending ``hour_end`` (idempotent)."""
    from transforms.aqi import aqi_hourly
    from warehouse.load import Between, current_snapshot, replace_partitions

    end = utc_hour(hour_end)
    start = end - _HOUR
    data_dir = settings.data_dir
    batch = f"{end:%Y-%m-%dT%H:%M}Z"
    validator = Validator(catalog, data_dir, enabled=validate, build_docs=build_docs)

    raw = scan_raw(data_dir, start - QC_CONTEXT, end).collect()
    in_hour = (pl.col("ts") > start) & (pl.col("ts") <= end)
    raw_hour = raw.filter(in_hour)
    validator.check(raw_hour, "raw", batch, (start, end))

    clean = apply_qc(deduplicate(raw.lazy()), catalog, status=scan_status(data_dir))
    readings = clean.filter(in_hour)
    validator.check(readings, "readings", batch, (start, end))
    hourly = hourly_means(readings, catalog)

    with lake(settings, catalog) as con:
        previous = recent_hourly(con, end - dt.timedelta(hours=24), start, _MOVING_SOURCES)
        base = hourly.filter(pl.col("param").is_in(list(_MOVING_SOURCES)))
        moving = moving_averages(pl.concat([previous, base]), catalog).filter(pl.col("ts") == end)
        hourly_all = pl.concat([hourly, moving])
        validator.check(hourly_all, "hourly", batch, (start, end))
        aqi = aqi_hourly(hourly_all, catalog)
        if any(not v.success for v in validator.outcomes):
            validator.record(con, current_snapshot(con))
            validator.raise_on_critical()
        where = {"ts": Between(start, end)}
        loads = replace_partitions(
            con,
            [
                ("readings", readings, where),
                ("hourly", hourly_all, where),
                ("aqi_hourly", aqi, where),
            ],
            f"hourly {batch}",
        )
        snapshot = loads[-1].snapshot
        validator.record(con, snapshot)
    return HourResult(
        hour_end=end,
        raw_rows=raw_hour.height,
        readings=readings.height,
        invalid=readings.filter(~pl.col("valid")).height,
        hourly_rows=hourly_all.height,
        aqi_rows=aqi.height,
        snapshot=snapshot,
        validations=validator.outcomes,
    )
