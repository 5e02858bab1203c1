"""HJ 212-2017 packet layer: CRC, framing, strict syntax, per-reading errors, fuzzing."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.hj212 import (
    DATA_COMMANDS,
    DATA_FLAGS,
    NUMERIC_SUFFIXES,
    QUIRKS,
    SYSTEM_CODES,
    HJ212Error,
    Packet,
    _crc16_reference,
    _crc16_table,
    build_data_segment,
    build_frame,
    hj212_crc16,
    is_data_upload,
    parse_packet,
    require_data_upload,
)
from ingest.reasons import RejectReason

# The example packet printed in HJ 212-2017 (domain.md §3.2).
EXAMPLE_SEGMENT = (
    "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    "Flag=5;CP=&&RtdInterval=30&&"
)
EXAMPLE_FRAME = b"##0101" + EXAMPLE_SEGMENT.encode() + b"1C80\r\n"

AMBIENT_ITEMS = [
    ("a34004", {"Rtd": "35.2", "Flag": "N"}),
    ("a34002", {"Rtd": "61.0", "Flag": "N"}),
    ("a05024", {"Rtd": "88.0", "Flag": "C"}),
    ("a21026", {"Rtd": "9.0", "Flag": "N"}),
    ("a21004", {"Rtd": "41.5", "Flag": "N"}),
    ("a21005", {"Rtd": "0.812", "Flag": "N"}),
    ("a01007", {"Rtd": "2.4", "Flag": "N"}),
    ("a01008", {"Rtd": "315.0", "Flag": "N"}),
]


def ambient_segment(**overrides: object) -> str:
    """A real-time (CN 2011) ambient-air (ST 22) data segment."""
    args: dict[str, object] = {
        "qn": "20261125100000123",
        "st": "22",
        "cn": "2011",
        "pw": "123456",
        "mn": "SYTX0001",
        "flag": 4,
        "datatime": "20261125100000",
        "items": AMBIENT_ITEMS,
    }
    args.update(overrides)
    return build_data_segment(**args)  # type: ignore[arg-type]


def frame_of(segment: str) -> bytes:
    return build_frame(segment)


def parse_or_error(frame: bytes | str) -> Packet | HJ212Error:
    try:
        return parse_packet(frame)
    except HJ212Error as exc:
        return exc


def rejects(
    frame: bytes | str, reason: RejectReason, *, tolerated: str | None = None
) -> HJ212Error:
    """The strict parser refuses ``frame`` with ``reason``; so does the tolerant one,
    unless ``tolerated`` names the quirk it accepts the frame with instead."""
    with pytest.raises(HJ212Error) as info:
        parse_packet(frame, strict=True)
    assert info.value.reason is reason, info.value
    if tolerated is None:
        with pytest.raises(HJ212Error) as tolerant:
            parse_packet(frame)
        assert tolerant.value.reason is reason, tolerant.value
    else:
        assert tolerated in QUIRKS
        assert tolerated in parse_packet(frame).quirks
    return info.value


# --------------------------------------------------------------------------- CRC


def test_crc_of_the_worked_example() -> None:
    assert hj212_crc16(EXAMPLE_SEGMENT.encode()) == 0x1C80
    assert _crc16_reference(EXAMPLE_SEGMENT.encode()) == 0x1C80


def test_build_frame_reproduces_the_standard_example() -> None:
    assert build_frame(EXAMPLE_SEGMENT) == EXAMPLE_FRAME


@given(st.binary(max_size=2100))
def test_crc_fast_forms_equal_the_appendix_a_bit_loop(data: bytes) -> None:
    expected = _crc16_reference(data)
    assert _crc16_table(data) == expected
    assert hj212_crc16(data) == expected


def test_crc_forms_agree_on_many_random_inputs() -> None:
    rng = random.Random(212)
    for _ in range(3000):
        data = rng.randbytes(rng.randint(0, 1100))
        assert hj212_crc16(data) == _crc16_table(data) == _crc16_reference(data)
    # Far longer than any frame: the closed form's generic fold path.
    big = rng.randbytes(20_000)
    assert hj212_crc16(big) == _crc16_table(big)


def test_crc_has_only_256_values() -> None:
    """The weakness domain.md documents — why length and syntax checks matter."""
    rng = random.Random(7)
    values = {hj212_crc16(rng.randbytes(rng.randint(1, 64))) for _ in range(20_000)}
    assert len(values) == 256


# ------------------------------------------------------------------ good packets


def test_worked_example_parses_as_a_non_data_command() -> None:
    packet = parse_packet(EXAMPLE_FRAME)
    assert packet.qn == "20160801085857223"
    assert (packet.st, packet.cn, packet.pw, packet.mn) == (
        "32",
        "1062",
        "100000",
        "010000A8900016F000169DC0",
    )
    assert packet.flag == 5
    assert packet.protocol_version == 1
    assert packet.ack_required
    assert (packet.pnum, packet.pno) == (None, None)
    # Parameter-style CP keys are kept apart from pollutant items.
    assert packet.items == ()
    assert packet.params == (("RtdInterval", "30"),)
    assert packet.param("RtdInterval") == "30"
    assert packet.datatime is None
    assert packet.datatime_local is None
    assert packet.command is None
    assert not is_data_upload(packet.cn)
    with pytest.raises(HJ212Error) as info:
        require_data_upload(packet)
    assert info.value.reason is RejectReason.HJ212_COMMAND
    assert "CN=1062" in info.value.detail
    assert "set real-time data interval" in info.value.detail


def test_ambient_realtime_round_trip() -> None:
    packet = parse_packet(frame_of(ambient_segment()))
    assert isinstance(packet, Packet)
    assert (packet.st, packet.cn, packet.mn, packet.flag) == ("22", "2011", "SYTX0001", 4)
    assert packet.datatime == "20261125100000"
    assert packet.datatime_local == datetime(2026, 11, 25, 10, 0, 0)
    command = require_data_upload(packet)
    assert command == DATA_COMMANDS["2011"]
    assert (command.value_field, command.period_s) == ("Rtd", 0)
    by_code = packet.values_by_code()
    assert list(by_code) == [code for code, _ in AMBIENT_ITEMS]
    for code, fields in AMBIENT_ITEMS:
        assert by_code[code]["Rtd"].value == float(fields["Rtd"])
        assert by_code[code]["Rtd"].raw == fields["Rtd"]
        assert by_code[code]["Flag"].value is None
        assert packet.flag_for(code) == fields["Flag"]
    assert all(item.error is None for item in packet.items)
    assert packet.flag_for("a99999") is None
    assert packet.params == (("DataTime", "20261125100000"),)


def test_voc_hourly_round_trip() -> None:
    items = [
        ("a25002", {"Min": "0.10", "Avg": "0.42", "Max": "1.30", "Flag": "N"}),  # benzene
        ("a25003", {"Min": "0.50", "Avg": "1.23", "Max": "3.10", "Flag": "N"}),  # toluene
        ("a24053", {"Min": "0.01", "Avg": "0.20", "Max": "0.90", "Flag": "M"}),  # propylene
        ("a0502401", {"Avg": "88.0", "Flag": "N"}),  # vendor-style extended code
    ]
    segment = build_data_segment(
        qn=None,
        st="27",
        cn="2061",
        pw="123456",
        mn="SYVOC01",
        flag=5,
        datatime="20261125090000",
        items=items,
    )
    packet = parse_packet(frame_of(segment))
    assert packet.qn is None
    assert packet.st == "27"
    command = require_data_upload(packet)
    assert (command.name, command.value_field, command.period_s) == ("hourly data", "Avg", 3600)
    by_code = packet.values_by_code()
    for code, fields in items:
        for suffix, raw in fields.items():
            item = by_code[code][suffix]
            assert item.raw == raw
            assert item.value == (float(raw) if suffix in NUMERIC_SUFFIXES else None)
    assert packet.flag_for("a24053") == "M"


@pytest.mark.parametrize("st_code", sorted(SYSTEM_CODES))
def test_every_system_code_is_accepted(st_code: str) -> None:
    assert parse_packet(frame_of(ambient_segment(st=st_code))).st == st_code


@pytest.mark.parametrize("cn", sorted(DATA_COMMANDS))
def test_every_data_command(cn: str) -> None:
    field = DATA_COMMANDS[cn].value_field
    packet = parse_packet(frame_of(ambient_segment(cn=cn, items=[("a34004", {field: "1.5"})])))
    assert require_data_upload(packet).cn == cn
    assert packet.values_by_code()["a34004"][field].value == 1.5


def test_whitespace_around_the_frame_is_tolerated() -> None:
    frame = frame_of(ambient_segment())
    assert parse_packet(b" \t\r\n" + frame + b"\r\n \n") == parse_packet(frame)
    assert parse_packet(frame.decode() + "  ") == parse_packet(frame)


def test_lower_case_crc_is_accepted() -> None:
    frame = EXAMPLE_FRAME  # CRC 1C80 has a letter
    lowered = frame[:-6] + frame[-6:-2].lower() + b"\r\n"
    strict = parse_packet(lowered, strict=True)
    assert strict.quirks == ("crc_lower",)  # accepted by both modes, recorded by both
    assert replace(strict, quirks=()) == parse_packet(frame, strict=True)
    assert parse_packet(lowered).quirks == ("crc_lower",)
    assert parse_packet(frame).quirks == ()


def test_header_without_optional_fields() -> None:
    """QN, PW and Flag are optional (HJ/T 212-2005 style loggers omit them)."""
    segment = "ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000;a34004-Rtd=12&&"
    packet = parse_packet(frame_of(segment))
    assert (packet.qn, packet.pw, packet.flag, packet.protocol_version) == (None, None, 0, 0)


def test_single_packet_series_is_accepted() -> None:
    segment = ambient_segment(flag=6).replace(";CP=", ";PNUM=0001;PNO=0001;CP=")
    packet = parse_packet(frame_of(segment))
    assert (packet.flag, packet.pnum, packet.pno) == (6, 1, 1)


def test_non_data_commands_parse() -> None:
    ack = "ST=91;CN=9014;PW=123456;MN=SYTX0001;Flag=4;CP=&&&&"
    packet = parse_packet(frame_of(ack))
    assert (packet.st, packet.cn, packet.items, packet.params) == ("91", "9014", (), ())
    status = (
        "QN=20261125100000123;ST=22;CN=2021;PW=123456;MN=SYTX0001;Flag=4;"
        "CP=&&DataTime=20261125100000;SB1-RS=1;SB2-RS=0&&"
    )
    packet = parse_packet(frame_of(status))
    assert [(i.code, i.field, i.value) for i in packet.items] == [
        ("SB1", "RS", 1.0),
        ("SB2", "RS", 0.0),
    ]
    with pytest.raises(HJ212Error, match="equipment running-status data") as info:
        require_data_upload(packet)
    assert info.value.reason is RejectReason.HJ212_COMMAND
    history = (
        "QN=20261125100000123;ST=22;CN=2061;PW=123456;MN=SYTX0001;Flag=5;"
        "CP=&&BeginTime=20261125000000,EndTime=20261125230000&&"
    )
    # A history *request* carries CN 2061 without DataTime: rejected as a data upload.
    rejects(frame_of(history), RejectReason.HJ212_FIELD)


# --------------------------------------------------------------- property tests

codes = st.one_of(
    st.from_regex(r"[a-w][0-9]{5}", fullmatch=True),  # standard a34004, w01018
    st.from_regex(r"[a-z][0-9]{7}", fullmatch=True),  # extended a0502401
    st.from_regex(r"x[A-Za-z0-9]{1,8}", fullmatch=True),  # vendor
)
decimals = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{frac}",
    st.sampled_from(["", "-"]),
    st.integers(0, 10**9).map(str),
    st.one_of(st.just(""), st.integers(0, 999_999).map(lambda f: f".{f:06d}"[:4])),
)
numeric_suffix = st.sampled_from(sorted(NUMERIC_SUFFIXES))
item_fields = st.builds(
    lambda nums, flag: {**nums, **({"Flag": flag} if flag else {})},
    st.dictionaries(numeric_suffix, decimals, min_size=1, max_size=3),
    st.one_of(st.none(), st.sampled_from(sorted(DATA_FLAGS))),
)
data_items = st.dictionaries(codes, item_fields, min_size=1, max_size=8).map(
    lambda d: list(d.items())
)
datatimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.strftime("%Y%m%d%H%M%S")
)


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    items=data_items,
    datatime=datatimes,
    cn=st.sampled_from(sorted(DATA_COMMANDS)),
    st_code=st.sampled_from(sorted(SYSTEM_CODES)),
    flag=st.sampled_from([0, 1, 4, 5]),
    mn=st.from_regex(r"[0-9A-Za-z]{1,24}", fullmatch=True),
)
def test_round_trip(
    items: list[tuple[str, dict[str, str]]],
    datatime: str,
    cn: str,
    st_code: str,
    flag: int,
    mn: str,
) -> None:
    segment = build_data_segment(
        qn=None, st=st_code, cn=cn, pw="123456", mn=mn, flag=flag, datatime=datatime, items=items
    )
    assume(len(segment) <= 1024)
    packet = parse_packet(frame_of(segment))
    assert (packet.st, packet.cn, packet.mn, packet.flag, packet.datatime) == (
        st_code,
        cn,
        mn,
        flag,
        datatime,
    )
    by_code = packet.values_by_code()
    assert list(by_code) == [code for code, _ in items]
    for code, fields in items:
        assert set(by_code[code]) == set(fields)
        for suffix, raw in fields.items():
            item = by_code[code][suffix]
            assert item.error is None
            assert item.raw == raw
            assert item.value == (None if suffix == "Flag" else float(raw))


@settings(max_examples=500)
@given(st.binary(max_size=1200))
def test_arbitrary_bytes_only_raise_hj212error(data: bytes) -> None:
    outcome = parse_or_error(data)  # anything but HJ212Error propagates and fails
    if isinstance(outcome, HJ212Error):
        assert isinstance(outcome.reason, RejectReason)
        assert outcome.detail


@settings(max_examples=500)
@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 127)), min_size=1, max_size=4),
    st.booleans(),
)
def test_mutated_segments_with_valid_framing_only_raise_hj212error(
    mutations: list[tuple[int, int]], as_text: bool
) -> None:
    """Mutate the segment, then re-frame it so the mutation reaches the syntax checks."""
    segment = bytearray(ambient_segment().encode())
    for position, byte in mutations:
        segment[position % len(segment)] = byte
    frame = b"##%04d%s%04X\r\n" % (len(segment), bytes(segment), hj212_crc16(bytes(segment)))
    outcome = parse_or_error(frame.decode() if as_text else frame)
    if isinstance(outcome, HJ212Error):
        assert outcome.detail
    else:
        assert all(item.error is None or item.error[0].per_reading for item in outcome.items)


# ----------------------------------------------------------------- corruptions


def test_wrong_length_digit() -> None:
    frame = frame_of(ambient_segment())
    digit = frame[5:6]
    wrong = frame[:5] + (b"0" if digit != b"0" else b"1") + frame[6:]
    error = rejects(wrong, RejectReason.HJ212_LENGTH)
    assert "length field says" in error.detail
    assert "data segment has" in error.detail


def test_length_above_the_maximum() -> None:
    frame = frame_of(ambient_segment())
    rejects(b"##1025" + frame[6:], RejectReason.HJ212_LENGTH)


def test_non_digit_length_field() -> None:
    frame = frame_of(ambient_segment())
    rejects(b"##03a8" + frame[6:], RejectReason.HJ212_FRAMING)


def test_missing_header() -> None:
    frame = frame_of(ambient_segment())
    rejects(frame[2:], RejectReason.HJ212_FRAMING)
    rejects(b"#" + frame[2:], RejectReason.HJ212_FRAMING)


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r", b"\n\r", b" \r\n"])
def test_missing_crlf(tail: bytes) -> None:
    frame = frame_of(ambient_segment())
    rejects(frame[:-2] + tail, RejectReason.HJ212_FRAMING, tolerated="no_crlf")


def test_crc_mismatch() -> None:
    frame = frame_of(ambient_segment())
    crc = int(frame[-6:-2], 16)
    flipped = frame[:-6] + b"%04X" % (crc ^ 0x0001) + b"\r\n"
    error = rejects(flipped, RejectReason.HJ212_CRC)
    assert f"{crc:04X}" in error.detail


def test_crc_field_not_hex() -> None:
    frame = frame_of(ambient_segment())
    rejects(frame[:-6] + b"1G80\r\n", RejectReason.HJ212_FRAMING)


def _value_collision(segment: str, old: str, candidates: list[str]) -> str | None:
    """First same-length replacement of ``old`` that keeps the segment's CRC."""
    crc = hj212_crc16(segment.encode())
    for new in candidates:
        mutated = segment.replace(old, new, 1)
        if new != old and hj212_crc16(mutated.encode()) == crc:
            return mutated
    return None


