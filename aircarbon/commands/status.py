"""``aircarbon status``: the live ingest health of a running collector (docs/contract.md §2.2).

Asks the collector's own health server (``/api/stations``, see ``ingest/health_server.py``)
rather than reading files, because only the running process knows what is happening *now*:
connection state, queue depth, stations gone silent. Uses :mod:`urllib` so the command adds
no dependency and starts fast.

Exit code: 0 when the collector reports itself healthy, 1 when it is degraded (so scripts and
cron jobs can branch on it); an unreachable collector raises
:class:`~aircarbon.core.errors.AirCarbonError`, which the CLI turns into a one-line message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from aircarbon.core.errors import AirCarbonError

__all__ = ["fetch_document", "render_table", "run"]

_TIMEOUT_S = 5.0
_HEALTH_STYLE = {"ok": "green", "degraded": "yellow", "silent": "bold red"}


def _base_url(url: str | None) -> str:
    if url is None:
        from aircarbon.core.settings import load_settings

        settings = load_settings()
        host = settings.health_host
        if host in {"0.0.0.0", "::", ""}:  # a wildcard bind is reached via loopback
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        url = f"http://{host}:{settings.health_port}"
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    return url.removesuffix("/api/stations")


def fetch_document(url: str | None = None, *, timeout: float = _TIMEOUT_S) -> dict[str, Any]:
    """The ``/api/stations`` document of the collector at ``url`` (default: from settings)."""
    base = _base_url(url)
    endpoint = f"{base}/api/stations"
    request = urllib.request.Request(endpoint, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        msg = f"no collector answering at URL: {base} (HTTP {exc.code} from {endpoint})"
        raise AirCarbonError(msg) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", exc)
        msg = f"no collector answering at URL: {base} ({why})"
        raise AirCarbonError(msg) from exc
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as exc:
        msg = f"no collector answering at URL: {base} (not a health document: {exc})"
        raise AirCarbonError(msg) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("stations"), list):
        msg = f"no collector answering at URL: {base} (not a health document)"
        raise AirCarbonError(msg)
    return doc


def _is_degraded(doc: dict[str, Any]) -> bool:
    if "status" in doc:
        return bool(doc["status"] != "ok")
    # an older collector without the overall status: judge from the stations
    return not doc.get("connected", False) or any(s.get("health") != "ok" for s in doc["stations"])


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {(s % 3600) // 60} min"
    return f"{s // 86400} d {(s % 86400) // 3600} h"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) < 1:
        return f"{value * 1000:.0f} ms"
    if abs(value) < 120:
        return f"{value:.1f} s"
    return _ago(value)


def _reasons(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{total} ({parts})"


def _queue(doc: dict[str, Any]) -> str:
    depth, capacity = doc.get("queue_depth", 0), doc.get("queue_capacity")
    return f"{depth:,}/{capacity:,} batches" if capacity else f"{depth:,} batches"


def render_table(doc: dict[str, Any]) -> None:
    """Print the document as a rich table, one row per station, coloured by health."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    now = float(doc.get("now") or time.time())
    degraded = _is_degraded(doc)
    network = doc.get("network") or {}
    title = "Ingest health"
    if network.get("name_en"):
        title += f" — {network['name_en']} {network.get('name_zh', '')}".rstrip()
    console = Console()
    # 13 columns need ~150 characters; at a terminal's usual 80 the table folds every cell
    # into an unreadable column of fragments, so narrow terminals get the columns that
    # answer "is anything wrong, and where" and the counts go to the totals line.
    wide = console.width >= 140
    table = Table(title=title, header_style="bold", expand=False)
    columns = (
        ("station", "state", "health", "last seen", "msgs/min", "rdgs/min", "lag", "seq gaps",
         "late", "dups", "dead letters", "missing", "alerts")
        if wide
        else ("station", "health", "last seen", "rdgs/min", "lag", "dead", "alerts")
    )  # fmt: skip
    numeric = {"msgs/min", "rdgs/min", "lag", "seq gaps", "late", "dups", "missing", "dead"}
    for col in columns:
        table.add_column(
            col,
            justify="right" if col in numeric else "left",
            overflow="fold",
            no_wrap=col in {"station", "health", "last seen", "lag"},
        )
    for s in doc["stations"]:
        health = str(s.get("health", "?"))
        style = _HEALTH_STYLE.get(health, "")
        last_seen = s.get("last_seen")
        name = s.get("name_zh") or ""
        alerts = Text("; ".join(s.get("alerts") or []), style=style if health != "ok" else "")
        seen = _ago(None if last_seen is None else now - float(last_seen))
        dead = s.get("dead_letters") or {}
        cells: list[str | Text] = (
            [
                Text(f"{s['station']} {name}".rstrip()),
                str(s.get("state", "?")),
                Text(health, style=style),
                seen,
                str(s.get("messages_per_min", 0)),
                str(s.get("readings_per_min", 0)),
                _secs(s.get("lag_s")),
                str(s.get("seq_gaps", 0)),
                str(s.get("late", 0)),
                str(s.get("duplicates", 0)),
                _reasons(dead),
                str(len(s.get("params_missing") or [])),
                alerts,
            ]
            if wide
            else [
                Text(str(s["station"])),
                Text(health, style=style),
                seen,
                str(s.get("readings_per_min", 0)),
                _secs(s.get("lag_s")),
                str(sum(dead.values())),
                alerts,
            ]
        )
        table.add_row(*cells, style="red" if health == "silent" else None)
    console.print(table)
    status = Text("DEGRADED", style="bold red") if degraded else Text("OK", style="bold green")
    totals = Text.assemble(
        "status ",
        status,
        f" · broker {'connected' if doc.get('connected') else 'DISCONNECTED'}",
        f" · messages {doc.get('messages_total', 0):,}",
        f" · readings {doc.get('readings_total', 0):,}",
        f" · duplicates {doc.get('duplicates_total', 0):,}",
        f" · dead letters {_reasons(doc.get('dead_letters_total') or {})}",
        f" · pending acks {doc.get('pending_acks', 0):,}",
        f" · writer queue {_queue(doc)}",
    )
    console.print(totals)
    for reason in doc.get("reasons") or []:
        console.print(Text(f"  ! {reason.get('message', reason)}", style="red"))


def run(*, url: str | None, as_json: bool) -> int:
    """Fetch and print the health document; 0 when healthy, 1 when degraded."""
    doc = fetch_document(url)
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        render_table(doc)
    return 1 if _is_degraded(doc) else 0
