"""``aircarbon simulate``: simulated stations publishing realistic readings to a broker.

A Typer-compatible function; the CLI registers it with ``app.command("simulate")(simulate)``.
Heavy modules (numpy, polars, paho) are imported inside the body so ``aircarbon --help``
stays fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from aircarbon.core.catalog import Catalog
    from aircarbon.simulator.config import SimulationConfig
    from aircarbon.simulator.messages import Simulation
    from aircarbon.simulator.stream import SimMessage

__all__ = ["simulate"]

_NO_BROKER = (
    "aircarbon simulate: no broker: pass --broker mqtt://host:port or set AIRCARBON_BROKER_URL "
    "(or run `aircarbon demo`, which starts its own broker)"
)


def simulate(
    *,
    broker: Annotated[
        str | None,
        typer.Option(
            help="Broker URL (mqtt://host:port, mqtts://...); default AIRCARBON_BROKER_URL."
        ),
    ] = None,
    days: Annotated[float, typer.Option(help="Replay: simulated days to publish.")] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(help="Replay: first local day, YYYY-MM-DD (default 2026-11-23)."),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Real-time mode: messages per second per station (wall-clock paced)."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Real-time mode: stop after this many seconds.")
    ] = None,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many messages (all kinds).")
    ] = None,
    stations: Annotated[
        str | None, typer.Option(help="Comma-separated station ids (default: all).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="json | hj212 | mixed (national stations HJ 212, others JSON)."
        ),
    ] = "json",
    faults: Annotated[
        str,
        typer.Option(
            help="none | demo | kind=rate,... e.g. flatline=0.01,spike=0.002,duplicate=0.01."
        ),
    ] = "none",
    seed: Annotated[int, typer.Option(help="Random seed (same seed: same messages).")] = 0,
    period: Annotated[int, typer.Option(help="Replay: averaging period in seconds.")] = 60,
    wind_dir: Annotated[
        float | None,
        typer.Option(help="Steady wind direction (degrees FROM) instead of simulated weather."),
    ] = None,
    operations: Annotated[
        bool,
        typer.Option(help="Calibration / maintenance windows (flags C / M, status messages)."),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option(help="Print messages (--count, default 10) instead of publishing.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the messages as JSON Lines (topic, payload) instead of publishing."
        ),
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write the injected faults (ground truth) as JSON Lines.")
    ] = None,
    username: Annotated[
        str | None, typer.Option(help="MQTT username (default: from the URL, else 'simulator').")
    ] = None,
    password: Annotated[str | None, typer.Option(help="MQTT password.")] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id (default: random).")] = "",
    window: Annotated[int, typer.Option(help="Max QoS 1 messages in flight.")] = 256,
    progress: Annotated[bool, typer.Option(help="Show a progress bar (replay).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Simulated stations publishing realistic readings (replay days, or real time with --rate).

    The stations are those of the network in use (``catalog_for``: the data directory's
    ``network.toml``, else the sample), in its time zone: stations an operator added
    publish, and ``--start`` is a day of the network's calendar.
    """
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings

    settings = load_settings(broker_url=broker)
    catalog = catalog_for(settings)
    config = _config(
        days=days, start=start, rate=rate, stations=stations, fmt=fmt, faults=faults,
        seed=seed, period=period, wind_dir=wind_dir, operations=operations,
        timezone=catalog.network.timezone,
    )  # fmt: skip
    if dry_run or output is not None:
        _offline(config, catalog, dry_run=dry_run, output=output, count=count, truth_path=truth)
        return

    from aircarbon.simulator.publisher import (
        broker_endpoint,
        publish_realtime,
        publish_replay,
        realtime_config,
    )

    conn = broker_endpoint(settings, username=username, password=password, client_id=client_id)
    if conn is None:
        typer.secho(_NO_BROKER, err=True, fg=typer.colors.RED)
        raise typer.Exit(2)

    if rate is not None:
        config = realtime_config(config, rate)
        _simulation(config, catalog)  # unknown stations: a usage error before connecting
        try:
            report = publish_realtime(
                config, conn, duration_s=duration, count=count, window=window, catalog=catalog
            )
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        sim_truth = None
    else:
        sim = _simulation(config, catalog)
        show = progress and not as_json and sys.stderr.isatty()
        report = publish_replay(config, conn, sim=sim, count=count, window=window, progress=show)
        sim_truth = sim
    if truth is not None and sim_truth is not None:
        sim_truth.truth.write_jsonl(truth)
    _print_report(report.to_json(), as_json)


