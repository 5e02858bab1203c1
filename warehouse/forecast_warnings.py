"""The latest forecast issue's warnings, read from the lake read-only.

Lives with the lake so the collector's health page (``/api/warnings``) can be handed a reader
by its command without ingest importing the forecast pipeline: the command passes
``functools.partial(latest_warnings, settings)`` with the collector's own settings, so the
panel reads the lake of ``collect --data-dir`` and not the default one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aircarbon.core.errors import WarehouseError
from aircarbon.core.settings import Settings

__all__ = ["NO_WARNINGS", "latest_warnings"]

#: The answer while no lake or no issue exists yet.
NO_WARNINGS: dict[str, Any] = {"issued_date": None, "warnings": []}

_NAMES = ("station", "kind", "level", "start_date", "end_date", "days", "max_aqi",
          "max_value", "reason", "reason_zh", "model_version", "method")  # fmt: skip


def latest_warnings(settings: Settings) -> dict[str, Any]:
    """``{"issued_date": ISO date or None, "warnings": [...]}`` of the latest issue.

    Empty when the lake or its 0008 tables do not exist yet (a collector starts before the
    first forecast); a lake that cannot be opened raises :class:`WarehouseError` only when
    its catalog exists.
    """
    from warehouse.lake import connect

    catalog = str(settings.lake_catalog)
    if catalog.startswith("sqlite:") and not Path(catalog.removeprefix("sqlite:")).is_file():
        return dict(NO_WARNINGS)
    try:
        con = connect(settings, read_only=True)
    except WarehouseError:
        return dict(NO_WARNINGS)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "warnings" not in tables or "forecasts" not in tables:
            return dict(NO_WARNINGS)
        last = con.execute("SELECT max(issued_date) FROM forecasts").fetchone()
        if last is None or last[0] is None:
            return dict(NO_WARNINGS)
        rows = con.execute(
            f"SELECT {', '.join(_NAMES)} FROM warnings WHERE issued_date = ? "
            "ORDER BY start_date, station",
            [last[0]],
        ).fetchall()
    finally:
        con.close()
    out = [
        {
            k: (v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in zip(_NAMES, r, strict=True)
        }
        for r in rows
    ]
    return {"issued_date": last[0].isoformat(), "warnings": out}
