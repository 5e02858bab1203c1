"""HJ 212-2017 data uploads → normalised readings (the decoder, not the packet layer).

The packet layer (``ingest.hj212``: framing, CRC, syntax) has its own tests; here packets are
built with its ``build_data_segment``/``build_frame`` and we check what lands: station by MN,
``DataTime`` (device local time, START of the period by default) → UTC end of period, HJ 212
codes → catalog parameters, transport units (pressure in kPa) → canonical units, data flags,
and that packet-level reasons propagate while per-reading problems spare the siblings.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aircarbon.core.catalog import Parameter, load_catalog
from ingest.batch import ReadingBatch
from ingest.decode import Decoded, DecodeRules, decode_hj212, decode_message, to_us
from ingest.hj212 import DATA_COMMANDS, DATA_FLAGS, build_data_segment, build_frame, hj212_crc16
from ingest.reasons import RejectReason

CATALOG = load_catalog()
RULES = DecodeRules(CATALOG)
STRICT = DecodeRules(CATALOG, hj212_strict=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 25, 2, 5, tzinfo=dt.UTC)  # 10:05 in Shenyang
NOW_US = to_us(NOW)
STATION = CATALOG.station("SY-TY-01")
TOPIC = f"aircarbon/v1/{STATION.id}/hj212"
DATATIME = "20261125100000"  # local start of the minute 10:00-10:01 → 02:01 UTC
END_US = to_us(dt.datetime(2026, 11, 25, 2, 1, tzinfo=dt.UTC))

Items = Sequence[tuple[str, Mapping[str, str]]]

MINUTE_ITEMS: Items = [
    ("a34004", {"Avg": "35.2", "Flag": "N"}),  # pm25
    ("a34002", {"Avg": "61.0", "Flag": "N"}),  # pm10
    ("a05024", {"Avg": "88.0", "Flag": "C"}),  # o3, calibrating
    ("a21004", {"Avg": "41.5"}),  # no2, no flag → N
    ("a21005", {"Avg": "0.8", "Flag": "N"}),  # co, mg/m³
    ("a01006", {"Avg": "101.3", "Flag": "N"}),  # pressure, kPa on the wire
]


def frame(
    items: Items = MINUTE_ITEMS,
    *,
    cn: str = "2051",
    mn: str = STATION.mn,
    datatime: str = DATATIME,
    st_code: str = "22",
    flag: int = 4,
    qn: str | None = "20261125100100123",
) -> bytes:
    segment = build_data_segment(
        qn=qn, st=st_code, cn=cn, pw="123456", mn=mn, flag=flag, datatime=datatime, items=items
    )
    return build_frame(segment)


def decode(
    payload: bytes,
    *,
    rules: DecodeRules = RULES,
    topic_station: str | None = STATION.id,
    now_us: int = NOW_US,
) -> tuple[Decoded, ReadingBatch]:
    out = ReadingBatch()
    decoded = decode_hj212(payload, topic_station, rules, now_us, out)
    assert decoded.accepted == len(out)
    return decoded, out


def values(out: ReadingBatch) -> dict[str, float]:
    return dict(zip(out.param, out.value, strict=True))


def reasons(decoded: Decoded) -> list[tuple[RejectReason, str | None]]:
    return [(r.reason, r.param) for r in decoded.rejections]


# --------------------------------------------------------------------------------------
# the happy path
# --------------------------------------------------------------------------------------


def test_minute_packet() -> None:
    decoded, out = decode(frame())
    assert decoded.rejections == []
    assert decoded.station == STATION.id
    assert decoded.packet is not None
    assert decoded.packet.mn == STATION.mn
    assert decoded.period_s == 60
    assert decoded.ts_us == END_US
    assert values(out) == pytest.approx(
        {"pm25": 35.2, "pm10": 61.0, "o3": 88.0, "no2": 41.5, "co": 0.8, "pressure": 1013.0}
    )
    rows = {r["param"]: r for r in out.rows()}
    assert rows["o3"]["flag"] == "C"
    assert rows["no2"]["flag"] == "N"
    for row in rows.values():
        assert row["station"] == STATION.id
        assert row["ts"] == END_US
        assert row["period_s"] == 60
        assert row["seq"] is None
        assert row["received_at"] == NOW_US
        assert row["source"] == "hj212"


def test_pressure_kpa_lands_in_hpa() -> None:
    decoded, out = decode(frame([("a01006", {"Avg": "101.325"})]))
    assert decoded.rejections == []
    assert values(out)["pressure"] == pytest.approx(1013.25)


def test_through_decode_message() -> None:
    out = ReadingBatch()
    decoded = decode_message(TOPIC, frame(), RULES, NOW_US, out)
    assert decoded.rejections == []
    assert len(out) == len(MINUTE_ITEMS)


@pytest.mark.parametrize(
    ("cn", "field", "period_s"),
    [("2011", "Rtd", 0), ("2051", "Avg", 60), ("2061", "Avg", 3600), ("2031", "Avg", 86400)],
)
def test_commands_and_periods(cn: str, field: str, period_s: int) -> None:
    """DataTime is the start of the period: ts = local DataTime → UTC + period."""
    datatime = "20261124000000"  # local midnight = 2026-11-23 16:00 UTC
    items = [("a34004", {field: "35.0", "Flag": "N"})]
    decoded, out = decode(frame(items, cn=cn, datatime=datatime))
    assert decoded.rejections == []
    start = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)
    assert out.ts == [to_us(start + dt.timedelta(seconds=period_s))]
    assert out.period_s == [period_s]


def test_datatime_end_setting() -> None:
    rules = DecodeRules(CATALOG, hj212_datatime="end")
    decoded, out = decode(frame(), rules=rules)
    assert decoded.rejections == []
    assert set(out.ts) == {to_us(dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC))}


def test_other_fields_ignored() -> None:
    """A minute packet's value is -Avg; -Min/-Max/-Cou travel along and are not stored."""
    items = [
        ("a34004", {"Min": "30.0", "Avg": "35.0", "Max": "40.0", "Flag": "N"}),
        ("a21005", {"Cou": "1.0"}),  # a code with no -Avg: nothing to store, no rejection
    ]
    decoded, out = decode(frame(items))
    assert decoded.rejections == []
    assert values(out) == {"pm25": 35.0}


