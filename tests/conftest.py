"""Shared pytest fixtures. Broker fixtures live in ``tests/fixtures/brokers.py``,
the PostgreSQL ones in ``tests/fixtures/postgres.py``, the template lake (a migrated lake made
once per session and copied per test) in ``tests/fixtures/lakes.py``, the template demo (one
``aircarbon demo`` per session, copied per module that runs the docs on it) in
``tests/fixtures/demo.py``.

``make test`` runs the suite on pytest-xdist workers (``-n 2 --dist loadgroup``), each a
pytest session of its own: a session fixture is built once *per worker* that needs it. The
expensive ones are listed in ``SHARED_BY_GROUP``; every test that uses one is put in that
fixture's xdist group, so all of them run on one worker and it is built once.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

pytest_plugins = [
    "tests.fixtures.brokers",
    "tests.fixtures.postgres",
    "tests.fixtures.lakes",
    "tests.fixtures.demo",
]

# No timed assertions (the project's rule): Hypothesis's default deadline of 200 ms per example
# fails a test on a busy machine (tests/ingest/test_hj212.py: 470 ms at load 28), and two
# xdist workers keep the machine busier. A test's own @settings still win.
settings.register_profile("aircarbon", deadline=None)
settings.load_profile("aircarbon")

#: Session fixture -> the xdist group of the tests that use it (built once, on one worker).
SHARED_BY_GROUP = {
    "demo_template": "demo",  # `aircarbon demo`: 1 min idle, 4 min at load 14
    "lake_settings": "bulletin_lake",  # tests/bulletin: two simulated days processed
    "airflow_env": "airflow_home",  # tests/dags: `airflow db migrate` of a SQLite metadata DB
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put each test that uses an expensive session fixture in that fixture's xdist group;
    on an xdist worker, hand out the slow and integration tests first.

    xdist's loadgroup hands out the groups largest first, then the other tests in collection
    order as workers free up: a 10-minute test (tests/dags/test_scheduler.py) reached late
    would run on long after the other worker ran out of work. Longest first is the usual
    cure: the tests that ask for a longer timeout than pytest's 300 s, then the other slow and
    integration tests, then the rest (the same order on every worker, as xdist requires). A
    run without workers keeps pytest's order.
    """
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, group in SHARED_BY_GROUP.items():
            if fixture in used:
                item.add_marker(pytest.mark.xdist_group(group))
                break
    if hasattr(config, "workerinput"):  # an xdist worker
        items.sort(key=_longest_first)


def _longest_first(item: pytest.Item) -> tuple[float, bool]:
    timeout = item.get_closest_marker("timeout")
    allowed = float(timeout.args[0]) if timeout and timeout.args else 0.0
    slow = item.get_closest_marker("slow") or item.get_closest_marker("integration")
    return -allowed, slow is None
