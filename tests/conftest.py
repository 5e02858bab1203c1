"""Shared pytest fixtures. Broker fixtures live in ``tests/fixtures/brokers.py``,
the PostgreSQL one in ``tests/fixtures/postgres.py``."""

pytest_plugins = ["tests.fixtures.brokers", "tests.fixtures.postgres"]