def test_no_station_check_uses_mn() -> None:
    rules = DecodeRules(CATALOG, check_station=False, check_time=False)
    decoded, out = decode(frame(mn="UNKNOWN0001"), rules=rules, topic_station=None)
    assert decoded.rejections == []
    assert set(out.station) == {"UNKNOWN0001"}


# --------------------------------------------------------------------------------------
# hypothesis: random valid packets round-trip
# --------------------------------------------------------------------------------------

HJ212_PARAMS = sorted((p for p in CATALOG.parameters.values() if p.hj212), key=lambda p: p.code)
HJ_FLAGS = sorted(set(DATA_FLAGS) & set(CATALOG.flags))
MAX_AGE_S = RULES.max_age_s
MAX_FUTURE_S = RULES.max_future_s


@st.composite
def hj_item(draw: st.DrawFn, param: Parameter, field: str) -> tuple[str, dict[str, str]]:
    lo, hi = param.physical
    margin = (hi - lo) * 1e-6
    canonical = draw(st.floats(lo + margin, hi - margin, allow_nan=False, allow_subnormal=False))
    wire = canonical
    if param.hj212_unit:
        conv = CATALOG.conversion(param.code, param.hj212_unit)
        wire = (canonical - conv.offset) / conv.scale
    decimals = draw(st.integers(0, 4))
    raw = f"{wire:.{decimals}f}"
    fields = {field: raw}
    flag = draw(st.none() | st.sampled_from(HJ_FLAGS))
    if flag is not None:
        fields["Flag"] = flag
    return param.hj212 or "", fields


