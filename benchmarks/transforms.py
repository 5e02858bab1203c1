"""One synthetic day through clean → hourly → daily → AQI, next to a bare DuckDB GROUP BY.

    uv run python benchmarks/transforms.py [--stations 1000] [--params 30] [--quick]
                                           [--data-dir DIR] [--write]

The day is ``stations x params x 1,440`` minute readings (43.2 M rows by default) written
once as Parquet in the raw-store layout (``raw/date=YYYY-MM-DD/hour=HH/*.parquet``, rows
in arrival order: minute, station, parameter) plus the status store, and cached between
runs (``--data-dir``, default a directory under the system temp dir). Values follow each
parameter's plausible range (a per-series level, a diurnal cycle, instrument noise, three
decimals) with defects for QC to find: invalid HJ 212 flags, spikes, out-of-range values,
PM2.5 > PM10 minutes, a stuck sensor, missing minutes and station-hours, one hour's
messages partly re-delivered (duplicates and revisions) and maintenance windows.

The chain is the one the hourly step runs (:mod:`transforms.chain`): every hour QC'd on its
own window (the hour and the 30 minutes before it), a station group at a time. Each kind of
row below runs in a fresh child process (same page cache, no shared state), in this order:
the bare scans, the chain stage by stage (the dedup, QC and hourly-mean rows are summed over
the station groups), then the chain end to end through
:func:`transforms.batch.process_partitions`. Peak RSS is each step's own high-water mark
(reset through /proc/self/clear_refs), so it includes the inputs the step holds; a
chain's peak is its highest step. Ratios are to the bare DuckDB GROUP BY of the same run.
``--write`` replaces ``## Transforms`` in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory comes first on sys.path and its name would shadow
# the ``transforms`` package: put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from aircarbon.core.catalog import Catalog, ParamGroup, load_catalog  # noqa: E402
from aircarbon.core.contracts import RAW  # noqa: E402
from benchmarks._report import (  # noqa: E402
    DOC,
    cpu_seconds,
    machine_line,
    markdown_table,
    measure,
    publish,
    section,
)


def timed(fn: Callable[[], T]) -> tuple[T, float, float, float]:
    """``measure(fn)`` and the CPU seconds it used (all threads): on a shared machine the wall
    seconds stretch with the load, the CPU seconds much less."""
    cpu = cpu_seconds()
    out, secs, peak = measure(fn)
    return out, secs, peak, cpu_seconds() - cpu


T = TypeVar("T")
SECTION = "## Transforms"
START = dt.datetime(2026, 1, 14, 16, tzinfo=dt.UTC)  # local midnight, Asia/Shanghai
END = START + dt.timedelta(days=1)
MINUTES = 1440
US = 1_000_000
FORMAT_VERSION = 1  # bump when the generator changes: the cache key includes it


# --------------------------------------------------------------------------------------
# the synthetic day
# --------------------------------------------------------------------------------------


def station_ids(n: int) -> list[str]:
    return [f"SYN-{i:04d}" for i in range(n)]


def day_params(catalog: Catalog, n: int) -> list[str]:
    """The first ``n`` catalog parameters, always including the AQI's six pollutants."""
    aqi = ["so2", "no2", "o3", "co", "pm10", "pm25"]
    rest = [p for p in catalog.parameters if p not in aqi]
    return (aqi + rest)[: max(n, len(aqi))]


