"""Replaying the dead-letter store after a fix (ingest/replay.py, docs/operators.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path

import polars as pl
import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from ingest.batch import ReadingBatch
from ingest.dead_letter import DeadLetterBatch
from ingest.decode import DecodeRules, decode_message
from ingest.raw_store import write_dead_letters, write_readings
from ingest.replay import main, replay_dead_letters

US = 1_000_000
NOW_US = time.time_ns() // 1000
KNOWN = "SY-TY-01"
ADDED = "SY-XH-02"  # publishing before its entry reached the catalog
READINGS = {"pm25": 35.0, "pm10": 61.0, "o3": 88.0, "no2": 41.5, "so2": 9.0, "co": 0.8}


def message(station: str, received_us: int, seq: int, **extra: float) -> tuple[int, str, bytes]:
    ts = dt.datetime.fromtimestamp((received_us - 60 * US) // US, dt.UTC)
    payload = {
        "station": station,
        "ts": ts.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
        "period_s": 60,
        "seq": seq,
        "readings": {**READINGS, **extra},
    }
    return received_us, f"aircarbon/v1/{station}/readings", json.dumps(payload).encode()


def land_as_collector(
    data_dir: Path,
    rules: DecodeRules,
    messages: list[tuple[int, str, bytes]],
    *,
    payload_limit: int = 4096,
) -> None:
    """Decode and land like Collector._handle/_account: readings to raw/, rejections to
    dead_letter/ (one row per rejection, the payload truncated to ``payload_limit``)."""
    readings = ReadingBatch()
    dead = DeadLetterBatch(payload_limit)
    for received, topic, payload in messages:
        decoded = decode_message(topic, payload, rules, received, readings)
        for rej in decoded.rejections:
            dead.append(
                received, topic, decoded.station, rej.reason, rej.param, rej.detail, payload
            )
    if len(readings):
        write_readings(readings.to_arrow(), data_dir / "raw", "collector")
    if len(dead):
        write_dead_letters(dead.to_arrow(), data_dir / "dead_letter", "collector")


def raw(data_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((data_dir / "raw").rglob("*.parquet")))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def old_rules(catalog: Catalog) -> DecodeRules:
    """The collector's rules before the fix: ADDED not in the catalog, toluene unknown."""
    old = dataclasses.replace(
        catalog,
        stations={k: v for k, v in catalog.stations.items() if k != ADDED},
        parameters={k: v for k, v in catalog.parameters.items() if k != "toluene"},
    )
    return DecodeRules(old, max_age_s=2 * 86_400)


@pytest.fixture
def rules(catalog: Catalog) -> DecodeRules:
    """After the fix (the current catalog); the same 2-day late-data window."""
    return DecodeRules(catalog, max_age_s=2 * 86_400)


@pytest.fixture
def data_dir(tmp_path: Path, old_rules: DecodeRules) -> Path:
    three_days_ago = NOW_US - 3 * 86_400 * US
    big = {f"x{i}": 1.0 for i in range(40)}  # unknown params make it long
    land_as_collector(
        tmp_path,
        old_rules,
        [
            # unknown_station, received 3 days ago (older than the 2-day window *today*)
            message(ADDED, three_days_ago, 1),
            message(ADDED, three_days_ago, 1),  # re-delivered: dead-lettered twice
            message(ADDED, NOW_US - 600 * US, 2),
            # partly valid: 6 readings land, toluene (unknown then) is dead-lettered
            message(KNOWN, NOW_US - 300 * US, 7, toluene=1.25),
            # not JSON at all: still rejected after the fix
            (NOW_US - 200 * US, f"aircarbon/v1/{KNOWN}/readings", b"{not json"),
        ],
    )
    # a long message kept only in part (dead_letter_payload_bytes = 100): not replayable
    land_as_collector(
        tmp_path, old_rules, [message(ADDED, NOW_US - 100 * US, 3, **big)], payload_limit=100
    )
    return tmp_path


