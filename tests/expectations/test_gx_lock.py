"""Validations of one data directory take turns: the GX file context is not multi-process safe.

A backfill and a scheduled run once collided creating the same GX data source; ``validate``
now holds ``gx_lock`` (an ``flock`` on ``<data_dir>/gx/.aircarbon.lock``) around GX.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from expectations.runner import gx_lock

ROOT = Path(__file__).resolve().parents[2]

# waits for the lock, then records that it ran; logs "waiting ..." first when it must wait
_TAKE_LOCK = """
import logging, sys
from pathlib import Path
from expectations.runner import gx_lock
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
data_dir, log = Path(sys.argv[1]), Path(sys.argv[2])
with gx_lock(data_dir):
    with log.open("a") as f:
        f.write("child\\n")
"""


@pytest.mark.integration
def test_a_second_process_waits_for_the_lock(tmp_path: Path) -> None:
    log = tmp_path / "order.txt"
    with gx_lock(tmp_path):
        child = subprocess.Popen(
            [sys.executable, "-c", _TAKE_LOCK, str(tmp_path), str(log)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stderr is not None
        line = child.stderr.readline()  # the child reports that it found the lock taken
        assert "waiting for another validation" in line
        log.write_text("parent\n")
    assert child.wait(timeout=60) == 0
    child.stderr.close()
    assert log.read_text().splitlines() == ["parent", "child"]
    assert (tmp_path / "gx" / ".aircarbon.lock").exists()


def _can_take(lock_file: Path) -> bool:
    """Whether another open file (as another process would hold) gets the lock at once."""
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_the_lock_is_held_inside_and_free_again_after_use(tmp_path: Path) -> None:
    lock_file = tmp_path / "gx" / ".aircarbon.lock"
    with gx_lock(tmp_path):
        assert not _can_take(lock_file)
    assert _can_take(lock_file)
    held_when_it_failed: list[bool] = []

    def failing_validation() -> None:
        with gx_lock(tmp_path):
            held_when_it_failed.append(not _can_take(lock_file))
            raise RuntimeError("validation failed")

    with pytest.raises(RuntimeError, match="validation failed"):
        failing_validation()
    assert held_when_it_failed == [True]
    assert _can_take(lock_file)  # released on an exception too: the next run does not wait


_VALIDATE = """
import sys
from pathlib import Path
from aircarbon.core.catalog import load_catalog
from expectations import validate
from tests.expectations.test_suites import hourly_frame
outcome = validate(hourly_frame(), "hourly", batch_id=sys.argv[2], interval=None,
                   catalog=load_catalog(), data_dir=Path(sys.argv[1]))
sys.exit(0 if outcome.success else 1)
"""


@pytest.mark.integration
@pytest.mark.slow
def test_two_processes_validate_one_data_dir_at_once(tmp_path: Path) -> None:
    """Both start on a fresh directory, so both would create the GX context at once."""
    cmd = [sys.executable, "-c", textwrap.dedent(_VALIDATE), str(tmp_path)]
    runs = [subprocess.Popen([*cmd, f"run-{i}"], cwd=ROOT) for i in range(2)]
    assert [p.wait(timeout=300) for p in runs] == [0, 0]
    results = tmp_path / "gx" / "uncommitted" / "validations" / "hourly"
    assert len(list(results.glob("*/*/*.json"))) == 2