def test_crc_cannot_catch_a_syntactically_valid_value_change() -> None:
    """With 256 possible CRCs a changed reading collides quickly: it IS accepted.

    This is why the parser also checks length and syntax, and why the
    collector de-duplicates and range-checks readings: CRC16 alone is an 8-bit
    sanity check.
    """
    segment = ambient_segment(items=[("a34004", {"Rtd": "35.200", "Flag": "N"})])
    mutated = _value_collision(segment, "35.200", [f"{i / 1000:06.3f}" for i in range(100_000)])
    assert mutated is not None
    original_crc = frame_of(segment)[-6:]
    forged = frame_of(mutated)
    assert forged[-6:] == original_crc  # the same CRC field as the genuine frame
    packet = parse_packet(forged)
    assert packet.values_by_code()["a34004"]["Rtd"].value != 35.2


def test_crc_colliding_syntax_corruption_is_still_rejected() -> None:
    """A corruption that keeps the CRC but breaks the syntax is caught by the field checks."""
    segment = ambient_segment(items=[("a34004", {"Rtd": "35.2", "Flag": "N"})])
    old = "a34004-Rtd=35.2"
    printable = [chr(c) for c in range(0x21, 0x7F) if chr(c) not in "-&"]
    candidates = [f"a34004{a}Rtd=35.{b}" for a in printable for b in "0123456789"]
    mutated = _value_collision(segment, old, candidates)
    assert mutated is not None
    frame = b"##%04d" % len(mutated) + mutated.encode() + frame_of(segment)[-6:]
    rejects(frame, RejectReason.HJ212_FIELD)


