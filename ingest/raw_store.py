"""Durable Parquet landing for the raw and dead-letter stores (docs/contract.md §3.1-§3.3).

A file appears under its final name only when complete: it is written to a hidden
temporary name in the same directory, flushed and fsynced, atomically renamed, and the
directory is fsynced so the rename itself survives a power cut. Only then may the
collector acknowledge the messages whose readings it holds.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "clean_temporaries",
    "fsync_dir",
    "write_dead_letters",
    "write_durable",
    "write_readings",
]

_TMP_SUFFIX = ".tmp"  # hidden and not *.parquet: no reader globbing *.parquet sees it


def fsync_dir(path: Path) -> None:
    """fsync a directory so that renames inside it are durable (POSIX)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` atomically and durably; returns ``path``."""
    import pyarrow.parquet as pq

    directory = path.parent
    new_dir = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{path.name}{_TMP_SUFFIX}"
    with tmp.open("wb") as fh:
        pq.write_table(table, fh, compression="zstd")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(path)
    fsync_dir(directory)
    if new_dir:
        # the partition directory itself is a new entry of its parent
        fsync_dir(directory.parent)
        fsync_dir(directory.parent.parent)
    return path


def _file_name(writer_id: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{writer_id}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"


def write_readings(table: pa.Table, raw_dir: Path, writer_id: str) -> list[Path]:
    """Split ``table`` by the readings' UTC date and hour and land one file per partition."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return []
    hours = pc.floor_temporal(table["ts"], unit="hour")
    keys = pc.unique(hours).to_pylist()
    paths: list[Path] = []
    name = _file_name(writer_id)
    for hour in sorted(keys):
        part = table.filter(pc.equal(hours, hour)) if len(keys) > 1 else table
        directory = raw_dir / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        paths.append(write_durable(part, directory / name))
    return paths


def write_dead_letters(table: pa.Table, dead_dir: Path, writer_id: str) -> list[Path]:
    """Land rejected messages, partitioned by the UTC date they were received."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return []
    days = pc.floor_temporal(table["received_at"], unit="day")
    keys = pc.unique(days).to_pylist()
    name = _file_name(writer_id)
    paths: list[Path] = []
    for day in sorted(keys):
        part = table.filter(pc.equal(days, day)) if len(keys) > 1 else table
        paths.append(write_durable(part, dead_dir / f"date={day:%Y-%m-%d}" / name))
    return paths


def clean_temporaries(roots: Iterable[Path]) -> int:
    """Remove half-written temporaries left by a crash (their messages were never acked)."""
    removed = 0
    for root in roots:
        if not root.exists():
            continue
        for tmp in root.rglob(f".*{_TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed
