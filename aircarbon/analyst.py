"""The analysts' door to the warehouse: ``aircarbon.analyst.connect()``.

Returns a read-only DuckDB connection with the DuckLake attached as ``aircarbon`` and made the
default database, so tables are named bare::

    from aircarbon.analyst import connect

    con = connect()                      # settings from AIRCARBON_* / AIRCARBON_CONFIG
    con.sql("select station, date, aqi, category from aqi_daily order by date").pl()
    con.sql("from series('SY-TX-01', 'pm25')").df()

Read-only because analysts share the lake with the loaders, twice over: the lake is
attached with DuckLake's READ_ONLY option (as the deployment's read-only PostgreSQL role when
one is configured) with file access outside it switched off, and every statement is checked
with DuckDB's own parser before it runs (reads only; ATTACH, COPY, USE, SET, DuckLake
maintenance and writes are refused naming the statement). Results come back materialised
(``.pl()``, ``.df()``, ``.arrow()``, ``.fetchall()``). Any number of these sessions may run,
in any process, while loads go on (see docs/warehouse.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.readonly import ReadOnlySession

__all__ = ["connect"]


def connect(data_dir: Path | str | None = None) -> ReadOnlySession:
    """A read-only session on the lake; ``data_dir`` overrides ``AIRCARBON_DATA_DIR``."""
    from warehouse.lake import connect_readonly

    return connect_readonly(data_dir)