@st.composite
def hj_packet(draw: st.DrawFn) -> tuple[str, bytes, int, list[tuple[str, dict[str, str]]]]:
    station = draw(st.sampled_from(sorted(CATALOG.stations.values(), key=lambda s: s.id)))
    cn = draw(st.sampled_from(sorted(DATA_COMMANDS)))
    command = DATA_COMMANDS[cn]
    params = draw(st.lists(st.sampled_from(HJ212_PARAMS), min_size=1, max_size=16, unique=True))
    items = [draw(hj_item(p, command.value_field)) for p in params]
    # the END of the period (UTC, whole seconds) somewhere inside the accepted window
    age_s = draw(st.integers(-(MAX_FUTURE_S - 1), MAX_AGE_S - 1))
    end = NOW - dt.timedelta(seconds=age_s)
    start_local = (end - dt.timedelta(seconds=command.period_s)).astimezone(
        ZoneInfo(station.timezone)
    )
    datatime = start_local.strftime("%Y%m%d%H%M%S")
    qn = start_local.strftime("%Y%m%d%H%M%S") + "000"
    payload = frame(items, cn=cn, mn=station.mn, datatime=datatime, qn=qn)
    return station.id, payload, to_us(end), items


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hj_packet())
@pytest.mark.slow
def test_round_trip(packet: tuple[str, bytes, int, list[tuple[str, dict[str, str]]]]) -> None:
    station, payload, end_us, items = packet
    out = ReadingBatch()
    decoded = decode_message(f"aircarbon/v1/{station}/hj212", payload, RULES, NOW_US, out)
    # a value rounded to few decimals may just cross a physical bound: skip those draws
    expected: dict[str, tuple[float, str]] = {}
    for code, fields in items:
        param = CATALOG.parameter_by_hj212(code)
        raw = next(v for k, v in fields.items() if k != "Flag")
        want = CATALOG.to_canonical(param.code, float(raw), param.hj212_unit)
        assume(param.physical[0] <= want <= param.physical[1])
        expected[param.code] = (want, fields.get("Flag", "N"))
    assert decoded.rejections == []
    assert decoded.station == station
    assert decoded.ts_us == end_us
    assert len(out) == len(items)
    for row in out.rows():
        want, flag = expected[row["param"]]
        assert math.isclose(row["value"], want, rel_tol=1e-9, abs_tol=1e-12), row["param"]
        assert row["flag"] == flag
        assert row["station"] == station
        assert row["ts"] == end_us
        assert row["period_s"] == decoded.period_s
        assert row["source"] == "hj212"


# --------------------------------------------------------------------------------------
# packet-level reasons propagate
# --------------------------------------------------------------------------------------


def assert_whole(decoded: Decoded, out: ReadingBatch, reason: RejectReason) -> str:
    assert [r.reason for r in decoded.rejections] == [reason]
    assert decoded.rejections[0].param is None
    assert decoded.rejected_whole
    assert len(out) == 0
    return decoded.rejections[0].detail


def test_bad_crc() -> None:
    good = frame()
    crc = good[-6:-2]
    wrong = b"%04X" % ((int(crc, 16) + 1) % 0x10000)
    decoded, out = decode(good[:-6] + wrong + b"\r\n")
    assert_whole(decoded, out, RejectReason.HJ212_CRC)


def test_bad_length() -> None:
    good = frame()
    declared = int(good[2:6])
    decoded, out = decode(b"##%04d" % (declared + 1) + good[6:])
    assert_whole(decoded, out, RejectReason.HJ212_LENGTH)


def test_bad_framing() -> None:
    decoded, out = decode(frame()[:-2], rules=STRICT)  # no CRLF
    assert_whole(decoded, out, RejectReason.HJ212_FRAMING)
    decoded, out = decode(b"hello\r\n")
    assert_whole(decoded, out, RejectReason.HJ212_FRAMING)


def test_missing_crlf_lands_with_its_quirk() -> None:
    decoded, out = decode(frame()[:-2])
    assert decoded.rejections == []
    assert len(out) == len(MINUTE_ITEMS)
    assert set(out.source) == {"hj212;quirks=no_crlf"}


def test_non_ascii() -> None:
    segment = build_data_segment(
        qn=None,
        st="22",
        cn="2051",
        pw="123456",
        mn=STATION.mn,
        flag=4,
        datatime=DATATIME,
        items=[("a34004", {"Avg": "1.0"})],
    )
    data = segment.encode().replace(b"1.0", b"1\xb70")
    payload = b"##%04d%s0000\r\n" % (len(data), data)
    decoded, out = decode(payload)
    assert_whole(decoded, out, RejectReason.BAD_ENCODING)


