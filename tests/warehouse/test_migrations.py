"""Migrations: apply to an empty lake, re-run as a no-op, upgrade in place, comment everything."""

from __future__ import annotations

import duckdb
import pytest

import warehouse
from aircarbon.core.errors import WarehouseError
from aircarbon.core.settings import Settings
from warehouse.migrate import migrations

EXPECTED_TABLES = {
    "stations",
    "parameters",
    "readings",
    "hourly",
    "daily",
    "aqi_hourly",
    "aqi_daily",
    "indicators_daily",
    "validation_runs",
    "dead_letter",
    "forecasts",
    "warnings",
    "forecast_models",
    "forecast_skill",
    "load_log",
    "schema_migrations",
}


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() where database_name = 'aircarbon'"
    ).fetchall()
    return {r[0] for r in rows}


def _snapshot_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from ducklake_snapshots('aircarbon')").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
def test_migrations_apply_to_an_empty_lake_and_rerun_is_a_noop(settings: Settings) -> None:
    con = warehouse.connect(settings)
    applied = warehouse.migrate(con)
    assert applied == [m.label for m in migrations()]
    assert _tables(con) >= EXPECTED_TABLES
    snapshots = _snapshot_count(con)
    assert warehouse.migrate(con) == []
    assert _snapshot_count(con) == snapshots  # a no-op commits nothing
    con.close()
    again = warehouse.connect(settings)  # a new process sees the same ledger
    assert warehouse.migrate(again) == []
    assert warehouse.applied_migrations(again) == [m.version for m in migrations()]


@pytest.mark.slow
def test_upgrade_from_the_previous_version(settings: Settings) -> None:
    versions = [m.version for m in migrations()]
    assert len(versions) >= 2
    con = warehouse.connect(settings)
    first = warehouse.migrate(con, target=versions[0])
    assert first == [migrations()[0].label]
    assert "indicators_daily" not in _tables(con)
    # data loaded under the old schema survives the upgrade
    con.execute("insert into daily values ('ST-00', 'pm25', DATE '2026-11-24', 35.0, 24, true)")
    rest = warehouse.migrate(con)
    assert rest == [m.label for m in migrations()[1:]]
    assert _tables(con) >= EXPECTED_TABLES
    assert con.execute("select count(*) from daily").fetchone() == (1,)
    assert warehouse.applied_migrations(con) == versions


def test_every_column_of_every_table_has_a_comment(lake: duckdb.DuckDBPyConnection) -> None:
    tables = lake.execute(
        "select table_name, comment from duckdb_tables() where database_name = 'aircarbon'"
    ).fetchall()
    assert {t for t, _ in tables} >= EXPECTED_TABLES
    assert [t for t, c in tables if not c] == []
    missing = lake.execute(
        "select table_name || '.' || column_name from duckdb_columns() c "
        "join duckdb_tables() t using (database_name, schema_name, table_name) "
        "where database_name = 'aircarbon' and (c.comment is null or c.comment = '')"
    ).fetchall()
    assert missing == []


def test_views_and_macros_persist_in_the_lake(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    reader = warehouse.connect(settings, read_only=True)
    views = reader.execute(
        "select view_name, comment from duckdb_views() where database_name = 'aircarbon'"
    ).fetchall()
    assert ("latest_aqi", "The most recent hourly AQI of each station.") in views
    assert reader.execute("select count(*) from exceedance_days('pm25', 75)").fetchone() == (0,)
    assert reader.execute("select count(*) from series('X', 'pm25')").fetchone() == (0,)


def test_a_failed_migration_leaves_nothing_behind(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "migrations"
    bad.mkdir()
    (bad / "0001_good.sql").write_text("CREATE TABLE good (a INTEGER);")
    (bad / "0002_bad.sql").write_text("CREATE TABLE half (a INTEGER); SELECT * FROM nowhere;")
    con = warehouse.connect(settings)
    with pytest.raises(WarehouseError, match="migration 0002_bad failed"):
        warehouse.migrate(con, directory=bad)
    assert warehouse.applied_migrations(con) == ["0001"]
    assert "half" not in _tables(con)
    assert "good" in _tables(con)


def test_misnamed_migration_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "1_core.sql").write_text("select 1;")
    with pytest.raises(WarehouseError, match=r"NNNN_name\.sql"):
        migrations(tmp_path)
