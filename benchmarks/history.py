"""Years of imported hourly history back-filled through the whole chain, next to bare DuckDB.

    uv run python benchmarks/history.py [--quick] [--stations 100] [--params 10] [--years 3]
                                        [--data-dir DIR] [--write]

A monitoring centre adopting AirCarbon brings its history: one value per station, parameter
and hour (``period_s = 3600``), no minute data. The benchmark generates that history for a
synthetic network (``stations x params x hours``: 100 x 10 x 26,304 = 26.3 M rows by
default), lands it in the raw store, then runs what an operator runs:

    aircarbon process hourly --hour FIRST --until LAST   (QC, GX, hourly means, AQI)
    aircarbon process daily  --date D1 --until D2        (daily statistics, AQI, indicators,
                                                          emission events)

each as a child process of the real CLI (its own peak RSS), and the same files read by a
bare DuckDB ``GROUP BY (station, param, hour)`` and ``GROUP BY (station, param, day)`` in
the same run: the ratio says what QC, validation, the moving averages, AQI, indicators and
the lake's transactions cost over reading the data at all.

The network is the benchmark's own: a ``network.toml`` with N stations in the data dir
(how an operator's network is kept). Values follow a seasonal and a diurnal cycle with
noise and a slow linear trend, rounded as public hourly data is (integers in µg/m³).
``--quick`` is 10 stations x 3 months (smoke runs); ``--write`` replaces
``## History back-fill`` in docs/benchmarks.md (never with --quick).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's directory comes first on sys.path and its name would shadow
# the ``transforms`` package: put the project root there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from aircarbon.core.contracts import RAW  # noqa: E402
from benchmarks._report import machine_line, markdown_table, publish, section  # noqa: E402

SECTION = "## History back-fill"
TIMEZONE = "Asia/Shanghai"
FIRST_DAY = dt.date(2023, 1, 1)
PARAMS = ("so2", "no2", "o3", "co", "pm10", "pm25", "co2", "ch4", "temp", "ws")
#: per parameter: level, seasonal amplitude (winter high > 0), diurnal amplitude, noise,
#: trend per year, decimals (public hourly data: integers in µg/m³, CO in 0.1 mg/m³)
SHAPES: dict[str, tuple[float, float, float, float, float, int]] = {
    "so2": (15.0, 8.0, 3.0, 3.0, -1.0, 0),
    "no2": (35.0, 10.0, 10.0, 6.0, -1.0, 0),
    "o3": (60.0, -25.0, 35.0, 10.0, 1.5, 0),
    "co": (0.9, 0.4, 0.2, 0.15, -0.03, 1),
    "pm10": (80.0, 30.0, 12.0, 15.0, -4.0, 0),
    "pm25": (45.0, 25.0, 8.0, 10.0, -3.0, 0),
    "co2": (425.0, 8.0, 10.0, 3.0, 2.4, 1),
    "ch4": (2050.0, 30.0, 40.0, 15.0, 8.0, 0),
    "temp": (9.0, -16.0, 4.0, 1.5, 0.0, 1),
    "ws": (3.0, 0.5, 1.0, 0.8, 0.0, 1),
}
FORMAT_VERSION = 1  # bump when the generator changes: the cache key includes it
US = 1_000_000
#: CPU seconds of each child run by :func:`run_child`, by its command line
CPU_SECONDS: dict[str, float] = {}


#: Where the time goes (cProfile of one month of the full network, in benchmarks' words);
#: rewritten by hand when the profile changes.
PROFILE = """\
Where the time goes (cProfile of `process hourly` / `process daily` over 62 days of this
network, session 6, load ~15-20): `process hourly` — Great Expectations ~50 % (a third of it
importing GX once per command, the rest ~2 s of fixed GX work per suite run: three runs per
month batch; the `hourly` suite is checked on its profile, ~200 rows whatever the month,
since session 6), the lake ~15 % (one delete + insert + grouped checksum per table, the load
log in one INSERT), the QC chain ~14 %, hourly means and AQI the rest; `process daily` — GX
~55 % (mostly its import, measured before byte-compiling), `emission_events` ~6 % (was
~50 %: the anchor and hit test are one pass over the stations now), `daily_indicators` ~3 %,
the lake ~4 %. Fixed per command: the
imports (`uv sync --compile-bytecode` since session 6: where `PYTHONDONTWRITEBYTECODE` is set
every process used to compile GX, Airflow and scikit-learn from source, 20.9 s of a 76 s
`process daily` here). What batching removed: per hour a raw scan, three validations and a
transaction (26,304 of each), and per day a read of the lake and 5 partition loads; one lake
connection serves every batch of a run.
"""


def station_ids(n: int) -> list[str]:
    return [f"HB-{i:04d}" for i in range(n)]


def write_network(data_dir: Path, stations: list[str], params: list[str]) -> Path:
    """The benchmark network as the operator's ``network.toml`` in the data dir."""
    lines = [
        "[network]",
        'city = "benchmark"',
        'name_zh = "基准市"',
        'name_en = "Benchmark City"',
        f'timezone = "{TIMEZONE}"',
        "center = [41.80, 123.43]",
        "",
    ]
    for i, sid in enumerate(stations):
        lines += [
            "[[station]]",
            f'id = "{sid}"',
            f'name_zh = "站点{i}"',
            f'name_en = "Site {i}"',
            'type = "national"',
            f"lat = {41.6 + (i % 20) * 0.02:.4f}",
            f"lon = {123.2 + (i // 20) * 0.02:.4f}",
            f'mn = "BENCH{i:019d}"',
            "params = [" + ", ".join(f'"{p}"' for p in params) + "]",
            "",
        ]
    path = data_dir / "network.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def day_frame(
    day: dt.date, stations: list[str], params: list[str], rng: np.random.Generator
) -> pl.DataFrame:
    """One local day of hourly readings (24 per station and parameter), ``ts`` = hour end."""
    from zoneinfo import ZoneInfo

    start = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(TIMEZONE)).astimezone(dt.UTC)
    ends = np.arange(1, 25)
    n_h, n_s, n_p = 24, len(stations), len(params)
    years = (day - FIRST_DAY).days / 365.25
    season = np.cos(2 * np.pi * (day.timetuple().tm_yday - 15) / 365.25)
    shape = np.array([SHAPES[p] for p in params])  # (n_p, 6)
    level, seas, diur, noise, trend, _ = (shape[:, k] for k in range(6))
    hour_phase = np.sin(2 * np.pi * (ends - 9) / 24)[:, None, None]  # local hour end - 8
    station_bias = 1.0 + 0.1 * np.sin(np.arange(n_s) * 1.7)[None, :, None]
    values = (level + seas * season + trend * years)[None, None, :] * station_bias
    values = values + diur[None, None, :] * hour_phase
    values = values + noise[None, None, :] * rng.standard_normal((n_h, n_s, n_p))
    nonneg = np.array([p not in ("temp",) for p in params])
    values = np.where(nonneg[None, None, :], np.maximum(values, 0.0), values)
    for j, decimals in enumerate(shape[:, 5].astype(int)):
        values[:, :, j] = np.round(values[:, :, j], decimals)
    if "pm25" in params and "pm10" in params:  # PM2.5 is part of PM10
        i25, i10 = params.index("pm25"), params.index("pm10")
        values[:, :, i25] = np.minimum(values[:, :, i25], values[:, :, i10])
    h = np.broadcast_to(ends[:, None, None], (n_h, n_s, n_p)).ravel()
    s = np.broadcast_to(np.arange(n_s)[None, :, None], (n_h, n_s, n_p)).ravel()
    p = np.broadcast_to(np.arange(n_p)[None, None, :], (n_h, n_s, n_p)).ravel()
    ts = int(start.timestamp()) * US + h.astype(np.int64) * 3600 * US
    return pl.DataFrame(
        {
            "station": pl.Series(stations, dtype=pl.String).gather(s),
            "param": pl.Series(params, dtype=pl.String).gather(p),
            "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
            "value": values.ravel(),
            "flag": "N",
            "period_s": 3600,
            "seq": np.arange(ts.size, dtype=np.int64),
            "received_at": pl.Series(ts + 3600 * US).cast(pl.Datetime("us", "UTC")),
            "source": "import:history.csv",
        }
    ).cast(RAW)


