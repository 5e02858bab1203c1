"""The daily air-carbon bulletin (``bulletins/{date}/``, docs/contract.md §3.6), zh and en.

``write_bulletins(settings, catalog, day)`` reads the lake read-only (one session, one
snapshot, recorded in the page), builds one typed context (:mod:`.data`), draws the charts
per language with a CJK font (:mod:`.charts`) and renders one template set
(:mod:`.render`) to ``bulletin.{lang}.html`` (self-contained), ``bulletin.{lang}.md`` with its
PNGs beside it, and optionally ``bulletin.{lang}.pdf``. The daily DAG's last task, ``aircarbon
bulletin`` and ``aircarbon demo`` call it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aircarbon.core.catalog import Catalog
    from aircarbon.core.settings import Settings

__all__ = ["BulletinResult", "write_bulletins"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BulletinResult:
    """What one call wrote: the files, the headline numbers and how long it took."""

    day: dt.date
    directory: Path
    paths: list[Path] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    langs: tuple[str, ...] = ()
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-able: date, folder, files, headline (city AQI, category, primary…), seconds."""
        return {
            "date": self.day.isoformat(),
            "directory": str(self.directory),
            "files": [str(p) for p in self.paths],
            "langs": list(self.langs),
            "headline": self.headline,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def _write(path: Path, data: bytes | str) -> None:
    """Write atomically (temporary file + rename): a reader never sees half a bulletin."""
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def _require_data(con: Any, day: dt.date) -> None:
    """Refuse a day the lake has no daily statistics for.

    A bulletin of such a day would be a full page of "no data" that looks published and
    official; refusing says what is missing and how to fill it (the daily DAG's task fails
    visibly instead of publishing an empty page).
    """
    from aircarbon.core.errors import IntervalRefused

    row = con.execute("SELECT count(*) FROM daily WHERE date = ?", [day]).fetchone()
    if not row or not row[0]:
        raise IntervalRefused(
            f"no bulletin for {day}: the lake has no daily data for that day (not processed "
            f"yet: `aircarbon process daily --date {day}`; or it had no data)"
        )


def write_bulletins(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    langs: Sequence[str] = ("zh", "en"),
    pdf: bool = False,
    output_dir: Path | None = None,
    lock_wait_s: float = 0.0,
    require_data: bool = True,
) -> BulletinResult:
    """Write the bulletins of local ``day`` under ``<data_dir>/bulletins/YYYY-MM-DD/``.

    Refuses (:class:`~aircarbon.core.errors.IntervalRefused`) a day without daily data;
    ``require_data=False`` renders it anyway, every section saying what is missing (for
    previews and tests of those sections, never for publication).

    Holds the data directory's writer lock (``lock_wait_s``: 0 fails at once naming the
    holder, scheduled tasks wait), so a bulletin never reads a day a reload is replacing.
    """
    from aircarbon.core.writer_lock import writer_lock

    with writer_lock(settings.data_dir, command=f"bulletin {day}", wait_s=lock_wait_s):
        return _write_bulletins(
            settings,
            catalog,
            day,
            langs=langs,
            pdf=pdf,
            output_dir=output_dir,
            require_data=require_data,
        )


def _write_bulletins(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    langs: Sequence[str],
    pdf: bool,
    output_dir: Path | None,
    require_data: bool,
) -> BulletinResult:
    from aircarbon.bulletin.charts import draw_charts
    from aircarbon.bulletin.data import build_context
    from aircarbon.bulletin.render import common, render_html, render_markdown, strings, write_pdf
    from warehouse.lake import connect

    t0 = time.perf_counter()
    for lang in langs:
        strings(lang)  # unknown languages fail before any work
    con = connect(settings, read_only=True)
    try:
        if require_data:
            _require_data(con, day)
        ctx = build_context(con, settings, catalog, day)
    finally:
        con.close()
    folder = (output_dir or settings.bulletins_dir) / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    result = BulletinResult(day=day, directory=folder, headline=ctx.headline(), langs=tuple(langs))
    for lang in langs:
        t = strings(lang)
        # pollutant codes as printed, PM components by their catalog names in the language
        names = {code: pair[0 if lang == "zh" else 1] for code, pair in ctx.names.items()}
        chart_labels = {**names, **common()["pollutant"], "other": t["chart_other"]}
        charts = draw_charts(ctx, lang, t, chart_labels)
        images: dict[str, str] = {}
        for name, png in charts.items():
            image = folder / f"bulletin.{lang}.{name}.png"
            _write(image, png)
            images[name] = image.name
            result.paths.append(image)
        html_path = folder / f"bulletin.{lang}.html"
        _write(html_path, render_html(ctx, lang, charts))
        md_path = folder / f"bulletin.{lang}.md"
        _write(md_path, render_markdown(ctx, lang, images))
        result.paths[:0] = [html_path, md_path]
        if pdf:
            pdf_path = folder / f"bulletin.{lang}.pdf"
            write_pdf(html_path, pdf_path)
            result.paths.append(pdf_path)
    result.elapsed_s = time.perf_counter() - t0
    log.info("bulletins of %s written to %s in %.1f s", day, folder, result.elapsed_s)
    return result
