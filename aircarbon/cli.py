"""The ``aircarbon`` command line: thin wrappers over the library (docs/contract.md §2).

Every command imports what it needs inside its body, so ``aircarbon --help`` and
``aircarbon stations --json`` answer in a fraction of a second (GX alone costs 7-8 s).
Library errors (:class:`~aircarbon.core.errors.AirCarbonError`) become one-line messages on
stderr with exit code 2; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aircarbon.core.errors import AirCarbonError

__all__ = ["app", "main"]

app = typer.Typer(
    name="aircarbon",
    help="AirCarbon: air-quality and carbon monitoring pipeline (MQTT → Polars → DuckLake).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state: dict[str, Any] = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def decode(
    file: Annotated[
        str, typer.Argument(help="File with one message per line; '-' or none reads stdin.")
    ] = "-",
    fmt: Annotated[
        str, typer.Option("--format", help="json, hj212, or auto (by the leading '##').")
    ] = "auto",
    time_check: Annotated[
        bool,
        typer.Option(
            "--time-check/--no-time-check",
            help="Also apply the collector's late/future timestamp limits (relative to now).",
        ),
    ] = True,
) -> None:
    """Decode messages without a broker: every field, or exactly why it would be rejected."""
    from aircarbon.commands.decode import run

    raise typer.Exit(run(file, fmt=fmt, time_check=time_check))


@app.command()
def collect(
    broker: Annotated[
        str | None, typer.Option(help="mqtt://host:port or mqtts://… (default: settings).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    health_port: Annotated[int | None, typer.Option(help="Health/metrics HTTP port.")] = None,
    share_group: Annotated[
        str | None, typer.Option(help="Join $share/GROUP/… to split load between collectors.")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="Stable MQTT client id (one per collector).")
    ] = None,
) -> None:
    """Run the collector until SIGTERM/SIGINT (flushes, acknowledges, exits 0)."""
    from aircarbon.commands.collect import run

    run(
        broker=broker,
        data_dir=data_dir,
        health_port=health_port,
        share_group=share_group,
        client_id=client_id,
    )


@app.command()
def status(
    url: Annotated[
        str | None, typer.Option(help="Health URL of the collector (default: settings).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The raw JSON document.")] = False,
) -> None:
    """Live ingest health of a running collector, as a table (or JSON)."""
    from aircarbon.commands.status import run

    raise typer.Exit(run(url=url, as_json=as_json))


@app.command("replay-dead-letters")
def replay_dead_letters(
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
    since: Annotated[str | None, typer.Option(help="First UTC day received, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last UTC day received, YYYY-MM-DD.")] = None,
    reason: Annotated[
        list[str] | None, typer.Option(help="Only this reason code (repeatable).")
    ] = None,
    station: Annotated[
        list[str] | None, typer.Option(help="Only this station (repeatable).")
    ] = None,
    time_check: Annotated[bool, typer.Option("--time-check/--no-time-check")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
) -> None:
    """Re-decode the dead-letter store with the current decoders; land what now passes."""
    from ingest.replay import main as replay_main

    argv: list[str] = []
    if data_dir:
        argv += ["--data-dir", str(data_dir)]
    if since:
        argv += ["--since", since]
    if until:
        argv += ["--until", until]
    for code in reason or []:
        argv += ["--reason", code]
    for sid in station or []:
        argv += ["--station", sid]
    if not time_check:
        argv.append("--no-time-check")
    if dry_run:
        argv.append("--dry-run")
    if as_json:
        argv.append("--json")
    raise typer.Exit(replay_main(argv))


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array (for scripts).")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """Check this machine for AirCarbon: environment, extensions, fonts, ports, data dir, lake."""
    from aircarbon.commands.doctor import run

    raise typer.Exit(run(as_json=as_json, data_dir=data_dir))


@app.command()
def demo(
    days: Annotated[int, typer.Option(help="Simulated days to replay.")] = 2,
    stations_: Annotated[
        str | None,
        typer.Option("--stations", help="Comma-separated station ids (default: all)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """Run the whole job on embedded defaults and print where everything is."""
    from aircarbon.commands.demo import run

    run(days=days, stations=stations_, seed=seed, data_dir=data_dir)


@app.command()
def compact(
    expire_days: Annotated[
        float | None,
        typer.Option(
            "--expire-days",
            min=0,
            max=36_500,  # beyond a century the cut-off date overflows
            help="Also expire snapshots older than this many days (time travel to them ends).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON summary line.")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory.")] = None,
) -> None:
    """Compact the lake: merge the hourly loads' small files (the daily DAG runs this too)."""
    import datetime as dt
    import json

    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from aircarbon.pipeline.maintenance import compact_lake

    settings = load_settings(data_dir=data_dir)
    expire = dt.timedelta(days=expire_days) if expire_days is not None else None
    result = compact_lake(settings, catalog_for(settings), expire_older_than=expire)
    if as_json:
        print(json.dumps(result.summary()))
        return
    kept = (
        f"; snapshots before {result.expired_before:%Y-%m-%d %H:%M} UTC expired"
        if result.expired_before
        else "; every snapshot kept (time travel unchanged)"
    )
    print(
        f"compacted the lake: {result.files_before} → {result.files_after} data files "
        f"in {result.seconds:.1f} s{kept}"
    )


def _register_optional() -> None:
    """Commands whose modules live in their own packages (kept light at import)."""
    from aircarbon.commands.airflow import app as airflow_app
    from aircarbon.commands.aqi import aqi_command
    from aircarbon.commands.bulletin import bulletin_command
    from aircarbon.commands.forecast import app as forecast_app
    from aircarbon.commands.gateway import app as gateway_app
    from aircarbon.commands.importing import app as import_app
    from aircarbon.commands.network import app as network_app
    from aircarbon.commands.process import app as process_app
    from aircarbon.commands.raw import app as raw_app
    from aircarbon.commands.sql import sql_command
    from aircarbon.commands.stations import app as stations_app
    from aircarbon.simulator.command import simulate

    app.command("simulate")(simulate)
    app.command("sql")(sql_command)
    app.command("aqi")(aqi_command)
    app.command("bulletin")(bulletin_command)
    app.add_typer(process_app, name="process")
    app.add_typer(forecast_app, name="forecast")
    app.add_typer(airflow_app, name="airflow")
    app.add_typer(raw_app, name="raw")
    app.add_typer(gateway_app, name="gateway")
    app.add_typer(import_app, name="import")
    app.add_typer(network_app, name="network")
    app.add_typer(stations_app, name="stations")


_register_optional()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, mapping our errors to one-line messages."""
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    if debug:
        # Errors say "add --debug": it must work wherever it is added, not only before
        # the subcommand (the root option Typer knows).
        args = ["--debug", *(a for a in args if a != "--debug")]
    try:
        app(args=args, standalone_mode=True)
    except AirCarbonError as exc:
        if debug:
            raise
        typer.secho(f"aircarbon: error: {exc}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None
    except OSError as exc:  # a data dir that is a file, a full disk, a permission: one line
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        typer.secho(
            f"aircarbon: error: {where}{exc.strerror or exc}", err=True, fg=typer.colors.RED
        )
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
