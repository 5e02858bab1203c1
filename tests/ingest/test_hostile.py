"""Hostile input against the decode boundary, the lander and the dead-letter store (issue 14).

No broker here: the decoders, the lander's durable writes into ``tmp_path`` and the replay.
The collector against a real Mosquitto is in ``test_hostile_collector.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ingest.decode as decode_module
from aircarbon.commands.decode import decode_lines
from aircarbon.core.catalog import load_catalog
from ingest.batch import ReadingBatch
from ingest.dead_letter import DETAIL_CHARS, DeadLetterBatch
from ingest.decode import DecodeRules, decode_message, decode_payload, decode_status, to_us
from ingest.hj212 import build_data_segment, build_frame
from ingest.lander import Lander, isolate_failures
from ingest.offline import land_messages
from ingest.reasons import RejectReason
from ingest.replay import replay_dead_letters
from transforms.raw import read_dead_letters, scan_raw

CATALOG = load_catalog()
RULES = DecodeRules(CATALOG)
NOW = dt.datetime(2026, 11, 24, 2, 5, tzinfo=dt.UTC)
NOW_US = to_us(NOW)
STATION = "SY-TY-01"
MN = CATALOG.stations[STATION].mn
TOPIC = f"aircarbon/v1/{STATION}/readings"
TS = "2026-11-24T10:01:00+08:00"


def nested(depth: int) -> bytes:
    """A ~2 KB message whose reading is an array nested ``depth`` levels deep."""
    head = b'{"station":"SY-TY-01","ts":"2026-11-24T10:01:00+08:00","readings":{"pm25":'
    return head + b"[" * depth + b"]" * depth + b"}}"


def reading(**readings: Any) -> bytes:
    return json.dumps({"station": STATION, "ts": TS, "period_s": 60, "readings": readings}).encode()


# --- the decode boundary -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "station", "kind"),
    [
        (TOPIC, STATION, "readings"),
        (f"aircarbon/v1/{STATION}/status", STATION, "status"),
        ("aircarbon/v1/NOT-A-STATION/readings", "NOT-A-STATION", "readings"),
    ],
)
def test_deeply_nested_json_is_a_decode_error_not_a_crash(
    topic: str, station: str, kind: str
) -> None:
    out = ReadingBatch()
    payload = nested(1000)
    assert len(payload) < 2200
    decoded = decode_message(topic, payload, RULES, NOW_US, out)
    assert [r.reason for r in decoded.rejections] == [RejectReason.DECODE_ERROR]
    assert decoded.rejections[0].detail.startswith("RecursionError: ")
    assert decoded.station == station
    assert decoded.kind == kind
    assert decoded.rejected_whole
    assert len(out) == 0


def test_status_decoder_is_a_boundary_too() -> None:
    payload = b'{"state":"online","x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    decoded = decode_status(payload, STATION, RULES)
    assert [r.reason for r in decoded.rejections] == [RejectReason.DECODE_ERROR]
    assert decoded.status is None


def test_a_decoder_bug_mid_message_takes_back_its_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HJ 212 appends per reading: a failure after the first one must leave nothing behind."""
    calls = {"n": 0}
    original = decode_module._canonical

    def flaky(*args: Any) -> float | None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ZeroDivisionError("a bug of ours")
        return original(*args)

    monkeypatch.setattr(decode_module, "_canonical", flaky)
    out = ReadingBatch()
    out.append("SY-XH-02", "pm25", 1, 1.0, "N", 60, None, 1, "json")  # an earlier message
    frame = build_frame(
        build_data_segment(
            qn=None,
            st="22",
            cn="2011",
            pw="123456",
            mn=MN,
            flag=4,
            datatime="20261124100100",
            items=[("a34004", {"Rtd": "35.2"}), ("a34002", {"Rtd": "61.0"})],
        )
    )
    decoded = decode_message(f"aircarbon/v1/{STATION}/hj212", frame, RULES, NOW_US, out)
    assert [r.reason for r in decoded.rejections] == [RejectReason.DECODE_ERROR]
    assert "ZeroDivisionError: a bug of ours" in decoded.rejections[0].detail
    assert len(out) == 1  # only the earlier message's reading


@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
        "1969-12-31T23:59:59+00:00",
        "2100-01-01T00:00:00+00:00",
    ],
)
def test_timestamps_outside_1970_2099_are_refused_whatever_the_window(ts: str) -> None:
    rules = DecodeRules(CATALOG, check_time=False, max_age_s=10**12)
    out = ReadingBatch()
    payload = json.dumps({"station": STATION, "ts": ts, "readings": {"pm25": 1.0}}).encode()
    decoded = decode_message(TOPIC, payload, rules, NOW_US, out)
    assert [r.reason for r in decoded.rejections] == [RejectReason.BAD_TIMESTAMP]
    assert "1970" in decoded.rejections[0].detail
    assert len(out) == 0


