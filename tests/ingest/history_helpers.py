"""Shared pieces of the history-import tests: an operator's network file, the stores read back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from aircarbon.core.catalog import Catalog, catalog_for
from aircarbon.core.settings import Settings, load_settings

CRITERIA = ["so2", "no2", "o3", "co", "pm10", "pm25"]


def write_network(
    data: Path,
    stations: Sequence[dict[str, Any]],
    *,
    timezone: str = "Asia/Shanghai",
    city: str = "shenyang",
) -> tuple[Settings, Catalog]:
    """A data dir whose network.toml holds ``stations`` (id, params[, mn, national_code,
    valid_to])."""
    lines = [
        "[network]",
        f'city = "{city}"',
        f'name_zh = "{city}"',
        f'name_en = "{city}"',
        f'timezone = "{timezone}"',
        "center = [41.8, 123.4]",
        "",
    ]
    for i, st in enumerate(stations):
        params = ", ".join(f'"{p}"' for p in st["params"])
        lines += [
            "[[station]]",
            f'id = "{st["id"]}"',
            'type = "national"',
            f"lat = {41.0 + i / 100}",
            "lon = 123.4",
            f'mn = "{st.get("mn", f"TESTMN{i:08d}")}"',
            f"params = [{params}]",
        ]
        if "valid_to" in st:
            lines.append(f"valid_to = {st['valid_to']}")
        if "national_code" in st:
            lines.append(f'national_code = "{st["national_code"]}"')
        lines.append("")
    data.mkdir(parents=True, exist_ok=True)
    (data / "network.toml").write_text("\n".join(lines), encoding="utf-8")
    settings = load_settings({}, data_dir=data)
    return settings, catalog_for(settings)


def raw_rows(data: Path) -> pl.DataFrame:
    """Every reading in the raw store, sorted."""
    files = sorted((data / "raw").glob("date=*/hour=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.read_parquet(files).sort("station", "param", "ts")


def dead_rows(data: Path) -> pl.DataFrame:
    files = sorted((data / "dead_letter").glob("date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.read_parquet(files)


def store_listing(data: Path) -> list[str]:
    """Every file under raw/ and dead_letter/ (to prove a re-import wrote nothing)."""
    return sorted(
        str(p.relative_to(data))
        for root in ("raw", "dead_letter")
        for p in (data / root).rglob("*")
        if p.is_file()
    )
