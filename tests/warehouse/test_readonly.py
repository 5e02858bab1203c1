"""Analyst sessions cannot change the lake: every attack of issue 15 is refused, nothing moves.

Each attack runs against a real DuckLake in ``tmp_path`` (SQLite catalog, Parquet files);
afterwards every table count and the hash of every file of the data directory (catalog and
Parquet) must be what it was before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import warehouse
from aircarbon.core.catalog import load_catalog
from aircarbon.core.errors import ReadOnlyViolation, WarehouseError
from aircarbon.core.settings import Settings, load_settings
from tests.warehouse.conftest import HOUR, hourly_frame
from warehouse.lake import open_session
from warehouse.readonly import ReadOnlySession, redact

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("hourly", "stations", "parameters", "load_log", "schema_migrations")


@pytest.fixture
def lake_dir(settings: Settings, lake: duckdb.DuckDBPyConnection) -> Path:
    """A lake with Parquet files (enough rows not to be inlined in the catalog)."""
    warehouse.load_dimensions(lake, load_catalog())
    for i in range(3):
        hour = HOUR + dt.timedelta(hours=i)
        warehouse.load_hour(lake, "hourly", hourly_frame(hour, stations=60), hour)
    lake.close()
    files = list((settings.data_dir / "warehouse").rglob("*.parquet"))
    assert files, "expected Parquet files in the lake"
    return settings.data_dir


def fingerprint(data_dir: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Hash of every file under the data directory (lock files aside) and the table counts."""
    hashes = {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }
    con = warehouse.connect(load_settings({}, data_dir=data_dir), read_only=True)
    try:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}  # type: ignore[index]
    finally:
        con.close()
    return hashes, counts


@pytest.fixture
def session(lake_dir: Path) -> Iterator[ReadOnlySession]:
    s = open_session(load_settings({}, data_dir=lake_dir))
    yield s
    s.close()