def test_crc_colliding_insertion_is_rejected_by_length() -> None:
    segment = ambient_segment()
    frame = frame_of(segment)
    longer = segment.replace("35.2", "35.25", 1)
    rejects(frame[:6] + longer.encode() + frame[-6:], RejectReason.HJ212_LENGTH)


def test_non_ascii_byte() -> None:
    frame = bytearray(frame_of(ambient_segment()))
    frame[40] = 0xB5  # 'µ' in Latin-1
    error = rejects(bytes(frame), RejectReason.BAD_ENCODING)
    assert "offset 40" in error.detail
    rejects(frame_of(ambient_segment()).decode().replace("35.2", "35·2"), RejectReason.BAD_ENCODING)


def test_control_character_in_segment() -> None:
    segment = ambient_segment().replace("a34004-Rtd", "a34004-Rtd\x00", 1)
    rejects(frame_of(segment), RejectReason.HJ212_FIELD)


def test_oversized_frame() -> None:
    rejects(b"##" + b"9" * 2000 + b"\r\n", RejectReason.OVERSIZED)


@pytest.mark.parametrize(
    "datatime",
    ["20261332100000", "20260230100000", "20261125240000", "2026112510000", "2026112510000x"],
)
def test_bad_datatime(datatime: str) -> None:
    error = rejects(frame_of(ambient_segment(datatime=datatime)), RejectReason.HJ212_FIELD)
    assert "DataTime" in error.detail


