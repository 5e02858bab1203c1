"""``aircarbon network``: create and show the installation's own monitoring network.

The network (city, time zone, names, centre, parameter sets, stations) is the operator's
data, kept in ``<data_dir>/network.toml`` (or the ``network_file`` setting), apart from the
shipped catalog of parameters and standards. Its time zone is the one that local days,
daily AQI and the DAG schedules are counted in.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aircarbon.core.errors import CatalogError

__all__ = ["app"]

app = typer.Typer(help="The monitoring network: create it, show it.", no_args_is_help=True)


def _center(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise CatalogError(f"--center {text!r}: expected LAT,LON (e.g. 41.80,123.43)") from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise CatalogError(f"--center {text!r}: outside lat ±90, lon ±180")
    return lat, lon


@app.command("init")
def init_command(
    city: Annotated[str | None, typer.Option(help="City id, e.g. chicago.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA time zone local days are counted in, e.g. America/Chicago."),
    ] = None,
    name_zh: Annotated[str | None, typer.Option(help="Chinese name of the network.")] = None,
    name_en: Annotated[str | None, typer.Option(help="English name of the network.")] = None,
    center: Annotated[
        str | None, typer.Option(help="LAT,LON of the city centre (maps, default zoom).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace an existing network's [network] table (stations kept)."),
    ] = False,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample", help="Copy the Shenyang sample network instead (what the demo runs)."
        ),
    ] = False,
) -> None:
    """Create this data directory's network (no stations yet: `aircarbon stations add`)."""
    from aircarbon.core.catalog import init_network, init_sample_network
    from aircarbon.core.settings import load_settings

    settings = load_settings()
    if sample:
        path = init_sample_network(settings)
        print(f"network: the Shenyang sample, in {path}")
        return
    if not city or not timezone:
        raise CatalogError("network init needs --city and --timezone (or --sample)")
    path, catalog = init_network(
        settings,
        city=city,
        timezone=timezone,
        name_zh=name_zh,
        name_en=name_en,
        center=_center(center) if center else None,
        force=force,
    )
    net = catalog.network
    print(
        f"network {net.name_en} ({net.city}, {net.timezone}) in {path}: "
        f"{len(catalog.stations)} stations; add some with `aircarbon stations add`"
    )


@app.command("show")
def show_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object (for scripts).")] = False,
) -> None:
    """The network in use: its file (or the sample), city, time zone, centre, stations."""
    from aircarbon.core.catalog import describe_network
    from aircarbon.core.settings import load_settings

    info = describe_network(load_settings())
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
        return
    lat, lon = info["center"]
    print(f"network   {info['name_en']} ({info['name_zh']}), city {info['city']}")
    print(f"file      {info['file']}" + ("  (the shipped sample)" if info["sample"] else ""))
    print(f"timezone  {info['timezone']}")
    print(f"center    {lat:.4f}, {lon:.4f}")
    print(f"stations  {info['stations']} ({len(info['retired'])} retired)")
    print(f"sets      {', '.join(info['sets']) or '-'}")
