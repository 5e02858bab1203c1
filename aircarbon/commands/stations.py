"""``aircarbon stations``: the network as configured (SPEC §2)."""

from __future__ import annotations

import json

from aircarbon.catalog import load_catalog
from aircarbon.settings import load_settings


def run(*, as_json: bool) -> None:
    settings = load_settings()
    catalog = load_catalog(settings.catalog_dir)
    records = catalog.stations_json()
    if as_json:
        print(json.dumps(records, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{catalog.network.name_en} ({catalog.network.name_zh}) stations")
    for col in ("id", "name", "type", "lat", "lon", "params", "mn"):
        table.add_column(col)
    for s in records:
        table.add_row(
            s["id"],
            f"{s['name']} {s['name_zh']}",
            s["type"],
            f"{s['lat']:.4f}",
            f"{s['lon']:.4f}",
            str(len(s["params"])),
            s["mn"],
        )
    Console().print(table)
