"""``aircarbon demo``: the whole job on embedded defaults, end to end, in one process.

Embedded broker → simulated network (replaying the last N days, with its plumes and
faults) → collector (ack-after-durable into the raw Parquet store, dead letters) with its
live health page; then a one-screen summary of what landed and where everything is.
Later stages (processing, warehouse, bulletins) join this command as they are built.
Re-running is safe: the demo's raw store is replaced, never appended to twice. The whole
run holds the data directory's writer lock (:mod:`aircarbon.core.writer_lock`), taken before
anything is deleted: a second demo (or any writer) on the same directory fails at once
naming this one, instead of wiping its raw store mid-run and mixing both runs' messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from aircarbon.core.catalog import Catalog, catalog_for, init_sample_network
from aircarbon.core.settings import Settings, load_settings

__all__ = ["run"]

console = Console()


def demo_settings(data_dir: Path | None, env: dict[str, str] | None = None) -> Settings:
    """``--data-dir``, else ``AIRCARBON_DATA_DIR`` (as for every command), else ``data/demo``."""
    settings = load_settings(env)
    if data_dir is not None:
        return settings.with_overrides(data_dir=data_dir)
    if "data_dir" not in settings.model_fields_set:
        return settings.with_overrides(data_dir=Path("data/demo"))
    return settings


def run(*, days: int, stations: str | None, seed: int, data_dir: Path | None) -> None:
    settings = demo_settings(data_dir)
    # The Chinese charts need a CJK font: say so now, not after a minute of work.
    from aircarbon.bulletin.charts import cjk_font

    cjk_font()
    # amqtt and its state machine log every protocol hiccup at INFO/WARNING: keep the
    # demo's screen for the progress bars and the summary
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if settings.network_file is None:  # the demo's network: the sample, in its data dir
        init_sample_network(settings)
    catalog = catalog_for(settings)
    chosen = tuple(s.strip() for s in stations.split(",")) if stations else None
    if chosen:
        for sid in chosen:
            catalog.station(sid)  # unknown ids fail here with a one-line message
    from aircarbon.core.writer_lock import writer_lock

    with writer_lock(settings.data_dir, command="aircarbon demo"):
        _run_locked(settings, catalog, days=days, stations=chosen, seed=seed)


def _run_locked(
    settings: Settings,
    catalog: Catalog,
    *,
    days: int,
    stations: tuple[str, ...] | None,
    seed: int,
) -> None:
    for sub in (
        "raw",
        "dead_letter",
        "status",
        "broker",
        "warehouse",
        "gx",
        "validation_runs",
        "bulletins",
        "models",
        "health",
    ):
        shutil.rmtree(settings.data_dir / sub, ignore_errors=True)
    for name in ("warehouse.sqlite", "warehouse.lock"):
        (settings.data_dir / name).unlink(missing_ok=True)
    t0 = time.perf_counter()
    summary = asyncio.run(_pipeline(settings, catalog, days=days, stations=stations, seed=seed))
    summary.update(_process(settings, catalog, days=days))
    summary["elapsed_s"] = time.perf_counter() - t0
    _print_summary(settings, catalog, summary, stations)


def _process(settings: Settings, catalog: Catalog, *, days: int) -> dict[str, Any]:
    """The scheduled part, run in order: every hour, then every day, into the lake."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from aircarbon.bulletin import write_bulletins
    from aircarbon.core.errors import ValidationFailed
    from aircarbon.pipeline import process_day
    from aircarbon.pipeline.daily import day_bounds
    from aircarbon.pipeline.forecast import forecast_day
    from aircarbon.pipeline.hourly import iter_process_hours

    today = dt.datetime.now(settings.tz).date()
    first = today - dt.timedelta(days=days)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    start, _ = day_bounds(dates[0], settings.timezone)
    hours = [start + dt.timedelta(hours=h) for h in range(1, 24 * days + 1)]
    failed: list[str] = []
    validations: dict[str, list[bool]] = {}
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("process hours", total=len(hours))
        seen: set[int] = set()
        # a local day of hours per batch: one QC pass, one validation per suite, one commit
        for hour, result in iter_process_hours(settings, catalog, hours, batch_hours=24):
            if isinstance(result, ValidationFailed):
                failed.append(f"{hour:%Y-%m-%d %H:%M}Z: {result}")
            else:
                for v in result.validations:
                    if id(v) not in seen:  # a batch's hours share its outcomes
                        seen.add(id(v))
                        validations.setdefault(v.suite, []).append(v.success)
            bar.advance(task)
        dtask = bar.add_task("process days", total=len(dates))
        for day in dates:
            try:
                day_result = process_day(settings, catalog, day)
                for v in day_result.validations:
                    validations.setdefault(v.suite, []).append(v.success)
            except ValidationFailed as exc:
                failed.append(f"{day}: {exc}")
            bar.advance(dtask)
        _load_todays_dead_letters(settings, catalog, dates)
        # the last day's 72-hour forecast, then its bulletins (their outlook reads it)
        outlook = _step(bar, "forecast", lambda: forecast_day(settings, catalog, dates[-1]))
        bulletins = _step(bar, "bulletins", lambda: write_bulletins(settings, catalog, dates[-1]))
    return {
        "dates": dates,
        "failed": failed,
        "validations": validations,
        "forecast": outlook,
        "bulletins": bulletins,
    }


