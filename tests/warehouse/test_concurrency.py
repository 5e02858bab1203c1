"""Two processes at once: a loader committing hours while a reader queries (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import warehouse
from aircarbon.core.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _run_pair(
    data_dir: Path, env: dict[str, str], seconds: float = 8.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    full = {**os.environ, **env}
    # migrate first, so the reader can attach read-only from its first query
    con = warehouse.connect(load_settings(full, data_dir=data_dir))
    warehouse.migrate(con)
    con.close()
    cmd = [sys.executable, "-m", "tests.warehouse.lake_worker"]

    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*cmd, role, str(data_dir), str(seconds)],
            cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    loader, reader = start("load"), start("query")
    results = []
    for proc in (loader, reader):
        out, err = proc.communicate(timeout=seconds + 180)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results[0], results[1]


def _check(load: dict[str, Any], query: dict[str, Any]) -> None:
    assert load["errors"] == []
    assert query["errors"] == []
    assert load["done"] >= 3, load
    assert query["done"] >= 5, query  # low bars: CI machines are busy
    assert query["monotonic"], query
    assert query["last"] > query["first"], query  # the reader saw new hours arrive


def test_loader_and_reader_processes_on_sqlite(tmp_path: Path) -> None:
    load, query = _run_pair(tmp_path / "data", {})
    _check(load, query)


def test_loader_and_reader_processes_on_postgres(tmp_path: Path, pg_catalog: str) -> None:
    load, query = _run_pair(tmp_path / "data", {"AIRCARBON_WAREHOUSE_CATALOG": pg_catalog})
    _check(load, query)


def test_postgres_catalog_migrates_and_loads(tmp_path: Path, pg_catalog: str) -> None:
    from tests.warehouse.conftest import HOUR, hourly_frame

    settings = load_settings({}, data_dir=tmp_path / "data", warehouse_catalog=pg_catalog)
    con = warehouse.connect(settings)
    assert warehouse.migrate(con)
    assert warehouse.migrate(con) == []
    a = warehouse.load_hour(con, "hourly", hourly_frame(HOUR), HOUR)
    b = warehouse.load_hour(con, "hourly", hourly_frame(HOUR), HOUR)
    assert (a.rows, a.checksum) == (b.rows, b.checksum)
    reader = warehouse.connect(settings, read_only=True)
    assert reader.execute("select count(*) from hourly").fetchone() == (6,)
    missing = reader.execute(
        "select count(*) from duckdb_columns() c join duckdb_tables() t "
        "using (database_name, schema_name, table_name) "
        "where database_name = 'aircarbon' and c.comment is null"
    ).fetchone()
    assert missing == (0,)
    reader.close()
    con.close()
