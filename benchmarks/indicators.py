"""Daily indicators for a city-day, and one year of source tracing for one station.

    uv run python benchmarks/indicators.py [--stations 1000] [--write]

* city-day: ``daily_indicators`` on one local day of synthetic hourly means (and the daily
  statistics computed from them, not timed) for ``--stations`` stations: 80 % national
  (criteria + met), 8 % VOC (criteria + every VOC species of the catalog), 7 % GHG
  (criteria + CO2/CH4/N2O), 5 % PM super sites (criteria + ions, OC/EC, elements);
  GHG background by the percentile rule (synthetic stations have no background station).
* source tracing: one year of hourly values of the simulator's VOC station SY-SL-05
  (``period_s = 3600``, weather and every source on), then ``sector_stats``,
  ``bivariate_stats`` and ``cpf`` for SO2, NO2 and propylene, and ``emission_events``.

Peak RSS is each step's own high-water mark (reset through /proc/self/clear_refs), inputs
included. ``--write`` replaces ``## Indicators`` in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

# benchmarks/transforms.py would shadow the `transforms` package when run as a script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

from aircarbon.core.catalog import ParamGroup, load_catalog  # noqa: E402
from aircarbon.core.contracts import HOURLY  # noqa: E402
from benchmarks._report import (  # noqa: E402
    DOC,
    machine_line,
    markdown_table,
    measure,
    publish,
    section,
)
from transforms.aggregate import daily_stats  # noqa: E402
from transforms.indicators import daily_indicators  # noqa: E402
from transforms.sources import bivariate_stats, cpf, emission_events, sector_stats  # noqa: E402

SECTION = "## Indicators"
DAY = dt.date(2026, 7, 14)
FIRST_END = dt.datetime(2026, 7, 13, 17, tzinfo=dt.UTC)  # local 01:00


def city_hourly(n_stations: int) -> pl.DataFrame:
    catalog = load_catalog()
    rng = np.random.default_rng(0)
    criteria = ["so2", "no2", "o3", "co", "pm10", "pm25", "ws", "wd", "temp", "rh", "pressure"]
    vocs = [p.code for p in catalog.parameters.values() if p.group == ParamGroup.VOC]
    ghg = ["co2", "ch4", "n2o"]
    pm = ["so4", "no3", "nh4", "cl", "k", "na", "ca", "mg", "oc", "ec", "si", "al", "fe", "ti"]
    level = {"so2": 10, "no2": 35, "o3": 90, "co": 0.7, "pm10": 70, "pm25": 40, "ws": 3,
             "wd": 180, "temp": 25, "rh": 60, "pressure": 1005, "co2": 430, "ch4": 2050,
             "n2o": 338}  # fmt: skip
    frames = []
    ts = [FIRST_END.replace(tzinfo=None) + dt.timedelta(hours=h) for h in range(24)]
    for i in range(n_stations):
        share = i / n_stations
        params = list(criteria)
        if share < 0.08:
            params += vocs
        elif share < 0.15:
            params += ghg
        elif share < 0.20:
            params += pm
        k = len(params)
        base = np.array([level.get(p, 1.0) for p in params])
        values = base[None, :] * rng.lognormal(0.0, 0.2, size=(24, k))
        frames.append(
            pl.DataFrame(
                {
                    "station": [f"SYN-{i:04d}"] * (24 * k),
                    "param": params * 24,
                    "ts": np.repeat(np.array(ts, dtype="datetime64[us]"), k),
                    "value": values.reshape(-1),
                }
            )
        )
    out = pl.concat(frames).with_columns(
        pl.col("ts").dt.replace_time_zone("UTC"),
        pl.lit(60, pl.UInt32).alias("n"),
        pl.lit(60.0).alias("minutes"),
        pl.lit(True).alias("valid"),
    )
    return out.select(list(HOURLY)).cast(HOURLY)


def year_hourly() -> pl.DataFrame:
    from aircarbon.simulator import SimulationConfig, simulate_frame

    cfg = SimulationConfig(
        seed=1,
        start=dt.date(2025, 1, 1),
        days=365,
        period_s=3600,
        stations=("SY-SL-05",),
        operations=False,
        status=False,
    )
    frame = simulate_frame(cfg)
    return frame.select(
        "station",
        "param",
        "ts",
        "value",
        pl.lit(1, pl.UInt32).alias("n"),
        pl.lit(60.0).alias("minutes"),
        (pl.col("flag") == "N").alias("valid"),
    ).cast(HOURLY)


def tracing(hourly: pl.DataFrame) -> int:
    catalog = load_catalog()
    rows = 0
    for param in ("so2", "no2", "propylene"):
        rows += sector_stats(hourly, param=param, catalog=catalog).height
        rows += bivariate_stats(hourly, param=param, catalog=catalog).height
        rows += cpf(hourly, param=param, catalog=catalog).height
    events = emission_events(hourly, catalog)
    return rows + events.height


def run(n_stations: int) -> tuple[list[dict[str, Any]], str]:
    catalog = load_catalog()
    hourly = city_hourly(n_stations)
    daily = daily_stats(hourly, catalog)
    out, secs, peak = measure(
        lambda: daily_indicators(hourly, daily, catalog, date=DAY, background="percentile")
    )
    rows = [
        {
            "step": f"`daily_indicators`, city-day ({n_stations:,} stations)",
            "input": f"{hourly.height:,} hourly + {daily.height:,} daily",
            "output": f"{out.height:,} rows",
            "s": secs,
            "rss": peak,
        }
    ]
    year, sim_s, _ = measure(year_hourly)
    events = emission_events(year, catalog)
    n, secs, peak = measure(lambda: tracing(year))
    rows.append(
        {
            "step": "source tracing, 1 station-year (SY-SL-05): sectors, CPF x3, events",
            "input": f"{year.height:,} hourly",
            "output": f"{n:,} rows ({events.height} events)",
            "s": secs,
            "rss": peak,
        }
    )
    machine = machine_line(
        "polars",
        load=False,
        notes=[f"simulating the station-year (not in the rows) took {sim_s:.1f} s"],
    )
    return rows, machine


def table(rows: list[dict[str, Any]]) -> str:
    return markdown_table(
        ["step", "input", "output", "s", "peak RSS MB"],
        "lllrr",
        ([r["step"], r["input"], r["output"], f"{r['s']:.2f}", f"{r['rss']:,.0f}"] for r in rows),
    )


def doc_section(rows: list[dict[str, Any]], machine: str) -> str:
    return section(
        SECTION,
        "`uv run python benchmarks/indicators.py --write` — `transforms.indicators."
        "daily_indicators` on one synthetic city-day (80 % national, 8 % VOC, 7 % GHG, 5 % "
        "PM super sites; target < 30 s), and `transforms.sources` on one simulated "
        "station-year of the VOC station. Peak RSS is each step's own high-water mark, "
        "inputs included.",
        table(rows),
        f"Measured on: {machine}.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help=f"update '{SECTION}' in {DOC}")
    args = parser.parse_args()
    rows, machine = run(args.stations)
    publish(SECTION, table(rows), machine, doc_section(rows, machine), write=args.write)


if __name__ == "__main__":
    main()
