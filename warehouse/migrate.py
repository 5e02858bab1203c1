"""Schema migrations: named ``.sql`` files applied in order, each in its own transaction.

Why files and a ledger (the sqlite-utils way) rather than ``CREATE TABLE IF NOT EXISTS`` on
every start: a lake outlives releases, and an analyst's lake made by last month's release must
be upgraded in place — adding a column, a table, a view — exactly once. Each migration
``NNNN_name.sql`` runs inside one transaction together with its ledger row in
``schema_migrations``, so a failed migration leaves neither half a schema nor a claim that it
was applied. Applied migrations are never edited: a change is a new file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from aircarbon.core.errors import WarehouseError
from warehouse.lake import load_lock, read_sql, rollback, set_commit_message, warehouse_error

__all__ = ["MIGRATIONS_DIR", "Migration", "applied_migrations", "migrate", "migrations"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: ``version`` (``"0001"``), ``name`` (``"core"``) and its path."""

    version: str
    name: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a misnamed or duplicate version is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise WarehouseError(f"migration file {path.name!r} is not named NNNN_name.sql")
        version, name = match.groups()
        if version in found:
            raise WarehouseError(f"two migrations share version {version}")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Versions recorded in ``schema_migrations`` (empty for a new lake)."""
    try:
        row = con.execute(read_sql("ledger_exists")).fetchone()
        if not row or not row[0]:
            return []
        return [str(v) for (v,) in con.execute(read_sql("applied_migrations")).fetchall()]
    except duckdb.Error as exc:
        raise warehouse_error("cannot read schema_migrations", exc) from exc


def migrate(
    con: duckdb.DuckDBPyConnection,
    *,
    target: str | None = None,
    directory: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Apply the pending migrations (up to ``target`` inclusive); return their labels.

    Idempotent: a second call returns ``[]`` and changes nothing (not even a snapshot).
    Runs under the load lock, so two processes starting at once do not both migrate.
    """
    pending_all = migrations(directory)
    if target is not None and target not in {m.version for m in pending_all}:
        raise WarehouseError(f"no migration with version {target!r}")
    done: list[str] = []
    with load_lock(con):
        applied = set(applied_migrations(con))
        pending = [m for m in pending_all if m.version not in applied]
        if target is not None:
            pending = [m for m in pending if m.version <= target]
        if not pending:
            return done
        if not applied:
            _run_in_transaction(con, read_sql("schema_migrations"), "create schema_migrations")
        for migration in pending:
            sql = migration.path.read_text(encoding="utf-8")
            _run_in_transaction(
                con,
                sql,
                f"migration {migration.label}",
                ledger={"version": migration.version, "name": migration.name},
            )
            done.append(migration.label)
    return done


def _run_in_transaction(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    what: str,
    *,
    ledger: dict[str, str] | None = None,
) -> None:
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.Error as exc:
        raise warehouse_error(f"{what} failed", exc) from exc
    try:
        set_commit_message(con, what)
        con.execute(sql)
        if ledger is not None:
            con.execute(read_sql("record_migration"), ledger)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        rollback(con)
        raise warehouse_error(f"{what} failed", exc) from exc