def _hour_frame(
    h: int,
    ids: list[str],
    params: list[str],
    series: dict[str, np.ndarray[Any, Any]],
    rng: np.random.Generator,
) -> pl.DataFrame:
    """The readings whose ts falls in UTC hour START + h (floor), in arrival order."""
    first = max(1, h * 60)
    last = min(MINUTES, h * 60 + 59)
    minutes = np.arange(first, last + 1)
    n_m, n_s, n_p = len(minutes), len(ids), len(params)
    shape = (n_m, n_s, n_p)
    m = np.broadcast_to(minutes[:, None, None], shape)
    level, amp, phase, sd = (series[k][None, :, :] for k in ("level", "amp", "phase", "sd"))
    lo, hi = series["lo"], series["hi"]
    values = level + amp * np.sin(2 * np.pi * (m / MINUTES + phase))
    values = values + sd * rng.standard_normal(shape)
    p_index = {p: i for i, p in enumerate(params)}
    if "wd" in p_index:
        values[:, :, p_index["wd"]] %= 360.0
    if "pm25" in p_index and "pm10" in p_index:  # PM2.5 is part of PM10 ...
        i25, i10 = p_index["pm25"], p_index["pm10"]
        values[:, :, i25] = np.minimum(values[:, :, i25], values[:, :, i10] - 1.0)
        bad = rng.random((n_m, n_s)) < 0.0005  # ... except for a few glitchy minutes
        values[:, :, i25] = np.where(bad, values[:, :, i10] + 20.0, values[:, :, i25])
    # defects: spikes (0.05 %), out of range (0.01 %)
    u = rng.random(shape)
    span = (hi - lo)[None, None, :]
    values = np.where(u < 0.0005, values + 0.3 * span, values)
    values = np.where(u > 0.9999, hi[None, None, :] * 1.5 + 1.0, values)
    # non-negative quantities stay >= 0 except for noise; three decimals like an instrument
    values = np.round(values, 3)
    if "co2" in p_index and 10 <= h < 12:  # a stuck CO2 sensor at station 0 for two hours
        values[:, 0, p_index["co2"]] = 420.0
    flags = np.full(shape, "N", dtype="<U1")
    f = rng.random(shape)
    flags[f < 0.003] = "M"
    flags[(f >= 0.003) & (f < 0.004)] = "C"
    flags[(f >= 0.004) & (f < 0.0045)] = "D"
    flags[f > 0.9995] = "T"
    # gaps: 1 % of minutes lost, and 2 % of stations silent for the whole hour
    keep = rng.random(shape) > 0.01
    keep &= (rng.random(n_s) > 0.02)[None, :, None]
    s_idx = np.broadcast_to(np.arange(n_s)[None, :, None], shape)[keep]
    p_idx = np.broadcast_to(np.arange(n_p)[None, None, :], shape)[keep]
    ts = (int(START.timestamp()) * US + m[keep].astype(np.int64) * 60 * US).astype(np.int64)
    delay = rng.integers(1 * US, 30 * US, ts.size)
    frame = pl.DataFrame(
        {
            "station": pl.Series(ids, dtype=pl.String).gather(s_idx),
            "param": pl.Series(params, dtype=pl.String).gather(p_idx),
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "value": values[keep],
            "flag": flags[keep],
            "period_s": np.full(ts.size, 60, dtype=np.int32),
            "seq": np.arange(ts.size, dtype=np.int64) + h * 10**9,
            "received_at": pl.Series(ts + delay).cast(pl.Datetime("us", "UTC")),
            "source": np.where(s_idx % 2 == 0, "json", "hj212"),
        }
    )
    return frame.select(RAW.names()).cast(RAW)