@pytest.mark.parametrize("cn", ["1062", "9014", "2021", "3020"])
def test_non_data_command(cn: str) -> None:
    segment = (
        f"QN=20261125100100123;ST=22;CN={cn};PW=123456;MN={STATION.mn};Flag=4;CP=&&RtdInterval=30&&"
    )
    decoded, out = decode(build_frame(segment))
    detail = assert_whole(decoded, out, RejectReason.HJ212_COMMAND)
    assert cn in detail


def test_field_syntax() -> None:
    payload = frame([("a34004", {"Avg": "1.0", "Bogus": "x"})])
    decoded, out = decode(payload, rules=STRICT)
    assert_whole(decoded, out, RejectReason.HJ212_FIELD)
    decoded, out = decode(payload)  # tolerant: the unknown field is skipped, named
    assert values(out) == {"pm25": 1.0}
    assert out.source == ["hj212;quirks=cp_unknown_field"]
    decoded, out = decode(frame([("a34004", {"Avg": "1.0"})]).replace(b"a34004", b"a34/04"))
    assert [r.reason for r in decoded.rejections] != []  # a bad code is never tolerated


def test_packetised() -> None:
    segment = (
        f"QN=20261125100100123;ST=22;CN=2051;PW=123456;MN={STATION.mn};Flag=6;PNUM=2;PNO=1;"
        f"CP=&&DataTime={DATATIME};a34004-Avg=1.0&&"
    )
    decoded, out = decode(build_frame(segment))
    assert_whole(decoded, out, RejectReason.HJ212_PACKETISED)


def test_oversized_via_decode_message() -> None:
    rules = DecodeRules(CATALOG, max_payload_bytes=256)
    out = ReadingBatch()
    decoded = decode_message(TOPIC, frame(), rules, NOW_US, out)
    assert_whole(decoded, out, RejectReason.OVERSIZED)


def test_unknown_mn() -> None:
    decoded, out = decode(frame(mn="999999ZZ99"))
    detail = assert_whole(decoded, out, RejectReason.UNKNOWN_STATION)
    assert "999999ZZ99" in detail


def test_mn_topic_mismatch() -> None:
    other = CATALOG.station("SY-XH-02")
    decoded, out = decode(frame(mn=other.mn))
    detail = assert_whole(decoded, out, RejectReason.TOPIC_MISMATCH)
    assert "SY-XH-02" in detail
    assert STATION.id in detail


def test_datatime_too_old_and_future() -> None:
    old = (NOW - dt.timedelta(days=8)).astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")
    decoded, out = decode(frame(datatime=old))
    assert_whole(decoded, out, RejectReason.TS_TOO_OLD)
    future = (NOW + dt.timedelta(hours=1)).astimezone(SHANGHAI).strftime("%Y%m%d%H%M%S")
    decoded, out = decode(frame(datatime=future))
    assert_whole(decoded, out, RejectReason.TS_FUTURE)


def test_datatime_is_local_time() -> None:
    """DataTime is read in the station's zone: a device stamping UTC lands 8 h early."""
    # a device wrongly sending 02:00 (UTC) → read as 02:00 Shanghai = 18:00 UTC the day before
    decoded, out = decode(frame(datatime="20261125020000"))
    assert decoded.rejections == []  # inside the 7-day window: lands 8 h off (a station QA issue)
    assert out.ts[0] == to_us(dt.datetime(2026, 11, 24, 18, 1, tzinfo=dt.UTC))


# --------------------------------------------------------------------------------------
# per-reading problems: siblings land
# --------------------------------------------------------------------------------------


def test_unknown_code_siblings_land() -> None:
    items = [*MINUTE_ITEMS, ("a99999", {"Avg": "1.0", "Flag": "N"}), ("w01018", {"Avg": "5"})]
    decoded, out = decode(frame(items))
    assert reasons(decoded) == [
        (RejectReason.UNKNOWN_PARAM, "a99999"),
        (RejectReason.UNKNOWN_PARAM, "w01018"),
    ]
    assert not decoded.rejected_whole
    assert len(out) == len(MINUTE_ITEMS)


