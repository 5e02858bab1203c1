"""The PostgreSQL fixture runs a cluster of its own where Debian's binaries are installed."""

from __future__ import annotations

import pytest

from tests.fixtures.postgres import PostgresServer, debian_bindir

pytestmark = [pytest.mark.integration]


def test_own_cluster_when_the_binaries_exist(postgres_server: PostgresServer) -> None:
    if debian_bindir() is None:
        assert postgres_server.port == 5432  # the documented fallback: the machine's server
        return
    assert postgres_server.port != 5432, "the tests must not use the machine's server"
    admin = postgres_server.admin()
    try:
        rows = admin.execute(
            "select * from postgres_query('pg', 'select setting from pg_settings "
            "where name = ''data_directory''')"
        ).fetchall()
    finally:
        admin.close()
    assert rows[0][0].startswith("/tmp/aircarbon-pg-"), rows  # not /var/lib/postgresql
    assert "test cluster" in postgres_server.origin


def test_a_fresh_database_per_test(postgres_server: PostgresServer, postgres_db: str) -> None:
    admin = postgres_server.admin()
    try:
        names = admin.execute(
            "select * from postgres_query('pg', 'select datname from pg_database')"
        ).fetchall()
    finally:
        admin.close()
    assert (postgres_db,) in names
