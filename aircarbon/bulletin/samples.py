"""Regenerate the committed sample bulletins: ``python -m aircarbon.bulletin.samples``.

Writes the day's bulletins from a data directory (default: the demo's, ``data/demo``) and
copies ``bulletin.{zh,en}.html`` to ``docs/samples/`` with a full-page PNG screenshot of each,
taken in headless Chromium (Debian's ``/usr/bin/chromium``; never a downloaded browser)::

    uv run aircarbon demo --days 2
    uv run python -m aircarbon.bulletin.samples --data-dir data/demo --date 2026-11-25
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path
from typing import Final

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "main", "screenshot"]

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def screenshot(html: Path, png: Path, *, width: int = 1024) -> None:
    """A full-page PNG of a local HTML file in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    """Write the bulletins of ``--date`` (default: the last day in the lake) to ``--out``."""
    from aircarbon.bulletin import write_bulletins
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from warehouse.lake import connect

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/demo"))
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/samples"))
    args = parser.parse_args(argv)
    settings = load_settings(data_dir=args.data_dir)
    day = args.date
    if day is None:
        con = connect(settings, read_only=True)
        try:
            row = con.execute("select max(date) from aqi_daily").fetchone()
        finally:
            con.close()
        if row is None or row[0] is None:
            parser.error(f"no AQI in the lake of {args.data_dir}")
        day = row[0]
    result = write_bulletins(settings, catalog_for(settings), day)
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in ("zh", "en"):
        target = args.out / f"bulletin.{lang}.html"
        shutil.copyfile(result.directory / f"bulletin.{lang}.html", target)
        screenshot(target, args.out / f"bulletin.{lang}.png")
        print(target, args.out / f"bulletin.{lang}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