def generate(folder: Path, n_stations: int, days: int, seed: int = 17) -> dict[str, Any]:
    """Write the history as the centre exports it: one long Parquet file per month
    (``station, param, ts, value``; ``ts`` the END of the hour, UTC)."""
    stations, params = station_ids(n_stations), list(PARAMS)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = 0
    month: list[pl.DataFrame] = []
    for d in range(days):
        day = FIRST_DAY + dt.timedelta(days=d)
        month.append(
            day_frame(day, stations, params, rng).select("station", "param", "ts", "value")
        )
        if d == days - 1 or (day + dt.timedelta(days=1)).day == 1:
            frame = pl.concat(month)
            frame.write_parquet(folder / f"history-{day:%Y-%m}.parquet", compression="zstd")
            rows += frame.height
            month = []
    return {"rows": rows, "stations": n_stations, "params": len(params), "days": days}


def child_import(data_dir: Path, folder: Path) -> None:
    """The import, in its own process: ``import_long`` of every monthly file."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from ingest.history import import_long

    settings = load_settings({}, data_dir=data_dir)
    catalog = catalog_for(settings)
    landed = rejected = 0
    t0 = time.perf_counter()
    for path in sorted(folder.glob("history-*.parquet")):
        report = import_long(path, settings=settings, catalog=catalog, period_s=3600)
        landed += report.landed
        rejected += sum(report.rejected.values())
    print(json.dumps({"secs": time.perf_counter() - t0, "landed": landed, "rejected": rejected}))


# --------------------------------------------------------------------------------------
# the measured steps
# --------------------------------------------------------------------------------------


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; wall seconds, ITS peak RSS (MB, ``wait4``'s rusage) and its stdout.

    Its CPU seconds (user + system, all threads) go to ``CPU_SECONDS``: on a shared machine
    they say what the step costs whatever the load, where wall seconds say what it took.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    CPU_SECONDS[" ".join(argv)] = usage.ru_utime + usage.ru_stime
    return secs, usage.ru_maxrss / 1024, stdout


def child_duckdb(data_dir: Path) -> None:  # the same files the pipeline reads
    """The baseline, in its own process: every raw file read, grouped by hour and by day."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = f"read_parquet('{data_dir}/raw/date=*/hour=*/*.parquet')"
    hour = "time_bucket(INTERVAL 1 hour, ts - INTERVAL 1 microsecond)"
    day = f"CAST(timezone('{TIMEZONE}', ts - INTERVAL 1 microsecond) AS DATE)"
    t0 = time.perf_counter()
    rows = 0
    for key in (hour, day):
        sql = f"SELECT station, param, {key} AS k, avg(value), count(*) FROM {files} GROUP BY ALL"
        rows += con.execute(sql).arrow().read_all().num_rows
    print(json.dumps({"secs": time.perf_counter() - t0, "rows": rows}))


