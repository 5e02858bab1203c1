"""A self-contained HTML page of recent validation runs: readable offline.

One page for all suites, readable anywhere (mail it, open it on a phone): inline CSS, no
script and no external URL (the Data Docs work offline too, see
``expectations.data_docs_offline``, but need their whole folder and JavaScript). It reads
the interim ``validation_runs`` Parquet store and links each run to its Data Docs page
(relative links, so the ``gx/`` folder can be copied or served as a whole).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path

import polars as pl

from expectations._gx import gx_root
from expectations.runner import read_validation_runs

__all__ = ["summary_path", "write_summary"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right}
.ok{color:#176c2e}.warning{color:#9a6700}.critical{color:#b3261e;font-weight:600}
ul{margin:0;padding-left:1rem}small{color:#666}
"""


def summary_path(data_dir: Path) -> Path:
    """``<data_dir>/gx/summary.html``, next to GX's ``uncommitted/data_docs``."""
    return gx_root(data_dir) / "summary.html"


def write_summary(data_dir: Path, *, limit: int = 100) -> Path:
    """Write the summary of the newest ``limit`` runs; its path (atomic replace)."""
    runs = read_validation_runs(data_dir).head(limit)
    out = summary_path(data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(render(runs, base=out.parent), encoding="utf-8")
    tmp.replace(out)
    return out


def render(runs: pl.DataFrame, *, base: Path) -> str:
    """The page for ``runs`` (``validation_runs`` rows); links relative to ``base``."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(_row(r, base) for r in runs.iter_rows(named=True))
    counts = {level: runs.filter(_level(level)).height for level in ("ok", "warning", "critical")}
    head = " · ".join(f'<span class="{k}">{v} {k}</span>' for k, v in counts.items())
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>AirCarbon validation runs</title>"
        f"<style>{_CSS}</style></head><body>\n"
        f"<h1>Validation runs</h1><p>{runs.height} most recent runs: {head}. "
        f"<small>Generated {now}.</small></p>\n"
        "<table><tr><th>started (UTC)</th><th>suite</th><th>batch</th><th>status</th>"
        "<th>evaluated</th><th>failed</th><th>failed expectations</th><th>docs</th></tr>\n"
        f"{rows}\n</table></body></html>\n"
    )


def _level(level: str) -> pl.Expr:
    if level == "ok":
        return pl.col("severity_max").is_null()
    return pl.col("severity_max") == level


def _row(r: dict[str, object], base: Path) -> str:
    level = str(r["severity_max"] or "ok")
    failed = json.loads(str(r["failed_expectations"] or "[]"))
    items = "".join(
        "<li class={cls}>{exp}({col}){cond}: {n} <small>({pct})</small></li>".format(
            cls=html.escape(str(f.get("severity"))),
            exp=html.escape(str(f.get("expectation"))),
            col=html.escape(str(f.get("column") or "")),
            cond=html.escape(f" where {f['condition']}") if f.get("condition") else "",
            n=html.escape(str(f.get("unexpected_count"))),
            pct=html.escape(
                f"{f['unexpected_percent']:.3g} %"
                if isinstance(f.get("unexpected_percent"), int | float)
                else "n/a"
            ),
        )
        for f in failed
    )
    docs = r.get("docs_path")
    link = ""
    if docs:
        rel = os.path.relpath(str(docs), base)
        link = f'<a href="{html.escape(Path(rel).as_posix())}">Data Docs</a>'
    started = r["started_at"]
    when = started.strftime("%Y-%m-%d %H:%M:%S") if isinstance(started, dt.datetime) else ""
    return (
        f"<tr><td>{when}</td><td>{html.escape(str(r['suite']))}</td>"
        f"<td>{html.escape(str(r['batch']))}</td><td class={level}>{level}</td>"
        f"<td class=n>{r['evaluated']}</td><td class=n>{r['unsuccessful']}</td>"
        f"<td><ul>{items}</ul></td><td>{link}</td></tr>"
    )