def _load_todays_dead_letters(settings: Settings, catalog: Catalog, dates: list[dt.date]) -> None:
    """Dead letters received today (UTC) into the lake too.

    The daily step loads the dead letters *received* on its day, and the demo's replay is
    received now: unless today (UTC) is one of the simulated days, they would only reach the
    lake with tomorrow's run.
    """
    from aircarbon.pipeline.common import lake, raw_location
    from transforms.raw import read_dead_letters
    from warehouse.load import load_dead_letters

    today = dt.datetime.now(dt.UTC).date()
    if today in dates:
        return
    with lake(settings, catalog, what="aircarbon demo") as con:
        load_dead_letters(con, read_dead_letters(raw_location(settings), today), today)


def _step(bar: Any, label: str, run: Callable[[], Any]) -> dict[str, Any]:
    """One indivisible step under its own progress line; its result's ``summary()``."""
    task = bar.add_task(label, total=1)
    summary: dict[str, Any] = run().summary()
    bar.advance(task)
    return summary


async def _pipeline(
    settings: Settings,
    catalog: Catalog,
    *,
    days: int,
    stations: tuple[str, ...] | None,
    seed: int,
) -> dict[str, Any]:
    from aircarbon.simulator.config import SimulationConfig
    from aircarbon.simulator.faults import FaultConfig
    from aircarbon.simulator.messages import Simulation
    from aircarbon.simulator.publisher import DEFAULT_USERNAME, broker_endpoint, publish_replay
    from ingest.collector import Collector
    from ingest.embedded_broker import EmbeddedBroker
    from ingest.health_server import HealthServer
    from warehouse.forecast_warnings import latest_warnings

    tz = settings.tz
    start = dt.datetime.now(tz).date() - dt.timedelta(days=days)
    config = SimulationConfig(
        seed=seed,
        start=start,
        days=float(days),
        stations=stations,
        format="mixed",
        faults=FaultConfig.parse("demo"),
        timezone=catalog.network.timezone,
    )
    async with EmbeddedBroker(persistence_path=settings.data_dir / "broker" / "sessions.db") as b:
        # A replay of past days arrives late by design: the lag alert would paint every
        # station amber on the snapshot, which is no fault of theirs.
        replay = settings.with_overrides(alert_lag_s=float(days * 86_400 + 3_600))
        collector = Collector.from_settings(replay, catalog, url=b.url, protocol="v311")
        health = HealthServer(
            collector.stats,
            host=settings.health_host,
            port=0,
            warnings_reader=functools.partial(latest_warnings, settings),
        )
        health_task = asyncio.create_task(health.serve())
        task = asyncio.create_task(collector.run())
        await asyncio.wait_for(collector.connected.wait(), timeout=30)
        conn = broker_endpoint(
            settings, url=b.url, username=DEFAULT_USERNAME, client_id="aircarbon-demo-simulator"
        )
        assert conn is not None  # the embedded broker's URL
        # the network the collector checks readings against (network_file may name the
        # operator's own): the simulator publishes its stations, not the shipped sample's
        sim = Simulation(config, catalog)
        report = await asyncio.to_thread(publish_replay, config, conn, sim=sim, progress=True)
        with console.status("[bold]collector[/] landing the last batches…"):
            while collector.stats.messages_total < report.total:  # noqa: ASYNC110 - polls a counter
                await asyncio.sleep(0.1)
            # the live page dies with the demo: keep what it showed at the end of ingest,
            # while the collector is still connected (not after it said goodbye)
            snapshot = settings.data_dir / "health" / "index.html"
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            snapshot.write_text(health.page(), encoding="utf-8")
            collector.stop()
            await task
        stats = collector.stats.snapshot(time.time_ns() // 1000)
        await health.shutdown()
        health_task.cancel()
        await asyncio.gather(health_task, return_exceptions=True)
    return {
        "published": report.total,
        "faults": report.faults,
        "simulated": f"{start} … {start + dt.timedelta(days=days - 1)} ({days} days)",
        "stats": stats,
    }


def _print_summary(
    settings: Settings,
    catalog: Catalog,
    summary: dict[str, Any],
    stations: tuple[str, ...] | None,
) -> None:
    import polars as pl

    raw_files = list((settings.data_dir / "raw").rglob("*.parquet"))
    raw = pl.scan_parquet(raw_files) if raw_files else None
    landed = raw.select(pl.len()).collect().item() if raw is not None else 0
    distinct = (
        raw.select(pl.struct("station", "param", "ts").n_unique()).collect().item()
        if raw is not None
        else 0
    )
    stats = summary["stats"]
    table = Table(title="AirCarbon demo", show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("simulated", summary["simulated"])
    table.add_row("messages published", f"{summary['published']:,}")
    table.add_row("faults injected", ", ".join(f"{k} {v}" for k, v in summary["faults"].items()))
    table.add_row("readings landed", f"{landed:,} ({distinct:,} distinct)")
    table.add_row("duplicates skipped", f"{stats['duplicates_total']:,}")
    dead = stats["dead_letters_total"]
    table.add_row("dead-lettered", ", ".join(f"{k} {v}" for k, v in sorted(dead.items())) or "none")
    checks = summary.get("validations", {})
    table.add_row(
        "validation runs",
        ", ".join(f"{suite} {sum(r)}/{len(r)} passed" for suite, r in checks.items()) or "none",
    )
    for line in summary.get("failed", []):
        table.add_row("[red]stopped batch[/]", line)
    table.add_row("forecast", _outlook_line(summary["forecast"]))
    table.add_row("elapsed", f"{summary['elapsed_s']:.1f} s")
    console.print(table)
    # Paths are printed whole, one per line, outside the table: a table cell cuts or
    # folds them at the terminal's width, and a path is for copying.
    health = settings.data_dir / "health" / "index.html"
    docs = settings.data_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    pages = [f for f in summary["bulletins"]["files"] if f.endswith(".html")]
    where = [
        ("raw store", str(settings.data_dir / "raw")),
        ("dead letters", str(settings.data_dir / "dead_letter")),
        ("warehouse", f"ducklake:{settings.lake_catalog}  (aircarbon sql)"),
        ("health page", f"{health}  (as at the end of ingest)"),
        ("Data Docs", str(docs)),
        *(("bulletin", page) for page in pages),
    ]
    for what, path in where:
        console.print(f"{what:<13} {path}", soft_wrap=True, highlight=False, markup=False)
    _print_aqi(settings, catalog, summary["dates"], stations)
    for line in next_steps(settings):
        console.print(line, soft_wrap=True, highlight=False)


def next_steps(settings: Settings) -> list[str]:
    """Commands to paste next, for this data dir (``aircarbon`` is not on PATH in a checkout)."""
    prog = "aircarbon" if shutil.which("aircarbon") else "uv run aircarbon"
    env = f"AIRCARBON_DATA_DIR={settings.data_dir}"
    return [
        "Next:",
        f'  {env} {prog} sql "select * from aqi_daily order by date desc, aqi desc limit 12"',
        f"  {env} {prog} stations",
        f"  {env} {prog} collect   # live health page on "
        f"http://{settings.health_host}:{settings.health_port}/",
    ]


def _outlook_line(outlook: dict[str, Any]) -> str:
    """One line on the forecast the demo issued (method, warnings)."""
    warned = len(outlook["warnings"])
    return f"72 h from {outlook['date']}: {outlook['method']}; warnings: {warned or 'none'}"


def _print_aqi(
    settings: Settings,
    catalog: Catalog,
    dates: list[dt.date],
    stations: tuple[str, ...] | None,
) -> None:
    """The last simulated day's AQI per station, read back from the lake."""
    if not dates:
        return
    from warehouse.lake import connect

    con = connect(settings, read_only=True)
    try:
        rows = con.execute(
            "SELECT station, aqi, category, category_zh, primary_pollutants, standard "
            "FROM aqi_daily WHERE date = ? ORDER BY aqi DESC",
            [dates[-1]],
        ).fetchall()
        missing = missing_aqi_reasons(con, catalog, dates[-1], {r[0] for r in rows}, stations)
    finally:
        con.close()
    table = Table(title=f"AQI {dates[-1]} (daily report)")
    for col in ("station", "AQI", "category", "primary pollutants", "standard"):
        table.add_column(col)
    for station, aqi, cat, cat_zh, primary, standard in rows:
        table.add_row(station, str(aqi), f"{cat} {cat_zh}", ", ".join(primary or []), standard)
    console.print(table)
    for station, why in sorted(missing.items()):
        console.print(f"  no AQI for {station}: {why}", highlight=False)


#: The daily pollutants HJ 633 computes an AQI from.
_AQI_DAILY = ("so2", "no2", "co", "pm10", "pm25", "o3_8h_max")


def missing_aqi_reasons(
    con: Any,
    catalog: Catalog,
    day: dt.date,
    present: set[str],
    stations: tuple[str, ...] | None = None,
) -> dict[str, str]:
    """Why each station (of ``stations``, default all) has no daily AQI on ``day``.

    A table of 10 rows for a 12-station network reads as data lost; each absent station
    gets its reason instead.
    """
    reasons: dict[str, str] = {}
    for station in catalog.stations.values():
        if station.id in present or (stations and station.id not in stations):
            continue
        measured = {"o3_8h_max" if p == "o3" else p for p in station.params} & set(_AQI_DAILY)
        if not measured:
            reasons[station.id] = f"a {station.type.value} station, it measures no AQI pollutant"
            continue
        rows = con.execute(
            "SELECT param, n, valid FROM daily WHERE station = ? AND date = ? "
            "AND param IN (SELECT unnest(?::VARCHAR[])) ORDER BY param",
            [station.id, day, sorted(measured)],
        ).fetchall()
        if not rows:
            reasons[station.id] = "no data that day"
        else:
            hours = ", ".join(f"{p} {n} h" for p, n, valid in rows if not valid)
            reasons[station.id] = f"incomplete day (valid hours: {hours or 'none'})"
    return reasons