def test_missing_datatime_in_data_upload() -> None:
    segment = "ST=22;CN=2011;MN=SYTX0001;CP=&&a34004-Rtd=12&&"
    error = rejects(frame_of(segment), RejectReason.HJ212_FIELD)
    assert "DataTime" in error.detail


def test_unexpected_parameter_in_data_upload() -> None:
    segment = ambient_segment().replace("&&DataTime", "&&RtdInterval=30;DataTime", 1)
    error = rejects(frame_of(segment), RejectReason.HJ212_FIELD, tolerated="cp_extra_param")
    assert "RtdInterval=30" in error.detail


@pytest.mark.parametrize("st_code", ["99", "2", "222", "", "AB", "11"])
def test_unknown_system_code(st_code: str) -> None:
    error = rejects(frame_of(ambient_segment(st=st_code)), RejectReason.HJ212_FIELD)
    assert f"ST={st_code!r}" in error.detail


@pytest.mark.parametrize("cn", ["201", "20111", "20a1", ""])
def test_bad_command_code(cn: str) -> None:
    rejects(frame_of(ambient_segment(cn=cn)), RejectReason.HJ212_FIELD)


@pytest.mark.parametrize(
    "qn", ["2026112510000012", "202611251000001234", "2026112510000012x", "20261325100000123"]
)
def test_bad_qn(qn: str) -> None:
    error = rejects(frame_of(ambient_segment(qn=qn)), RejectReason.HJ212_FIELD)
    assert "QN" in error.detail


