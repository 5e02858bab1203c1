"""``aircarbon forecast``: issue the 72-hour forecast, backtest it, simulate a history for it.

* ``aircarbon forecast --date D [--until D2] [--retrain] [--json]`` — what the daily DAG's
  ``forecast`` task runs (idempotent per day);
* ``aircarbon forecast backtest [--simulated] [--write-docs]`` — the rolling-origin backtest
  (on the lake's history, or on a simulated year with winter episodes) into
  ``forecast_skill``, optionally regenerating docs/forecast.md's table and episode plot;
* ``aircarbon forecast simulate --start D --days N`` — a simulated hourly history (with
  episodes) and its met forecasts, loaded straight into the lake (no MQTT).

Typer only at module level; polars, sklearn and the lake load inside the commands.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aircarbon.core.errors import AirCarbonError

__all__ = ["app"]

app = typer.Typer(
    help="The 72-hour air-quality forecast and early warnings (PM2.5, O3, NO2, AQI).",
    invoke_without_command=True,
)


def _day(value: str, what: str) -> dt.date:
    from aircarbon.commands._when import parse_day

    return parse_day(value, what)


def _print_issue(summary: dict[str, Any]) -> None:
    warned = summary["warnings"]
    head = f"{summary['date']}  {summary['method']}"
    if summary.get("model_version"):
        head += f" ({summary['model_version']}{', retrained' if summary['retrained'] else ''})"
    print(f"{head}: {summary['rows']} rows, met {summary['met_source']}")
    if summary.get("note"):
        print(f"  note: {summary['note']}")
    for w in warned:
        print(
            f"  WARNING {w['level']} {w['kind']} {w['station']} {w['start_date']}..{w['end_date']}"
        )
    if not warned:
        print("  no warnings")


@app.callback()
def forecast(
    ctx: typer.Context,
    date: Annotated[
        str | None, typer.Option(help="Issue day (local), YYYY-MM-DD.", show_default=False)
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Issue every day up to this one too.", show_default=False)
    ] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain before issuing.")] = False,
    no_publish: Annotated[
        bool, typer.Option("--no-publish", help="Do not publish the warnings on MQTT.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per issue.")] = False,
) -> None:
    """Issue the forecast at the end of --date (stored in forecasts/warnings, published)."""
    if ctx.invoked_subcommand is not None:
        return
    if date is None:
        raise AirCarbonError("give --date YYYY-MM-DD (or a subcommand: backtest, simulate)")
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from aircarbon.pipeline.forecast import forecast_day

    first = _day(date, "--date")
    last = _day(until, "--until") if until else first
    settings = load_settings()
    catalog = catalog_for(settings)
    day = first
    while day <= last:
        result = forecast_day(
            settings, catalog, day, retrain=retrain and day == first, publish=not no_publish
        )
        summary = result.summary()
        if as_json:
            print(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            _print_issue(summary)
        day += dt.timedelta(days=1)


@app.command("simulate")
def simulate(
    start: Annotated[str, typer.Option(help="First local day, YYYY-MM-DD.")] = "2025-09-01",
    days: Annotated[int, typer.Option(min=2, help="Days to simulate.")] = 365,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    stations: Annotated[
        str | None, typer.Option(help="Comma-separated station ids (default: all).")
    ] = None,
    no_episodes: Annotated[
        bool, typer.Option("--no-episodes", help="No injected winter episodes.")
    ] = False,
) -> None:
    """Load a simulated hourly history (winter episodes) and its met forecasts into the lake."""
    from aircarbon.commands.forecast_sim import load_simulated
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings

    settings = load_settings()
    report = load_simulated(
        settings,
        catalog_for(settings),
        _day(start, "--start"),
        days,
        seed=seed,
        stations=stations.split(",") if stations else None,
        episodes=not no_episodes,
    )
    print(json.dumps(report, ensure_ascii=False, default=str, indent=2))


@app.command("backtest")
def backtest(
    simulated: Annotated[
        bool,
        typer.Option("--simulated", help="Backtest a simulated year (in memory), not the lake."),
    ] = False,
    start: Annotated[str, typer.Option(help="--simulated: first day.")] = "2025-09-01",
    days: Annotated[int, typer.Option(help="--simulated: days.")] = 365,
    seed: Annotated[int, typer.Option(help="--simulated: seed.")] = 1,
    stations: Annotated[
        str | None,
        typer.Option(help="--simulated: comma-separated station ids (default: all)."),
    ] = None,
    first_test: Annotated[
        str | None, typer.Option(help="First issue day scored (default: 90 days in).")
    ] = None,
    refit_every: Annotated[int, typer.Option(min=1, help="Days between refits.")] = 30,
    write_docs: Annotated[
        Path | None,
        typer.Option(help="Rewrite the backtest section of this Markdown file and its plot."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The skill table as JSON.")] = False,
) -> None:
    """Rolling-origin backtest with persistence and climatology baselines → forecast_skill."""
    from aircarbon.commands.forecast_sim import run_backtest

    table = run_backtest(
        simulated=simulated,
        start=_day(start, "--start"),
        days=days,
        seed=seed,
        stations=stations.split(",") if stations else None,
        first_test=_day(first_test, "--first-test") if first_test else None,
        refit_every=refit_every,
        write_docs=write_docs,
    )
    if as_json:
        print(json.dumps(table, ensure_ascii=False, default=str))
