"""Shared pytest fixtures. Broker fixtures live in ``tests/fixtures/brokers.py``."""

pytest_plugins = ["tests.fixtures.brokers"]
