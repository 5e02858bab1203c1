"""JSON v1 reading messages (docs/contract.md §1.2) → normalised readings, and every reason
to refuse one.

Also: status messages, topic routing through ``decode_message``, the arbitrary-bytes fuzz of
all three topic kinds, and the :class:`~ingest.batch.ReadingBatch` Arrow contract.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aircarbon.core.catalog import Parameter, load_catalog
from ingest.batch import READING_COLUMNS, ReadingBatch, reading_schema
from ingest.decode import (
    Decoded,
    DecodeRules,
    decode_json,
    decode_message,
    decode_status,
    parse_topic,
    to_us,
)
from ingest.reasons import RejectReason

CATALOG = load_catalog()
RULES = DecodeRules(CATALOG)
NOW = dt.datetime(2026, 11, 24, 2, 5, tzinfo=dt.UTC)
NOW_US = to_us(NOW)
STATION = "SY-TY-01"
TOPIC = f"aircarbon/v1/{STATION}/readings"
CST = dt.timezone(dt.timedelta(hours=8))
TS = "2026-11-24T10:01:00+08:00"  # 02:01 UTC, 4 min before NOW
TS_US = to_us(dt.datetime(2026, 11, 24, 2, 1, tzinfo=dt.UTC))


def message(**fields: Any) -> dict[str, Any]:
    """A valid contract.md §1.2 message, with fields replaced or (value ``...``) removed."""
    msg: dict[str, Any] = {
        "station": STATION,
        "ts": TS,
        "period_s": 60,
        "seq": 18233,
        "readings": {"pm25": 35.2, "pm10": 61.0, "o3": 88.0, "no2": 41.5},
    }
    msg.update(fields)
    return {k: v for k, v in msg.items() if v is not ...}


def encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, ensure_ascii=False).encode("utf-8")


def decode(
    payload: bytes | dict[str, Any],
    *,
    rules: DecodeRules = RULES,
    topic_station: str | None = STATION,
    now_us: int = NOW_US,
) -> tuple[Decoded, ReadingBatch]:
    out = ReadingBatch()
    raw = encode(payload) if isinstance(payload, dict) else payload
    decoded = decode_json(raw, topic_station, rules, now_us, out)
    assert decoded.accepted == len(out)
    return decoded, out


def reasons(decoded: Decoded) -> list[tuple[RejectReason, str | None]]:
    return [(r.reason, r.param) for r in decoded.rejections]


def values(out: ReadingBatch) -> dict[str, float]:
    return dict(zip(out.param, out.value, strict=True))


# --------------------------------------------------------------------------------------
# the happy path
# --------------------------------------------------------------------------------------


def test_spec_example_message() -> None:
    payload = {
        "station": STATION,
        "ts": TS,
        "period_s": 60,
        "seq": 18233,
        "readings": {
            "pm25": 35.2,
            "pm10": 61.0,
            "o3": 88.0,
            "no2": 41.5,
            "co2": 428.31,
            "ch4": 2041.7,
            "toluene": 1.23,
            "ws": 2.4,
            "wd": 315.0,
        },
        "units": {"toluene": "ppbv"},
        "flags": {"o3": "C"},
    }
    decoded, out = decode(payload)
    assert decoded.rejections == []
    assert not decoded.rejected_whole
    assert decoded.accepted == 9
    assert (decoded.station, decoded.seq, decoded.ts_us, decoded.period_s) == (
        STATION,
        18233,
        TS_US,
        60,
    )
    assert values(out) == payload["readings"]
    rows = {r["param"]: r for r in out.rows()}
    assert rows["o3"]["flag"] == "C"
    assert rows["pm25"]["flag"] == "N"
    for row in rows.values():
        assert row["station"] == STATION
        assert row["ts"] == TS_US
        assert row["period_s"] == 60
        assert row["seq"] == 18233
        assert row["received_at"] == NOW_US
        assert row["source"] == "json"


def test_units_converted_to_canonical() -> None:
    decoded, out = decode(
        message(
            readings={"no2": 10.0, "co": 500.0, "pressure": 101.3, "temp": 300.0, "toluene": 1.0},
            units={"no2": "ppb", "co": "µg/m³", "pressure": "kPa", "temp": "K", "toluene": "ug/m3"},
        )
    )
    assert decoded.rejections == []
    got = values(out)
    assert got["no2"] == pytest.approx(10 * 46.0055 / CATALOG.units.molar_volume_l)
    assert got["co"] == pytest.approx(0.5)
    assert got["pressure"] == pytest.approx(1013.0)
    assert got["temp"] == pytest.approx(26.85)
    assert got["toluene"] == pytest.approx(CATALOG.units.molar_volume_l / 92.14)


def test_optional_fields_default() -> None:
    decoded, out = decode(message(period_s=..., seq=...))
    assert decoded.rejections == []
    assert decoded.seq is None
    assert set(out.period_s) == {0}
    assert set(out.seq) == {None}


def test_integers_and_zero_and_negative_noise() -> None:
    decoded, out = decode(message(readings={"pm25": 0, "so2": -3, "o3": 12}))
    assert decoded.rejections == []
    assert values(out) == {"pm25": 0.0, "so2": -3.0, "o3": 12.0}
    assert all(type(v) is float for v in out.value)


def test_ts_forms() -> None:
    for ts in ("2026-11-24T02:01:00Z", "2026-11-24T02:01:00+00:00", "2026-11-24 10:01:00+08:00"):
        decoded, _ = decode(message(ts=ts))
        assert decoded.rejections == [], ts
        assert decoded.ts_us == TS_US, ts


def test_unknown_envelope_fields_ignored() -> None:
    decoded, out = decode(message(firmware="1.2.3", extra={"a": 1}))
    assert decoded.rejections == []
    assert len(out) == 4


def test_station_not_checked_when_disabled() -> None:
    rules = DecodeRules(CATALOG, check_station=False, check_time=False)
    decoded, out = decode(
        message(station="NEW-01", ts="2001-01-01T00:00:00+08:00"), rules=rules, topic_station=None
    )
    assert decoded.rejections == []
    assert set(out.station) == {"NEW-01"}


# --------------------------------------------------------------------------------------
# hypothesis: random valid messages round-trip
# --------------------------------------------------------------------------------------

PARAMS = sorted(CATALOG.parameters.values(), key=lambda p: p.code)
FLAGS = sorted(CATALOG.flags)
MAX_AGE_S = RULES.max_age_s
MAX_FUTURE_S = RULES.max_future_s


@st.composite
def reading(draw: st.DrawFn, param: Parameter) -> tuple[float, str | None, str | None]:
    """(value as sent, unit or None, flag or None) with a canonical value inside physical."""
    lo, hi = param.physical
    margin = (hi - lo) * 1e-6
    canonical = draw(st.floats(lo + margin, hi - margin, allow_nan=False, allow_subnormal=False))
    unit = draw(st.none() | st.sampled_from(param.accepted))
    if unit is None:
        sent = canonical
    else:
        conv = CATALOG.conversion(param.code, unit)
        sent = (canonical - conv.offset) / conv.scale
    flag = draw(st.none() | st.sampled_from(FLAGS))
    return sent, unit, flag


@st.composite
def valid_message(draw: st.DrawFn) -> dict[str, Any]:
    station = draw(st.sampled_from(sorted(CATALOG.stations)))
    params = draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=12, unique=True))
    offset_min = draw(st.integers(-12 * 60, 14 * 60))
    age_us = draw(st.integers(-(MAX_FUTURE_S - 1) * 1_000_000, (MAX_AGE_S - 1) * 1_000_000))
    utc = NOW - dt.timedelta(microseconds=age_us)
    ts = utc.astimezone(dt.timezone(dt.timedelta(minutes=offset_min)))
    msg: dict[str, Any] = {
        "station": station,
        "ts": ts.isoformat(),
        "readings": {},
    }
    if draw(st.booleans()):
        msg["period_s"] = draw(st.sampled_from([0, 1, 60, 300, 3600, 86400]))
    if draw(st.booleans()):
        msg["seq"] = draw(st.integers(0, 2**63 - 1))
    units: dict[str, str] = {}
    flags: dict[str, str] = {}
    for p in params:
        sent, unit, flag = draw(reading(p))
        msg["readings"][p.code] = sent
        if unit is not None:
            units[p.code] = unit
        if flag is not None:
            flags[p.code] = flag
    if units or draw(st.booleans()):
        msg["units"] = units
    if flags or draw(st.booleans()):
        msg["flags"] = flags
    msg["_expected_ts_us"] = to_us(utc)
    return msg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_message())
@pytest.mark.slow
def test_round_trip(msg: dict[str, Any]) -> None:
    expected_ts = msg.pop("_expected_ts_us")
    station = msg["station"]
    out = ReadingBatch()
    decoded = decode_message(f"aircarbon/v1/{station}/readings", encode(msg), RULES, NOW_US, out)
    assert decoded.rejections == []
    assert decoded.accepted == len(msg["readings"]) == len(out)
    assert decoded.ts_us == expected_ts
    units = msg.get("units", {})
    flags = msg.get("flags", {})
    for row in out.rows():
        code = row["param"]
        assert row["station"] == station
        assert row["ts"] == expected_ts
        assert row["flag"] == flags.get(code, "N")
        assert row["seq"] == msg.get("seq")
        assert row["period_s"] == msg.get("period_s", 0)
        assert row["source"] == "json"
        want = CATALOG.to_canonical(code, msg["readings"][code], units.get(code))
        assert math.isclose(row["value"], want, rel_tol=1e-9, abs_tol=1e-12), code
    assert [r["param"] for r in out.rows()] == list(msg["readings"])


# --------------------------------------------------------------------------------------
# message-level rejections
# --------------------------------------------------------------------------------------


def assert_whole(decoded: Decoded, out: ReadingBatch, reason: RejectReason) -> str:
    assert [r.reason for r in decoded.rejections] == [reason]
    assert decoded.rejections[0].param is None
    assert decoded.rejected_whole
    assert len(out) == 0
    assert decoded.accepted == 0
    return decoded.rejections[0].detail


@pytest.mark.parametrize(
    "payload",
    [b"{", b'{"station": "SY-TY-01",', b"not json", b"", b"[1, 2", b'{"a": NaN}', b"\x00"],
)
def test_malformed_json(payload: bytes) -> None:
    decoded, out = decode(payload)
    assert_whole(decoded, out, RejectReason.MALFORMED_JSON)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe{}",
        b'{"station": "SY-TY-01\xff", "ts": "x", "readings": {}}',  # bad byte inside a string
        '{"station": "太原街"}'.encode("gb18030"),
        # (invalid UTF-8 inside an *unknown* field is skipped unread by msgspec, and accepted)
    ],
)
def test_bad_encoding(payload: bytes) -> None:
    decoded, out = decode(payload)
    detail = assert_whole(decoded, out, RejectReason.BAD_ENCODING)
    assert "UTF-8" in detail


@pytest.mark.parametrize(
    ("msg", "fragment"),
    [
        (message(ts=...), "ts"),
        (message(station=...), "station"),
        (message(readings=...), "readings"),
        (message(readings=[1, 2]), "readings"),
        (message(station=5), "station"),
        (message(period_s="60"), "period_s"),
        (message(period_s=-1), "period_s"),
        (message(period_s=86401), "period_s"),
        (message(seq=-1), "seq"),
        (message(seq=2**63), "seq"),  # would overflow the raw store's int64 column
        (message(seq=1.5), "seq"),
        (message(units={"pm25": 5}), "units"),
        (message(flags="N"), "flags"),
    ],
)
def test_bad_schema(msg: dict[str, Any], fragment: str) -> None:
    decoded, out = decode(msg)
    detail = assert_whole(decoded, out, RejectReason.BAD_SCHEMA)
    assert fragment in detail


def test_json_not_an_object() -> None:
    for payload in (b"[]", b"42", b'"x"', b"null"):
        decoded, out = decode(payload)
        assert_whole(decoded, out, RejectReason.BAD_SCHEMA)


def test_topic_station_mismatch() -> None:
    out = ReadingBatch()
    decoded = decode_message(
        "aircarbon/v1/SY-XH-02/readings", encode(message()), RULES, NOW_US, out
    )
    detail = assert_whole(decoded, out, RejectReason.TOPIC_MISMATCH)
    assert "SY-TY-01" in detail
    assert "SY-XH-02" in detail


def test_unknown_station() -> None:
    out = ReadingBatch()
    decoded = decode_message(
        "aircarbon/v1/XX-99/readings", encode(message(station="XX-99")), RULES, NOW_US, out
    )
    detail = assert_whole(decoded, out, RejectReason.UNKNOWN_STATION)
    assert "XX-99" in detail


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-24T10:01:00",  # no offset
        "2026-11-24",  # a date
        "yesterday",
        "",
        "2026-13-24T10:01:00+08:00",  # month 13
        "2026-11-24T25:01:00+08:00",
        "1732413660",
        "2026-11-24X10:01:00+08:00",
    ],
)
def test_bad_timestamp(ts: str) -> None:
    decoded, out = decode(message(ts=ts))
    detail = assert_whole(decoded, out, RejectReason.BAD_TIMESTAMP)
    assert repr(ts) in detail


def test_ts_future() -> None:
    limit = RULES.max_future_s
    ok = (NOW + dt.timedelta(seconds=limit)).isoformat()
    decoded, out = decode(message(ts=ok))
    assert decoded.rejections == []
    late = (NOW + dt.timedelta(seconds=limit + 1)).isoformat()
    decoded, out = decode(message(ts=late))
    detail = assert_whole(decoded, out, RejectReason.TS_FUTURE)
    assert "future" in detail


def test_ts_too_old() -> None:
    limit = RULES.max_age_s
    ok = (NOW - dt.timedelta(seconds=limit)).astimezone(CST).isoformat()
    decoded, out = decode(message(ts=ok))
    assert decoded.rejections == []
    old = (NOW - dt.timedelta(seconds=limit + 1)).astimezone(CST).isoformat()
    decoded, out = decode(message(ts=old))
    detail = assert_whole(decoded, out, RejectReason.TS_TOO_OLD)
    assert "days old" in detail


def test_time_limits_are_rules() -> None:
    rules = DecodeRules(CATALOG, max_age_s=60, max_future_s=0)
    old = (NOW - dt.timedelta(seconds=61)).isoformat()
    assert decode(message(ts=old), rules=rules)[0].rejections[0].reason is RejectReason.TS_TOO_OLD
    ahead = (NOW + dt.timedelta(seconds=1)).isoformat()
    assert decode(message(ts=ahead), rules=rules)[0].rejections[0].reason is RejectReason.TS_FUTURE
    no_check = DecodeRules(CATALOG, check_time=False)
    assert decode(message(ts="2001-01-01T00:00:00Z"), rules=no_check)[0].rejections == []


def test_oversized_payload() -> None:
    rules = DecodeRules(CATALOG, max_payload_bytes=1024)
    padded = message(comment="x" * 2000)
    out = ReadingBatch()
    decoded = decode_message(TOPIC, encode(padded), rules, NOW_US, out)
    detail = assert_whole(decoded, out, RejectReason.OVERSIZED)
    assert "1024" in detail
    # exactly at the limit is fine
    payload = encode(message())
    exact = DecodeRules(CATALOG, max_payload_bytes=len(payload))
    assert decode_message(TOPIC, payload, exact, NOW_US, out).rejections == []


@pytest.mark.parametrize(
    "topic",
    [
        "aircarbon/v2/SY-TY-01/readings",
        "aircarbon/v1/SY-TY-01",
        "aircarbon/v1/SY-TY-01/readings/extra",
        "aircarbon/v1//readings",
        "aircarbon/v1/SY TY/readings",
        "aircarbon/v1/" + "S" * 65 + "/readings",
        "aircarbon/v1/SY-TY-01/events",  # unknown kind
        "other/v1/SY-TY-01/readings",
        "",
    ],
)
def test_bad_topic(topic: str) -> None:
    out = ReadingBatch()
    decoded = decode_message(topic, encode(message()), RULES, NOW_US, out)
    assert_whole(decoded, out, RejectReason.BAD_TOPIC)


def test_parse_topic() -> None:
    assert parse_topic("aircarbon/v1/SY-TY-01/readings") == ("SY-TY-01", "readings")
    assert parse_topic("aircarbon/v1/a_b-C9/hj212") == ("a_b-C9", "hj212")
    assert parse_topic("aircarbon/v1/x") is None


# --------------------------------------------------------------------------------------
# reading-level rejections: the siblings land
# --------------------------------------------------------------------------------------


def check_partial(
    readings: dict[str, Any],
    bad: dict[str, RejectReason],
    **fields: Any,
) -> tuple[Decoded, ReadingBatch]:
    decoded, out = decode(message(readings=readings, **fields))
    assert not decoded.rejected_whole
    assert sorted(reasons(decoded), key=str) == sorted(
        ((reason, code) for code, reason in bad.items()), key=str
    )
    good = {k: v for k, v in readings.items() if k not in bad}
    assert set(out.param) == set(good)
    assert decoded.accepted == len(good)
    for r in decoded.rejections:
        assert r.reason.per_reading
        assert r.param is not None
        assert r.param in r.detail
    return decoded, out


def test_unknown_param() -> None:
    _decoded, out = check_partial(
        {"pm25": 35.0, "pm2.5": 35.0, "PM25": 1.0, "o3": 80.0},
        {"pm2.5": RejectReason.UNKNOWN_PARAM, "PM25": RejectReason.UNKNOWN_PARAM},
    )
    assert values(out) == {"pm25": 35.0, "o3": 80.0}


def test_unknown_unit() -> None:
    decoded, out = check_partial(
        {"pm25": 35.0, "no2": 20.0, "so2": 5.0, "o3": 80.0},
        {"pm25": RejectReason.UNKNOWN_UNIT, "no2": RejectReason.UNKNOWN_UNIT},
        units={"pm25": "ppm", "no2": "furlongs", "so2": "ppb"},
    )
    details = {r.param: r.detail for r in decoded.rejections}
    assert "'ppm'" in details["pm25"]
    assert "'furlongs'" in details["no2"]
    assert values(out)["so2"] == pytest.approx(5 * 64.066 / CATALOG.units.molar_volume_l)


@pytest.mark.parametrize("bad", ["x", True, False, None, "NaN", "35.2", [1], {"v": 1}, "Infinity"])
def test_non_numeric(bad: Any) -> None:
    check_partial({"pm25": bad, "o3": 80.0}, {"pm25": RejectReason.NON_NUMERIC})


def test_non_numeric_huge_integer() -> None:
    """An integer literal beyond the float range is refused, not a crash (OverflowError)."""
    payload = encode(message(readings={"o3": 80.0})).replace(
        b'"o3": 80.0', b'"o3": 80.0, "pm25": ' + b"9" * 400
    )
    decoded, out = decode(payload)
    assert reasons(decoded) == [(RejectReason.NON_NUMERIC, "pm25")]
    assert values(out) == {"o3": 80.0}


def test_out_of_range() -> None:
    decoded, out = check_partial(
        {"rh": 150.0, "wd": -1.0, "pm25": -60.0, "temp": 20.0, "pressure": 1e6, "so2": 1e300},
        {
            "rh": RejectReason.OUT_OF_RANGE,
            "wd": RejectReason.OUT_OF_RANGE,
            "pm25": RejectReason.OUT_OF_RANGE,
            "pressure": RejectReason.OUT_OF_RANGE,
            "so2": RejectReason.OUT_OF_RANGE,
        },
    )
    assert values(out) == {"temp": 20.0}
    detail = next(r.detail for r in decoded.rejections if r.param == "rh")
    assert "150" in detail
    assert "105" in detail


def test_out_of_range_after_conversion() -> None:
    # 1.2 kPa = 12 hPa: a valid-looking number that is not a surface pressure
    check_partial(
        {"pressure": 1.2, "temp": 20.0},
        {"pressure": RejectReason.OUT_OF_RANGE},
        units={"pressure": "kPa"},
    )


def test_range_bounds_inclusive() -> None:
    decoded, out = decode(message(readings={"rh": 105.0, "wd": 0.0, "ws": 0.0}))
    assert decoded.rejections == []
    assert len(out) == 3


def test_unknown_flag() -> None:
    _decoded, out = check_partial(
        {"pm25": 35.0, "o3": 80.0, "no2": 20.0, "pm10": 50.0},
        {"pm25": RejectReason.UNKNOWN_FLAG, "o3": RejectReason.UNKNOWN_FLAG},
        flags={"pm25": "Z", "o3": "n", "no2": "T"},
    )
    assert dict(zip(out.param, out.flag, strict=True)) == {"no2": "T", "pm10": "N"}


def test_several_reasons_in_one_message() -> None:
    check_partial(
        {"pm25": 35.0, "bogus": 1.0, "o3": "x", "rh": 999.0, "no2": 1.0, "so2": 3.0},
        {
            "bogus": RejectReason.UNKNOWN_PARAM,
            "o3": RejectReason.NON_NUMERIC,
            "rh": RejectReason.OUT_OF_RANGE,
            "no2": RejectReason.UNKNOWN_UNIT,
            "so2": RejectReason.UNKNOWN_FLAG,
        },
        units={"no2": "degC"},
        flags={"so2": "?"},
    )


def test_empty_readings() -> None:
    decoded, out = decode(message(readings={}))
    assert decoded.rejections == []
    assert decoded.accepted == 0
    assert len(out) == 0


def test_appends_to_existing_batch() -> None:
    out = ReadingBatch()
    decode_json(encode(message()), STATION, RULES, NOW_US, out)
    decode_json(encode(message(readings={"so2": 3.0})), STATION, RULES, NOW_US, out)
    assert out.param == ["pm25", "pm10", "o3", "no2", "so2"]


# --------------------------------------------------------------------------------------
# status messages
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["online", "offline", "maintenance", "calibrating"])
def test_status_ok(state: str) -> None:
    out = ReadingBatch()
    payload = json.dumps({"state": state, "ts": TS}).encode()
    decoded = decode_message(f"aircarbon/v1/{STATION}/status", payload, RULES, NOW_US, out)
    assert decoded.rejections == []
    assert decoded.status is not None
    assert (decoded.status.station, decoded.status.state, decoded.status.ts_us) == (
        STATION,
        state,
        TS_US,
    )
    assert len(out) == 0


def test_status_without_ts_and_empty_payload() -> None:
    decoded = decode_status(b'{"state": "offline"}', STATION, RULES)
    assert decoded.status is not None
    assert decoded.status.ts_us is None
    cleared = decode_status(b"", STATION, RULES)  # clears the retained message
    assert cleared.rejections == []
    assert cleared.status is None


@pytest.mark.parametrize(
    "payload",
    [
        b'{"state": "sleeping"}',
        b'{"state": "ONLINE"}',
        b'{"ts": "2026-11-24T10:01:00+08:00"}',
        b'{"state": 1}',
        b"online",
        b"[]",
        b'{"state": "online\xff"}',
    ],
)
def test_bad_status(payload: bytes) -> None:
    decoded = decode_status(payload, STATION, RULES)
    assert [r.reason for r in decoded.rejections] == [RejectReason.BAD_STATUS]
    assert decoded.status is None


def test_status_unknown_station() -> None:
    decoded = decode_status(b'{"state": "online"}', "XX-99", RULES)
    assert [r.reason for r in decoded.rejections] == [RejectReason.UNKNOWN_STATION]


# --------------------------------------------------------------------------------------
# fuzz: nothing a station sends makes the decoder raise
# --------------------------------------------------------------------------------------


def check_never_raises(topic: str, payload: bytes) -> None:
    out = ReadingBatch()
    before = len(out)
    decoded = decode_message(topic, payload, RULES, NOW_US, out)
    assert decoded.accepted == len(out) - before
    if decoded.rejected_whole:
        assert decoded.accepted == 0
    for r in decoded.rejections:
        assert isinstance(r.reason, RejectReason)
        assert isinstance(r.detail, str)
        assert (r.param is None) or r.reason.per_reading or r.param
    if len(out):
        out.to_arrow()  # whatever landed fits the raw-store schema


KINDS = ["readings", "hj212", "status"]


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(KINDS), payload=st.binary(max_size=2048))
def test_fuzz_bytes(kind: str, payload: bytes) -> None:
    check_never_raises(f"aircarbon/v1/{STATION}/{kind}", payload)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
CODES = st.sampled_from([*sorted(CATALOG.parameters)[:20], "pm25", "bogus", ""])


@st.composite
def json_like(draw: st.DrawFn) -> bytes:
    """Mostly-valid envelopes with hostile values in every field."""
    msg: dict[str, Any] = {}
    if draw(st.booleans()):
        msg["station"] = draw(st.sampled_from([STATION, "XX"]) | JSON_VALUES)
    if draw(st.booleans()):
        msg["ts"] = draw(
            st.sampled_from([TS, "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
            | JSON_VALUES
        )
    msg["readings"] = draw(st.dictionaries(CODES, JSON_VALUES, max_size=6) | JSON_VALUES)
    for key in ("period_s", "seq", "units", "flags"):
        if draw(st.booleans()):
            msg[key] = draw(
                JSON_VALUES
                | st.dictionaries(
                    CODES, st.sampled_from(["ppb", "ppm", "N", "Z", "K"]) | JSON_VALUES
                )
            )
    return json.dumps(msg).encode()


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(payload=json_like())
def test_fuzz_json_envelopes(payload: bytes) -> None:
    check_never_raises(TOPIC, payload)
    # the same with every check disabled (aircarbon decode's mode)
    rules = DecodeRules(CATALOG, check_station=False, check_time=False)
    out = ReadingBatch()
    decoded = decode_json(payload, None, rules, NOW_US, out)
    assert decoded.accepted == len(out)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    msg=valid_message(),
    cut=st.integers(min_value=0, max_value=10_000),
    flip=st.integers(min_value=0, max_value=255),
)
def test_fuzz_mutated_valid_messages(msg: dict[str, Any], cut: int, flip: int) -> None:
    msg.pop("_expected_ts_us")
    payload = bytearray(encode(msg))
    pos = cut % len(payload)
    payload[pos] ^= flip
    check_never_raises(f"aircarbon/v1/{msg['station']}/readings", bytes(payload))
    check_never_raises(f"aircarbon/v1/{msg['station']}/readings", bytes(payload[:pos]))


# --------------------------------------------------------------------------------------
# ReadingBatch
# --------------------------------------------------------------------------------------


def filled_batch() -> ReadingBatch:
    out = ReadingBatch()
    decode_json(encode(message()), STATION, RULES, NOW_US, out)
    out.append("SY-XH-02", "co", TS_US, 0.8, "N", 3600, None, NOW_US, "hj212")
    return out


def test_to_arrow_schema() -> None:
    out = filled_batch()
    table = out.to_arrow()
    assert table.schema == reading_schema()
    assert table.schema.names == list(READING_COLUMNS)
    assert table.num_rows == 5
    assert table.column("seq").to_pylist() == [18233] * 4 + [None]
    first_ts = table.column("ts")[0].as_py()
    assert first_ts == dt.datetime(2026, 11, 24, 2, 1, tzinfo=dt.UTC)
    assert table.column("received_at")[0].as_py() == NOW


def test_empty_batch_to_arrow() -> None:
    table = ReadingBatch().to_arrow()
    assert table.schema == reading_schema()
    assert table.num_rows == 0


def test_truncate() -> None:
    out = filled_batch()
    out.truncate(2)
    assert len(out) == 2
    for name in READING_COLUMNS:
        assert len(getattr(out, name)) == 2, name
    assert out.param == ["pm25", "pm10"]
    out.truncate(5)  # beyond the end: nothing to drop
    assert len(out) == 2
    out.truncate(0)
    assert len(out) == 0
    assert out.to_arrow().num_rows == 0


def test_extend_and_rows() -> None:
    a, b = filled_batch(), filled_batch()
    a.extend(b)
    assert len(a) == 10
    rows = list(a.rows())
    assert len(rows) == 10
    assert set(rows[0]) == set(READING_COLUMNS)
    assert rows[4]["source"] == "hj212"
