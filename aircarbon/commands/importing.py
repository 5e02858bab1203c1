"""``aircarbon import table|long|cnemc|hj212``: bring a centre's history into the raw store.

Thin wrappers over ``ingest.history``: every command holds the data directory's writer lock,
shows a progress bar on big files (stderr, only on a terminal), and ends with a report per
file (readings, landed, duplicates, rejected by reason, skipped markers, files written) or,
with ``--json``, one JSON object per file. Importing a file again lands nothing ("already
imported"); ``--force`` replaces the earlier import of that file. The imported hours are
then processed as any others: ``aircarbon process hourly --hour H --until H2``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    from aircarbon.core.catalog import Catalog
    from aircarbon.core.settings import Settings
    from ingest.history import ImportReport

__all__ = ["app"]

app = typer.Typer(
    help="Import history (wide or long tables, CNEMC daily files, HJ 212 logs) into the raw "
    "store, through the live decoders' checks; idempotent per file.",
    no_args_is_help=True,
)

_JSON = typer.Option("--json", help="One JSON object per file (for scripts).")
_FORCE = typer.Option("--force", help="Import again a file imported before (replaces it).")


def _pairs(values: Sequence[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise AirCarbonError(f"{option} takes NAME=VALUE, not {item!r}")
        out[key.strip()] = value.strip()
    return out


def _print(reports: Sequence[ImportReport], as_json: bool) -> None:
    if as_json:
        for report in reports:
            sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
        return
    for r in reports:
        if r.status == "already_imported":
            typer.echo(f"{r.file}: already imported ({r.landed} readings); --force re-imports")
            continue
        verb = "replaced" if r.status == "replaced" else "imported"
        span = f", {r.first_ts} … {r.last_ts} UTC" if r.first_ts else ""
        typer.echo(
            f"{r.file}: {verb} {r.landed} of {r.readings} readings{span} "
            f"in {r.seconds:.1f} s ({len(r.files)} raw files)"
        )
        if r.duplicates:
            typer.echo(
                f"  duplicates: {r.duplicates} (landed once; {r.conflicts} with a different "
                "value, the later line won)"
            )
        for reason, count in sorted(r.rejected.items()):
            typer.echo(f"  rejected {reason}: {count} (dead-letter store, with the line)")
        if r.skipped_markers:
            typer.echo(f"  skipped empty cells (blank, —, NA, -, --): {r.skipped_markers}")
        if r.skipped_derived:
            typer.echo(f"  skipped derived CNEMC rows (AQI, *_24h, O3_8h*): {r.skipped_derived}")
        if r.skipped_lines:
            typer.echo(f"  skipped log lines without an HJ 212 frame: {r.skipped_lines}")
        if r.unmapped_codes:
            codes = ", ".join(sorted(r.unmapped_codes)[:10])
            more = f" and {len(r.unmapped_codes) - 10} more" if len(r.unmapped_codes) > 10 else ""
            typer.echo(
                f"  station codes not in the network: {len(r.unmapped_codes)} ({codes}{more})"
            )
        if r.removed_files:
            typer.echo(f"  removed {len(r.removed_files)} files of the earlier import")


def _run(
    kind: str,
    as_json: bool,
    call: Callable[[Settings, Catalog, bool], Sequence[ImportReport]],
) -> None:
    """What every import does around its reader: settings, network, the writer lock, report."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from aircarbon.core.writer_lock import writer_lock

    settings = load_settings()
    catalog = catalog_for(settings)
    with writer_lock(settings.data_dir, command=f"aircarbon import {kind}"):
        reports = call(settings, catalog, sys.stderr.isatty())
    _print(reports, as_json)


def _time_marks(value: str) -> Literal["start", "end"]:
    if value == "start":
        return "start"
    if value == "end":
        return "end"
    raise AirCarbonError(f"--time-marks must be start or end, not {value!r}")


