"""``aircarbon bulletin``: the daily bulletin (docs/contract.md §2.2) over
:func:`write_bulletins`.

Typer only at module level (``aircarbon --help`` stays fast); the lake, Jinja2 and
matplotlib load inside :func:`run`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["bulletin_command", "run"]


def run(*, date: str, lang: str | None, pdf: bool, output_dir: Path | None, as_json: bool) -> None:
    """Write the bulletins of ``date`` and print where they are (or the JSON summary)."""
    from aircarbon.bulletin import write_bulletins
    from aircarbon.commands._when import parse_day
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from aircarbon.core.writer_lock import writer_lock

    day = parse_day(date, "--date")
    settings = load_settings()
    catalog = catalog_for(settings)
    langs = (lang,) if lang else ("zh", "en")
    with writer_lock(settings.data_dir, command="aircarbon bulletin"):
        result = write_bulletins(
            settings, catalog, day, langs=langs, pdf=pdf, output_dir=output_dir
        )
    if as_json:
        print(json.dumps(result.summary(), ensure_ascii=False))
        return
    head = result.headline
    aqi = "—" if head["aqi"] is None else head["aqi"]
    print(f"{day}  city AQI {aqi} {head['category_zh'] or ''} {head['category'] or ''}".rstrip())
    for path in result.paths:
        if path.suffix in (".html", ".md", ".pdf"):
            print(path)


def bulletin_command(
    date: Annotated[str, typer.Option(help="Local day, YYYY-MM-DD.", show_default=False)],
    lang: Annotated[
        str | None, typer.Option(help="zh or en (default: both).", show_default=False)
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write a PDF (WeasyPrint).")] = False,
    output_dir: Annotated[
        Path | None,
        typer.Option(help="Write under DIR/YYYY-MM-DD/ (default: <data dir>/bulletins)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON.")] = False,
) -> None:
    """The daily air-carbon bulletin (zh + en): HTML, Markdown with images, optional PDF."""
    run(date=date, lang=lang, pdf=pdf, output_dir=output_dir, as_json=as_json)
