"""Shared pytest fixtures. Broker fixtures live in ``tests/fixtures/brokers.py``,
the PostgreSQL ones in ``tests/fixtures/postgres.py``, the template lake (a migrated lake made
once per session and copied per test) in ``tests/fixtures/lakes.py``, the template demo (one
``aircarbon demo`` per session, copied per module that runs the docs on it) in
``tests/fixtures/demo.py``.

``make test`` runs the suite on pytest-xdist workers (``-n 2 --dist loadgroup``), each a
pytest session of its own: a session fixture is built once *per worker* that needs it. The
test files that share an expensive one are listed in ``GROUPS``: ``GroupScheduling`` sends all
the tests of a group to one worker, so it is built once. (xdist's own ``xdist_group`` mark
does not group on pytest 9.2: xdist 3.8 renames ``item._nodeid``, which pytest no longer reads.)
"""

from __future__ import annotations

from typing import Any

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

#: Test files (or folders) whose tests share an expensive session fixture -> their group.
GROUPS = {
    # demo_template: `aircarbon demo` (1 min idle, 2-4 min at load 14-30)
    "tests/test_newcomer.py": "demo",
    "tests/test_docs_examples.py": "demo",
    # lake_settings: two simulated days of six stations processed
    "tests/bulletin": "bulletin_lake",
    # airflow_env: `airflow db migrate` of a SQLite metadata DB
    "tests/dags/test_dag_runs.py": "airflow_home",
    "tests/dags/test_dag_structure.py": "airflow_home",
}


def group_of(nodeid: str) -> str | None:
    """The group of a test by its node id (``GROUPS``), or None."""
    path = nodeid.split("::", 1)[0]
    for where, group in GROUPS.items():
        if path == where or path.startswith(where + "/"):
            return group
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own (a first-result hook)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: xdist's scope scheduling with ``GROUPS`` as the scopes."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Each test alone, except the tests of a group: one unit, on one worker."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, hand out the longest tests first.

    The groups go out largest first, then the other tests in collection order as workers
    free up: a 10-minute test (tests/dags/test_scheduler.py) reached late would run on long
    after the other worker ran out of work. Longest first is the usual cure: the tests that
    ask for a longer timeout than pytest's 300 s, then the other slow and integration tests,
    then the rest (the same order on every worker, as xdist requires). A run without
    workers keeps pytest's order.
    """
    if hasattr(config, "workerinput"):  # an xdist worker
        items.sort(key=_longest_first)


def _longest_first(item: pytest.Item) -> tuple[float, bool]:
    timeout = item.get_closest_marker("timeout")
    allowed = float(timeout.args[0]) if timeout and timeout.args else 0.0
    slow = item.get_closest_marker("slow") or item.get_closest_marker("integration")
    return -allowed, slow is None
