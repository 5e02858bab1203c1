"""A data dir's lake opens from anywhere and survives a move (backups, restores, volumes).

The catalog stores the data path it was created with; without the per-session override a
lake created as ``data/demo`` could not be opened as ``/abs/.../data/demo`` nor after the
folder moved ("DATA_PATH parameter … does not match existing data path in the catalog").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import warehouse
from aircarbon.core.settings import load_settings
from tests.warehouse.conftest import HOUR, hourly_frame
from warehouse.load import load_hour


@pytest.fixture
def in_dir(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def _count(data_dir: Path, *, read_only: bool) -> int:
    con = warehouse.connect(load_settings({}, data_dir=data_dir), read_only=read_only)
    try:
        row = con.execute("SELECT count(*) FROM hourly").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def _make_lake(data_dir: Path) -> int:
    """A migrated lake holding one loaded hour; returns its row count."""
    con = warehouse.connect(load_settings({}, data_dir=data_dir))
    try:
        warehouse.migrate(con)
        frame = hourly_frame(HOUR)
        load_hour(con, "hourly", frame, HOUR)
        # Make the data files real Parquet files, not rows inlined in the catalog.
        con.execute("CALL ducklake_flush_inlined_data('aircarbon')")
    finally:
        con.close()
    return frame.height


@pytest.mark.slow
def test_relative_lake_opens_by_absolute_path_and_from_another_directory(in_dir: Path) -> None:
    rows = _make_lake(Path("data/demo"))
    assert list((in_dir / "data/demo/warehouse").rglob("*.parquet"))
    assert _count(in_dir / "data/demo", read_only=True) == rows
    elsewhere = in_dir / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    assert _count(Path("../data/demo"), read_only=True) == rows
    assert _count(in_dir / "data/demo", read_only=False) == rows


@pytest.mark.slow
def test_moved_data_dir_opens_and_takes_new_loads(in_dir: Path) -> None:
    rows = _make_lake(in_dir / "site-a")
    shutil.move(in_dir / "site-a", in_dir / "restored")
    assert _count(in_dir / "restored", read_only=True) == rows
    settings = load_settings({}, data_dir=in_dir / "restored")
    con = warehouse.connect(settings)
    try:
        later = HOUR.replace(hour=HOUR.hour + 1)
        load_hour(con, "hourly", hourly_frame(later), later)
        con.execute("CALL ducklake_flush_inlined_data('aircarbon')")
    finally:
        con.close()
    assert _count(in_dir / "restored", read_only=True) == 2 * rows
    # Every data file the lake knows is inside the moved folder.
    con = warehouse.connect(settings, read_only=True)
    try:
        files = con.execute(
            "SELECT data_file FROM ducklake_list_files('aircarbon', 'hourly')"
        ).fetchall()
    finally:
        con.close()
    assert files
    assert all(str(f[0]).startswith(str((in_dir / "restored").resolve())) for f in files)