def bare_duckdb(data_dir: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Read every raw file and GROUP BY (station, param, hour) and (station, param, day):
    seconds of the queries, the child's peak RSS and CPU seconds (start-up included)."""
    argv = [sys.executable, __file__, "--child-duckdb", str(data_dir)]
    _, peak, stdout = run_child(argv, env)
    out = json.loads(stdout.strip().splitlines()[-1])
    return float(out["secs"]), peak, CPU_SECONDS[" ".join(argv)]


def lake_counts(data_dir: Path, env: dict[str, str]) -> dict[str, int]:
    code = (
        "from aircarbon.core.settings import load_settings\n"
        "from warehouse.lake import connect\n"
        "import json\n"
        "con = connect(load_settings(), read_only=True)\n"
        "tables = ('readings', 'hourly', 'aqi_hourly', 'daily', 'aqi_daily', "
        "'indicators_daily', 'emission_events')\n"
        "print(json.dumps({t: con.execute(f'SELECT count(*) FROM {t}').fetchone()[0] "
        "for t in tables}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    counts: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 stations x 3 months")
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--days", type=int, default=None, help="instead of --years")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--no-validate", action="store_true", help="skip the GX suites")
    parser.add_argument("--write", action="store_true", help="replace the docs section")
    parser.add_argument("--child-duckdb", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-import", type=Path, nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_duckdb is not None:
        child_duckdb(args.child_duckdb)
        return
    if args.child_import is not None:
        child_import(*args.child_import)
        return
    n_stations = 10 if args.quick else args.stations
    days = 90 if args.quick else args.days or round(args.years * 365.25)
    base = args.data_dir or Path(tempfile.gettempdir()) / "aircarbon-bench-history"
    data_dir = base / f"s{n_stations}-d{days}-v{FORMAT_VERSION}"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    env = {**os.environ, "AIRCARBON_DATA_DIR": str(data_dir)}
    env["POLARS_MAX_THREADS"] = env.get("POLARS_MAX_THREADS", str(os.cpu_count() or 2))

    files = base / f"files-s{n_stations}-d{days}-v{FORMAT_VERSION}"
    if not (files / "COMPLETE").exists():
        shutil.rmtree(files, ignore_errors=True)
        info = generate(files, n_stations, days)
        (files / "COMPLETE").write_text(json.dumps(info))
    info = json.loads((files / "COMPLETE").read_text())
    data_dir.mkdir(parents=True)
    write_network(data_dir, station_ids(n_stations), list(PARAMS))
    import_cmd = [sys.executable, __file__, "--child-import", str(data_dir), str(files)]
    import_s, import_mb, out = run_child(import_cmd, env)
    imported = json.loads(out.strip().splitlines()[-1])
    print(f"import: {import_s:.1f} s, {import_mb:,.0f} MB, {imported}", file=sys.stderr)

    duck_s, duck_mb, duck_cpu = bare_duckdb(data_dir, env)
    print(f"bare DuckDB: {duck_s:.1f} s", file=sys.stderr)

    from zoneinfo import ZoneInfo

    last_day = FIRST_DAY + dt.timedelta(days=days - 1)
    first_hour = dt.datetime.combine(FIRST_DAY, dt.time(1), tzinfo=ZoneInfo(TIMEZONE))
    last_hour = dt.datetime.combine(
        last_day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(TIMEZONE)
    )
    cli = [sys.executable, "-m", "aircarbon"]
    validate = ["--no-validate"] if args.no_validate else []
    hourly_cmd = [*cli, "process", "hourly", "--hour", first_hour.isoformat(), "--until",
                  last_hour.isoformat(), "--quiet", *validate]  # fmt: skip
    hourly_s, hourly_mb, _ = run_child(hourly_cmd, env)
    print(f"process hourly: {hourly_s:.1f} s, {hourly_mb:,.0f} MB", file=sys.stderr)
    daily_cmd = [*cli, "process", "daily", "--date", FIRST_DAY.isoformat(), "--until",
                 last_day.isoformat(), "--quiet", *validate]  # fmt: skip
    daily_s, daily_mb, _ = run_child(daily_cmd, env)
    print(f"process daily: {daily_s:.1f} s, {daily_mb:,.0f} MB", file=sys.stderr)
    counts = lake_counts(data_dir, env)

    total = hourly_s + daily_s
    peak = max(hourly_mb, daily_mb)
    cpu = {
        name: CPU_SECONDS[" ".join(cmd)]
        for name, cmd in (("import", import_cmd), ("hourly", hourly_cmd), ("daily", daily_cmd))
    }
    cpu["duckdb"] = duck_cpu
    rows = [
        ["bare DuckDB: read + GROUP BY hour and day", f"{duck_s:.1f}", f"{cpu['duckdb']:.0f}",
         f"{duck_mb:,.0f}", "1.0"],
        ["`import long` of the monthly files → raw store", f"{import_s:.1f}",
         f"{cpu['import']:.0f}", f"{import_mb:,.0f}", f"{import_s / duck_s:.1f}"],
        ["`process hourly --until` (QC, GX, hourly, AQI → lake)", f"{hourly_s:.1f}",
         f"{cpu['hourly']:.0f}", f"{hourly_mb:,.0f}", f"{hourly_s / duck_s:.1f}"],
        ["`process daily --until` (daily, AQI, indicators, events → lake)", f"{daily_s:.1f}",
         f"{cpu['daily']:.0f}", f"{daily_mb:,.0f}", f"{daily_s / duck_s:.1f}"],
        ["**processing (hourly + daily)**", f"**{total:.1f}**",
         f"**{cpu['hourly'] + cpu['daily']:.0f}**", f"**{peak:,.0f}**",
         f"**{total / duck_s:.1f}**"],
        ["import + processing", f"{import_s + total:.1f}",
         f"{cpu['import'] + cpu['hourly'] + cpu['daily']:.0f}", f"{max(peak, import_mb):,.0f}",
         f"{(import_s + total) / duck_s:.1f}"],
    ]  # fmt: skip
    head = ["step", "wall s", "CPU s", "peak RSS MB", "× DuckDB (wall)"]
    table = markdown_table(head, "lrrrr", rows)
    machine = machine_line("polars", "duckdb", "great-expectations")
    landed = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    intro = (
        "`uv run python benchmarks/history.py --write` — "
        f"{n_stations} stations × {info['params']} parameters × {days} days of hourly history "
        f"({info['rows']:,} readings, `period_s = 3600`) back-filled by the CLI "
        f"({'without' if args.no_validate else 'with'} the GX suites), each command a child "
        "process (its own peak RSS), against a bare DuckDB read + GROUP BY of the same files "
        f"in the same run. Lake rows after the run: {landed}."
    )
    text = section(SECTION, intro, table, f"Measured on: {machine}.", PROFILE)
    publish(SECTION, table, machine, text, write=args.write and not args.quick)


if __name__ == "__main__":
    main()