def attacks(data_dir: Path) -> list[tuple[str, str]]:
    """(SQL, what the refusal must name) — the issue's attacks and their relatives."""
    catalog = data_dir / "warehouse.sqlite"
    parquet = sorted((data_dir / "warehouse").rglob("*.parquet"))[0]
    return [
        (
            f"USE memory; DETACH aircarbon; ATTACH '{catalog}' AS cat (TYPE sqlite); "
            "DELETE FROM cat.ducklake_data_file",
            "USE",
        ),
        ("DETACH aircarbon", "DETACH"),
        (f"ATTACH '{catalog}' AS cat (TYPE sqlite)", "ATTACH"),
        (f"ATTACH 'ducklake:sqlite:{catalog}' AS cat2", "ATTACH"),
        (f"COPY (SELECT 1 AS a) TO '{parquet}' (FORMAT parquet)", "COPY"),
        (f"COPY hourly TO '{data_dir / 'warehouse' / 'x.csv'}'", "COPY"),
        (f"EXPORT DATABASE '{data_dir / 'warehouse' / 'export'}'", "EXPORT DATABASE"),
        (f"IMPORT DATABASE '{data_dir / 'warehouse'}'", ""),
        ("CALL ducklake_cleanup_old_files('aircarbon', cleanup_all => true)", "CALL"),
        (
            "SELECT * FROM ducklake_cleanup_old_files('aircarbon', cleanup_all => true)",
            "ducklake_cleanup_old_files",
        ),
        ("CALL ducklake_expire_snapshots('aircarbon', older_than => now())", "CALL"),
        ("CALL ducklake_merge_adjacent_files('aircarbon')", "CALL"),
        ("SELECT * FROM ducklake_flush_inlined_data('aircarbon')", "ducklake_flush_inlined_data"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        (f"SELECT * FROM read_blob('{catalog}')", "read_blob"),
        ("SELECT * FROM glob('/etc/*')", "glob"),
        ("FROM query('SELECT * FROM read_text(''/etc/hostname'')')", "query"),
        ("SELECT path FROM duckdb_databases()", "duckdb_databases"),
        ("SELECT * FROM duckdb_secrets()", "duckdb_secrets"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
        (
            "SELECT * FROM hourly WHERE station IN (SELECT * FROM read_text('/etc/hostname'))",
            "read_text",
        ),
        ("DELETE FROM hourly", "DELETE"),
        ("INSERT INTO hourly SELECT * FROM hourly", "INSERT"),
        ("UPDATE hourly SET value = 0", "UPDATE"),
        ("TRUNCATE hourly", "TRUNCATE"),
        ("DROP TABLE hourly", "DROP TABLE"),
        ("CREATE TABLE t AS SELECT 1", "CREATE TABLE"),
        ("CREATE TEMP TABLE t AS SELECT 1", "CREATE TEMP"),
        ("ALTER TABLE hourly ADD COLUMN x INT", "ALTER TABLE"),
        ("COMMENT ON TABLE hourly IS 'x'", "COMMENT"),
        ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "CREATE SECRET"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("RESET lock_configuration", "RESET"),
        ("SET VARIABLE x = 1", "SET"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("VACUUM", "VACUUM"),
        ("BEGIN TRANSACTION", "BEGIN"),
        ("PRAGMA enable_profiling", "PRAGMA"),
        ("EXPLAIN ANALYZE DELETE FROM hourly", "EXPLAIN DELETE"),
        ("PIVOT hourly ON param USING avg(value)", "PIVOT without IN"),
        ("MERGE INTO hourly USING hourly AS h ON (false) WHEN NOT MATCHED THEN INSERT", "MERGE"),
        ("SELECT 1; DELETE FROM hourly", "DELETE"),
        ("SUMMARIZE SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("DESCRIBE SELECT * FROM glob('/etc/*')", "glob"),
        ("PRAGMA database_list", "database_list"),
        ("SELECT * FROM pragma_database_list", "pragma_database_list"),
        ("SELECT path FROM system.main.duckdb_databases", "duckdb_databases"),
    ]


def test_every_attack_is_refused_and_the_lake_is_unchanged(
    lake_dir: Path, session: ReadOnlySession
) -> None:
    before = fingerprint(lake_dir)
    for sql, named in attacks(lake_dir):
        with pytest.raises(WarehouseError) as info:
            session.sql(sql)
        message = str(info.value)
        assert "\n" not in message, sql
        if named:
            assert isinstance(info.value, ReadOnlyViolation), (sql, message)
            assert named in message, (sql, message)
        # the session is still usable and still sees the same lake
        assert session.sql("select count(*) from hourly").fetchone() == (before[1]["hourly"],)
    assert fingerprint(lake_dir) == before


def test_reads_still_run(session: ReadOnlySession) -> None:
    n = session.sql("select count(*) from hourly").fetchone()
    assert n is not None
    assert n[0] > 0
    assert session.sql("with h as (select * from hourly) select count(*) from h").fetchone() == n
    assert session.execute("select count(*) from hourly where param = ?", ["pm25"]).fetchone()
    assert "column_name" in session.sql("describe hourly").columns
    assert len(session.sql("show tables")) > 0
    assert len(session.sql("summarize hourly")) > 0
    pivot = session.sql("pivot hourly on param in ('pm25', 'o3') using avg(value) group by station")
    assert set(pivot.columns) >= {"station", "pm25", "o3"}
    assert len(session.sql("explain select * from hourly")) > 0
    assert len(session.sql("from ducklake_snapshots('aircarbon')")) > 0
    assert len(session.sql("from series('ST-01', 'pm25')")) > 0  # a lake table macro
    assert session.sql("from range(3)").pl().height == 3
    assert len(session.sql("select * from information_schema.tables")) > 0
    assert len(session.sql("select * from duckdb_tables")) > 0  # an allowed system view
    assert len(session.sql("select 1; select 2")) == 1


@pytest.mark.integration
@pytest.mark.slow
def test_cli_refuses_the_issue_attacks_with_one_line(lake_dir: Path) -> None:
    before = fingerprint(lake_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["AIRCARBON_DATA_DIR"] = str(lake_dir)
    for sql, named in attacks(lake_dir)[:9]:
        done = subprocess.run(
            [sys.executable, "-m", "aircarbon", "sql", sql],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode != 0, (sql, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (sql, done.stderr)
        assert named in lines[0], (sql, lines[0])
    # the shell too: a piped script's refused statements fail it, the reads still print
    shell = subprocess.run(
        [sys.executable, "-m", "aircarbon", "sql", "--format", "csv"],
        input="DETACH aircarbon;\nselect count(*) as n from hourly;\n",
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shell.returncode == 1
    assert "refused: DETACH" in shell.stderr
    assert shell.stdout.splitlines()[0] == "n"
    assert fingerprint(lake_dir) == before


def test_the_session_never_hands_out_a_relation(session: ReadOnlySession) -> None:
    """A DuckDB relation could write files (``to_parquet``); results are materialised."""
    result = session.sql("select * from hourly limit 3")
    assert type(result).__name__ == "Result"
    for method in ("to_parquet", "write_csv", "insert_into", "create", "query"):
        assert not hasattr(result, method), method
    assert result.pl().height == 3
    assert result.df().shape[0] == 3
    assert len(result.fetchall()) == 3


def test_redact_masks_passwords() -> None:
    text = "cannot open ducklake:postgres:dbname=x host=h user=u password=hunter2 (x)"
    assert "hunter2" not in redact(text)
    assert "hunter2" not in redact("s3://key:hunter2@bucket/x")
    assert "topsecret" not in redact("value topsecret here", ["topsecret"])


def test_output_files_never_land_in_the_lake(lake_dir: Path, tmp_path: Path) -> None:
    from aircarbon.commands.sql import run
    from aircarbon.core.errors import AirCarbonError

    before = fingerprint(lake_dir)
    parquet = sorted((lake_dir / "warehouse").rglob("*.parquet"))[0]
    for target in (parquet, lake_dir / "warehouse" / "new.csv", lake_dir / "warehouse.sqlite"):
        with pytest.raises(AirCarbonError, match="inside the warehouse"):
            run("select 1 as a", fmt="parquet", output=target, data_dir=lake_dir)
    assert fingerprint(lake_dir) == before
    ok = tmp_path / "a.parquet"
    assert run("select 1 as a", fmt="parquet", output=ok, data_dir=lake_dir) == 0
    assert ok.is_file()


def test_the_connection_itself_is_read_only(lake_dir: Path, tmp_path: Path) -> None:
    """Layer (a), without the statement check: what DuckDB's own settings already refuse."""
    before = fingerprint(lake_dir)
    con = warehouse.connect(load_settings({}, data_dir=lake_dir), read_only=True)
    try:
        for sql, pattern in (
            ("DELETE FROM hourly", "read-only"),
            # the metadata catalog is attached read-only with the lake
            ("DELETE FROM __ducklake_metadata_aircarbon.ducklake_data_file", "read-only"),
            ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
            (f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'", "disabled by configuration"),
            ("SET enable_external_access = true", "configuration has been locked"),
        ):
            with pytest.raises(duckdb.Error, match=pattern):
                con.execute(sql)
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()
    assert fingerprint(lake_dir) == before