@pytest.mark.parametrize(
    ("mn", "quirk"),
    [
        ("", None),
        ("A" * 25, "mn_long"),
        ("SY-TX-01", "mn_punct"),
        ("JLYP01_AIR01_0001", "mn_punct"),
        ("A" * 65, None),
        ("SY/TX01", None),  # never a path separator
        ("..", None),
        ("SY.TX01", None),
        ("SY TX01", None),
        ("SY\\TX01", None),
    ],
)
def test_bad_mn(mn: str, quirk: str | None) -> None:
    rejects(frame_of(ambient_segment(mn=mn)), RejectReason.HJ212_FIELD, tolerated=quirk)


@pytest.mark.parametrize(
    ("pw", "quirk"),
    [
        ("", "pw_empty"),
        ("1234567", "pw_long"),
        ("BF470F88957588DE902D1A52", "pw_long"),
        ("12_34", "pw_punct"),
        ("12 34", None),
        ("x" * 65, None),
    ],
)
def test_bad_pw(pw: str, quirk: str | None) -> None:
    rejects(frame_of(ambient_segment(pw=pw)), RejectReason.HJ212_FIELD, tolerated=quirk)


@pytest.mark.parametrize("flag", ["256", "-1", "x", "1000", ""])
def test_bad_flag_field(flag: str) -> None:
    segment = ambient_segment().replace(";Flag=4;", f";Flag={flag};")
    rejects(frame_of(segment), RejectReason.HJ212_FIELD)


