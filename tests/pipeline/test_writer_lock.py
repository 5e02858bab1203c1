"""One writer per data directory: who holds it is named, nested steps do not deadlock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from aircarbon.core.errors import AirCarbonError, WriterLockHeld
from aircarbon.core.writer_lock import holder, writer_lock

ROOT = Path(__file__).resolve().parents[2]

_HOLD = """
import sys
from pathlib import Path
from aircarbon.core.writer_lock import writer_lock
with writer_lock(Path(sys.argv[1]), command="aircarbon demo"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    return env


@pytest.fixture
def held_elsewhere(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``tmp_path``'s writer lock as `aircarbon demo` until closed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)],
        cwd=ROOT, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)
    proc.stdout.close()


def test_the_holder_is_recorded_and_cleared(tmp_path: Path) -> None:
    with writer_lock(tmp_path, command="aircarbon process hourly"):
        found = holder(tmp_path)
        assert found is not None
        assert (found.pid, found.command) == (os.getpid(), "aircarbon process hourly")
    assert holder(tmp_path) is None  # a released lock names nobody


def test_reentrant_in_one_thread_exclusive_between_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with writer_lock(tmp_path, command="other thread"):
                pass
        except WriterLockHeld as exc:
            errors.append(exc)

    with writer_lock(tmp_path, command="outer"), writer_lock(tmp_path, command="nested step"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert holder(tmp_path) is not None  # the nested exit did not release it
    assert len(errors) == 1
    assert f"pid {os.getpid()} (`outer`)" in str(errors[0])
    with writer_lock(tmp_path, command="after"):  # released for real
        pass


def test_a_waiter_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    got = threading.Event()

    def waiter() -> None:
        with writer_lock(tmp_path, command="scheduled task", wait_s=120):
            got.set()

    with writer_lock(tmp_path, command="backfill"):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert not got.is_set()  # still held here, whatever the timing
    thread.join()
    assert got.is_set()


def test_another_process_is_named(tmp_path: Path, held_elsewhere: subprocess.Popen[str]) -> None:
    with pytest.raises(WriterLockHeld) as info, writer_lock(tmp_path, command="process daily"):
        pass
    message = str(info.value)
    assert isinstance(info.value, AirCarbonError)
    assert message.startswith(f"data dir {tmp_path} is being written by ")
    assert f"pid {held_elsewhere.pid} (`aircarbon demo`), since 20" in message
    assert info.value.pid == held_elsewhere.pid


@pytest.mark.integration
@pytest.mark.slow
def test_cli_writers_fail_fast_naming_the_holder(
    tmp_path: Path, held_elsewhere: subprocess.Popen[str]
) -> None:
    env = {**_env(), "AIRCARBON_DATA_DIR": str(tmp_path)}
    for args in (
        ("process", "daily", "--date", "2026-11-24"),
        ("process", "hourly", "--hour", "2026-11-24T10:00+08:00"),
        ("bulletin", "--date", "2026-11-24"),
        ("demo", "--days", "1", "--data-dir", str(tmp_path)),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "aircarbon", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stdout[-2000:], done.stderr[-2000:])
        lines = [ln for ln in done.stderr.strip().splitlines() if "no network of its own" not in ln]
        assert len(lines) == 1, (args, done.stderr)
        assert f"being written by pid {held_elsewhere.pid} (`aircarbon demo`)" in lines[0]
    assert not (tmp_path / "warehouse.sqlite").exists()  # nobody started writing


@pytest.mark.integration
@pytest.mark.slow
def test_two_demos_at_once_the_second_names_the_first(tmp_path: Path) -> None:
    def demo(station: str) -> list[str]:
        return [sys.executable, "-m", "aircarbon", "demo", "--days", "1", "--stations", station,
                "--data-dir", str(tmp_path)]  # fmt: skip

    first = subprocess.Popen(
        demo("SY-TY-01"), cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        # wait until the first demo holds the lock (no timing: poll the record it writes)
        while (found := holder(tmp_path)) is None or found.pid != first.pid:
            assert first.poll() is None, first.communicate()
            threading.Event().wait(0.05)
        second = subprocess.run(
            demo("SY-HS-12"), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"being written by pid {first.pid} (`aircarbon demo`), since " in second.stderr
        out, err = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err[-3000:]
    # the first run's store and summary hold its own station's messages only
    raw = pl.scan_parquet(tmp_path / "raw" / "**" / "*.parquet")
    assert raw.select(pl.col("station").unique()).collect()["station"].to_list() == ["SY-TY-01"]
    landed = raw.select(pl.len()).collect().item()
    assert f"readings landed     │ {landed:,} " in out or f"{landed:,} (" in out, out
    assert holder(tmp_path) is None