def _config(
    *,
    days: float,
    start: str | None,
    rate: float | None,
    stations: str | None,
    fmt: str,
    faults: str,
    seed: int,
    period: int,
    wind_dir: float | None,
    operations: bool,
    timezone: str,
) -> SimulationConfig:
    from aircarbon.simulator.config import DEFAULT_START, WIRE_FORMATS, SimulationConfig
    from aircarbon.simulator.faults import FaultConfig

    try:
        fault_config = FaultConfig.parse(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    if fmt not in WIRE_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(WIRE_FORMATS)}", param_hint="--format")
    try:
        day = dt.date.fromisoformat(start) if start else DEFAULT_START
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not YYYY-MM-DD", param_hint="--start") from None
    ids = tuple(s.strip() for s in stations.split(",") if s.strip()) if stations else None
    try:
        return SimulationConfig(
            seed=seed,
            start=day,
            days=days,
            period_s=period,
            rate=rate,
            stations=ids,
            format=fmt,  # narrowed by the WIRE_FORMATS check
            faults=fault_config,
            operations=operations,
            wind_dir=wind_dir,
            timezone=timezone,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _simulation(config: SimulationConfig, catalog: Catalog) -> Simulation:
    """The simulation of ``catalog``'s network; unknown ``--stations`` are a usage error."""
    from aircarbon.simulator.messages import Simulation

    try:
        return Simulation(config, catalog)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stations") from None


def _offline(
    config: SimulationConfig,
    catalog: Catalog,
    *,
    dry_run: bool,
    output: Path | None,
    count: int | None,
    truth_path: Path | None,
) -> None:
    """--dry-run / --output: generate without a broker."""
    sim = _simulation(config, catalog)
    limit = count if count is not None else (10 if output is None else None)
    written = 0
    fh = output.open("w", encoding="utf-8") if output is not None else None
    try:
        for i, msg in enumerate(sim.messages()):
            if limit is not None and i >= limit:
                break
            if fh is not None:
                fh.write(json.dumps(message_record(msg), ensure_ascii=False) + "\n")
                written += 1
            if dry_run and (count is None or i < count) and (output is None or i < 10):
                text = msg.payload.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
                typer.echo(f"{msg.topic} {text}")
    finally:
        if fh is not None:
            fh.close()
    if truth_path is not None:
        sim.truth.write_jsonl(truth_path)
    if output is not None:
        typer.echo(f"wrote {written} messages to {output}", err=True)


def message_record(msg: SimMessage) -> dict[str, Any]:
    """A JSON-Lines record of a message; binary (non-UTF-8) payloads as ``payload_b64``."""
    record: dict[str, Any] = {"topic": msg.topic, "retain": msg.retain, "qos": msg.qos}
    try:
        record["payload"] = msg.payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_b64"] = base64.b64encode(msg.payload).decode("ascii")
    return record


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    sent = ", ".join(f"{k} {v}" for k, v in sorted(report["sent"].items()))
    faults = ", ".join(f"{k} {v}" for k, v in sorted(report["faults"].items())) or "none"
    typer.echo(
        f"published {report['total']} messages to {report['broker']} ({sent}) in "
        f"{report['elapsed_s']:.1f} s, {report['msgs_per_s']:.0f} msg/s; injected: {faults}"
    )
