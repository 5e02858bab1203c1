"""``aircarbon process hourly|daily``: the DAGs' steps, without Airflow (idempotent).

A range (``--until``) is a back-fill: batches of whole local days up to a month per lake
transaction, a progress bar on a terminal, and a journal in the data dir so the same
command run again after a crash (``kill -9``, out of memory) continues with the first
unfinished batch; ``--redo`` forgets that journal and processes the whole range again
(aircarbon/pipeline/backfill.py). The journal records the options the batches were done
under (validation, network and catalog files, raw source): run with other ones, the
command refuses to resume and says to add ``--redo``. Each command holds the data
directory's writer lock for its whole range and fails at once, naming the holder, when
another writer (a demo, a scheduled task) has it. Intervals that have not ended are
refused; a reload that would leave an interval with fewer rows than the lake holds (its
raw files gone) is refused unless ``--allow-shrink``; an interval without input is
recorded as ``no_data`` and replaces nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from typing import Annotated

import typer

from aircarbon.commands._when import parse_hour_end
from aircarbon.core.errors import AirCarbonError

__all__ = ["app"]

_ALLOW_SHRINK_HELP = (
    "Replace an interval even when the reload leaves fewer rows than the lake holds "
    "(e.g. its raw files were removed on purpose)."
)

_REDO_HELP = (
    "Process the whole range again, also the batches an interrupted run of the same "
    "command already finished (default: continue where it stopped; a run with other "
    "options, network or catalog than the interrupted one is refused without --redo)."
)
_QUIET_HELP = "No line per interval: the progress bar (on a terminal) and the final summary."

app = typer.Typer(
    help="Run the processing steps the DAGs run, without Airflow.", no_args_is_help=True
)


def _range(first: dt.datetime, last: dt.datetime | None) -> list[dt.datetime]:
    hours = [first]
    while last is not None and hours[-1] < last:
        hours.append(hours[-1] + dt.timedelta(hours=1))
    return hours


@app.command("hourly")
def hourly(
    hour: Annotated[
        str, typer.Option("--hour", help="END of the hour (local time unless an offset is given).")
    ],
    until: Annotated[
        str | None, typer.Option(help="Process every hour up to this end too.")
    ] = None,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip the GX suites.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per hour.")] = False,
    batch_hours: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Hours per batch with --until (one QC pass, one validation, one commit); "
            "1 = exactly one DAG run per hour. Default: whole local days, up to a month, "
            "within a raw-row budget.",
        ),
    ] = None,
    allow_shrink: Annotated[bool, typer.Option("--allow-shrink", help=_ALLOW_SHRINK_HELP)] = False,
    redo: Annotated[bool, typer.Option("--redo", help=_REDO_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help=_QUIET_HELP)] = False,
) -> None:
    """Raw partition → clean readings → hourly means and AQI → the warehouse."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.errors import ValidationFailed
    from aircarbon.core.settings import load_settings
    from aircarbon.core.writer_lock import writer_lock
    from aircarbon.pipeline.hourly import plan_hours, run_hours

    settings = load_settings()
    catalog = catalog_for(settings)
    last = parse_hour_end(until, settings.timezone, "--until") if until else None
    hours = _range(parse_hour_end(hour, settings.timezone), last)
    failed: list[str] = []
    loaded = no_data = 0
    with writer_lock(settings.data_dir, command="aircarbon process hourly"):
        plan = plan_hours(
            settings, hours, batch_hours=batch_hours, redo=redo, validate=not no_validate
        )
        _say_resumed(plan.skipped, plan.total, "hour")
        with _progress(plan.total - plan.skipped, "hours", enabled=last is not None) as step:
            for end, result in run_hours(settings, catalog, plan, allow_shrink=allow_shrink):
                step()
                if isinstance(result, ValidationFailed):
                    local_end = end.astimezone(settings.tz)
                    failed.append(f"{local_end:%Y-%m-%d %H:%M}: {result}")
                    continue
                loaded += result.outcome != "no_data"
                no_data += result.outcome == "no_data"
                if quiet:
                    continue
                summary = result.summary()
                local = result.hour_end.astimezone(settings.tz)
                if as_json:
                    print(json.dumps(summary))
                elif result.outcome == "no_data":
                    print(
                        f"hour ending {local:%Y-%m-%d %H:%M %Z}: no data (no raw input): nothing "
                        f"replaced, validations skipped; recorded in snapshot {summary['snapshot']}"
                    )
                else:
                    print(
                        f"hour ending {local:%Y-%m-%d %H:%M %Z}: {summary['readings']} readings "
                        f"({summary['invalid']} flagged), {summary['hourly_rows']} hourly, "
                        f"{summary['aqi_rows']} AQI rows; snapshot {summary['snapshot']}"
                    )
    if quiet and not as_json:
        print(f"{loaded} hour(s) loaded, {no_data} without data, {plan.skipped} already done")
    if failed:
        # the other hours landed; the failed ones stay missing until re-processed
        raise AirCarbonError(
            f"{len(failed)} hour(s) stopped; first: {failed[0]} "
            "(the same command again re-runs only what is not done)"
        )


