"""``import_cnemc``: a real CNEMC hour (tests/ingest/corpus/cnemc.md says where it is from).

Hour h of a CNEMC file is the hour ENDING at h:00 Beijing time; only the hourly
concentrations land, derived rows are skipped and counted, codes of stations outside the
network are counted and reported, not errors.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl

from ingest.history import import_cnemc
from tests.ingest.history_helpers import CRITERIA, dead_rows, raw_rows, write_network

CORPUS = Path(__file__).parent / "corpus" / "cnemc_china_sites_20220101.csv"
HOUR_END = dt.datetime(2021, 12, 31, 16, tzinfo=dt.UTC)  # 2022-01-01 00:00 Beijing


def test_real_cnemc_hour(tmp_path: Path) -> None:
    settings, catalog = write_network(
        tmp_path / "data",
        [
            {"id": "SY-TYJ", "params": CRITERIA, "national_code": "1106A"},
            {"id": "SY-XHY", "params": CRITERIA, "national_code": "1105A"},
            # a station without a CO analyser: its CO row is refused, not landed
            {
                "id": "SY-SLL",
                "params": [p for p in CRITERIA if p != "co"],
                "national_code": "1098A",
            },
            {"id": "BJ-HDWL", "params": CRITERIA, "national_code": "1007A"},
            {"id": "SY-NONE", "params": CRITERIA},  # no national code
        ],
    )
    path = tmp_path / "china_sites_20220101.csv"
    shutil.copy(CORPUS, path)
    (report,) = import_cnemc([path], settings=settings, catalog=catalog)
    assert report.unmapped_codes == ["1001A"]
    assert report.skipped_markers == 7  # 1007A published no hourly value at that hour
    assert report.skipped_derived == 9 * 3 + 8
    assert dict(report.rejected) == {"param_not_measured": 1}
    assert report.landed == 6 + 6 + 5
    rows = raw_rows(settings.data_dir)
    assert set(rows["ts"]) == {HOUR_END}
    assert set(rows["source"]) == {"import:cnemc;file=china_sites_20220101.csv"}
    tyj = dict(rows.filter(pl.col("station") == "SY-TYJ").select("param", "value").rows())
    assert tyj == {"pm25": 105.0, "pm10": 131.0, "so2": 38.0, "no2": 64.0, "o3": 5.0, "co": 1.5}
    xhy = dict(rows.filter(pl.col("station") == "SY-XHY").select("param", "value").rows())
    assert xhy["co"] == 1.8
    assert xhy["o3"] == 4.0
    dead = dead_rows(settings.data_dir)
    assert dead.select("station", "param", "reason").rows() == [
        ("SY-SLL", "co", "param_not_measured")
    ]
    assert dead["topic"][0] == "import:cnemc;file=china_sites_20220101.csv;line=15"


def test_several_files_each_idempotent(tmp_path: Path) -> None:
    settings, catalog = write_network(
        tmp_path / "data", [{"id": "SY-TYJ", "params": CRITERIA, "national_code": "1106A"}]
    )
    first = tmp_path / "china_sites_20220101.csv"
    shutil.copy(CORPUS, first)
    # a GBK-encoded next day with a 24:00-style hour and a bad hour, made from the same file
    text = CORPUS.read_text(encoding="utf-8").replace("20220101,0,", "20220102,24,")
    lines = text.splitlines()
    lines.insert(2, "20220102,25,PM2.5,,,,,7")
    second = tmp_path / "china_sites_20220102.csv"
    second.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    reports = import_cnemc([first, second, first], settings=settings, catalog=catalog)
    assert [r.status for r in reports] == ["imported", "imported", "already_imported"]
    assert reports[1].rejected == {"bad_timestamp": 1}
    rows = raw_rows(settings.data_dir)
    # hour 24 of Jan 2 ends at Jan 3 00:00 Beijing time
    assert sorted(set(rows["ts"])) == [HOUR_END, HOUR_END + dt.timedelta(days=2)]
    assert rows.height == 12