@app.command("table")
def table(
    file: Annotated[
        Path, typer.Argument(help="Wide CSV or Parquet: a time column, one column per parameter.")
    ],
    *,
    station: Annotated[
        str | None, typer.Option("--station", help="The station the file is of.")
    ] = None,
    station_column: Annotated[
        str | None,
        typer.Option(
            "--station-column", help="Instead of --station: the column naming each row's station."
        ),
    ] = None,
    time_column: Annotated[str, typer.Option("--time-column", help="The column holding the time.")],
    tz: Annotated[
        str | None, typer.Option("--tz", help="Zone of naive times (default: the network's).")
    ] = None,
    period_s: Annotated[
        int, typer.Option("--period-s", help="Averaging period of a value.")
    ] = 3600,
    time_marks: Annotated[
        str, typer.Option("--time-marks", help="Whether a time labels its period's start or end.")
    ] = "end",
    rename: Annotated[
        list[str] | None, typer.Option("--rename", help="COL=param: a column for a parameter.")
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="A column not to import.")
    ] = None,
    unit: Annotated[
        list[str] | None,
        typer.Option("--unit", help="param=UNIT: a column's unit, if not canonical."),
    ] = None,
    as_json: Annotated[bool, _JSON] = False,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """A wide table of one station (CSV or Parquet).

    Naive times are wall-clock times in --tz: 24:00 is the next day's 00:00; when clocks go
    back, the first row of the repeated hour is summer time and the second winter time;
    a time skipped when clocks go forward is refused (bad_timestamp). Encodings: UTF-8
    (with or without BOM), UTF-16, GBK; separators , ; or tab; blank, —, NA, -, -- are
    empty cells.
    """
    from ingest.history import import_table

    marks = _time_marks(time_marks)
    _run(
        "table",
        as_json,
        lambda settings, catalog, progress: [
            import_table(
                file,
                settings=settings,
                catalog=catalog,
                station=station,
                station_column=station_column,
                time_column=time_column,
                tz=tz,
                period_s=period_s,
                time_marks=marks,
                rename=_pairs(rename, "--rename"),
                skip=list(skip or ()),
                units=_pairs(unit, "--unit"),
                progress=progress,
                force=force,
            )
        ],
    )


@app.command("long")
def long(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet: station,param,ts,value[,flag,unit].")
    ],
    tz: Annotated[
        str | None, typer.Option("--tz", help="Zone of naive times (default: the network's).")
    ] = None,
    period_s: Annotated[
        int, typer.Option("--period-s", help="Averaging period of a value.")
    ] = 3600,
    time_marks: Annotated[
        str, typer.Option("--time-marks", help="Whether a time labels its period's start or end.")
    ] = "end",
    as_json: Annotated[bool, _JSON] = False,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """A long table: one reading per row, any stations and parameters."""
    from ingest.history import import_long

    marks = _time_marks(time_marks)
    _run(
        "long",
        as_json,
        lambda settings, catalog, progress: [
            import_long(
                file,
                settings=settings,
                catalog=catalog,
                tz=tz,
                period_s=period_s,
                time_marks=marks,
                progress=progress,
                force=force,
            )
        ],
    )


@app.command("cnemc")
def cnemc(
    files: Annotated[
        list[Path], typer.Argument(help="CNEMC daily site files: date,hour,type,<station code>….")
    ],
    as_json: Annotated[bool, _JSON] = False,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """China's national network hourly files; codes map through stations' national_code."""
    from ingest.history import import_cnemc

    _run(
        "cnemc",
        as_json,
        lambda settings, catalog, progress: import_cnemc(
            files, settings=settings, catalog=catalog, progress=progress, force=force
        ),
    )


@app.command("hj212")
def hj212(
    file: Annotated[
        Path, typer.Argument(help="A log of HJ 212 frames, one per line (a time prefix is fine).")
    ],
    as_json: Annotated[bool, _JSON] = False,
    force: Annotated[bool, _FORCE] = False,
) -> None:
    """A data logger's or platform's HJ 212 log, through the live HJ 212 decoder."""
    from ingest.history import import_hj212

    _run(
        "hj212",
        as_json,
        lambda settings, catalog, progress: [
            import_hj212(file, settings=settings, catalog=catalog, progress=progress, force=force)
        ],
    )
