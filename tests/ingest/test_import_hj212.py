"""``import_hj212``: a logger's log of real HJ 212 frames (tests/ingest/corpus), each line
optionally after the log's own time prefix, through the live HJ 212 decoder."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ingest.history import import_hj212
from tests.ingest.history_helpers import (
    CRITERIA,
    dead_rows,
    raw_rows,
    store_listing,
    write_network,
)

CORPUS = Path(__file__).parent / "corpus" / "hj212_packets.jsonl"
PACKETS = {p["id"]: p for p in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())}
RECEIVER = [k for k in PACKETS if k.startswith("gb212receiver-log-")]
PARAMS = [*CRITERIA, "no", "nox", "ch4", "ws", "wd", "temp", "rh", "pressure"]


def _frame(key: str) -> str:
    frame: str = PACKETS[key]["frame"]
    return frame.rstrip("\r\n")


def _instant(frame: str) -> dt.datetime:
    match = re.search(r"DataTime=(\d{14})", frame)
    assert match
    local = dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
    return local.replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)


def test_logger_log(tmp_path: Path) -> None:
    settings, catalog = write_network(
        tmp_path / "data", [{"id": "LB-01", "params": PARAMS, "mn": "LB4200001"}]
    )
    lines = ["# receiver log, 2021-01-07", ""]
    for n, key in enumerate(RECEIVER):
        lines.append(f"2021-01-07 10:{n:02d}:01 INFO recv 15.15.0.10: {_frame(key)}")
    lines.append(_frame(RECEIVER[0]))  # re-sent by the logger, no prefix: a duplicate
    lines.append("2021-01-07 11:00:00 WARN connection reset by peer")
    lines.append(_frame("magictodo-2011-bad-crc"))
    lines.append(_frame("mapper-9014"))
    lines.append(_frame("flash520-2051-underscore-mn"))  # a logger not in the network
    path = tmp_path / "receiver.log"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    report = import_hj212(path, settings=settings, catalog=catalog)
    expected: dict[tuple[str, dt.datetime], float] = {}
    unknown = out_of_range = 0
    for key in RECEIVER:
        expect: dict[str, Any] = PACKETS[key]["expect"]
        at = _instant(_frame(key))
        for param, value in expect["readings"].items():
            expected[(param, at)] = value
        unknown += len(expect["unknown_codes"])
        out_of_range += len(expect["out_of_range"])
    # the re-sent frame's refused readings are refused (and dead-lettered) again, as live
    unknown += len(PACKETS[RECEIVER[0]]["expect"]["unknown_codes"])
    out_of_range += len(PACKETS[RECEIVER[0]]["expect"]["out_of_range"])
    rows = raw_rows(settings.data_dir)
    got = {(r["param"], r["ts"]): r["value"] for r in rows.iter_rows(named=True)}
    assert got == expected
    assert set(rows["station"]) == {"LB-01"}
    # a log line's end is the frame's CR LF: no ``no_crlf`` quirk for frames read from a log
    assert set(rows["source"]) == {"import:hj212;file=receiver.log"}
    assert report.duplicates == len(PACKETS[RECEIVER[0]]["expect"]["readings"])
    assert report.skipped_lines == 2  # the comment and the warning; blank lines are nothing
    assert dict(report.rejected) == {
        "unknown_param": unknown,
        "out_of_range": out_of_range,
        "hj212_crc": 1,
        "hj212_command": 1,
        "unknown_station": 1,
    }
    dead = dead_rows(settings.data_dir)
    crc = dead.filter(pl.col("reason") == "hj212_crc")
    n_crc = lines.index(_frame("magictodo-2011-bad-crc")) + 1
    assert crc["topic"].to_list() == [f"import:hj212;file=receiver.log;line={n_crc}"]
    assert crc["payload"][0].startswith(b"##")

    listing = store_listing(settings.data_dir)
    again = import_hj212(path, settings=settings, catalog=catalog)
    assert again.status == "already_imported"
    assert store_listing(settings.data_dir) == listing
