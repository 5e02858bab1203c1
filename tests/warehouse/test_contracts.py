"""Each dataset's contract (aircarbon/core/contracts.py) against the migrated lake.

The contracts are declared once; the migrations write the same shapes in SQL. This test is
what keeps the two from drifting: every contract column is a lake column of the type DuckDB
gives the contract's Arrow form, and the lake has no column the contract does not declare.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl
import pytest

import warehouse
from aircarbon.core import contracts
from aircarbon.core.settings import load_settings
from ingest.batch import READING_COLUMNS, reading_schema
from ingest.dead_letter import dead_letter_schema


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """One lake migrated to the newest version, read by every test of the module."""
    settings = load_settings({}, data_dir=tmp_path_factory.mktemp("contracts") / "data")
    con = warehouse.connect(settings)
    warehouse.migrate(con)
    yield con
    con.close()


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {relation}").fetchall()]


@pytest.mark.parametrize("table", sorted(contracts.LAKE_TABLES))
def test_contract_matches_the_migrated_lake(
    migrated: duckdb.DuckDBPyConnection, table: str
) -> None:
    schema = contracts.LAKE_TABLES[table]
    migrated.register("contract_empty", pl.DataFrame(schema=schema).to_arrow())
    try:
        declared = _columns(migrated, "contract_empty")
    finally:
        migrated.unregister("contract_empty")
    stored = _columns(migrated, table)
    assert [name for name, _ in stored] == [name for name, _ in declared]
    # Polars exports strings as string views; DuckDB reads both as VARCHAR
    assert stored == declared


def test_every_lake_table_of_a_contract_is_listed(migrated: duckdb.DuckDBPyConnection) -> None:
    """A table loaded from frames the transforms make must have its contract here."""
    tables = {
        str(r[0])
        for r in migrated.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'aircarbon'"
        ).fetchall()
    }
    assert set(contracts.LAKE_TABLES) <= tables


def test_raw_store_columns_follow_the_contract() -> None:
    """The collector's hot path keeps its own column tuple; it must be the contract's order."""
    assert tuple(contracts.RAW) == READING_COLUMNS
    arrow = reading_schema()
    assert arrow.names == list(contracts.RAW)
    assert [f.name for f in arrow if f.nullable] == sorted(contracts.RAW_NULLABLE)
    # spelled out in ingest (no polars in the collector), equal to the contract's Arrow form
    assert arrow.equals(contracts.arrow_schema(contracts.RAW, nullable=contracts.RAW_NULLABLE))
    back = pl.from_arrow(arrow.empty_table())
    assert isinstance(back, pl.DataFrame)
    assert back.schema == contracts.RAW


def test_dead_letter_store_follows_the_contract() -> None:
    arrow = dead_letter_schema()
    back = pl.from_arrow(arrow.empty_table())
    assert isinstance(back, pl.DataFrame)
    assert back.schema == contracts.DEAD_LETTER
    assert {f.name for f in arrow if f.nullable} == contracts.DEAD_LETTER_NULLABLE
    assert arrow.equals(
        contracts.arrow_schema(contracts.DEAD_LETTER, nullable=contracts.DEAD_LETTER_NULLABLE)
    )


def test_validation_results_are_the_table_without_outcome() -> None:
    assert list(contracts.VALIDATION_RESULTS) == [
        c for c in contracts.VALIDATION_RUNS if c != "outcome"
    ]