def test_non_numeric_and_unknown_flag() -> None:
    items = [
        ("a34004", {"Avg": "abc", "Flag": "N"}),
        ("a34002", {"Avg": "61.0", "Flag": "Z"}),
        ("a05024", {"Avg": "1e3"}),  # exponent: not an HJ 212 decimal
        ("a21004", {"Avg": "41.5", "Flag": "N"}),
    ]
    decoded, out = decode(frame(items))
    assert sorted(reasons(decoded)) == sorted(
        [
            (RejectReason.NON_NUMERIC, "pm25"),
            (RejectReason.UNKNOWN_FLAG, "pm10"),
            (RejectReason.NON_NUMERIC, "o3"),
        ]
    )
    assert values(out) == {"no2": 41.5}


def test_out_of_range_per_reading() -> None:
    items = [
        ("a01002", {"Avg": "150.0"}),  # rh 150 %
        ("a01006", {"Avg": "1013.0"}),  # pressure sent in hPa by mistake: 10130 hPa
        ("a01001", {"Avg": "-5.0"}),
    ]
    decoded, out = decode(frame(items))
    assert sorted(reasons(decoded)) == [
        (RejectReason.OUT_OF_RANGE, "pressure"),
        (RejectReason.OUT_OF_RANGE, "rh"),
    ]
    assert values(out) == {"temp": -5.0}


# --------------------------------------------------------------------------------------
# fuzz: mutated packets never make the decoder raise
# --------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    packet=hj_packet(),
    pos=st.integers(min_value=0, max_value=2000),
    byte=st.integers(min_value=0, max_value=255),
    mode=st.sampled_from(["flip", "cut", "insert", "reframe"]),
)
@pytest.mark.slow
def test_fuzz_mutated_packets(
    packet: tuple[str, bytes, int, list[tuple[str, dict[str, str]]]], pos: int, byte: int, mode: str
) -> None:
    station, payload, _, _ = packet
    data = bytearray(payload)
    i = pos % len(data)
    if mode == "flip":
        data[i] = byte
    elif mode == "cut":
        del data[i:]
    elif mode == "insert":
        data.insert(i, byte)
    else:
        # mutate inside the segment and re-frame with a correct length and CRC, so the
        # mutation reaches the field parser instead of failing the CRC check
        segment = bytearray(payload[6:-6])
        j = pos % len(segment)
        segment[j] = byte & 0x7F
        try:
            data = bytearray(build_frame(segment.decode("ascii")))
        except UnicodeEncodeError:  # pragma: no cover - masked to ASCII above
            return
    out = ReadingBatch()
    decoded = decode_message(f"aircarbon/v1/{station}/hj212", bytes(data), RULES, NOW_US, out)
    assert decoded.accepted == len(out)
    for r in decoded.rejections:
        assert isinstance(r.reason, RejectReason)
    if len(out):
        out.to_arrow()


# --------------------------------------------------------------------------------------
# real loggers: quirks, HJ/T 212-2005 codes, per-station protocol version
# --------------------------------------------------------------------------------------


def with_version(version: str) -> DecodeRules:
    """RULES with SY-TY-01's logger declared as speaking ``version``."""
    stations = dict(CATALOG.stations)
    stations[STATION.id] = replace(STATION, hj212_version=version)  # type: ignore[arg-type]
    return DecodeRules(replace(CATALOG, stations=stations))


def test_quirks_are_named_in_every_landed_readings_source() -> None:
    segment = build_data_segment(
        qn="20261125100100123",
        st="22",
        cn="2051",
        pw="BF470F88957588DE902D1A52",
        mn="JLYP01_AIR01_0001",
        flag=7,  # D bit, no PNUM/PNO
        datatime=DATATIME + "000",  # milliseconds
        items=MINUTE_ITEMS,
    )
    payload = build_frame(segment)
    rules = DecodeRules(CATALOG, check_station=False)
    decoded, out = decode(payload, rules=rules, topic_station=None)
    assert decoded.rejections == []
    assert set(out.station) == {"JLYP01_AIR01_0001"}  # no catalog: the MN names the rows
    assert decoded.ts_us == END_US  # the milliseconds did not move the reading
    assert set(out.source) == {"hj212;quirks=datatime_ms,flag_d_no_pnum,mn_punct,pw_long"}
    assert decoded.packet is not None
    assert decoded.packet.quirks == ("datatime_ms", "flag_d_no_pnum", "mn_punct", "pw_long")
    strict = DecodeRules(CATALOG, check_station=False, hj212_strict=True)
    decoded, out = decode(payload, rules=strict, topic_station=None)
    assert_whole(decoded, out, RejectReason.HJ212_FIELD)