def generate(root: Path, n_stations: int, n_params: int, seed: int = 42) -> Path:
    """Write the day under ``root`` (raw and status stores) once; later calls reuse it."""
    done = root / "COMPLETE"
    if done.exists():
        return root
    catalog = load_catalog()
    ids, params = station_ids(n_stations), day_params(catalog, n_params)
    rng = np.random.default_rng(seed)
    spec = [catalog.parameter(p) for p in params]
    lo = np.array([p.plausible[0] for p in spec])
    hi = np.array([p.plausible[1] for p in spec])
    noise = np.array([p.noise for p in spec])
    met = np.array([p.group is ParamGroup.METEOROLOGY for p in spec])
    span = hi - lo
    frac = np.where(met, rng.uniform(0.3, 0.7, (n_stations, len(params))),
                    rng.uniform(0.02, 0.12, (n_stations, len(params))))  # fmt: skip
    level = lo + span * frac
    series = {
        "level": level,
        "amp": 0.3 * (level - lo) * np.where(met, 0.3, 1.0),
        "phase": rng.uniform(0, 1, (n_stations, len(params))),
        "sd": np.maximum(0.5 * noise, 0.002 * span)[None, :].repeat(n_stations, 0),
        "lo": lo,
        "hi": hi,
    }
    raw = root / "raw"
    for h in range(25):
        frame = _hour_frame(h, ids, params, series, rng)
        hour = START + dt.timedelta(hours=h)
        part = raw / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        part.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(part / "bench-0.parquet", compression="zstd")
        if h == 3:  # a collector restart re-delivers 1 % of the hour, 5 % of it revised
            again = frame.sample(fraction=0.01, seed=seed)
            revised = pl.Series(rng.random(again.height) < 0.05)
            again = again.with_columns(
                pl.when(revised).then(pl.col("value") + 1.0).otherwise(pl.col("value")),
                pl.col("received_at") + pl.duration(minutes=5),
            )
            again.write_parquet(part / "bench-1.parquet", compression="zstd")
        print(f"  generated {part.relative_to(root)}: {frame.height:,} rows", file=sys.stderr)
    # status: every station online before the day; 2 % in maintenance for an hour
    maint = ids[:: max(1, n_stations // max(1, n_stations // 50))][: max(1, n_stations // 50)]
    t_on, t_m, t_back = START - dt.timedelta(hours=1), START + dt.timedelta(hours=10), None
    t_back = START + dt.timedelta(hours=11)
    rows = [(s, "online", t_on) for s in ids]
    rows += [(s, "maintenance", t_m) for s in maint] + [(s, "online", t_back) for s in maint]
    status = pl.DataFrame(
        {
            "station": [r[0] for r in rows],
            "state": [r[1] for r in rows],
            "ts": [r[2] for r in rows],
            "received_at": [r[2] + dt.timedelta(seconds=3) for r in rows],
        },
        schema={
            "station": pl.String,
            "state": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "received_at": pl.Datetime("us", "UTC"),
        },
    )
    (root / "status" / f"date={START:%Y-%m-%d}").mkdir(parents=True, exist_ok=True)
    status.write_parquet(root / "status" / f"date={START:%Y-%m-%d}" / "bench.parquet")
    done.write_text(json.dumps({"stations": n_stations, "params": params}))
    return root


def raw_glob(data: Path) -> str:
    return str(data / "raw" / "date=*" / "hour=*" / "*.parquet")


# --------------------------------------------------------------------------------------
# the measured steps (each run by a child process: --child KIND)
# --------------------------------------------------------------------------------------


def child_duckdb(data: Path) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = f"""
        SELECT station, param, date_trunc('hour', ts) AS hour, avg(value) AS value
        FROM read_parquet('{raw_glob(data)}')
        WHERE ts > TIMESTAMPTZ '{START.isoformat()}' AND ts <= TIMESTAMPTZ '{END.isoformat()}'
        GROUP BY ALL
    """
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{raw_glob(data)}')").fetchone()
    out, secs, peak, cpu = timed(lambda: con.execute(sql).arrow().read_all())
    return [_row("bare DuckDB GROUP BY (hourly mean)", rows[0] if rows else 0, out.num_rows,
                 secs, peak, cpu=cpu)]  # fmt: skip


def child_polars(data: Path) -> list[dict[str, Any]]:
    lf = pl.scan_parquet(raw_glob(data), hive_partitioning=False).filter(
        (pl.col("ts") > START) & (pl.col("ts") <= END)
    )
    rows = lf.select(pl.len()).collect().item()
    query = lf.group_by("station", "param", pl.col("ts").dt.truncate("1h").alias("hour")).agg(
        pl.col("value").mean()
    )
    out, secs, peak, cpu = timed(query.collect)
    return [_row("bare Polars group_by (hourly mean)", rows, out.height, secs, peak, cpu=cpu)]


def child_chain(data: Path) -> list[dict[str, Any]]:
    """The chain stage by stage, as it runs but on one thread: read once, cut into station
    groups, then per group sort + de-dup → QC → hourly means (each stage's seconds summed over
    the groups, its peak the highest), then the moving averages, daily statistics and AQI
    once over the hourly table."""
    from transforms.aggregate import daily_stats, moving_averages
    from transforms.aqi import aqi_daily, aqi_hourly
    from transforms.chain import GROUP_SIZE, QC_CONTEXT, hour_ends, read_compact
    from transforms.hourly_sorted import hourly_means_sorted
    from transforms.qc_windows import qc_sorted_windows
    from transforms.raw import scan_raw, scan_status
    from transforms.series_rows import SeriesRows, sort_raw

    catalog = load_catalog()
    ends = hour_ends(START, END)
    rows: list[dict[str, Any]] = []

    def step(name: str, n_in: int, fn: Callable[[], Any], height: Callable[[Any], int]) -> Any:
        out, secs, peak, cpu = timed(fn)
        rows.append(_row(name, n_in, height(out), secs, peak, cpu=cpu))
        print(f"    {rows[-1]}", file=sys.stderr)
        return out

    def frame_height(frame: pl.DataFrame) -> int:
        return frame.height

    raw = scan_raw(data, START - QC_CONTEXT, END)
    n_raw = raw.select(pl.len()).collect().item()
    status = scan_status(data).collect()
    frame = step("scan (read once, compact)", n_raw, lambda: read_compact(raw), frame_height)
    sorted_raw = step(
        "`sort_raw` (station groups, columns as arrays)",
        n_raw,
        lambda: sort_raw(frame, GROUP_SIZE, consume=True),
        lambda out: out.height,
    )
    assert sorted_raw is not None
    # per stage: rows in, rows out, seconds, peak MB, CPU seconds
    totals: dict[str, list[float]] = {k: [0, 0, 0.0, 0.0, 0.0] for k in ("rows", "qc", "hourly")}

    def add(key: str, n_in: int, fn: Callable[[], Any], n_out: Callable[[Any], int]) -> Any:
        out, secs, peak, cpu = timed(fn)
        t = totals[key]
        t[0], t[1], t[2] = t[0] + n_in, t[1] + n_out(out), t[2] + secs
        t[3], t[4] = max(t[3], peak), t[4] + cpu
        return out

    def first_start_qc(group: SeriesRows) -> pl.DataFrame | None:
        return qc_sorted_windows(
            group, catalog, first_start=START, hours=len(ends), context=QC_CONTEXT, status=status
        )

    parts = []
    for g in range(sorted_raw.groups):
        n_in = int(sorted_raw.bounds[g + 1] - sorted_raw.bounds[g])
        group = add("rows", n_in, partial(sorted_raw.rows, g), lambda out: out.height)
        readings = add("qc", group.height, partial(first_start_qc, group), frame_height)
        hourly_of = partial(
            hourly_means_sorted, group, readings, catalog, first_start=START, hours=len(ends)
        )
        parts.append(add("hourly", readings.height, hourly_of, frame_height))
        del group, readings
    names = {
        "rows": "`SortedRaw.rows` (a group sorted on its key, de-duplicated)",
        "qc": "`qc_sorted_windows` (QC, each hour on its own window)",
        "hourly": "`hourly_means_sorted` (hourly means of the group's arrays)",
    }
    note = f"{sorted_raw.groups} groups, one after the other"
    for key, name in names.items():
        t = totals[key]
        rows.append(_row(name, int(t[0]), int(t[1]), t[2], t[3], note=note, cpu=t[4]))
    hourly = pl.concat(parts)
    moving = step(
        "`moving_averages`",
        hourly.height,
        lambda: moving_averages(hourly, catalog),
        frame_height,
    )
    hourly_all = pl.concat([hourly, moving])
    daily = step(
        "`daily_stats`",
        hourly_all.height,
        lambda: daily_stats(hourly_all, catalog),
        frame_height,
    )
    step("`aqi_hourly`", hourly_all.height, lambda: aqi_hourly(hourly_all, catalog), frame_height)
    step("`aqi_daily`", daily.height, lambda: aqi_daily(daily, catalog), frame_height)
    return rows


def child_batch(data: Path, workers: int | None = None) -> list[dict[str, Any]]:
    from transforms.batch import process_partitions
    from transforms.chain import QC_CONTEXT, WORKERS, hour_ends
    from transforms.raw import scan_raw, scan_status

    workers = WORKERS if workers is None else workers

    catalog = load_catalog()
    n_raw = scan_raw(data, START - QC_CONTEXT, END).select(pl.len()).collect().item()
    counted = {"readings": 0}

    def sink(frame: pl.DataFrame) -> None:  # production writes these to the lake
        counted["readings"] += frame.height

    out, secs, peak, cpu = timed(
        lambda: process_partitions(
            scan_raw(data, START - QC_CONTEXT, END),
            catalog,
            ends=hour_ends(START, END),
            status=scan_status(data),
            on_readings=sink,
            workers=workers,
        )
    )
    return [
        _row(
            f"`process_partitions` (whole chain, {workers} group(s) at a time)",
            n_raw,
            counted["readings"],
            secs,
            peak,
            note=f"{out.groups} groups; hourly {out.hourly.height:,}, daily {out.daily.height:,}, "
            f"aqi {out.aqi_hourly.height:,} + {out.aqi_daily.height:,} rows",
            cpu=cpu,
        )
    ]


CHILDREN: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "duckdb": child_duckdb,
    "polars": child_polars,
    "chain": child_chain,
    "batch": child_batch,
    "batch1": partial(child_batch, workers=1),
}


def _row(
    step: str,
    rows_in: int,
    rows_out: int,
    secs: float,
    peak: float,
    note: str = "",
    *,
    cpu: float = float("nan"),
) -> dict[str, Any]:
    return {
        "step": step,
        "rows_in": rows_in,
        "rows_out": rows_out,
        "seconds": secs,
        "cpu_seconds": cpu,
        "peak_mb": peak,
        "note": note,
    }


def run_child(kind: str, data: Path) -> list[dict[str, Any]]:
    cmd = [sys.executable, __file__, "--child", kind, "--data-dir", str(data)]
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    rows: list[dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rows


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def run(data: Path, kinds: list[str]) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        print(f"running {kind} ...", file=sys.stderr)
        rows += run_child(kind, data)
    stages = (
        "scan (",
        "`sort_raw",
        "`SortedRaw",
        "`qc_sorted",
        "`hourly",
        "`moving",
        "`daily",
        "`aqi",
    )
    chain = [r for r in rows if r["step"].startswith(stages)]
    if chain:
        rows.append(
            _row(
                "chain total (stages above)",
                chain[0]["rows_in"],
                0,
                sum(r["seconds"] for r in chain),
                max(r["peak_mb"] for r in chain),
                cpu=sum(r["cpu_seconds"] for r in chain),
            )
        )
    return rows, machine_line("polars", "duckdb")


def table(rows: list[dict[str, Any]]) -> str:
    duck = next((r for r in rows if r["step"].startswith("bare DuckDB")), None)
    base = duck["seconds"] if duck else None
    base_cpu = duck.get("cpu_seconds") if duck else None
    cells = []
    for r in rows:
        ratio = f"{r['seconds'] / base:.1f}x" if base else "—"
        cpu = r.get("cpu_seconds", float("nan"))
        cpu_ratio = f"{cpu / base_cpu:.1f}x" if base_cpu and not math.isnan(cpu) else "—"
        rate = r["rows_in"] / r["seconds"] / 1e6 if r["seconds"] else float("nan")
        rows_out = f"{r['rows_out']:,}" if r["rows_out"] else ""
        cells.append([r["step"], f"{r['rows_in']:,}", rows_out, f"{r['seconds']:.2f}",
                      f"{rate:.1f}", ratio, f"{cpu:.2f}", cpu_ratio, f"{r['peak_mb']:,.0f}",
                      r["note"]])  # fmt: skip
    head = ["step", "rows in", "rows out", "s", "M rows/s", "vs DuckDB", "CPU s", "CPU vs DuckDB",
            "peak RSS MB", "note"]  # fmt: skip
    return markdown_table(head, "lrrrrrrrrl", cells)


def doc_section(rows: list[dict[str, Any]], machine: str, n_stations: int, n_params: int) -> str:
    return section(
        SECTION,
        "`uv run python benchmarks/transforms.py --write` — one synthetic day of minute data "
        f"({n_stations:,} stations x {n_params} parameters x 1,440 minutes, defects included: "
        "invalid flags, spikes, gaps, a re-delivered hour, maintenance windows) read from "
        "Parquet in the raw-store layout through clean → hourly → daily → AQI, next to a bare "
        "DuckDB and a bare Polars GROUP BY (hourly mean per station and parameter) over the "
        "same files in the same run. The chain is the one the hourly step runs "
        "(`transforms.chain`: each hour QC'd on its own window, the hour and the 30 minutes "
        "before it, as when it ends; the rows read once on Polars' streaming engine, cut into "
        "50-station groups by one radix pass, each group sorted and de-duplicated on one "
        "packed integer key and QC'd as arrays, two groups at a time in threads). The stage "
        "rows run it stage by stage on one thread in one process (the per-group stages summed "
        "over the groups, peak the highest); the `process_partitions` rows run it end to end "
        "in a fresh process each, with one and with two groups at a time (its readings go to "
        "a callback, here counted and dropped, as the pipeline hands them to the lake). Peak "
        "RSS is each row's own high-water mark, inputs it holds included; CPU s counts all "
        "threads (on a shared machine the wall seconds stretch with the load). Memory a "
        "process touches for the first time costs a page fault and a page clear here (about "
        "1 s per GB of system time on these VMs), so a step's peak memory shows in its "
        "seconds too: the bare GROUP BYs stream in a few hundred MB.",
        table(rows),
        f"Measured on: {machine}.",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--params", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="50 stations: a smoke run")
    parser.add_argument("--data-dir", type=Path, help="where the synthetic day is cached")
    parser.add_argument(
        "--only", default="duckdb,polars,chain,batch1,batch", help="comma-separated rows to run"
    )
    parser.add_argument("--write", action="store_true", help=f"update '{SECTION}' in {DOC}")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # measured in this fresh process; the rows go to stdout as JSON
        print(json.dumps(CHILDREN[args.child](args.data_dir)))
        return
    n_stations = 50 if args.quick else args.stations
    base = args.data_dir or Path(tempfile.gettempdir()) / "aircarbon-bench-transforms"
    data = base / f"v{FORMAT_VERSION}-s{n_stations}-p{args.params}"
    t = time.perf_counter()
    generate(data, n_stations, args.params)
    print(f"synthetic day at {data} ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    rows, machine = run(data, args.only.split(","))
    text = doc_section(rows, machine, n_stations, args.params)
    publish(SECTION, table(rows), machine, text, write=args.write)


if __name__ == "__main__":
    main()
