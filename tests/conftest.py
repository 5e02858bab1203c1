"""Shared pytest fixtures. Broker fixtures live in ``tests/fixtures/brokers.py``,
the PostgreSQL ones in ``tests/fixtures/postgres.py``, the template lake (a migrated lake made
once per session and copied per test) in ``tests/fixtures/lakes.py``."""

pytest_plugins = ["tests.fixtures.brokers", "tests.fixtures.postgres", "tests.fixtures.lakes"]