def test_replay_lands_what_passes_now(data_dir: Path, rules: DecodeRules) -> None:
    before = raw(data_dir)
    assert before.height == len(READINGS)  # only the siblings of the toluene message landed

    report = replay_dead_letters(data_dir, rules)

    assert report.rows == 6
    assert report.messages == 5  # the re-delivered copy is one message
    assert report.truncated == 1
    assert report.still_rejected == {"malformed_json": 1}
    # ADDED's two messages (6 readings each) + the toluene reading; the 6 siblings of the
    # toluene message were already in the raw store
    assert report.recovered == 2 * len(READINGS) + 1
    assert report.already_landed == len(READINGS)
    assert report.files
    assert all(p.name.startswith("replay-") and p.exists() for p in report.files)
    assert not list(data_dir.rglob("*.tmp"))

    after = raw(data_dir)
    assert after.height == before.height + report.recovered
    assert after.unique(["station", "param", "ts"]).height == after.height  # no duplicates
    added = after.filter(pl.col("station") == ADDED)
    assert sorted(added["seq"].unique().to_list()) == [1, 2]
    toluene = after.filter(pl.col("param") == "toluene")
    assert toluene["station"].to_list() == [KNOWN]
    # decoded as at arrival: the message received 3 days ago passed the 2-day window then,
    # and keeps its original received_at
    first = added.filter(pl.col("seq") == 1)
    assert first.height == len(READINGS)
    received = first["received_at"].dt.epoch("us").unique().to_list()
    assert received == [NOW_US - 3 * 86_400 * US]
    # every replayed file sits in its reading's UTC hour partition
    for path in report.files:
        part = pl.read_parquet(path)
        hours = part["ts"].dt.strftime("date=%Y-%m-%d/hour=%H").unique().to_list()
        assert hours == [f"{path.parent.parent.name}/{path.parent.name}"]


def test_replay_is_idempotent(data_dir: Path, rules: DecodeRules) -> None:
    first = replay_dead_letters(data_dir, rules)
    height = raw(data_dir).height
    second = replay_dead_letters(data_dir, rules)
    assert first.recovered > 0
    assert second.recovered == 0
    assert second.already_landed == first.recovered + first.already_landed
    assert second.files == []
    assert raw(data_dir).height == height


def test_dry_run_writes_nothing(data_dir: Path, rules: DecodeRules) -> None:
    files = sorted(data_dir.rglob("*.parquet"))
    report = replay_dead_letters(data_dir, rules, dry_run=True)
    assert report.recovered == 2 * len(READINGS) + 1
    assert report.files == []
    assert sorted(data_dir.rglob("*.parquet")) == files


def test_filters(data_dir: Path, rules: DecodeRules) -> None:
    only_param = replay_dead_letters(data_dir, rules, reasons=["unknown_param"], dry_run=True)
    assert (only_param.messages, only_param.recovered) == (1, 1)
    only_added = replay_dead_letters(data_dir, rules, stations=[ADDED], dry_run=True)
    assert only_added.recovered == 2 * len(READINGS)
    tomorrow = dt.datetime.fromtimestamp(NOW_US // US, dt.UTC).date() + dt.timedelta(days=1)
    assert replay_dead_letters(data_dir, rules, since=tomorrow).messages == 0


def test_without_the_fix_nothing_lands(data_dir: Path, old_rules: DecodeRules) -> None:
    report = replay_dead_letters(data_dir, old_rules)
    assert report.recovered == 0
    assert report.already_landed == len(READINGS)
    assert report.still_rejected == {
        "unknown_station": 2,  # the re-delivered copy is replayed once
        "unknown_param": 1,
        "malformed_json": 1,
    }


def test_empty_store(tmp_path: Path, rules: DecodeRules) -> None:
    report = replay_dead_letters(tmp_path, rules)
    assert (report.rows, report.recovered, report.files) == (0, 0, [])


def test_command_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AIRCARBON_CONFIG", raising=False)
    for key in [k for k in __import__("os").environ if k.startswith("AIRCARBON_")]:
        monkeypatch.delenv(key)
    # the default late-data window (7 days): everything fixed lands
    assert main(["--data-dir", str(data_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["recovered"] == 2 * len(READINGS) + 1
    assert report["still_rejected"] == {"malformed_json": 1}
    assert main(["--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "landed 0 readings" in out


def test_import_dead_letters_are_left_to_a_new_import(data_dir: Path, rules: DecodeRules) -> None:
    """Rows `aircarbon import` refused are not MQTT messages: counted apart, never bad_topic."""
    from ingest.dead_letter import IMPORT_TOPIC_PREFIX
    from ingest.reasons import RejectReason

    received = int(time.time() * 1_000_000)
    dead = DeadLetterBatch(4096)
    row = {"station": "NOWHERE", "param": "pm25", "ts": "2026-11-24 10:00", "value": "35"}
    dead.append(
        received,
        f"{IMPORT_TOPIC_PREFIX}long;file=history.csv;line=7",
        "NOWHERE",
        RejectReason.UNKNOWN_STATION,
        "pm25",
        "unknown station 'NOWHERE'",
        json.dumps(row).encode(),
    )
    write_dead_letters(dead.to_arrow(), data_dir / "dead_letter", "import")
    report = replay_dead_letters(data_dir, rules)
    assert report.import_rows == 1
    assert "bad_topic" not in report.still_rejected
    assert report.to_json()["import_rows"] == 1