def test_hj212_year_0001_is_refused_at_decode() -> None:
    rules = DecodeRules(CATALOG, check_time=False)
    frame = build_frame(
        build_data_segment(
            qn=None,
            st="22",
            cn="2011",
            pw="123456",
            mn=MN,
            flag=4,
            datatime="00010101000000",
            items=[("a34004", {"Rtd": "35.2"})],
        )
    )
    decoded = decode_message(f"aircarbon/v1/{STATION}/hj212", frame, rules, NOW_US, ReadingBatch())
    assert RejectReason.BAD_TIMESTAMP in [r.reason for r in decoded.rejections]


def test_timestamp_cache_never_keeps_long_attacker_strings() -> None:
    cached = decode_module._parse_rfc3339_cached
    cached.cache_clear()
    for i in range(50):
        ts = f"2026-11-24T10:01:00+08:00{'x' * 60_000}{i}"
        payload = json.dumps({"station": STATION, "ts": ts, "readings": {}}).encode()
        decode_message(
            TOPIC, payload, DecodeRules(CATALOG, max_payload_bytes=10**6), NOW_US, ReadingBatch()
        )
    assert cached.cache_info().currsize == 0
    assert cached.cache_info().maxsize is not None


def test_readings_cap_dead_letters_the_message_whole() -> None:
    rules = DecodeRules(CATALOG, max_readings_per_message=3)
    out = ReadingBatch()
    decoded = decode_message(
        TOPIC, reading(pm25=1.0, pm10=2.0, o3=3.0, no2=4.0), rules, NOW_US, out
    )
    assert [r.reason for r in decoded.rejections] == [RejectReason.TOO_MANY_READINGS]
    assert decoded.rejected_whole
    assert len(out) == 0
    # the cap applies after decoding too (HJ 212, where items are counted by the parser)
    frame = build_frame(
        build_data_segment(
            qn=None,
            st="22",
            cn="2011",
            pw="123456",
            mn=MN,
            flag=4,
            datatime="20261124100100",
            items=[(c, {"Rtd": "1.0"}) for c in ("a34004", "a34002", "a05024", "a21004")],
        )
    )
    decoded = decode_message(f"aircarbon/v1/{STATION}/hj212", frame, rules, NOW_US, out)
    assert [r.reason for r in decoded.rejections] == [RejectReason.TOO_MANY_READINGS]
    assert len(out) == 0


def test_decode_command_reports_a_decode_error_as_one_json_line() -> None:
    rules = DecodeRules(CATALOG, check_station=False, check_time=False)
    lines = [nested(1000).decode() + "\n", reading(pm25=1.0).decode() + "\n"]
    results = list(decode_lines(lines, "auto", rules))
    assert results[0]["ok"] is False
    assert results[0]["reason"] == "decode_error"
    assert results[1]["ok"] is True


# --- fuzzing: nothing escapes ---------------------------------------------------------------

KINDS = ["readings", "hj212", "status", "nonsense"]
json_trees = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)


