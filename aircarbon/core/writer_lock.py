"""One writer per data directory: an exclusive ``flock`` that says who holds it.

Why: the demo, ``aircarbon process``, the forecast, the bulletins, compaction and migrations
all replace parts of one data directory (its lake, GX results, bulletins). Two of them at
once on a SQLite catalog end in "Failed to commit DuckLake transaction" for one and a
summary that counts the other's work for the second; on any catalog two runs of one
interval race each other's delete-and-insert. So every writing entry point holds this lock
for the whole step::

    with writer_lock(settings.data_dir, command="aircarbon process hourly"):
        ...

and a second writer fails at once (``wait_s=0``, what interactive commands use) or waits up
to ``wait_s`` seconds (scheduled tasks), then raises :class:`~aircarbon.core.errors.WriterLockHeld`
naming the holder: ``data dir D is being written by pid N (`aircarbon demo`), since T``.

Design points:

- The lock file ``<data dir>/writer.lock`` records the holder (pid, command, command line,
  start time) as one JSON object, written after the lock is taken and cleared before it is
  released; a waiter reads it only to word its message.
- ``flock`` belongs to the open file, so the kernel drops it when the holder dies: a crash
  never leaves a stale lock (the file may keep a dead holder's line until the next writer
  overwrites it; a message never names a pid that no longer runs).
- Re-entrant within one thread (a demo holding it calls the hourly step, which takes it
  again, which loads through the warehouse, which takes it again), exclusive between
  threads and processes: another thread opens its own file description, which ``flock``
  treats like another process.
- Readers never take it (analyst sessions, the health page); nor does the collector, which
  writes only ``raw/`` with its own durability rules and must never stop because a
  backfill runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aircarbon.core.errors import WriterLockHeld

__all__ = ["LOCK_NAME", "Holder", "holder", "writer_lock"]

log = logging.getLogger(__name__)

#: The lock file's name inside the data directory.
LOCK_NAME = "writer.lock"
_POLL_S = 0.1
#: How long a refused writer re-reads an empty holder record (the holder has the lock but has
#: not written its line yet) before it words the message without it.
_RECORD_GRACE_S = 1.0


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a data directory's writer lock."""

    pid: int
    command: str
    argv: tuple[str, ...]
    since: dt.datetime

    def describe(self) -> str:
        return f"pid {self.pid} (`{self.command}`), since {self.since:%Y-%m-%dT%H:%M:%SZ}"


@dataclass(slots=True)
class _Held:
    fd: int
    depth: int


_held: dict[tuple[str, int], _Held] = {}
_registry = threading.Lock()


def _lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_NAME


def _parse(text: str) -> Holder | None:
    try:
        doc = json.loads(text)
        return Holder(
            pid=int(doc["pid"]),
            command=str(doc["command"]),
            argv=tuple(str(a) for a in doc.get("argv", ())),
            since=dt.datetime.fromisoformat(str(doc["since"])),
        )
    except (ValueError, KeyError, TypeError):
        return None


def holder(data_dir: Path) -> Holder | None:
    """The holder recorded in ``data_dir``'s lock file (None when the record is empty)."""
    try:
        text = _lock_path(data_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return _parse(text.strip())


def _record(fd: int, command: str) -> None:
    line = json.dumps(
        {
            "pid": os.getpid(),
            "command": command,
            "argv": sys.argv,
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    os.ftruncate(fd, 0)
    os.pwrite(fd, (line + "\n").encode("utf-8"), 0)


def _refusal(data_dir: Path) -> WriterLockHeld:
    """The error for a lock someone else holds, naming them when their record is readable."""
    deadline = time.monotonic() + _RECORD_GRACE_S
    found = holder(data_dir)
    while found is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the holder has the lock and is writing its line
        found = holder(data_dir)
    if found is None:
        return WriterLockHeld(data_dir)
    return WriterLockHeld(
        data_dir, pid=found.pid, command=found.command, since=f"{found.since:%Y-%m-%dT%H:%M:%SZ}"
    )


def _acquire(fd: int, data_dir: Path, wait_s: float) -> None:
    deadline = time.monotonic() + max(0.0, wait_s)
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        else:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _refusal(data_dir)
        if not announced:
            found = holder(data_dir)
            who = found.describe() if found else "another process"
            log.info("waiting up to %.0f s for %s (held by %s)", wait_s, data_dir, who)
            announced = True
        time.sleep(min(_POLL_S, remaining))


@contextlib.contextmanager
def writer_lock(data_dir: Path, *, command: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold ``data_dir``'s writer lock for the block; re-entrant within the calling thread.

    ``command`` is how a refused writer names this one (``"aircarbon demo"``). ``wait_s=0``
    fails at once; a positive value waits up to that many seconds. Raises
    :class:`~aircarbon.core.errors.WriterLockHeld` when another thread or process holds it.
    """
    path = _lock_path(data_dir)
    key = (str(path.resolve()), threading.get_ident())
    with _registry:
        mine = _held.get(key)
        if mine is not None:
            mine.depth += 1
    if mine is not None:
        try:
            yield
        finally:
            with _registry:
                mine.depth -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, Path(data_dir), wait_s)
    except BaseException:
        os.close(fd)
        raise
    state = _Held(fd=fd, depth=1)
    try:
        _record(fd, command)
        with _registry:
            _held[key] = state
        yield
    finally:
        with _registry:
            _held.pop(key, None)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # a released lock names nobody
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
