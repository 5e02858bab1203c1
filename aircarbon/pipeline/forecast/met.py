"""The meteorology-forecast input: a documented file per issue, so a real NWP feed can replace it.

The forecast's weather inputs (wind, temperature, humidity, boundary-layer height) come from
files under ``<data dir>/met_forecast/``, one per local issue day::

    met_forecast/issued=YYYY-MM-DD.parquet

with one row per forecast hour (and optionally per station; ``station = 'city'`` is the
city-wide value used for every station without its own rows):

=========== ============================ =====================================================
column      type                         meaning
=========== ============================ =====================================================
issued_at   timestamp (UTC)              the forecast's origin: local midnight ending the day
ts          timestamp (UTC)              END of the forecast hour
station     string                       ``city`` or a station id
ws          double, m/s                  10-m wind speed
wd          double, degrees from north   direction the wind blows FROM
temp        double, °C                   2-m temperature
rh          double, %                    relative humidity
blh         double, m                    boundary-layer (mixing) height; may be null
=========== ============================ =====================================================

The simulator writes these (:meth:`aircarbon.simulator.history.HourlyHistory.write_met_forecasts`);
a deployment drops a regional model's output (WRF, GRAPES, ECMWF) in the same shape. For
training, the first 24 hours of each past issue serve as the weather "analysis" of those hours
(the perfect-prognosis design: the model learns from the inputs it will be given).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

__all__ = [
    "MET_FORECAST_DIR",
    "MET_SCHEMA",
    "met_history",
    "read_met_forecast",
    "write_met_forecast",
]

MET_FORECAST_DIR = "met_forecast"
MET_SCHEMA = pl.Schema(
    {
        "issued_at": pl.Datetime("us", "UTC"),
        "ts": pl.Datetime("us", "UTC"),
        "station": pl.String(),
        "ws": pl.Float64(),
        "wd": pl.Float64(),
        "temp": pl.Float64(),
        "rh": pl.Float64(),
        "blh": pl.Float64(),
    }
)


def _path(directory: Path, day: dt.date) -> Path:
    return directory / f"issued={day.isoformat()}.parquet"


def write_met_forecast(directory: Path, day: dt.date, frame: pl.DataFrame) -> Path:
    """Write one issue atomically (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = _path(directory, day)
    tmp = path.with_suffix(".tmp")
    frame.select(list(MET_SCHEMA)).cast(dict(MET_SCHEMA)).write_parquet(tmp)  # type: ignore[arg-type]
    tmp.replace(path)
    return path


def read_met_forecast(directory: Path, day: dt.date) -> pl.DataFrame | None:
    """The issue of local ``day``, or None when no file was delivered."""
    path = _path(directory, day)
    if not path.is_file():
        return None
    return pl.read_parquet(path).cast(dict(MET_SCHEMA)).select(list(MET_SCHEMA))  # type: ignore[arg-type]


def met_history(directory: Path, first: dt.date, last: dt.date) -> pl.DataFrame:
    """City weather per hour from the issues of ``first``..``last``: each hour's shortest lead."""
    paths = [_path(directory, first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]
    found = [p for p in paths if p.is_file()]
    if not found:
        return pl.DataFrame(schema=MET_SCHEMA).drop("issued_at", "station")
    return (
        pl.concat([pl.read_parquet(p).cast(dict(MET_SCHEMA)) for p in found])  # type: ignore[arg-type]
        .filter(pl.col("station") == "city")
        .sort("ts", "issued_at", descending=[False, True])
        .unique("ts", keep="first")
        .sort("ts")
        .drop("issued_at", "station")
    )
