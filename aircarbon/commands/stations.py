"""``aircarbon stations``: list, add, import and retire the network's stations.

Only Typer at module level, so ``aircarbon stations --json`` stays fast. The stations live
in the operator's network file (``<data_dir>/network.toml`` or ``network_file``); every
change is validated by the catalog loader before the file is replaced, and a running
collector picks it up within ``network_poll_s`` seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "run"]

app = typer.Typer(
    help="The network's stations: list (no subcommand), add, import a CSV, retire.",
    invoke_without_command=True,
)


@app.callback()
def _list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array (for scripts).")] = False,
) -> None:
    """List the stations: id, name, type, position, parameters, HJ 212 MN, in service from/to."""
    if ctx.invoked_subcommand is None:
        run(as_json=as_json)


def run(*, as_json: bool) -> None:
    """Print the network's stations (a table, or the docs/contract.md §2.4 JSON records)."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings

    catalog = catalog_for(load_settings())
    records = catalog.stations_json()
    if as_json:
        print(json.dumps(records, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    # Ten columns fold into fragments on an 80-column terminal; there the id, the name, the
    # type, the parameter count and the service dates are what an operator scans for (the
    # rest is in --json).
    wide = console.width >= 120
    columns = (
        ("id", "name", "type", "lat", "lon", "params", "mn", "code", "from", "to")
        if wide
        else ("id", "name", "type", "params", "from", "to")
    )
    table = Table(title=f"{catalog.network.name_en} ({catalog.network.name_zh}) stations")
    for col in columns:
        table.add_column(col, no_wrap=col in {"id", "type", "from", "to", "mn"})
    for s in records:
        cells = {
            "id": s["id"],
            "name": f"{s['name']} {s['name_zh']}",
            "type": s["type"],
            "lat": f"{s['lat']:.4f}",
            "lon": f"{s['lon']:.4f}",
            "params": str(len(s["params"])),
            "mn": s["mn"],
            "code": s["national_code"] or "",
            "from": s["valid_from"] or "",
            "to": s["valid_to"] or "",
        }
        table.add_row(*(cells[c] for c in columns))
    console.print(table)


def _count(n: int) -> str:
    return f"{n} station" if n == 1 else f"{n} stations"


@app.command("add")
def add_command(
    station_id: Annotated[str, typer.Argument(metavar="ID", help="Station id, e.g. CH-LP-01.")],
    *,
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            help="national, voc, ghg, pm_component, radiation, ecological or micro.",
        ),
    ],
    lat: Annotated[float, typer.Option(help="Latitude, decimal degrees (WGS 84).")],
    lon: Annotated[float, typer.Option(help="Longitude, decimal degrees (WGS 84).")],
    params: Annotated[
        str, typer.Option(help="Parameter codes and @sets, comma-separated: so2,no2,@met.")
    ],
    name_zh: Annotated[str | None, typer.Option(help="Chinese name.")] = None,
    name_en: Annotated[str | None, typer.Option(help="English name (default: the id).")] = None,
    mn: Annotated[
        str | None,
        typer.Option(help="HJ 212 device code of its data logger (default: from the id)."),
    ] = None,
    code: Annotated[
        str | None,
        typer.Option(help="National (CNEMC) station code, e.g. 1001A (for `import cnemc`)."),
    ] = None,
    hj212_version: Annotated[
        str | None, typer.Option(help="Its logger's pollutant codes: 2017, 2005 or auto.")
    ] = None,
    district: Annotated[str | None, typer.Option(help="District it stands in.")] = None,
    valid_from: Annotated[
        str | None, typer.Option("--from", help="First local day in service (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Add a station to the network (a running collector accepts its readings shortly)."""
    from aircarbon.core.catalog import add_stations, station_row
    from aircarbon.core.settings import load_settings

    row = station_row(
        station_id,
        type=type_,
        lat=lat,
        lon=lon,
        params=params,
        name_zh=name_zh,
        name_en=name_en,
        mn=mn,
        code=code,
        hj212_version=hj212_version,
        district=district,
        valid_from=valid_from,
    )
    (station,), catalog = add_stations(load_settings(), [(f"station {station_id!r}", row)])
    print(
        f"added {station.id} ({station.type.value}, {len(station.params)} parameters, "
        f"MN {station.mn}) to {catalog.network.name_en}: {_count(len(catalog.stations))}"
    )


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header of the `stations add` options: id,type,lat,lon,params,"
            "name_zh,name_en,mn,code,hj212_version,district,from (UTF-8, BOM or GBK)."
        ),
    ],
) -> None:
    """Add every station of a CSV: all rows or none, every bad row named."""
    from aircarbon.core.catalog import import_stations_csv
    from aircarbon.core.settings import load_settings

    added, catalog = import_stations_csv(load_settings(), file)
    print(
        f"imported {_count(len(added))} from {file.name} into {catalog.network.name_en}: "
        f"{_count(len(catalog.stations))} in all"
    )


@app.command("retire")
def retire_command(
    station_id: Annotated[str, typer.Argument(metavar="ID")],
    date: Annotated[str, typer.Option("--date", help="Last local day in service (YYYY-MM-DD).")],
) -> None:
    """Retire a station: readings after that day are dead-lettered; its history stays."""
    from aircarbon.core.catalog import retire_station
    from aircarbon.core.catalog._edit import parse_date
    from aircarbon.core.settings import load_settings

    day: dt.date = parse_date(date, "--date")
    station = retire_station(load_settings(), station_id, day)
    print(f"retired {station.id}: last day in service {station.valid_to}")
