"""Imported-like hourly history for the back-fill tests: an operator network, a long file,
``aircarbon import``'s Python API (``import_long``) landing it in the raw store.

What a centre brings: one value per station, parameter and hour (``period_s = 3600``),
no minute data, integers in µg/m³ as public hourly data is rounded. The values are built
so that the expected results are known: a linear PM2.5 trend, a PM2.5 exceedance day, a
combustion plume (CO2 with CO and SO2) for the emission events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog, catalog_for
from aircarbon.core.settings import Settings, load_settings

STATIONS = ("HX-01", "HX-02")
PARAMS = ("so2", "no2", "o3", "co", "pm10", "pm25", "co2", "wd", "ws")
TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class History:
    """What to generate: days from ``first``, and the facts the tests look for."""

    first: dt.date
    days: int
    #: PM2.5 change per year (µg/m³/yr), linear from ``first``
    pm25_trend: float = -3.0
    #: a local day whose PM2.5 is 150 µg/m³ all day at the first station
    exceedance_day: dt.date | None = None
    #: the local start of a 4-hour plume at the first station
    plume_start: dt.datetime | None = None
    #: hours left out: (station, param, local hour end)
    missing: frozenset[tuple[str, str, dt.datetime]] = field(default_factory=frozenset)
    seed: int = 11


def write_network(data_dir: Path) -> None:
    """The operator's network (``network.toml`` in the data dir): two stations."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "[network]",
        'city = "historia"',
        'name_zh = "史城"',
        'name_en = "Historia"',
        f'timezone = "{TIMEZONE}"',
        "center = [41.80, 123.43]",
        "",
    ]
    for i, sid in enumerate(STATIONS):
        lines += [
            "[[station]]",
            f'id = "{sid}"',
            f'name_zh = "站{i}"',
            f'name_en = "Site {i}"',
            'type = "national"',
            f"lat = {41.80 + i * 0.01:.2f}",
            "lon = 123.43",
            f'mn = "HX{i:022d}"',
            "params = [" + ", ".join(f'"{p}"' for p in PARAMS) + "]",
            "",
        ]
    (data_dir / "network.toml").write_text("\n".join(lines), encoding="utf-8")


def history_frame(spec: History) -> pl.DataFrame:
    """``station, param, ts, value``: every hour END of the local days, UTC ``ts``."""
    zone = ZoneInfo(TIMEZONE)
    rng = np.random.default_rng(spec.seed)
    start = dt.datetime.combine(spec.first, dt.time(0), tzinfo=zone)
    hours = spec.days * 24
    ends = [start + dt.timedelta(hours=h + 1) for h in range(hours)]
    years = np.arange(1, hours + 1) / (24 * 365.25)
    local_hour = np.array([(e - dt.timedelta(hours=1)).hour for e in ends])
    diurnal = np.sin(2 * np.pi * (local_hour - 9) / 24)
    frames = []
    for s, station in enumerate(STATIONS):
        noise = rng.standard_normal((len(PARAMS), hours))
        pm25 = 40.0 + spec.pm25_trend * years + 4.0 * diurnal + 3.0 * noise[5]
        values = {
            "so2": 8.0 + 2.0 * diurnal + 1.0 * noise[0],
            "no2": 30.0 + 8.0 * diurnal + 3.0 * noise[1],
            "o3": 60.0 + 30.0 * diurnal + 5.0 * noise[2],
            "co": 0.6 + 0.1 * diurnal + 0.05 * noise[3],
            "pm25": pm25,
            "pm10": pm25 + 30.0 + 3.0 * np.abs(noise[4]),
            "co2": 420.0 + 0.4 * np.abs(noise[6]),
            "wd": (10.0 + 20.0 * noise[7]) % 360.0,
            "ws": 3.0 + 0.3 * np.abs(noise[8]),
        }
        if s == 0 and spec.exceedance_day is not None:
            day = np.array(
                [(e - dt.timedelta(hours=1)).date() == spec.exceedance_day for e in ends]
            )
            values["pm25"] = np.where(day, 150.0, values["pm25"])
            values["pm10"] = np.where(day, 190.0, values["pm10"])
        if s == 0 and spec.plume_start is not None:
            first = spec.plume_start.replace(tzinfo=zone)
            plume = np.array([first < e <= first + dt.timedelta(hours=4) for e in ends])
            co_mg = 28.010 / (8.314462618 * 298.15 / 101325.0 * 1e6)
            values["co2"] = np.where(plume, values["co2"] + 25.0, values["co2"])
            values["co"] = np.where(plume, values["co"] + 400.0 * co_mg, values["co"])
            values["so2"] = np.where(plume, values["so2"] + 12.0, values["so2"])
        for param in PARAMS:
            decimals = 1 if param in ("co", "co2", "wd", "ws") else 0
            frames.append(
                pl.DataFrame(
                    {
                        "station": station,
                        "param": param,
                        "ts": [e.astimezone(dt.UTC) for e in ends],
                        "value": np.round(np.maximum(values[param], 0.0), decimals),
                    },
                    schema={
                        "station": pl.String,
                        "param": pl.String,
                        "ts": pl.Datetime("us", "UTC"),
                        "value": pl.Float64,
                    },
                )
            )
    frame = pl.concat(frames)
    if spec.missing:
        gone = pl.DataFrame(
            [(s, p, t.astimezone(dt.UTC)) for s, p, t in spec.missing],
            schema={"station": pl.String, "param": pl.String, "ts": pl.Datetime("us", "UTC")},
            orient="row",
        )
        frame = frame.join(gone, on=["station", "param", "ts"], how="anti")
    return frame


def import_history(data_dir: Path, spec: History) -> tuple[Settings, Catalog]:
    """Network + history file + ``import_long`` (the importer's API) into ``data_dir``."""
    from ingest.history import import_long

    write_network(data_dir)
    settings = load_settings({}, data_dir=data_dir)
    catalog = catalog_for(settings)
    path = data_dir.parent / f"{data_dir.name}-history.parquet"
    history_frame(spec).write_parquet(path)
    report = import_long(path, settings=settings, catalog=catalog, period_s=3600)
    assert report.landed > 0, report
    assert not report.rejected, report
    return settings, catalog
