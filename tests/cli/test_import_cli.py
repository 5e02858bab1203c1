"""``aircarbon import`` end to end: a centre's CSV in, the hour processed into the lake.

The real CLI in a subprocess, a real data dir with the operator's own network, the real
GX raw suite (which must accept the importer's ``source``) and the real DuckLake.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run_cli
from tests.ingest.history_helpers import CRITERIA, write_network

#: every test here runs `python -m aircarbon` in a subprocess
pytestmark = [pytest.mark.integration]

VALUES = {"pm25": 35.0, "pm10": 60.0, "so2": 8.0, "no2": 30.0, "o3": 70.0, "co": 0.9}


@pytest.mark.integration
@pytest.mark.slow
def test_import_then_process_the_hour(tmp_path: Path) -> None:
    import warehouse

    data = tmp_path / "data"
    settings, _ = write_network(data, [{"id": "SY-01", "params": CRITERIA}])
    env = {"AIRCARBON_DATA_DIR": str(data)}
    header = "时间," + ",".join(VALUES) + "\r\n"
    rows = [
        f"2024-03-01 {h:02d}:00," + ",".join(str(v + h) for v in VALUES.values()) + "\r\n"
        for h in range(1, 24)
    ]
    path = tmp_path / "SY-01 2024-03.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (header + "".join(rows)).encode("utf-8"))

    first = run_cli(
        "import", "table", str(path), "--station", "SY-01", "--time-column", "时间", "--json",
        env=env,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["status"] == "imported"
    assert report["landed"] == 23 * len(VALUES)
    assert report["source"] == "import:table;file=SY-01 2024-03.csv"
    again = run_cli(
        "import", "table", str(path), "--station", "SY-01", "--time-column", "时间", env=env
    )
    assert again.returncode == 0, again.stderr
    assert "already imported" in again.stdout

    # the hour ending 10:00 Beijing time, validated by the GX suites
    processed = run_cli("process", "hourly", "--hour", "2024-03-01T10:00+08:00", env=env)
    assert processed.returncode == 0, processed.stderr
    con = warehouse.connect(settings, read_only=True)
    try:
        got = con.execute(
            "SELECT param, value, valid FROM hourly WHERE station = 'SY-01' AND ts = ?",
            [dt.datetime(2024, 3, 1, 2, tzinfo=dt.UTC)],
        ).fetchall()
    finally:
        con.close()
    measured = {p: (v, ok) for p, v, ok in got if p in VALUES}  # not the moving averages
    assert measured == {p: (v + 10, True) for p, v in VALUES.items()}


def test_one_line_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_network(data, [{"id": "SY-01", "params": CRITERIA}])
    env = {"AIRCARBON_DATA_DIR": str(data)}
    path = tmp_path / "site.csv"
    path.write_text("time,pm25,湿度\n2024-01-01 01:00,1,50\n", encoding="utf-8")
    result = run_cli(
        "import", "table", str(path), "--station", "SY-01", "--time-column", "time", env=env
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "aircarbon: error: site.csv: column '湿度' is neither a parameter, renamed "
        "(--rename 湿度=PARAM) nor skipped (--skip 湿度)"
    ]
    missing = run_cli("import", "long", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert run_cli("import", "--help").returncode == 0


def test_cnemc_and_hj212_commands(tmp_path: Path) -> None:
    corpus = Path(__file__).parents[1] / "ingest" / "corpus"
    data = tmp_path / "data"
    write_network(
        data,
        [
            {"id": "SY-TYJ", "params": CRITERIA, "national_code": "1106A"},
            {"id": "LB-01", "params": [*CRITERIA, "no", "nox", "ch4"], "mn": "LB4200001"},
        ],
    )
    env = {"AIRCARBON_DATA_DIR": str(data)}
    day = tmp_path / "china_sites_20220101.csv"
    day.write_bytes((corpus / "cnemc_china_sites_20220101.csv").read_bytes())
    result = run_cli("import", "cnemc", str(day), str(day), "--json", env=env)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["status"], first["landed"]) == ("imported", 6)
    assert first["unmapped_codes"] == ["1001A", "1007A", "1098A", "1105A"]
    assert second["status"] == "already_imported"

    lines = (corpus / "hj212_packets.jsonl").read_text(encoding="utf-8").splitlines()
    packets = [json.loads(line) for line in lines]
    frames = [p["frame"].rstrip("\r\n") for p in packets if p["id"].startswith("gb212receiver")]
    log = tmp_path / "logger.log"
    log.write_text("".join(f"2021-01-07 10:00:00 {f}\n" for f in frames), encoding="utf-8")
    text = run_cli("import", "hj212", str(log), env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"{log}: imported ")
    assert "rejected unknown_param:" in text.stdout
