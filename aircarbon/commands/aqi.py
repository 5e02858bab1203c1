"""``aircarbon aqi``: the HJ 633 calculator (docs/contract.md §2.2) over
:func:`transforms.aqi.compute_aqi`.

The command line registers :func:`aqi_command`; it imports only Typer at module level so
``aircarbon --help`` stays fast (Polars and the catalog load inside :func:`run`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated

import typer

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    from transforms.aqi import AqiResult

__all__ = ["aqi_command", "parse_pairs", "run"]

# Daily-report codes of O3's daily maxima may be typed without the suffix (o3_8h=170).
_MAX_SUFFIX = "_max"


def parse_pairs(pairs: list[str], valid: tuple[str, ...]) -> dict[str, float]:
    """``["pm25=80", "o3_8h=170"]`` → ``{"pm25": 80.0, "o3_8h_max": 170.0}`` (daily).

    Codes are the ``hourly``/``daily`` table params of the chosen report (``valid``);
    a daily-maximum code also answers to its name without ``_max``. Every unknown name is
    reported at once, with the valid codes, so one correction fixes the line.
    """
    aliases = {c.removesuffix(_MAX_SUFFIX): c for c in valid if c.endswith(_MAX_SUFFIX)}
    values: dict[str, float] = {}
    unknown: list[str] = []
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            raise AirCarbonError(f"expected PARAM=VALUE, got {pair!r}")
        code = name if name in valid else aliases.get(name)
        if code is None:
            unknown.append(name)
            continue
        try:
            value = float(text)
        except ValueError:
            raise AirCarbonError(f"{name}: {text!r} is not a number") from None
        if code in values:
            raise AirCarbonError(f"{code} given twice")
        values[code] = value
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise AirCarbonError(f"unknown AQI input {names} (valid: {', '.join(valid)})")
    if not values:
        raise AirCarbonError(f"no PARAM=VALUE given (valid: {', '.join(valid)})")
    return values


def run(
    pairs: list[str], *, standard: str | None, kind: str, as_json: bool, date: str | None
) -> None:
    """Compute and print the AQI of ``pairs`` under the chosen HJ 633 version and report."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from transforms.aqi import REPORT_KINDS, compute_aqi, input_codes, resolve_standard

    if kind not in REPORT_KINDS:
        raise AirCarbonError(f"unknown --kind {kind!r} (valid: {', '.join(REPORT_KINDS)})")
    day: dt.date | None = None
    if date is not None:
        from aircarbon.commands._when import parse_day

        day = parse_day(date, "--date")
    catalog = catalog_for(load_settings())
    std = resolve_standard(catalog, standard, day=day)
    values = parse_pairs(pairs, input_codes(std, kind))
    result = compute_aqi(values, kind=kind, standard=std, catalog=catalog)
    if as_json:
        doc = result.to_json()
        for item in doc["iaqi"]:
            item["value"] = values[item["pollutant"]]
        print(json.dumps(doc, ensure_ascii=False))
        return
    _print_table(result, values)


def _print_table(result: AqiResult, values: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"AQI — {result.standard}, {result.kind} report")
    table.add_column("input")
    table.add_column("value", justify="right")
    table.add_column("used", justify="right")
    table.add_column("IAQI", justify="right")
    for code, value in values.items():
        used = result.concentrations.get(code)
        score = result.iaqi.get(code)
        table.add_row(
            code,
            f"{value:g}",
            "—" if used is None else f"{used:g}",
            "—" if score is None else str(score),
        )
    cat = result.category
    if result.aqi is None or cat is None:
        table.caption = "AQI: — (no usable input)"
        Console().print(table)
        return
    console = Console()
    console.print(table)
    console.print(
        f"AQI [bold]{result.aqi}[/bold]  ",
        f"[black on {cat.color}] {cat.roman} {cat.name_zh} {cat.name_en} [/]",
    )
    primary = ", ".join(result.primary_pollutants) or "—"
    console.print(f"primary pollutant(s) 首要污染物: {primary}")
    if result.exceedance_pollutants:
        console.print(f"exceeding 超标污染物: {', '.join(result.exceedance_pollutants)}")


def aqi_command(
    pairs: Annotated[
        list[str],
        typer.Argument(
            metavar="PARAM=VALUE",
            help="Concentrations by table code (µg/m³, CO mg/m³), e.g. pm25=80 o3_8h=170.",
            show_default=False,
        ),
    ],
    standard: Annotated[
        str | None,
        typer.Option(help="HJ 633 version: 2012 or 2026 (default: the one in force on --date)."),
    ] = None,
    kind: Annotated[str, typer.Option(help="daily (日报) or hourly (实时报) report.")] = "daily",
    date: Annotated[
        str | None,
        typer.Option(help="YYYY-MM-DD whose version applies (default: today, local)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object (for scripts).")] = False,
) -> None:
    """AQI calculator (HJ 633): IAQI per pollutant, AQI, category, primary pollutants."""
    run(pairs, standard=standard, kind=kind, as_json=as_json, date=date)
