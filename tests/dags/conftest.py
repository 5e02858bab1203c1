"""Fixtures for the DAG tests: a migrated Airflow metadata DB in a temporary ``AIRFLOW_HOME``.

Airflow never runs in the pytest process: its configuration is read once, at import, and it
keeps global state (ORM session, logging, an in-process API server during ``dag.test()``). Every
Airflow step runs in a child process (``tests/dags/airflow_worker.py``) with the environment
built here, set before Airflow is imported there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
#: The local day the run tests simulate, process and check.
DAY = dt.date(2026, 11, 24)


@dataclass(frozen=True)
class Completed:
    """A finished child process: its JSON answer (last stdout line) and everything it printed."""

    result: dict[str, Any]
    output: str
    seconds: float


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRCARBON_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # the DAG files must parse fast; fail the test rather than wait for a slow one
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "60",
            "PYTHONPATH": str(ROOT),
            # both DAGs refuse to load without a start; the run tests' days come after it
            "AIRCARBON_SCHEDULE_START": "2026-11-23",
        }
    )
    return env


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a migrated, empty Airflow (SQLite metadata DB), made once."""
    home = tmp_path_factory.mktemp("airflow_home")
    env = _base_env(home)
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return env


def run_worker(
    env: Mapping[str, str], *args: str, extra_env: Mapping[str, str] | None = None
) -> Completed:
    """Run ``tests.dags.airflow_worker`` with ``args``; fail the test on a crash."""
    full = {**env, **(extra_env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "tests.dags.airflow_worker", *args],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    last = proc.stdout.strip().splitlines()[-1]
    return Completed(json.loads(last), output, time.perf_counter() - t0)


@pytest.fixture(scope="session")
def inspected(airflow_env: dict[str, str]) -> dict[str, Any]:
    """The DAG folder as Airflow parses it, with heavy modules blocked (one child process)."""
    return run_worker(airflow_env, "inspect").result