@app.command("daily")
def daily(
    date: Annotated[str, typer.Option("--date", help="Local calendar day, YYYY-MM-DD.")],
    until: Annotated[str | None, typer.Option(help="Process every day up to this one too.")] = None,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip the GX suites.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per day.")] = False,
    allow_shrink: Annotated[bool, typer.Option("--allow-shrink", help=_ALLOW_SHRINK_HELP)] = False,
    batch_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Days per batch with --until (one validation, one commit). Default: up to "
            "a calendar month, within an hourly-row budget.",
        ),
    ] = None,
    redo: Annotated[bool, typer.Option("--redo", help=_REDO_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help=_QUIET_HELP)] = False,
) -> None:
    """A local day's hourly means → daily statistics and AQI → the warehouse."""
    from aircarbon.commands._when import parse_day
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.errors import ValidationFailed
    from aircarbon.core.settings import load_settings
    from aircarbon.core.writer_lock import writer_lock
    from aircarbon.pipeline.daily import plan_days, run_days

    first = parse_day(date, "--date")
    last = parse_day(until, "--until") if until else first
    settings = load_settings()
    catalog = catalog_for(settings)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    failed: list[str] = []
    stopped: list[ValidationFailed] = []
    loaded = no_data = 0
    with writer_lock(settings.data_dir, command="aircarbon process daily"):
        plan = plan_days(settings, days, batch_days=batch_days, redo=redo, validate=not no_validate)
        _say_resumed(plan.skipped, plan.total, "day")
        with _progress(plan.total - plan.skipped, "days", enabled=until is not None) as step:
            for day, result in run_days(settings, catalog, plan, allow_shrink=allow_shrink):
                step()
                if isinstance(result, ValidationFailed):
                    failed.append(f"{day}: {result}")
                    stopped.append(result)
                    continue
                loaded += result.outcome != "no_data"
                no_data += result.outcome == "no_data"
                if quiet:
                    continue
                summary = result.summary()
                if as_json:
                    print(json.dumps(summary))
                elif result.outcome == "no_data":
                    print(
                        f"{day}: no data (no hourly data that day): nothing replaced, validation "
                        f"skipped, {summary['dead_letters']} dead letters; snapshot "
                        f"{summary['snapshot']}"
                    )
                else:
                    print(
                        f"{day}: {summary['daily_rows']} daily rows, {summary['aqi_rows']} AQI "
                        f"rows, {summary['dead_letters']} dead letters; snapshot "
                        f"{summary['snapshot']}"
                    )
    if quiet and not as_json:
        print(f"{loaded} day(s) loaded, {no_data} without data, {plan.skipped} already done")
    if len(days) == 1 and stopped:
        raise stopped[0]  # one day: its own error, as before
    if failed:
        raise AirCarbonError(
            f"{len(failed)} day(s) stopped; first: {failed[0]} "
            "(the same command again re-runs only what is not done)"
        )


def _say_resumed(skipped: int, total: int, unit: str) -> None:
    if skipped:
        print(
            f"aircarbon: resuming: {skipped} of {total} {unit}(s) were done by an interrupted "
            "run of this command (--redo processes them again)",
            file=sys.stderr,
        )


@contextlib.contextmanager
def _progress(total: int, unit: str, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr for a range, when stderr is a terminal; else nothing."""
    from rich.console import Console

    console = Console(stderr=True)
    if not enabled or total <= 1 or not console.is_terminal:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"[bold]{unit}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(unit, total=total)
        yield lambda: bar.advance(task)
