"""``aircarbon sql``: formats, read-only behaviour, the shell, and the CLI registration."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

import warehouse
from aircarbon.commands.sql import Shell, run
from aircarbon.core.catalog import load_catalog
from aircarbon.core.errors import AirCarbonError, WarehouseError
from aircarbon.core.settings import Settings
from tests.warehouse.conftest import HOUR, hourly_frame


@pytest.fixture
def loaded(settings: Settings, lake: duckdb.DuckDBPyConnection) -> Path:
    warehouse.load_dimensions(lake, load_catalog())
    warehouse.load_hour(lake, "hourly", hourly_frame(HOUR), HOUR)
    return settings.data_dir


def test_json_is_one_array_of_row_objects(loaded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("select count(*) as n from stations", fmt="json", data_dir=loaded) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": len(load_catalog().stations)}]
    run(
        "select station, ts, param from hourly order by station, param limit 1",
        fmt="json",
        data_dir=loaded,
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows == [{"station": "ST-00", "ts": "2026-11-24T10:00:00+00:00", "param": "o3"}]
    run(
        "select DATE '2026-11-24' as d, [1, 2] as l, '\\x41'::BLOB as b",
        fmt="json",
        data_dir=loaded,
    )
    assert json.loads(capsys.readouterr().out) == [{"d": "2026-11-24", "l": [1, 2], "b": "QQ=="}]


def test_csv_parquet_and_table(
    loaded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        "select station, value from hourly order by station, value limit 2",
        fmt="csv",
        data_dir=loaded,
    )
    assert capsys.readouterr().out.splitlines() == ["station,value", "ST-00,0", "ST-00,1"]
    out = tmp_path / "h.parquet"
    run("select * from hourly", fmt="parquet", output=out, data_dir=loaded)
    assert pl.read_parquet(out).height == 6
    csv_out = tmp_path / "h.csv"
    run("select * from hourly", fmt="csv", output=csv_out, data_dir=loaded)
    assert len(csv_out.read_text().splitlines()) == 7
    run("select * from hourly", fmt="table", max_rows=2, data_dir=loaded)
    text = capsys.readouterr().out
    assert "6 rows (showing the first 2" in text
    assert "TIMESTAMP" in text
    with pytest.raises(AirCarbonError, match="parquet needs --output"):
        run("select 1", fmt="parquet", data_dir=loaded)


def test_sql_is_read_only_and_errors_are_one_liners(loaded: Path) -> None:
    with pytest.raises(WarehouseError, match="refused: DELETE is not allowed") as info:
        run("delete from hourly", data_dir=loaded)
    assert "\n" not in str(info.value)
    with pytest.raises(WarehouseError, match="query failed: Parser Error"):
        run("selec 1", data_dir=loaded)
    with pytest.raises(WarehouseError, match="refused: COPY is not allowed"):
        run(f"copy (select 1) to '{loaded / 'x.csv'}'", data_dir=loaded)
    with pytest.raises(WarehouseError, match="no warehouse at"):
        run("select 1", data_dir=loaded / "missing")
    # DuckDB's hints stay, on the same line
    with pytest.raises(WarehouseError, match='Did you mean "daily"') as info:
        run("select * from dayly", data_dir=loaded)
    assert "\n" not in str(info.value)
    with pytest.raises(WarehouseError, match='Candidate bindings: "station"'):
        run("select statoin from daily", data_dir=loaded)


def test_shell_runs_statements_and_dot_commands(
    loaded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    con = warehouse.connect_readonly(loaded)
    script = io.StringIO(
        ".mode json\nselect count(*)\n  as n from hourly;\n"
        ".schema daily\nselec;\n.quit\nselect 2;\n"
    )
    assert Shell(con, stdin=script).loop() == 1  # one statement failed
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert json.loads(lines[0]) == [{"n": 6}]
    assert any(row["column_name"] == "date" for row in json.loads(lines[1]))
    assert "syntax error" in captured.err
    assert len(lines) == 2  # nothing after .quit


def test_analyst_helper(loaded: Path) -> None:
    from aircarbon.analyst import connect

    con = connect(loaded)
    assert con.sql("select count(*) from hourly").fetchone() == (6,)


@pytest.mark.integration
@pytest.mark.slow
def test_cli_subprocess(loaded: Path) -> None:
    env = {**os.environ, "AIRCARBON_DATA_DIR": str(loaded)}
    done = subprocess.run(
        [sys.executable, "-m", "aircarbon", "sql", "select count(*) as n from stations",
         "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": len(load_catalog().stations)}]
    bad = subprocess.run(
        [sys.executable, "-m", "aircarbon", "sql", "delete from hourly"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_schema_docs_are_current() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "schema_doc.py"), "--check"],
        capture_output=True, text=True, timeout=120, check=False, cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
