"""``aircarbon network`` and ``aircarbon stations``: the commands as an operator runs them.

Each test runs the real CLI in a subprocess against its own data directory; the CSVs are
written the way office software exports them (UTF-8 with a BOM, GBK, blank cells, bad rows).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import run_cli

#: every test here runs `python -m aircarbon` in a subprocess
pytestmark = [pytest.mark.integration]


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={"AIRCARBON_DATA_DIR": str(data_dir)})


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("aircarbon: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _init(data_dir: Path) -> None:
    result = _cli(
        data_dir,
        "network", "init", "--city", "chicago", "--timezone", "America/Chicago",
        "--name-en", "Chicago", "--name-zh", "芝加哥", "--center", "41.88,-87.63",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "America/Chicago" in result.stdout
    assert result.stderr == ""  # its own network now: no sample notice


def test_sample_notice_once_then_own_network(tmp_path: Path) -> None:
    data = tmp_path / "d"
    listed = _cli(data, "stations", "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 12  # the Shenyang sample
    notice = [ln for ln in listed.stderr.splitlines() if "sample" in ln]
    assert len(notice) == 1
    assert "aircarbon network init" in notice[0]
    shown = json.loads(_cli(data, "network", "show", "--json").stdout)
    assert shown["sample"] is True
    assert shown["timezone"] == "Asia/Shanghai"

    _init(data)
    shown = json.loads(_cli(data, "network", "show", "--json").stdout)
    assert shown == shown | {
        "sample": False,
        "city": "chicago",
        "name_zh": "芝加哥",
        "timezone": "America/Chicago",
        "center": [41.88, -87.63],
        "stations": 0,
        "file": str(data / "network.toml"),
    }
    assert "@" not in "".join(shown["sets"])  # the sample's sets, expanded
    again = _cli(data, "network", "init", "--city", "x", "--timezone", "UTC")
    assert "already exists" in _one_line_error(again)


def test_add_list_retire(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _init(data)
    added = _cli(
        data,
        "stations", "add", "CH-LP-01", "--type", "national", "--lat", "41.9", "--lon", "-87.65",
        "--params", "@criteria,@met", "--name-en", "Lincoln Park", "--name-zh", "林肯公园",
        "--code", "1001A", "--mn", "CHLP0100000000000000001", "--district", "North",
        "--from", "2024-01-01", "--hj212-version", "2017",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added CH-LP-01" in added.stdout
    records = json.loads(_cli(data, "stations", "--json").stdout)
    assert [r["id"] for r in records] == ["CH-LP-01"]
    rec = records[0]
    assert rec["timezone"] == "America/Chicago"
    assert rec["national_code"] == "1001A"
    assert (rec["valid_from"], rec["valid_to"]) == ("2024-01-01", None)
    assert {"pm25", "ws"} <= set(rec["params"])

    retired = _cli(data, "stations", "retire", "CH-LP-01", "--date", "2025-06-30")
    assert retired.returncode == 0, retired.stderr
    rec = json.loads(_cli(data, "stations", "--json").stdout)[0]
    assert rec["valid_to"] == "2025-06-30"
    table = _cli(data, "stations")
    assert table.returncode == 0
    assert "2025-06-30" in table.stdout
    assert "1001A" in table.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_one_line_errors(tmp_path: Path) -> None:
    data = tmp_path / "d"
    base = ["stations", "add", "X-1", "--type", "national", "--lat", "41.9", "--lon", "-87.6"]
    no_network = _cli(data, *base, "--params", "pm25")
    assert "network init" in _one_line_error(no_network)
    _init(data)
    cases = {
        ("--params", "pm25,pm2"): "unknown parameter 'pm2'",
        ("--params", "@nope"): "unknown parameter set '@nope'",
        ("--params", "pm25", "--hj212-version", "2010"): "hj212_version '2010'",
        ("--params", "pm25", "--from", "2024-13-01"): "is not a date",
    }
    for extra, fragment in cases.items():
        assert fragment in _one_line_error(_cli(data, *base, *extra)), extra
    bad_type = _cli(data, "stations", "add", "X-1", "--type", "nat", "--lat", "1", "--lon", "2",
                    "--params", "pm25")  # fmt: skip
    assert "unknown station type 'nat'" in _one_line_error(bad_type)
    bad_lat = _cli(data, "stations", "add", "X-1", "--type", "micro", "--lat", "91", "--lon", "2",
                   "--params", "pm25")  # fmt: skip
    assert "outside lat" in _one_line_error(bad_lat)
    assert _cli(data, *base, "--params", "pm25", "--mn", "M1").returncode == 0
    dup_id = _cli(data, *base, "--params", "pm25")
    assert "'X-1' already in the network" in _one_line_error(dup_id)
    dup_mn = _cli(data, "stations", "add", "X-2", "--type", "micro", "--lat", "1", "--lon", "2",
                  "--params", "pm25", "--mn", "M1")  # fmt: skip
    assert "MN 'M1' already used by 'X-1'" in _one_line_error(dup_mn)
    zone = _cli(data, "network", "init", "--city", "c", "--timezone", "Mars/Base", "--force")
    assert "unknown time zone 'Mars/Base'" in _one_line_error(zone)
    center = _cli(data, "network", "init", "--city", "c", "--timezone", "UTC", "--center", "x")
    assert "--center" in _one_line_error(center)
    retire = _cli(data, "stations", "retire", "X-9", "--date", "2025-01-01")
    assert "unknown station 'X-9'" in _one_line_error(retire)


CSV_HEADER = "id,type,lat,lon,params,name_zh,name_en,mn,code,district,from\n"


def test_import_bom_and_gbk(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _init(data)
    bom = tmp_path / "utf8.csv"
    bom.write_bytes(
        (
            CSV_HEADER
            + 'CH-01,national,41.90,-87.60,"so2,no2,o3,co,pm10,pm25",一号站,One,M01,1001A,,'
            + "2024-01-01\n"
            + "\n"  # a blank line, as spreadsheets leave them
            + "CH-02,micro,41.80,-87.70,pm25;pm10;@met, ,Two,,1002A,South,\n"
        ).encode("utf-8-sig")
    )
    result = _cli(data, "stations", "import", str(bom))
    assert result.returncode == 0, result.stderr
    assert "imported 2 stations" in result.stdout
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(
        (
            "ID,Type,Lat,Lon,Params,--name-zh,National_Code,Valid_From\n"
            "CH-03,national,41.7,-87.6,@criteria,沈阳太原街,1003A,2025-03-01\n"
        ).encode("gbk")
    )
    result = _cli(data, "stations", "import", str(gbk))
    assert result.returncode == 0, result.stderr
    by_id = {r["id"]: r for r in json.loads(_cli(data, "stations", "--json").stdout)}
    assert sorted(by_id) == ["CH-01", "CH-02", "CH-03"]
    assert by_id["CH-01"]["name_zh"] == "一号站"
    assert by_id["CH-01"]["params"] == ["so2", "no2", "o3", "co", "pm10", "pm25"]
    assert by_id["CH-02"]["name_zh"] == "Two"  # blank cell: not given
    assert by_id["CH-02"]["mn"] == "CH02"  # no MN: from the id
    assert "ws" in by_id["CH-02"]["params"]
    assert by_id["CH-03"]["name_zh"] == "沈阳太原街"
    assert by_id["CH-03"]["valid_from"] == "2025-03-01"


def test_import_all_or_nothing_every_bad_row_named(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _init(data)
    before = (data / "network.toml").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        CSV_HEADER
        + "CH-01,national,41.9,-87.6,pm25,,,M01,,,\n"  # fine
        + "CH-02,national,abc,-87.6,pm25,,,M02,,,\n"  # row 3: lat
        + "CH-03,national,41.9,-87.6,pm2.5,,,M03,,,\n"  # row 4: parameter
        + "CH-04,national,41.9,-87.6,pm25,,,M01,,,\n"  # row 5: MN of row 2
        + "CH-01,micro,41.9,-87.6,pm25,,,M06,,,\n"  # row 6: id of row 2
        + "CH-07,national,41.9,-87.6,pm25,,,M07,,,2025-02-30\n",  # row 7: date
        encoding="utf-8",
    )
    line = _one_line_error(_cli(data, "stations", "import", str(bad)))
    assert "nothing" in line
    for row in (3, 4, 5, 6, 7):
        assert f"row {row} " in line, (row, line)
    assert "row 2 ('CH-01'):" not in line  # the good row is only named as the one duplicated
    assert (data / "network.toml").read_bytes() == before
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("id,type,lat,lon,params,colour\nA,micro,1,2,pm25,red\n", encoding="utf-8")
    assert "unknown column(s) 'colour'" in _one_line_error(
        _cli(data, "stations", "import", str(unknown))
    )
    missing = _cli(data, "stations", "import", str(tmp_path / "nope.csv"))
    assert "no such file" in _one_line_error(missing)