def _envelope(tree: Any, readings: Any, ts: str) -> bytes:
    doc = {"station": STATION, "ts": ts, "readings": readings, "units": tree, "seq": tree}
    return json.dumps(doc, allow_nan=True).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(KINDS),
    tree=json_trees,
    readings=st.dictionaries(st.sampled_from(["pm25", "co", "x", ""]), json_trees, max_size=4),
    ts=st.sampled_from([TS, "0001-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "", "x" * 40]),
    depth=st.integers(0, 3000),
)
@pytest.mark.slow
def test_fuzz_json_shapes_never_escape(
    kind: str, tree: Any, readings: Any, ts: str, depth: int
) -> None:
    out = ReadingBatch()
    for payload in (_envelope(tree, readings, ts), nested(depth), json.dumps(tree).encode()):
        decoded = decode_message(f"aircarbon/v1/{STATION}/{kind}", payload, RULES, NOW_US, out)
        assert decoded.accepted == 0 or not decoded.rejected_whole
    out.to_arrow()  # whatever was accepted is writable


_hj_field = st.text(alphabet="0123456789.-+eEaA=;,&#N", max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cn=st.sampled_from(["2011", "2051", "2061", "2031", "9014", "20110"]),
    mn=st.sampled_from([MN, "x", MN + "0" * 100]),
    datatime=st.sampled_from(["20261124100100", "00010101000000", "99991231235959", "2026"]),
    items=st.lists(
        st.tuples(
            st.sampled_from(["a34004", "a34002", "a21026", "zzz", "a01001"]),
            st.dictionaries(
                st.sampled_from(["Rtd", "Avg", "Flag", "Min", "Max"]),
                _hj_field,
                min_size=1,
                max_size=3,
            ),
        ),
        max_size=6,
    ),
    garbage=st.binary(max_size=40),
    cut=st.integers(0, 400),
)
@pytest.mark.slow
def test_fuzz_hj212_shapes_never_escape(
    cn: str,
    mn: str,
    datatime: str,
    items: list[tuple[str, dict[str, str]]],
    garbage: bytes,
    cut: int,
) -> None:
    segment = build_data_segment(
        qn=None, st="22", cn=cn, pw="123456", mn=mn, flag=4, datatime=datatime, items=items
    )
    frame = build_frame(segment)
    out = ReadingBatch()
    for payload in (frame, frame[:cut], frame + garbage, garbage + frame, frame.replace(b";", b"")):
        for rules in (RULES, DecodeRules(CATALOG, check_station=False, check_time=False)):
            decode_message(f"aircarbon/v1/{STATION}/hj212", payload, rules, NOW_US, out)
            decode_payload("hj212", payload, None, rules, NOW_US, out)
    out.to_arrow()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    messages=st.lists(
        st.tuples(
            st.sampled_from([*KINDS, "../x", ""]),
            st.one_of(st.binary(max_size=300), json_trees.map(lambda t: json.dumps(t).encode())),
        ),
        max_size=8,
    )
)
def test_fuzz_lander_decodes_and_writes_anything(
    tmp_path_factory: pytest.TempPathFactory, messages: list[tuple[str, bytes]]
) -> None:
    data_dir = tmp_path_factory.mktemp("fuzz")
    lander = Lander(data_dir, DecodeRules(CATALOG, check_time=False), writer_id="fuzz")
    landing = lander.new_landing()
    for kind, payload in messages:
        lander.decode(f"aircarbon/v1/{STATION}/{kind}", payload, NOW_US, landing)
        lander.decode(f"aircarbon/v1/{STATION}/{kind}", nested(1200), NOW_US, landing)
    lander.write(landing)
    assert lander.isolated_rows == 0
    dead = read_dead_letters(data_dir, NOW.date())
    assert (0 if dead is None else dead.height) == len(landing.dead)


# --- the dead-letter store: one payload per message -------------------------------------------


def test_payload_is_stored_once_per_message() -> None:
    batch = DeadLetterBatch(4096)
    rejections: list[tuple[RejectReason, str | None, str]] = [
        (RejectReason.UNKNOWN_PARAM, f"p{i}", f"unknown parameter 'p{i}'") for i in range(5000)
    ]
    payload = b"x" * 60_000
    batch.append_message(NOW_US, TOPIC, STATION, rejections, payload)
    assert len(batch) == 5000
    stored = [p for p in batch.payload if p is not None]
    assert stored == [payload[:4096]]
    assert len(set(batch.message_id)) == 1
    # what the collector counts towards a flush is close to what is held: ~1 MB, not 20 MB
    assert 4096 < batch.nbytes < 1_500_000
    table = batch.to_arrow()
    assert table["payload"].null_count == 4999


def test_details_quoting_attacker_keys_are_cut() -> None:
    out = ReadingBatch()
    key = "k" * 50_000
    decoded = decode_message(
        TOPIC, reading(**{key: 1.0}), DecodeRules(CATALOG, max_payload_bytes=10**6), NOW_US, out
    )
    batch = DeadLetterBatch(4096)
    rejections = [(r.reason, r.param, r.detail) for r in decoded.rejections]
    batch.append_message(NOW_US, TOPIC, STATION, rejections, b"")
    assert len(batch.detail[0]) == DETAIL_CHARS


def _too_old_then_partly_bad(data_dir: Path) -> None:
    """Two dead-lettered messages: one too old, one with two refused readings."""
    old_ts = (NOW - dt.timedelta(days=30)).isoformat()
    messages = [
        (TOPIC, json.dumps({"station": STATION, "ts": old_ts, "readings": {"pm25": 5.0}}).encode()),
        (TOPIC, reading(pm25=1.0, bogus=2.0, pm10=1e9)),
    ]
    land_messages(messages, data_dir, RULES, received_us=NOW_US)