@pytest.mark.parametrize("missing", ["ST", "CN", "MN"])
def test_required_header_field_missing(missing: str) -> None:
    segment = ";".join(p for p in ambient_segment().split(";") if not p.startswith(f"{missing}="))
    error = rejects(frame_of(segment), RejectReason.HJ212_FIELD)
    assert missing in error.detail


def test_unknown_and_duplicate_header_fields() -> None:
    rejects(
        frame_of("Foo=1;" + ambient_segment()), RejectReason.HJ212_FIELD, tolerated="header_extra"
    )
    rejects(frame_of("F/o=1;" + ambient_segment()), RejectReason.HJ212_FIELD)
    rejects(frame_of("ST=22;" + ambient_segment()), RejectReason.HJ212_FIELD)
    rejects(frame_of(ambient_segment().replace(";CN=", ";;CN=")), RejectReason.HJ212_FIELD)


def test_qn_anywhere_in_header() -> None:
    segment = ambient_segment(qn=None).replace("ST=22;", "ST=22;QN=20261125100000123;", 1)
    assert parse_packet(frame_of(segment)).qn == "20261125100000123"
    twice = ambient_segment().replace("ST=22;", "ST=22;QN=20261125100000123;", 1)
    rejects(frame_of(twice), RejectReason.HJ212_FIELD)


def test_packetised_flag_without_pnum() -> None:
    error = rejects(
        frame_of(ambient_segment(flag=7)), RejectReason.HJ212_FIELD, tolerated="flag_d_no_pnum"
    )
    assert "PNUM" in error.detail
    packet = parse_packet(frame_of(ambient_segment(flag=7)))
    assert (packet.flag, packet.pnum, packet.pno, packet.ack_required) == (7, None, None, True)


def test_packetised_upload_is_refused() -> None:
    segment = ambient_segment(flag=7).replace(";CP=", ";PNUM=0002;PNO=0001;CP=")
    error = rejects(frame_of(segment), RejectReason.HJ212_PACKETISED)
    assert "packet 1 of 2" in error.detail


@pytest.mark.parametrize(
    ("flag", "extra", "quirk"),
    [
        (7, ";PNUM=0002;PNO=0003", None),  # PNO beyond PNUM
        (7, ";PNUM=00002;PNO=0001", None),  # 5 digits
        (7, ";PNUM=0000;PNO=0000", None),
        (7, ";PNUM=0001", None),  # half of the pair
        (5, ";PNUM=0001;PNO=0001", "pnum_no_d_bit"),  # D bit not set
        (5, ";PNO=0001", None),
    ],
)
def test_bad_packet_numbering(flag: int, extra: str, quirk: str | None) -> None:
    segment = ambient_segment(flag=flag).replace(";CP=", f"{extra};CP=")
    rejects(frame_of(segment), RejectReason.HJ212_FIELD, tolerated=quirk)


def test_unknown_suffix() -> None:
    segment = ambient_segment(items=[("a34004", {"Foo": "1"})])
    error = rejects(frame_of(segment), RejectReason.HJ212_FIELD, tolerated="cp_unknown_field")
    assert error.detail == "unknown field suffix 'Foo' in 'a34004-Foo=1'"
    assert parse_packet(frame_of(segment)).items == ()


@pytest.mark.parametrize(
    "cp",
    [
        "DataTime=20261125100000;a34004-Rtd=1,a21026-Rtd=2",  # two codes joined by ','
        "DataTime=20261125100000;a34004-Rtd=1;a34004-Rtd=2",  # duplicate field
        "DataTime=20261125100000;a34004-Rtd=1=2",  # two '='
        "DataTime=20261125100000;a34004-Rtd",  # no '='
        "DataTime=20261125100000;a34004-Rtd,a34004-Flag=N=x",  # both at once
        "DataTime=20261125100000;;a34004-Rtd=1",  # empty field
        "DataTime=20261125100000;-Rtd=1",  # empty code
        "DataTime=20261125100000;a34004_x-Rtd=1",  # bad code character
        "DataTime=20261125100000;a34004-Rtd=1&x",  # '&' inside CP
        "DataTime=20261125100000;a34004-Rtd=1;DataTime=20261125100000",  # DataTime twice
    ],
)
def test_cp_syntax_errors(cp: str) -> None:
    segment = f"ST=22;CN=2011;MN=SYTX0001;CP=&&{cp}&&"
    rejects(frame_of(segment), RejectReason.HJ212_FIELD)