def test_a_conforming_packet_keeps_the_plain_source() -> None:
    _, out = decode(frame())
    assert set(out.source) == {"hj212"}


def test_hj212_2005_codes_land_with_their_units() -> None:
    items = [
        ("02", {"Avg": "0.05", "Flag": "N"}),  # SO2 in mg/m³ → 50 µg/m³
        ("04", {"Avg": "1.2", "Flag": "N"}),  # CO, mg/m³
        ("S01", {"Avg": "20.5", "Flag": "N"}),  # flue-gas O2: no catalog parameter
        ("a34004", {"Avg": "35.0", "Flag": "N"}),  # a 2017 code beside them
    ]
    decoded, out = decode(frame(items, flag=0, qn=None))
    assert values(out) == {"so2": pytest.approx(50.0), "co": 1.2, "pm25": 35.0}
    sources = dict(zip(out.param, out.source, strict=True))
    assert sources == {"so2": "hj212-2005", "co": "hj212-2005", "pm25": "hj212"}
    [rejection] = decoded.rejections
    assert (rejection.reason, rejection.param) == (RejectReason.UNKNOWN_PARAM, "S01")
    assert "HJ/T 212-2005" in rejection.detail
    assert "no catalog parameter" in rejection.detail


def test_station_protocol_version_picks_the_code_table() -> None:
    items = [("02", {"Avg": "0.05"}), ("a34004", {"Avg": "35.0"})]
    decoded, out = decode(frame(items), rules=with_version("2017"))
    assert values(out) == {"pm25": 35.0}
    assert [(r.param, "hj212_version is 2017" in r.detail) for r in decoded.rejections] == [
        ("02", True)
    ]
    decoded, out = decode(frame(items), rules=with_version("2005"))
    assert values(out) == {"so2": pytest.approx(50.0)}
    assert [(r.param, "hj212_version is 2005" in r.detail) for r in decoded.rejections] == [
        ("a34004", True)
    ]
    decoded, out = decode(frame(items), rules=with_version("auto"))
    assert set(values(out)) == {"so2", "pm25"}


def test_known_readings_land_beside_unknown_codes() -> None:
    items = [
        ("a34004", {"Avg": "35.0"}),
        ("a99999", {"Avg": "1.0"}),
        ("xyz1", {"Avg": "2.0"}),
        ("a21026", {"Avg": "7.0"}),
    ]
    decoded, out = decode(frame(items))
    assert values(out) == {"pm25": 35.0, "so2": 7.0}
    assert [(r.reason, r.param) for r in decoded.rejections] == [
        (RejectReason.UNKNOWN_PARAM, "a99999"),
        (RejectReason.UNKNOWN_PARAM, "xyz1"),
    ]
    assert not decoded.rejected_whole


# --------------------------------------------------------------------------------------
# the corpus of real packets (tests/ingest/corpus/README.md)
# --------------------------------------------------------------------------------------

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "corpus" / "hj212_packets.jsonl").read_text().splitlines()
]
NO_STATION_NO_TIME = DecodeRules(CATALOG, check_station=False, check_time=False)