def test_replay_and_readers_work_with_payload_references(tmp_path: Path) -> None:
    _too_old_then_partly_bad(tmp_path)
    dead = read_dead_letters(tmp_path, NOW.date())
    assert dead is not None
    assert sorted(dead["reason"].to_list()) == ["out_of_range", "ts_too_old", "unknown_param"]
    assert dead["payload"].null_count() == 1  # the partly bad message's second row
    # ... which names the row holding its payload (the lake keeps message_id too)
    orphan = dead.filter(pl.col("payload").is_null())["message_id"].item()
    assert dead.filter(pl.col("message_id") == orphan)["payload"].drop_nulls().len() == 1
    # --reason out_of_range selects the row without the payload: it is found by message id
    report = replay_dead_letters(tmp_path, RULES, reasons=["out_of_range"], dry_run=True)
    assert (report.rows, report.messages) == (1, 1)
    assert dict(report.still_rejected) == {"unknown_param": 1, "out_of_range": 1}
    report = replay_dead_letters(tmp_path, RULES, time_check=False)
    assert report.messages == 2
    assert report.recovered == 1  # the old reading; pm25=1.0 of the other had landed
    assert report.already_landed == 1


def test_replay_reads_legacy_files_and_skips_corrupt_ones(tmp_path: Path) -> None:
    folder = tmp_path / "dead_letter" / f"date={NOW:%Y-%m-%d}"
    folder.mkdir(parents=True)
    old_ts = (NOW - dt.timedelta(days=30)).isoformat()
    payload = json.dumps({"station": STATION, "ts": old_ts, "readings": {"pm25": 5.0}}).encode()
    legacy = pa.table(
        {
            "received_at": pa.array([NOW_US], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "topic": [TOPIC],
            "station": [STATION],
            "reason": ["ts_too_old"],
            "param": pa.array([None], pa.string()),
            "detail": ["old"],
            "payload": pa.array([payload], pa.binary()),
            "payload_size": pa.array([len(payload)], pa.int64()),
        }
    )
    pq.write_table(legacy, folder / "legacy.parquet")
    (folder / "broken.parquet").write_bytes(b"PAR1 not really")
    _too_old_then_partly_bad(tmp_path)
    report = replay_dead_letters(tmp_path, RULES, time_check=False, dry_run=True)
    assert report.skipped_files == [folder / "broken.parquet"]
    assert report.messages == 3
    dead = read_dead_letters(tmp_path, NOW.date())
    assert dead is not None
    assert dead.height == 4


def test_poison_rows_are_not_replayed_unless_asked(tmp_path: Path) -> None:
    lander = Lander(tmp_path, RULES, writer_id="t")
    landing = lander.new_landing()
    landing.dead.append_message(
        NOW_US,
        TOPIC,
        STATION,
        [(RejectReason.POISON, None, "died on it")],
        reading(pm25=1.0),
        whole=True,
    )
    lander.write(landing)
    assert replay_dead_letters(tmp_path, RULES, dry_run=True).messages == 0
    asked = replay_dead_letters(tmp_path, RULES, reasons=["poison"], dry_run=True)
    assert (asked.messages, asked.recovered) == (1, 1)


def test_corrupt_raw_file_is_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    land_messages([(TOPIC, reading(pm25=1.0))], tmp_path, RULES, received_us=NOW_US)
    [good] = list((tmp_path / "raw").rglob("*.parquet"))
    bad = good.with_name("zz-truncated.parquet")
    bad.write_bytes(good.read_bytes()[:-20])
    frame = scan_raw(tmp_path, NOW - dt.timedelta(hours=1), NOW).collect()
    assert frame.height == 1
    assert "zz-truncated.parquet" in caplog.text


# --- writer faults ----------------------------------------------------------------------------


def test_isolate_failures_bisects_to_the_failing_rows() -> None:
    written: list[tuple[int, int]] = []

    def write(lo: int, hi: int) -> int:
        if any(i in {3, 11} for i in range(lo, hi)):
            raise ValueError("bad row")
        written.append((lo, hi))
        return 1

    files, bad = isolate_failures(16, write)
    assert [i for i, _ in bad] == [3, 11]
    covered = sorted(i for lo, hi in written for i in range(lo, hi))
    assert covered == [i for i in range(16) if i not in {3, 11}]
    assert files == len(written)


def test_isolate_failures_lets_os_errors_through() -> None:
    def write(lo: int, hi: int) -> int:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        isolate_failures(4, write)


def test_a_row_the_store_cannot_take_is_dead_lettered_and_the_rest_lands(tmp_path: Path) -> None:
    lander = Lander(tmp_path, RULES, writer_id="t")
    landing = lander.new_landing()
    lander.decode(TOPIC, reading(pm25=1.0, pm10=2.0), NOW_US, landing)
    # a reading no decoder produces today (a lone surrogate cannot be UTF-8 in Parquet),
    # appended the way a future decoder bug would
    landing.readings.append("SY-\udc80", "o3", NOW_US, 3.0, "N", 60, None, NOW_US, "json")
    lander.decode(TOPIC, reading(no2=4.0), NOW_US, landing)
    lander.write(landing)
    raw = pl.concat([pl.read_parquet(f) for f in (tmp_path / "raw").rglob("*.parquet")])
    assert sorted(raw["param"].to_list()) == ["no2", "pm10", "pm25"]
    dead = read_dead_letters(tmp_path, NOW.date())
    assert dead is not None
    assert dead["reason"].to_list() == ["write_error"]
    assert dead["param"].to_list() == ["o3"]
    assert json.loads(dead["payload"][0])["station"] == "SY-\\udc80"  # made ASCII
    assert lander.isolated_rows == 1
    assert len(landing.dead) == 0  # the landing is untouched: a retry starts over


def test_disk_errors_still_propagate_for_a_retry(tmp_path: Path) -> None:
    (tmp_path / "raw").write_text("a file where the raw store should be")
    lander = Lander(tmp_path, RULES, writer_id="t")
    landing = lander.new_landing()
    lander.decode(TOPIC, reading(pm25=1.0), NOW_US, landing)
    with pytest.raises(NotADirectoryError):
        lander.write(landing)


def test_replay_without_time_check_of_a_year_0001_dead_letter_is_still_rejected(
    tmp_path: Path,
) -> None:
    """Once a traceback at write time: now refused at decode whatever the window."""
    year_one = json.dumps(
        {"station": STATION, "ts": "0001-01-01T00:00:00+08:00", "readings": {"pm25": 1.0}}
    ).encode()
    report = land_messages([(TOPIC, year_one)], tmp_path, RULES, received_us=NOW_US)
    assert report.rejections == {"bad_timestamp": 1}
    replayed = replay_dead_letters(tmp_path, RULES, time_check=False)
    assert dict(replayed.still_rejected) == {"bad_timestamp": 1}
    assert replayed.recovered == 0


def test_offline_landing_goes_on_past_a_nested_message(tmp_path: Path) -> None:
    messages = [(TOPIC, reading(pm25=1.0)), (TOPIC, nested(1000)), (TOPIC, reading(pm10=2.0))]
    report = land_messages(messages, tmp_path, RULES, received_us=NOW_US)
    assert report.readings == 2
    assert report.rejections == {"decode_error": 1}


# --- the poison journal ---------------------------------------------------------------------


def test_poison_journal_counts_crashes_inside_a_decode(tmp_path: Path) -> None:
    from ingest.poison import PoisonJournal, message_digest

    digest = message_digest(TOPIC, b"kills")
    first = PoisonJournal(tmp_path, "w")
    assert first.open() is None
    first.enter(digest, TOPIC)  # ... and the process dies here: no leave(), no close()
    second = PoisonJournal(tmp_path, "w")
    found = second.open()
    assert found is not None
    assert "crash 1" in found
    assert TOPIC in found
    assert not second.is_poison(digest)
    second.enter(digest, TOPIC)  # dies on it again
    third = PoisonJournal(tmp_path, "w")
    assert "crash 2" in (third.open() or "")
    assert third.is_poison(digest)
    assert not third.is_poison(message_digest(TOPIC, b"innocent"))
    third.close()
    # a clean stop leaves nothing in flight: the next start counts no crash
    assert PoisonJournal(tmp_path, "w").open() is None


def test_a_suspect_that_decodes_fine_is_forgotten(tmp_path: Path) -> None:
    from ingest.poison import PoisonJournal, message_digest

    digest = message_digest(TOPIC, b"retained status")
    PoisonJournal(tmp_path, "w").open()
    crashed = PoisonJournal(tmp_path, "w")
    crashed.open()
    crashed.enter(digest, TOPIC)  # an unrelated kill happened to fall on it
    journal = PoisonJournal(tmp_path, "w")
    journal.open()
    assert journal.crashes(digest) == 1
    journal.enter(digest, TOPIC)
    journal.leave(digest)  # decoded fine this time
    assert journal.crashes(digest) == 0
    journal.close()
    reopened = PoisonJournal(tmp_path, "w")
    reopened.open()
    assert reopened.suspects == {}


def test_an_unreadable_suspects_file_is_ignored(tmp_path: Path) -> None:
    from ingest.poison import PoisonJournal

    (tmp_path / "w.suspects.json").write_text('{"suspects": {"zz": 1, "' + "g" * 32 + '": {}}')
    journal = PoisonJournal(tmp_path, "w")
    assert journal.open() is None
    assert journal.suspects == {}