@pytest.mark.parametrize(
    ("cp", "quirk"),
    [
        ("DataTime=20261125100000;a34004-Rtd=1;", "cp_trailing_sep"),
        ("DataTime=20261125100000;a34004-Rtd=1,", "cp_trailing_sep"),
        ("DataTime=20261125100000;a34004-rtd=1", "cp_unknown_field"),  # case-sensitive
        ("DataTime=20261125100000;a34004-Rtd=1;;", None),
        ("DataTime=20261125100000;a34004-R/d=1", None),  # a suffix must be a name
        ("DataTime=20261125100000000;a34004-Rtd=1", "datatime_ms"),
        ("DataTime=2026112510000000;a34004-Rtd=1", None),  # 16 digits
    ],
)
def test_cp_liberties(cp: str, quirk: str | None) -> None:
    segment = f"ST=22;CN=2011;MN=SYTX0001;CP=&&{cp}&&"
    rejects(frame_of(segment), RejectReason.HJ212_FIELD, tolerated=quirk)


def test_digit_led_codes_are_2005_syntax_not_a_quirk() -> None:
    segment = "ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000;02-Rtd=0.05,02-Flag=N&&"
    with pytest.raises(HJ212Error):
        parse_packet(frame_of(segment), strict=True)
    packet = parse_packet(frame_of(segment))
    assert packet.quirks == ()
    assert [(i.code, i.field, i.value) for i in packet.items] == [
        ("02", "Rtd", 0.05),
        ("02", "Flag", None),
    ]


def test_millisecond_datatime_keeps_the_second() -> None:
    segment = "ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000999;a34004-Rtd=1&&"
    packet = parse_packet(frame_of(segment))
    assert packet.datatime_local == datetime(2026, 11, 25, 10, 0, 0)
    assert packet.quirks == ("datatime_ms",)


def test_flag_version_bits_are_recorded() -> None:
    packet = parse_packet(frame_of(ambient_segment(flag=8)))
    assert packet.protocol_version == 2
    assert packet.quirks == ("flag_version",)
    assert parse_packet(frame_of(ambient_segment(flag=8)), strict=True).flag == 8


def test_quirks_are_sorted_and_unique() -> None:
    segment = ambient_segment(pw="BF470F88957588DE902D1A52", mn="JL_AIR-01", flag=7)
    frame = frame_of(segment)
    lowered = frame[:-6] + frame[-6:-2].lower()  # and no CRLF
    quirks = parse_packet(lowered).quirks
    assert list(quirks) == sorted(set(quirks))
    assert {"pw_long", "mn_punct", "flag_d_no_pnum", "no_crlf"} <= set(quirks)


@pytest.mark.parametrize(
    "segment",
    [
        "ST=22;CN=2011;MN=SYTX0001;DataTime=20261125100000",  # no CP
        "ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000",  # CP not closed
        "ST=22;CN=2011;MN=SYTX0001CP=&&DataTime=20261125100000&&",  # no ';' before CP
        "ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000&&;PW=123456",  # CP not last
    ],
)
def test_segment_structure_errors(segment: str) -> None:
    rejects(frame_of(segment), RejectReason.HJ212_FIELD)


@pytest.mark.parametrize(
    "raw", ["abc", "", "NaN", "nan", "inf", "-inf", "1e3", "+1", " 1", "1_0", "1.2.3", "-", "0x1F"]
)
def test_non_numeric_value_is_a_per_reading_error(raw: str) -> None:
    items = [("a34004", {"Rtd": raw, "Flag": "N"}), ("a21026", {"Rtd": "9.0", "Flag": "N"})]
    packet = parse_packet(frame_of(ambient_segment(items=items)))
    bad = packet.values_by_code()["a34004"]["Rtd"]
    assert bad.value is None
    assert bad.error is not None
    reason, detail = bad.error
    assert reason is RejectReason.NON_NUMERIC
    assert reason.per_reading
    assert detail == f"CP item 'a34004-Rtd={raw}': value is not a number"
    good = packet.values_by_code()["a21026"]
    assert good["Rtd"].value == 9.0
    assert good["Rtd"].error is None
    assert packet.values_by_code()["a34004"]["Flag"].error is None


