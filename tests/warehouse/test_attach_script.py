"""``aircarbon sql --print-attach``: the lake from an analyst's own DuckDB, offline.

The recipe for Jupyter/DBeaver/the DuckDB CLI is "run this SQL first". Tested the way a
notebook runs it: a fresh Python process with an empty HOME (no extension cache, so any
download attempt fails), from another working directory, reading what the pipeline loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aircarbon.core.settings import Settings
from tests.warehouse.conftest import HOUR, hourly_frame
from warehouse.load import load_hour

_NOTEBOOK = """
import sys, duckdb
con = duckdb.connect()
con.execute(open(sys.argv[1], encoding="utf-8").read())
print(con.execute("SELECT count(*) FROM hourly").fetchone()[0])
try:
    con.execute("DELETE FROM hourly")
except duckdb.Error as exc:
    print("refused:", type(exc).__name__)
"""


@pytest.mark.integration
@pytest.mark.slow
def test_printed_script_opens_the_lake_offline_read_only(
    tmp_path: Path, settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    load_hour(lake, "hourly", hourly_frame(HOUR), HOUR)
    lake.close()
    printed = subprocess.run(
        [sys.executable, "-m", "aircarbon", "sql", "--print-attach"],
        env={**os.environ, "AIRCARBON_DATA_DIR": str(settings.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert not [line for line in printed.splitlines() if line.upper().startswith("INSTALL")]
    script = tmp_path / "attach.sql"
    script.write_text(printed, encoding="utf-8")
    home = tmp_path / "empty-home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _NOTEBOOK, str(script)],
        env={**os.environ, "HOME": str(home)},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.split("\n")
    assert lines[0] == str(hourly_frame(HOUR).height)
    assert lines[1].startswith("refused:")
    assert not (home / ".duckdb").exists()  # nothing was downloaded or cached
