"""Read-only in a deployment: a SELECT-only PostgreSQL role, no password on screen, s3 lakes.

PostgreSQL tests use the tests' own cluster (tests/fixtures/postgres.py); the role is made by
the deployment's own init script (docker/postgres/20-aircarbon-reader.sh) run with ``psql``.
The object-storage test uses moto's S3 server (tests/scale/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import warehouse
from aircarbon.core.duck import load_extension
from aircarbon.core.errors import ReadOnlyViolation, WarehouseError
from aircarbon.core.settings import load_settings
from tests.fixtures.postgres import pg_catalog
from tests.scale.conftest import S3Server, s3
from tests.warehouse.conftest import HOUR, hourly_frame
from warehouse.lake import _libpq, open_session

__all__ = ["pg_catalog", "s3"]  # fixtures used below

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "docker" / "postgres" / "20-aircarbon-reader.sh"
PASSWORD = "not-a-placeholder-8f3a"


def _psql_env(conn: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PGHOST": conn.get("host", "127.0.0.1"),
        "PGPORT": conn.get("port", "5432"),
        "POSTGRES_USER": conn.get("user", "postgres"),
    }


@pytest.fixture
def reader_role(pg_catalog: str) -> Iterator[tuple[str, str]]:
    """The deployment's init script run on the test database: (catalog spec, reader role)."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed: cannot run docker/postgres/20-aircarbon-reader.sh")
    conn = _libpq(pg_catalog.split(":", 1)[1])
    role = f"aircarbon_reader_{uuid.uuid4().hex[:8]}"
    env = {
        **_psql_env(conn),
        "AIRCARBON_LAKE_DB": conn["dbname"],
        "AIRCARBON_WAREHOUSE_READER_USER": role,
        "AIRCARBON_WAREHOUSE_READER_PASSWORD": PASSWORD,
    }
    done = subprocess.run(["sh", str(INIT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    try:
        yield pg_catalog, role
    finally:
        for sql in (f'DROP OWNED BY "{role}"', f'DROP ROLE IF EXISTS "{role}"'):
            subprocess.run(
                ["psql", "-v", "ON_ERROR_STOP=1", "-d", conn["dbname"], "-U", "postgres",
                 "-c", sql],
                env=_psql_env(conn), capture_output=True, text=True, check=False,
            )  # fmt: skip


def test_init_script_refuses_a_placeholder_password(pg_catalog: str) -> None:
    conn = _libpq(pg_catalog.split(":", 1)[1])
    env = {
        **_psql_env(conn),
        "AIRCARBON_LAKE_DB": conn["dbname"],
        "AIRCARBON_WAREHOUSE_READER_PASSWORD": "change-me-reader",
    }
    done = subprocess.run(["sh", str(INIT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "placeholder" in done.stderr


def test_sessions_read_as_the_select_only_role(
    tmp_path: Path, reader_role: tuple[str, str]
) -> None:
    catalog, role = reader_role
    # the writer (the catalog's owner) creates and loads the lake after the role exists,
    # as in a deployment: default privileges make the new tables readable
    writer_spec = catalog + f" password={PASSWORD}-writer"
    settings = load_settings({}, data_dir=tmp_path / "data", warehouse_catalog=writer_spec)
    con = warehouse.connect(settings)
    warehouse.migrate(con)
    warehouse.load_hour(con, "hourly", hourly_frame(HOUR, stations=40), HOUR)
    con.close()

    reader = settings.with_overrides(warehouse_reader_user=role, warehouse_reader_password=PASSWORD)
    session = open_session(reader)
    try:
        assert session.sql("select count(*) from hourly").fetchone() == (80,)
        with pytest.raises(ReadOnlyViolation, match="duckdb_databases"):
            session.sql("select path from duckdb_databases()")
        with pytest.raises(ReadOnlyViolation, match="DELETE"):
            session.sql("delete from hourly")
    finally:
        session.close()

    # below every DuckDB layer, the server itself refuses the role any change
    raw = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        load_extension(raw, "postgres_scanner")
        conninfo = catalog.split(":", 1)[1]
        raw.execute(f"ATTACH '{conninfo} user={role} password={PASSWORD}' AS pg (TYPE postgres)")
        assert raw.execute("select count(*) from pg.public.ducklake_data_file").fetchone()
        with pytest.raises(duckdb.Error, match=r"(?i)permission denied"):
            raw.execute("delete from pg.public.ducklake_data_file")
        with pytest.raises(duckdb.Error, match=r"(?i)permission denied"):
            raw.execute("create table pg.public.evil (a int)")
    finally:
        raw.close()


def test_the_catalog_password_is_never_shown(tmp_path: Path, pg_catalog: str) -> None:
    secret = "hunter2-catalog-pw"
    settings = load_settings(
        {}, data_dir=tmp_path / "data", warehouse_catalog=f"{pg_catalog} password={secret}"
    )
    con = warehouse.connect(settings)
    warehouse.migrate(con)
    con.close()
    # even the internal read-only connection keeps it out of the attached path
    raw = warehouse.connect(settings, read_only=True)
    try:
        shown = raw.execute("select path, options::varchar from duckdb_databases()").fetchall()
        secrets = raw.execute("select secret_string from duckdb_secrets()").fetchall()
    finally:
        raw.close()
    assert secret not in repr(shown)
    assert secret not in repr(secrets)
    session = open_session(settings)
    try:
        with pytest.raises(ReadOnlyViolation):
            session.sql("select * from duckdb_secrets()")
    finally:
        session.close()
    # a catalog that cannot be opened: the error names it without the password
    broken = settings.with_overrides(
        warehouse_catalog=f"{pg_catalog.replace('dbname=', 'dbname=missing_')} password={secret}"
    )
    with pytest.raises(WarehouseError) as info:
        open_session(broken)
    assert "cannot open the warehouse" in str(info.value)
    assert secret not in str(info.value)


def test_s3_lake_sessions_cannot_touch_local_files(tmp_path: Path, s3: S3Server) -> None:
    env = {**s3.env(), "AIRCARBON_WAREHOUSE_DATA": f"s3://{s3.bucket}/warehouse/"}
    settings = load_settings(env, data_dir=tmp_path / "data")
    con = warehouse.connect(settings)
    warehouse.migrate(con)
    warehouse.load_hour(con, "hourly", hourly_frame(HOUR, stations=40), HOUR)
    con.close()
    local = tmp_path / "local.csv"
    local.write_text("a\n1\n", encoding="utf-8")
    # layer (a): the raw read-only connection reaches the bucket's lake and nothing local
    raw = warehouse.connect(settings, read_only=True)
    try:
        assert raw.execute("select count(*) from hourly").fetchone() == (80,)
        for sql in (
            "select * from read_csv('/etc/passwd')",
            f"select * from read_csv('{local}')",
            f"copy (select 1) to '{tmp_path / 'out.csv'}'",
        ):
            with pytest.raises(duckdb.Error, match=r"(?i)disabled by configuration|permission"):
                raw.execute(sql)
    finally:
        raw.close()
    assert not (tmp_path / "out.csv").exists()
    # layer (b): the session refuses them by name before DuckDB sees them
    session = open_session(settings)
    try:
        with pytest.raises(ReadOnlyViolation, match="read_csv"):
            session.sql("select * from read_csv('/etc/passwd')")
        assert s3.env()["AIRCARBON_WAREHOUSE_S3_SECRET"] not in repr(
            session.sql("from duckdb_tables()").fetchall()
        )
    finally:
        session.close()