def test_huge_digit_string_is_not_a_finite_number() -> None:
    segment = ambient_segment(items=[("a34004", {"Rtd": "9" * 400})])
    item = parse_packet(frame_of(segment)).items[0]
    assert item.error is not None
    assert item.error[0] is RejectReason.NON_NUMERIC


@pytest.mark.parametrize("raw", ["0.000", "-12.5", "42", "1.", ".5", "-0"])
def test_plain_decimals_are_accepted(raw: str) -> None:
    packet = parse_packet(frame_of(ambient_segment(items=[("a34004", {"Rtd": raw})])))
    assert packet.items[0].value == float(raw)
    assert packet.items[0].error is None


@pytest.mark.parametrize("letter", ["X", "n", "", "NN", "A"])
def test_unknown_flag_letter_is_a_per_reading_error(letter: str) -> None:
    items = [("a34004", {"Rtd": "35.2", "Flag": letter}), ("a21026", {"Rtd": "9.0", "Flag": "N"})]
    packet = parse_packet(frame_of(ambient_segment(items=items)))
    flag_item = packet.values_by_code()["a34004"]["Flag"]
    assert flag_item.error is not None
    assert flag_item.error[0] is RejectReason.UNKNOWN_FLAG
    assert repr(letter) in flag_item.error[1]
    assert packet.flag_for("a34004") == letter
    assert packet.values_by_code()["a34004"]["Rtd"].value == 35.2
    assert all(item.error is None for item in packet.items if item.code == "a21026")


@pytest.mark.parametrize("letter", sorted(DATA_FLAGS))
def test_every_flag_letter_is_accepted(letter: str) -> None:
    packet = parse_packet(frame_of(ambient_segment(items=[("a34004", {"Flag": letter})])))
    assert packet.items[0].error is None


def test_text_fields_keep_raw_values() -> None:
    items = [("a34004", {"Rtd": "1", "EFlag": "A01B", "SampleTime": "20261125095959000"})]
    packet = parse_packet(frame_of(ambient_segment(items=items)))
    fields = packet.values_by_code()["a34004"]
    assert fields["EFlag"].raw == "A01B"
    assert fields["SampleTime"].value is None


def test_same_code_in_two_groups_merges() -> None:
    cp = "DataTime=20261125100000;a34004-Rtd=1;a34004-Flag=N"
    packet = parse_packet(frame_of(f"ST=22;CN=2011;MN=SYTX0001;CP=&&{cp}&&"))
    assert set(packet.values_by_code()["a34004"]) == {"Rtd", "Flag"}


def test_error_carries_reason_and_detail() -> None:
    error = HJ212Error(RejectReason.HJ212_CRC, "CRC field says 0000")
    assert error.reason is RejectReason.HJ212_CRC
    assert error.detail == "CRC field says 0000"
    assert str(error) == "hj212_crc: CRC field says 0000"


def test_build_data_segment_refuses_an_empty_item() -> None:
    with pytest.raises(ValueError, match="no fields"):
        ambient_segment(items=[("a34004", {})])


def test_envelope_only_parse() -> None:
    """``content=False``: header checked, CP left alone (the gateway's view of a frame)."""
    frame = frame_of(ambient_segment(mn="JL_AIR-01"))
    full = parse_packet(frame)
    envelope = parse_packet(frame, content=False)
    assert (envelope.qn, envelope.st, envelope.cn, envelope.mn, envelope.flag) == (
        full.qn,
        full.st,
        full.cn,
        full.mn,
        full.flag,
    )
    assert envelope.quirks == full.quirks == ("mn_punct",)
    assert (envelope.items, envelope.params, envelope.datatime) == ((), (), None)
    bad_cp = frame_of("ST=22;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000;a34004-Rtd=1=2&&")
    assert parse_packet(bad_cp, content=False).mn == "SYTX0001"
    rejects(bad_cp, RejectReason.HJ212_FIELD)
    bad_head = frame_of("ST=99;CN=2011;MN=SYTX0001;CP=&&DataTime=20261125100000&&")
    with pytest.raises(HJ212Error):
        parse_packet(bad_head, content=False)
    crc = frame_of(ambient_segment())
    with pytest.raises(HJ212Error) as info:
        parse_packet(crc[:-6] + b"0000\r\n", content=False)
    assert info.value.reason in {RejectReason.HJ212_CRC}