def test_corpus_has_provenance_and_valid_frames() -> None:
    assert len(CORPUS) >= 20
    assert len({c["id"] for c in CORPUS}) == len(CORPUS)
    air = [c for c in CORPUS if c["kind"] == "air_data"]
    assert len(air) >= 10
    for case in CORPUS:
        src = case["source"]
        assert src["repo"].count("/") == 1
        assert src["path"]
        assert src["line"] > 0
        assert len(src["commit"]) == 40
        raw = case["frame"].encode()
        segment = raw[6 : raw.index(b"&&", raw.index(b"CP=&&") + 5) + 2]
        assert int(raw[2:6]) == len(segment), case["id"]  # the length field is right
        crc_ok = int(raw[6 + len(segment) : 10 + len(segment)], 16) == hj212_crc16(segment)
        assert crc_ok == (case["expect"]["outcome"] != "hj212_crc"), case["id"]


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_packet(case: dict[str, Any]) -> None:
    expect = case["expect"]
    decoded, out = decode(case["frame"].encode(), rules=NO_STATION_NO_TIME, topic_station=None)
    if expect["outcome"] != "data":
        assert_whole(decoded, out, RejectReason(expect["outcome"]))
        if decoded.packet is not None:
            assert list(decoded.packet.quirks) == expect["quirks"]
        return
    assert decoded.packet is not None
    assert list(decoded.packet.quirks) == expect["quirks"]
    assert decoded.period_s == expect["period_s"]
    got = values(out)
    assert got.keys() == expect["readings"].keys()
    for param, want in expect["readings"].items():
        assert math.isclose(got[param], want, rel_tol=1e-9, abs_tol=1e-9), param
    quirks = f";quirks={','.join(expect['quirks'])}" if expect["quirks"] else ""
    assert set(out.source) <= {f"hj212{quirks}"}
    refused = {(r.reason, r.param) for r in decoded.rejections}
    assert {p for reason, p in refused if reason is RejectReason.UNKNOWN_PARAM} >= set(
        expect["unknown_codes"]
    )
    assert {p for reason, p in refused if reason is RejectReason.OUT_OF_RANGE} == set(
        expect["out_of_range"]
    )
    assert not decoded.rejected_whole


def test_every_valid_air_upload_of_the_corpus_lands_when_tolerant_but_not_when_strict() -> None:
    """What the issue measured: strict decoding dead-letters most real air uploads whole."""
    air = [c for c in CORPUS if c["kind"] == "air_data" and c["expect"]["readings"]]
    strict = DecodeRules(CATALOG, check_station=False, check_time=False, hj212_strict=True)
    whole_strict = 0
    for case in air:
        decoded, out = decode(case["frame"].encode(), rules=NO_STATION_NO_TIME, topic_station=None)
        assert len(out) == len(case["expect"]["readings"]), case["id"]
        decoded, out = decode(case["frame"].encode(), rules=strict, topic_station=None)
        whole_strict += decoded.rejected_whole
    assert whole_strict > len(air) // 2


# --------------------------------------------------------------------------------------
# the catalog's HJ 212 parts: the 2005 table and the per-station version
# --------------------------------------------------------------------------------------


def test_hj212_2005_table_is_cited_and_consistent() -> None:
    table = CATALOG.hj212_2005
    assert {"01", "02", "03", "04", "30", "S01", "S08", "B02"} <= set(table)
    mapped = {code: e.param for code, e in table.items() if e.param}
    assert mapped == {"02": "so2", "03": "nox", "04": "co", "30": "co2"}
    for entry in table.values():
        assert entry.source in CATALOG.sources
        if entry.param:
            assert entry.hj212_2017 == CATALOG.parameter(entry.param).hj212
            CATALOG.conversion(entry.param, entry.unit)  # a unit the parameter accepts
    assert {s.hj212_version for s in CATALOG.stations.values()} == {"auto"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ('mn = "210102TY0100000000000001"', "hj212_version"),
        ("", "hj212_2005.toml"),
    ],
)
def test_catalog_refuses_bad_hj212_data(tmp_path: Path, edit: str, message: str) -> None:
    import shutil

    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR
    from aircarbon.core.errors import CatalogError

    data = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, data)
    if edit:
        stations = (data / "stations.toml").read_text()
        (data / "stations.toml").write_text(
            stations.replace(edit, edit + '\nhj212_version = "2019"', 1)
        )
    else:
        table = (data / "hj212_2005.toml").read_text()
        (data / "hj212_2005.toml").write_text(table.replace('param = "so2"', 'param = "no2"', 1))
    with pytest.raises(CatalogError, match=message):
        load_catalog(data)
