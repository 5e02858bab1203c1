"""HJ 212-2017 packet layer: framing, CRC, strict syntax — and nothing else.

This module turns one HJ 212-2017 frame (``##dddd<segment>CCCC\\r\\n``) into a
:class:`Packet`, or raises :class:`HJ212Error` carrying the most precise
:class:`~ingest.reasons.RejectReason` and a detail that names exactly what is
wrong and where. It knows nothing about the station catalog: pollutant codes
that are *syntactically* valid (``a34004``, ``a0502401``, ``w01018``, vendor
``x…``) are accepted and mapping them to parameters and stations is the caller's
job.

Why so strict: the standard's CRC is weak (the Appendix A variant can take only
256 distinct values, see :func:`hj212_crc16`), so the length field, framing and
field syntax are the real integrity checks. Why the split between raising and
recording: a packet-level problem (framing, length, CRC, header, CP syntax)
makes every value of the packet untrustworthy, so it raises; a per-reading
problem (a non-numeric value, an unknown data-flag letter) concerns one reading
only, so it is recorded on that :class:`Item` (``Item.error``) and its siblings
still land.

The parser sits on the collector's hot path, so it avoids regular expressions,
memoises the validation of repeated strings (CP keys, device headers,
DataTimes), builds items as named tuples (a frozen dataclass costs several
times as much to construct and a packet carries 16-40 items) and computes the
CRC in closed form instead of with a per-byte Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final, NamedTuple

from ingest.reasons import RejectReason

__all__ = [
    "DATA_COMMANDS",
    "DATA_FLAGS",
    "FIELD_SUFFIXES",
    "MAX_SEGMENT_LENGTH",
    "NUMERIC_SUFFIXES",
    "QUIRKS",
    "SYSTEM_CODES",
    "DataCommand",
    "HJ212Error",
    "Item",
    "Packet",
    "build_data_segment",
    "build_frame",
    "command_name",
    "hj212_crc16",
    "is_data_upload",
    "parse_packet",
    "require_data_upload",
]

# --------------------------------------------------------------------------- #
# Constants from the standard
# --------------------------------------------------------------------------- #

#: Largest data segment the standard allows (bytes = characters, ASCII).
MAX_SEGMENT_LENGTH: Final = 1024
#: ``##`` + 4-digit length + segment + 4-hex CRC + CRLF.
_MAX_FRAME_LENGTH: Final = 2 + 4 + MAX_SEGMENT_LENGTH + 4 + 2

#: HJ 212-2017 system codes (ST). Real deployments send more than 22 (ambient
#: air): 27 for VOC stations, 31 for stack sources, 91 for acknowledgements.
SYSTEM_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "21": "surface water quality",
        "22": "ambient air quality",
        "23": "acoustic environment",
        "24": "groundwater",
        "25": "soil",
        "26": "seawater",
        "27": "VOCs monitoring",
        "31": "atmospheric pollution source",
        "32": "surface-water pollution source",
        "33": "groundwater pollution source",
        "34": "marine pollution source",
        "35": "soil pollution source",
        "36": "noise source",
        "37": "vibration source",
        "38": "radioactive source",
        "39": "construction-site dust source",
        "41": "electromagnetic source",
        "51": "flue-gas process monitoring",
        "52": "wastewater process monitoring",
        "91": "system interaction",
    }
)

#: Data flags (``-Flag``): HJ 212-2017's N F M S D C T B plus P (power
#: failure) from HJ/T 212-2005, which older loggers still send. Case-sensitive.
DATA_FLAGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "N": "instrument working normally",
        "F": "instrument stopped",
        "M": "maintenance",
        "S": "manually entered / set value",
        "D": "instrument fault",
        "C": "calibration",
        "T": "above measurement upper limit",
        "B": "communication abnormal (instrument - data logger)",
        "P": "power failure (HJ/T 212-2005)",
    }
)

#: Field suffixes whose value is a decimal number (``Item.value`` is a float).
NUMERIC_SUFFIXES: Final = frozenset(
    {
        "Rtd",  # real-time value
        "Avg",  # period mean
        "Min",  # period minimum
        "Max",  # period maximum
        "Cou",  # period cumulative amount
        "ZsRtd",  # converted (折算) values, pollution sources
        "ZsAvg",
        "ZsMin",
        "ZsMax",
        "Ala",  # value sampled during an alarm
        "UpValue",  # alarm upper limit
        "LowValue",  # alarm lower limit
        "Data",  # noise: value over the monitoring period
        "DayData",  # noise: daytime value
        "NightData",  # noise: night-time value
        "RS",  # equipment running status (CN 2021)
        "RT",  # equipment running time, hours (CN 2041)
    }
)
#: Field suffixes kept as text (``Item.value`` is None).
_TEXT_SUFFIXES: Final = frozenset({"EFlag", "SampleTime", "Info", "SN"})
_FLAG_SUFFIX: Final = "Flag"
#: Every field suffix this parser accepts after ``code-``.
FIELD_SUFFIXES: Final = NUMERIC_SUFFIXES | _TEXT_SUFFIXES | {_FLAG_SUFFIX}

_MAX_CODE_LENGTH: Final = 16
_MAX_MN_LENGTH: Final = 24
_MAX_PW_LENGTH: Final = 6
_HEADER_KEYS: Final = frozenset({"QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"})
_FLAG_D_BIT: Final = 0b10
_FLAG_A_BIT: Final = 0b01
#: Tolerant limits: real PWs reach 24 characters (a hash), real MNs embed '_' or '-'.
_MAX_PW_LENGTH_TOLERANT: Final = 64
_MAX_MN_LENGTH_TOLERANT: Final = 64
_MN_PUNCT: Final = frozenset("_-")

#: Non-conformities real data loggers have, that the tolerant parser accepts and records in
#: :attr:`Packet.quirks` (the strict parser raises on all but ``crc_lower`` and
#: ``flag_version``, which it always accepted). None of them touches what the integrity
#: checks protect: framing, the length field and the CRC stay hard errors in both modes,
#: and so do control characters, non-ASCII bytes and path separators in MN.
QUIRKS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "crc_lower": "CRC written in lower-case hex",
        "no_crlf": "frame not ended by CR LF right after the CRC",
        "pw_long": f"PW longer than {_MAX_PW_LENGTH} characters",
        "pw_empty": "PW present but empty",
        "pw_punct": "PW contains '_' or '-'",
        "mn_punct": "MN contains '_' or '-'",
        "mn_long": f"MN longer than {_MAX_MN_LENGTH} characters",
        "flag_d_no_pnum": "Flag sets the D (packetised) bit but PNUM/PNO are missing",
        "pnum_no_d_bit": "PNUM/PNO present but Flag does not set the D bit",
        "flag_version": "Flag's version bits are neither 0 (HJ/T 212-2005) nor 1 (HJ 212-2017)",
        "header_extra": "unknown extra header field (ignored)",
        "datatime_ms": "17-digit DataTime with milliseconds (milliseconds ignored)",
        "cp_trailing_sep": "';' or ',' right before the closing '&&' of CP",
        "cp_extra_param": "extra parameter in a data upload's CP (ignored)",
        "cp_unknown_field": "CP field with an unknown suffix (ignored)",
    }
)


@dataclass(frozen=True, slots=True)
class DataCommand:
    """A CN that carries monitoring data this pipeline ingests.

    ``value_field`` is the suffix holding the reading (``Rtd`` for real-time,
    ``Avg`` for aggregated periods) and ``period_s`` the averaging period
    (0 = instantaneous), so the caller needs no per-CN branching.
    """

    cn: str
    name: str
    value_field: str
    period_s: int


#: The data uploads: 2011 real-time, 2051 minute, 2061 hourly, 2031 daily.
DATA_COMMANDS: Final[Mapping[str, DataCommand]] = MappingProxyType(
    {
        "2011": DataCommand("2011", "real-time data", "Rtd", 0),
        "2051": DataCommand("2051", "minute data", "Avg", 60),
        "2061": DataCommand("2061", "hourly data", "Avg", 3600),
        "2031": DataCommand("2031", "daily data", "Avg", 86400),
    }
)

#: What the other CNs mean, for error messages that operators can act on.
_COMMAND_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "1000": "set timeout and retry count",
        "1011": "get device time",
        "1012": "set device time",
        "1013": "time-calibration request",
        "1061": "get real-time data interval",
        "1062": "set real-time data interval",
        "1063": "get minute-data interval",
        "1064": "set minute-data interval",
        "1072": "set access password",
        "2012": "stop real-time data",
        "2021": "equipment running-status data",
        "2022": "stop equipment running-status data",
        "2041": "equipment running-time daily data",
        "2081": "data-logger power-on time",
        "3011": "zero/span calibration",
        "3012": "immediate sampling",
        "3013": "equipment operation",
        "3020": "get on-site device information",
        "3021": "set on-site device parameters",
        "9011": "request response",
        "9012": "execution result",
        "9013": "notification response",
        "9014": "data response",
    }
)


def is_data_upload(cn: str) -> bool:
    """True when CN is one of the data uploads in :data:`DATA_COMMANDS`."""
    return cn in DATA_COMMANDS


def command_name(cn: str) -> str:
    """Human name of a CN (``'1062'`` → ``'set real-time data interval'``)."""
    data = DATA_COMMANDS.get(cn)
    if data is not None:
        return data.name
    return _COMMAND_NAMES.get(cn, "command not in this parser's HJ 212-2017 table")


# --------------------------------------------------------------------------- #
# Errors and results
# --------------------------------------------------------------------------- #


class HJ212Error(Exception):
    """A packet-level rejection: ``reason`` for machines, ``detail`` for people.

    The reason is the dead-letter code (a stable contract); the detail names
    the offending field, value and position so an operator can fix the device
    without a protocol analyser.
    """

    reason: RejectReason
    detail: str

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class Item(NamedTuple):
    """One ``code-Field=value`` field of the CP, e.g. ``a34004-Rtd=42.0``.

    A named tuple rather than a frozen dataclass: it is just as immutable, but
    a packet carries dozens of items and tuple construction is several times
    cheaper on the collector's hot path.

    ``value`` is the parsed number for numeric suffixes (:data:`NUMERIC_SUFFIXES`)
    and None for ``Flag``/``EFlag``/``SampleTime``/``Info``/``SN``. ``error`` is
    set when *this reading* is unusable (a non-numeric value, an unknown flag
    letter) while the rest of the packet is fine: the caller dead-letters the
    reading and keeps its siblings.
    """

    code: str
    field: str
    raw: str
    value: float | None
    error: tuple[RejectReason, str] | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    """A syntactically valid HJ 212-2017 packet.

    ``flag`` is 0 when the packet has no ``Flag`` field (HJ/T 212-2005 style),
    which is what the bits mean: version 0, no ack, not packetised.
    ``datatime``/``datatime_local`` are the CP ``DataTime`` (device local
    time, naive; for China UTC+8 — time zones are the caller's business) and
    are always present for data uploads (:data:`DATA_COMMANDS`); other commands
    may lack them.

    ``params`` holds the CP's parameter-style keys — those without a
    ``code-`` prefix, such as ``DataTime``, ``RtdInterval``, ``QnRtn``,
    ``BeginTime`` — in packet order, raw. They are kept apart from ``items``
    because they describe the command, not a pollutant.

    ``quirks`` names (keys of :data:`QUIRKS`, sorted) the non-conformities the
    tolerant parser accepted in this frame, so a landed reading can say which
    liberties its logger took.
    """

    qn: str | None
    st: str
    cn: str
    pw: str | None
    mn: str
    flag: int
    pnum: int | None
    pno: int | None
    datatime: str | None
    datatime_local: datetime | None
    items: tuple[Item, ...]
    params: tuple[tuple[str, str], ...] = ()
    quirks: tuple[str, ...] = ()

    @property
    def protocol_version(self) -> int:
        """Flag bits 2-7: 1 = HJ 212-2017, 0 = HJ/T 212-2005."""
        return self.flag >> 2

    @property
    def ack_required(self) -> bool:
        """Flag bit 0 (A): the sender expects a response."""
        return bool(self.flag & _FLAG_A_BIT)

    @property
    def command(self) -> DataCommand | None:
        """The data command this packet is, or None for non-data CNs."""
        return DATA_COMMANDS.get(self.cn)

    def param(self, key: str) -> str | None:
        """Raw value of a parameter-style CP key (``RtdInterval``…), or None."""
        for k, v in self.params:
            if k == key:
                return v
        return None

    def values_by_code(self) -> dict[str, dict[str, Item]]:
        """Items grouped as ``{code: {field: Item}}`` (fields are unique per code)."""
        out: dict[str, dict[str, Item]] = {}
        for item in self.items:
            fields = out.get(item.code)
            if fields is None:
                out[item.code] = {item.field: item}
            else:
                fields[item.field] = item
        return out

    def flag_for(self, code: str) -> str | None:
        """The raw ``code-Flag`` letter, or None when the code has no flag.

        Returned even when it is not a valid letter: check that item's
        ``error`` (or treat anything outside :data:`DATA_FLAGS` as invalid).
        """
        for item in self.items:
            if item.code == code and item.field == _FLAG_SUFFIX:
                return item.raw
        return None


def require_data_upload(packet: Packet) -> DataCommand:
    """Return the packet's :class:`DataCommand`, or raise HJ212_COMMAND.

    Kept separate from :func:`parse_packet` so that ``aircarbon decode`` can
    show non-data packets (acks, interval settings) while the collector still
    refuses to store them. A data upload always has ``datatime`` set.
    """
    command = DATA_COMMANDS.get(packet.cn)
    if command is None:
        raise HJ212Error(
            RejectReason.HJ212_COMMAND,
            f"CN={packet.cn} ({command_name(packet.cn)}) is not a data upload; "
            "ingested commands are 2011 real-time, 2051 minute, 2061 hourly, 2031 daily",
        )
    return command


# --------------------------------------------------------------------------- #
# CRC16, HJ 212-2017 Appendix A
# --------------------------------------------------------------------------- #


def _crc16_reference(segment: bytes) -> int:
    """Appendix A, verbatim bit loop — the specification the fast forms must match.

    Not CRC-16/MODBUS: each step XORs the byte into the register's *high*
    byte shifted down (``crc >> 8``), discarding the low byte.
    """
    crc = 0xFFFF
    for byte in segment:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def _eight_rounds(x: int) -> int:
    for _ in range(8):
        lsb = x & 1
        x >>= 1
        if lsb:
            x ^= 0xA001
    return x


#: ``_CRC_TABLE[x]`` = the 8 shift rounds applied to ``x`` (< 256). Since
#: ``(crc >> 8) ^ byte`` is already < 256, one Appendix A step is exactly
#: ``crc = _CRC_TABLE[(crc >> 8) ^ byte]``.
_CRC_TABLE: Final = tuple(_eight_rounds(x) for x in range(256))


def _crc16_table(segment: bytes) -> int:
    """Table-driven form of Appendix A: one lookup per byte."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in segment:
        crc = table[(crc >> 8) ^ byte]
    return crc


# Closed form. Only the register's high byte g survives a step:
# g' = M(g ^ b) with M(x) = _CRC_TABLE[x] >> 8, and M is *linear* over GF(2)
# (the 8 rounds only shift and XOR a constant polynomial) with M**8 = identity.
# Hence, for a segment b_0..b_{n-1}:
#     g_{n-1} = M^(n-1)(0xFF)  ^  XOR_i M^((n-1-i) mod 8)(b_i)   (i < n-1)
#     crc     = _CRC_TABLE[g_{n-1} ^ b_{n-1}]
# The XOR over positions with the same (n-1-i) mod 8 is an XOR of the
# 8-byte words of the segment aligned at its end — a few big-int folds in C
# instead of a Python loop over every byte.


def _m_power_tables() -> tuple[tuple[int, ...], ...]:
    m = tuple(t >> 8 for t in _CRC_TABLE)
    tables = [tuple(range(256))]
    for _ in range(7):
        prev = tables[-1]
        tables.append(tuple(m[prev[x]] for x in range(256)))
    if tuple(m[x] for x in tables[7]) != tables[0]:  # pragma: no cover - math guard
        raise AssertionError("HJ 212 CRC: M**8 is not the identity")
    return tuple(tables)


_M_POW: Final = _m_power_tables()
_M1, _M2, _M3, _M4, _M5, _M6, _M7 = _M_POW[1:]
_G_INIT: Final = tuple(_M_POW[r][0xFF] for r in range(8))


#: ``_FOLD_MASKS[w]`` keeps the low ``w`` 64-bit words; enough for any frame.
_FOLD_MASKS: Final = tuple((1 << (64 * w)) - 1 for w in range(72))


def hj212_crc16(segment: bytes) -> int:
    """CRC16 of an HJ 212-2017 data segment (Appendix A algorithm, NOT Modbus).

    Equal to the Appendix A bit loop for every input, but computed in closed
    form (see the comment above): a per-byte Python loop costs ~17 µs on a
    typical 360-byte segment on the project's machines, this ~2 µs. Only 256
    values are possible — it is an 8-bit sanity check, which is why the length
    and syntax checks exist.
    """
    n = len(segment)
    if n == 0:
        return 0xFFFF
    m = n - 1
    # XOR-fold the first m bytes into one 64-bit word, words aligned at the end
    # (int.from_bytes pads at the front for free).
    v = int.from_bytes(segment[:m], "big")
    words = (m + 7) >> 3
    while words >= len(_FOLD_MASKS):  # only for inputs far longer than a frame
        words = (words + 1) >> 1
        v = (v >> (words << 6)) ^ (v & ((1 << (words << 6)) - 1))
    masks = _FOLD_MASKS
    while words > 1:
        words = (words + 1) >> 1
        v = (v >> (words << 6)) ^ (v & masks[words])
    w = v.to_bytes(8, "big")  # w[j] sits (8 - j) mod 8 bytes before the last one
    g = (
        _G_INIT[m & 7]
        ^ w[0]
        ^ _M7[w[1]]
        ^ _M6[w[2]]
        ^ _M5[w[3]]
        ^ _M4[w[4]]
        ^ _M3[w[5]]
        ^ _M2[w[6]]
        ^ _M1[w[7]]
    )
    return _CRC_TABLE[g ^ segment[m]]


# --------------------------------------------------------------------------- #
# Building (simulator, tests)
# --------------------------------------------------------------------------- #


def build_frame(segment: str) -> bytes:
    """Wrap a data segment as ``##%04d<segment>%04X\\r\\n``.

    Raises UnicodeEncodeError for a non-ASCII segment: the standard is ASCII
    and a frame we emit must be one we would accept.
    """
    data = segment.encode("ascii")
    return b"##%04d%s%04X\r\n" % (len(data), data, hj212_crc16(data))


def build_data_segment(
    *,
    qn: str | None,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int,
    datatime: str,
    items: Sequence[tuple[str, Mapping[str, str]]],
) -> str:
    """Data segment of a data upload, in the standard's field order.

    ``items`` are ``(code, {suffix: raw})`` pairs, e.g.
    ``("a34004", {"Rtd": "42.0", "Flag": "N"})``; fields of one pollutant are
    joined by ``,`` and pollutants by ``;``. Values are written as given and
    not validated — :func:`parse_packet` is the validator, and tests need to
    build bad packets too.
    """
    head = [] if qn is None else [f"QN={qn}"]
    head += [f"ST={st}", f"CN={cn}", f"PW={pw}", f"MN={mn}", f"Flag={flag}"]
    groups = [f"DataTime={datatime}"]
    for code, fields in items:
        if not fields:
            raise ValueError(f"item {code!r} has no fields")
        groups.append(",".join(f"{code}-{suffix}={raw}" for suffix, raw in fields.items()))
    return ";".join(head) + ";CP=&&" + ";".join(groups) + "&&"


# --------------------------------------------------------------------------- #
# Parsing
# --------------------------------------------------------------------------- #

_WHITESPACE: Final = b" \t\r\n"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_PRINTABLE: Final = bytes(range(0x20, 0x7F))
_NUMBER_CHARS: Final = "0123456789.-"
_FLAG_SET: Final = frozenset(DATA_FLAGS)
_FLAG_LIST: Final = ", ".join(DATA_FLAGS)
_ST_LIST: Final = ", ".join(SYSTEM_CODES)
_ITEM_NEW: Final = tuple.__new__

# Kinds of CP keys.
_K_NUMERIC: Final = 0
_K_FLAG: Final = 1
_K_TEXT: Final = 2
_K_PARAM: Final = 3  # parameter-style key without ``code-``: DataTime, RtdInterval…
_SUFFIX_KIND: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(NUMERIC_SUFFIXES, _K_NUMERIC),
        _FLAG_SUFFIX: _K_FLAG,
        **dict.fromkeys(_TEXT_SUFFIXES, _K_TEXT),
    }
)

# Validation results are pure functions of their input strings, and a
# deployment repeats the same few hundred CP keys, per-device headers and
# DataTimes endlessly, so they are memoised. Only *valid* inputs are stored;
# each cache is emptied when full, which bounds memory against a device that
# sends garbage. Single dict operations are atomic under the GIL.
_CACHE_LIMIT: Final = 4096
_K_IGNORED: Final = 4  # tolerant only: a CP field with an unknown suffix, skipped
_KeyInfo = tuple[str, str, int]  # (code, suffix, kind); code "" for parameters
# (st, cn, pw, mn, flag, pnum, pno, quirks)
_Header = tuple[str, str, "str | None", str, int, "int | None", "int | None", tuple[str, ...]]
# One cache per mode: what the tolerant parser accepts, the strict one may refuse.
_KEY_CACHES: tuple[dict[str, _KeyInfo], dict[str, _KeyInfo]] = ({}, {})
_HEADER_CACHES: tuple[dict[str, _Header], dict[str, _Header]] = ({}, {})
_TIME_CACHE: dict[str, datetime] = {}


def _field(detail: str) -> HJ212Error:
    return HJ212Error(RejectReason.HJ212_FIELD, detail)


def _parse_time(raw: str, what: str) -> datetime:
    """``YYYYMMDDhhmmss`` → naive datetime, rejecting impossible calendar times."""
    cached = _TIME_CACHE.get(raw)
    if cached is not None:  # every station of a network reports the same DataTime
        return cached
    if len(raw) != 14 or not raw.isdigit():
        raise _field(f"{what}={raw!r} is not YYYYMMDDhhmmss (14 digits)")
    try:
        # 3.11's C fromisoformat reads the ISO basic form ~10x faster than
        # int() slices + datetime(); the digits were checked above.
        parsed = datetime.fromisoformat(f"{raw[:8]}T{raw[8:]}")
    except ValueError as exc:
        raise _field(f"{what}={raw!r} is not a valid calendar time ({exc})") from None
    if len(_TIME_CACHE) >= _CACHE_LIMIT:
        _TIME_CACHE.clear()
    _TIME_CACHE[raw] = parsed
    return parsed


def _is_name(key: str) -> bool:
    """Letters and digits, starting with a letter (codes and CP keys)."""
    return key.isalnum() and key[:1].isalpha()


# ---- frame -------------------------------------------------------------------


def _ascii_bytes(frame: bytes | str) -> bytes:
    if isinstance(frame, str):
        if not frame.isascii():
            pos = next(i for i, ch in enumerate(frame) if ord(ch) > 0x7F)
            raise HJ212Error(
                RejectReason.BAD_ENCODING,
                f"non-ASCII character {frame[pos]!r} at offset {pos}; HJ 212 is ASCII",
            )
        return frame.encode("ascii")
    if not frame.isascii():
        pos = next(i for i, b in enumerate(frame) if b > 0x7F)
        raise HJ212Error(
            RejectReason.BAD_ENCODING,
            f"non-ASCII byte 0x{frame[pos]:02X} at offset {pos}; HJ 212 is ASCII",
        )
    return frame


def _unframe(frame: bytes | str, strict: bool, quirks: list[str]) -> str:
    """Check encoding, framing, length and CRC; return the data segment."""
    data = _ascii_bytes(frame)
    # Stray whitespace around the frame is common in device logs: strip it
    # OUTSIDE the frame only, then demand CRLF right after the CRC.
    data = data.lstrip(_WHITESPACE)
    core = data.rstrip(_WHITESPACE)
    if len(core) > _MAX_FRAME_LENGTH:
        raise HJ212Error(
            RejectReason.OVERSIZED,
            f"frame is {len(core)} bytes; HJ 212-2017 allows at most {_MAX_FRAME_LENGTH} "
            f"(a {MAX_SEGMENT_LENGTH}-byte data segment)",
        )
    if not core.startswith(b"##"):
        raise HJ212Error(
            RejectReason.HJ212_FRAMING, f"frame does not start with '##' (starts {core[:8]!r})"
        )
    if not data.startswith(b"\r\n", len(core)):
        if strict:
            raise HJ212Error(
                RejectReason.HJ212_FRAMING,
                f"frame does not end with CRLF right after the CRC (ends {data[-8:]!r})",
            )
        quirks.append("no_crlf")
    if len(core) < 10:
        raise HJ212Error(
            RejectReason.HJ212_FRAMING,
            f"frame {core!r} is too short for '##', a 4-digit length and a 4-hex CRC",
        )
    length_field = core[2:6]
    if not length_field.isdigit():
        raise HJ212Error(
            RejectReason.HJ212_FRAMING,
            f"length field {length_field.decode()!r} after '##' is not 4 decimal digits",
        )
    body = core[6:-4]
    declared = int(length_field)
    if declared > MAX_SEGMENT_LENGTH:
        raise HJ212Error(
            RejectReason.HJ212_LENGTH,
            f"length field says {length_field.decode()}, "
            f"above the standard's maximum {MAX_SEGMENT_LENGTH}",
        )
    if declared != len(body):
        raise HJ212Error(
            RejectReason.HJ212_LENGTH,
            f"length field says {length_field.decode()} but data segment has {len(body)} bytes",
        )
    crc_field = core[-4:]
    if crc_field.strip(_HEX_DIGITS):
        raise HJ212Error(
            RejectReason.HJ212_FRAMING,
            f"CRC field {crc_field.decode()!r} before CRLF is not 4 hex digits",
        )
    crc = hj212_crc16(body)
    if int(crc_field, 16) != crc:
        raise HJ212Error(
            RejectReason.HJ212_CRC,
            f"CRC field says {crc_field.decode()} but the data segment's CRC16 is {crc:04X}",
        )
    if crc_field != crc_field.upper():
        quirks.append("crc_lower")
    if body.translate(None, _PRINTABLE):
        pos = next(i for i, b in enumerate(body) if b not in _PRINTABLE)
        raise _field(f"control character 0x{body[pos]:02X} at offset {pos} of the data segment")
    return body.decode("ascii")


# ---- header --------------------------------------------------------------------


def _small_int(raw: str, key: str, digits: int) -> int:
    if not (0 < len(raw) <= digits and raw.isdigit()):
        raise _field(f"{key}={raw!r} is not a number of at most {digits} digits")
    return int(raw)


def _header_fields(header: str, strict: bool, quirks: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in header.split(";") if header else ():
        key, eq, value = part.partition("=")
        if not eq:
            raise _field(f"header field {part!r} is not KEY=value")
        if key not in _HEADER_KEYS:
            if strict or not _is_name(key):
                raise _field(
                    f"unknown header field {key!r} in {part!r} "
                    "(expected QN ST CN PW MN Flag PNUM PNO, then CP)"
                )
            if "header_extra" not in quirks:
                quirks.append("header_extra")
            continue
        if key in fields:
            raise _field(f"header field {key} appears twice")
        fields[key] = value
    for required in ("ST", "CN", "MN"):
        if required not in fields:
            raise _field(f"required header field {required} is missing")
    return fields


def _check_qn(qn: str) -> None:
    if len(qn) != 17 or not qn.isdigit():
        raise _field(f"QN={qn!r} is not YYYYMMDDhhmmsszzz (17 digits)")
    _parse_time(qn[:14], "QN")


def _pnum_pno(fields: Mapping[str, str], flag: int) -> tuple[int, int]:
    pnum = _small_int(fields["PNUM"], "PNUM", 4)
    pno = _small_int(fields["PNO"], "PNO", 4)
    if not 1 <= pno <= pnum:
        raise _field(f"PNO={pno} is outside 1..PNUM={pnum}")
    if pnum > 1:
        raise HJ212Error(
            RejectReason.HJ212_PACKETISED,
            f"packet {pno} of {pnum} of a packetised upload (Flag={flag}); "
            "multi-packet reassembly is not supported",
        )
    return pnum, pno


def _check_flag(
    fields: Mapping[str, str], strict: bool, quirks: list[str]
) -> tuple[int, int | None, int | None]:
    """Flag byte and, for a one-packet 'series', PNUM/PNO."""
    flag_raw = fields.get("Flag")
    if flag_raw is None:
        flag = 0
    else:
        flag = _small_int(flag_raw, "Flag", 3)
        if flag > 0xFF:
            raise _field(f"Flag={flag_raw} does not fit in one byte (0-255)")
        if flag >> 2 > 1:
            quirks.append("flag_version")
    has_pnum = "PNUM" in fields or "PNO" in fields
    both = "PNUM" in fields and "PNO" in fields
    if not flag & _FLAG_D_BIT:
        if not has_pnum:
            return flag, None, None
        if strict or not both:
            raise _field(f"PNUM/PNO present but Flag={flag} does not set the D (packetised) bit")
        quirks.append("pnum_no_d_bit")
        return (flag, *_pnum_pno(fields, flag))
    if not both:
        if strict or has_pnum:
            raise _field(f"Flag={flag} sets the D (packetised) bit but PNUM/PNO are missing")
        # Loggers copy Flag=7 from the standard's examples and send one packet
        # without PNUM/PNO: a single-packet upload, which is what it is.
        quirks.append("flag_d_no_pnum")
        return flag, None, None
    return (flag, *_pnum_pno(fields, flag))


def _check_pw(pw: str, strict: bool, quirks: list[str]) -> None:
    if 0 < len(pw) <= _MAX_PW_LENGTH and pw.isalnum():
        return
    if strict:
        raise _field(f"PW={pw!r} is not 1-{_MAX_PW_LENGTH} letters/digits")
    if not pw:
        quirks.append("pw_empty")
        return
    bare = pw.replace("_", "").replace("-", "")
    if len(pw) > _MAX_PW_LENGTH_TOLERANT or not (bare.isalnum() or not bare):
        raise _field(f"PW={pw!r} is not 1-{_MAX_PW_LENGTH_TOLERANT} letters, digits, '_' or '-'")
    if len(pw) > _MAX_PW_LENGTH:
        quirks.append("pw_long")
    if bare != pw:
        quirks.append("pw_punct")


def _check_mn(mn: str, strict: bool, quirks: list[str]) -> None:
    if 0 < len(mn) <= _MAX_MN_LENGTH and mn.isalnum():
        return
    if strict:
        raise _field(f"MN={mn!r} is not 1-{_MAX_MN_LENGTH} letters/digits")
    # MN names a device and ends up in logs, file names and topics: '_' and '-'
    # are harmless, anything else ('/', '.', spaces, control characters) is not.
    bare = mn.replace("_", "").replace("-", "")
    if not (0 < len(mn) <= _MAX_MN_LENGTH_TOLERANT and bare.isalnum()):
        raise _field(
            f"MN={mn!r} is not 1-{_MAX_MN_LENGTH_TOLERANT} letters, digits, '_' or '-' "
            "(never path separators, dots, spaces or control characters)"
        )
    if bare != mn:
        quirks.append("mn_punct")
    if len(mn) > _MAX_MN_LENGTH:
        quirks.append("mn_long")


def _check_header(fields: Mapping[str, str], strict: bool, quirks: list[str]) -> _Header:
    """Validate every header field but QN (which changes with every packet)."""
    st = fields["ST"]
    if st not in SYSTEM_CODES:
        raise _field(f"unknown system code ST={st!r} (HJ 212-2017: {_ST_LIST})")
    cn = fields["CN"]
    if len(cn) != 4 or not cn.isdigit():
        raise _field(f"CN={cn!r} is not a 4-digit command code")
    pw = fields.get("PW")
    if pw is not None:
        _check_pw(pw, strict, quirks)
    mn = fields["MN"]
    _check_mn(mn, strict, quirks)
    flag, pnum, pno = _check_flag(fields, strict, quirks)
    return st, cn, pw, mn, flag, pnum, pno, tuple(quirks)


def _parse_header(header: str, strict: bool) -> tuple[str | None, _Header]:
    """QN and the validated rest of the header, memoised on the rest.

    QN normally comes first (``QN=…;ST=…``); everything after it is constant
    for a device and command, so its validation (and its quirks) is cached.
    """
    qn: str | None = None
    rest = header
    if header.startswith("QN="):
        qn, _, rest = header[3:].partition(";")
        _check_qn(qn)
    cache = _HEADER_CACHES[strict]
    cached = cache.get(rest)
    if cached is not None:
        return qn, cached
    quirks: list[str] = []
    fields = _header_fields(rest, strict, quirks)
    if "QN" in fields:  # QN not first: valid, but uncacheable
        if qn is not None:
            raise _field("header field QN appears twice")
        qn = fields["QN"]
        _check_qn(qn)
        return qn, _check_header(fields, strict, quirks)
    checked = _check_header(fields, strict, quirks)
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[rest] = checked
    return qn, checked


# ---- CP --------------------------------------------------------------------------


def _is_code(code: str, strict: bool) -> bool:
    """A pollutant code: 2017 codes start with a letter, 2005 ones may be all digits.

    Digit-led codes are HJ/T 212-2005 syntax, not a quirk: the tolerant parser takes them
    silently (the catalog decides whether a code means anything), the strict one refuses.
    """
    if not 0 < len(code) <= _MAX_CODE_LENGTH or not code.isalnum():
        return False
    return not strict or code[:1].isalpha()


def _classify_key(key: str, eq: str, fld: str, cp: str, strict: bool) -> _KeyInfo:
    """Slow path of :func:`_parse_cp`: validate (and memoise) one CP key."""
    if not eq:
        if not fld:
            raise _field(f"empty CP field (doubled or trailing ';' or ',') in {cp!r}")
        raise _field(f"CP field {fld!r} is not KEY=value")
    code, dash, suffix = key.partition("-")
    if not dash:
        if not _is_name(key):
            raise _field(f"CP key {key!r} in {fld!r} is not letters/digits")
        info: _KeyInfo = ("", key, _K_PARAM)
    else:
        if not _is_code(code, strict):
            raise _field(
                f"pollutant code {code!r} in {fld!r} is not 1-{_MAX_CODE_LENGTH} "
                "letters/digits starting with a letter"
            )
        kind = _SUFFIX_KIND.get(suffix)
        if kind is None:
            if strict or not suffix.isalnum():
                raise _field(f"unknown field suffix {suffix!r} in {fld!r}")
            kind = _K_IGNORED
        info = (code, suffix, kind)
    cache = _KEY_CACHES[strict]
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = info
    return info


def _bad_item(reason: RejectReason, code: str, suffix: str, raw: str, fld: str) -> Item:
    """An item whose reading is unusable; the detail names the CP field."""
    if reason is RejectReason.UNKNOWN_FLAG:
        detail = f"CP item {fld!r}: data flag {raw!r} is not one of {_FLAG_LIST}"
    else:
        detail = f"CP item {fld!r}: value is not a number"
    return Item(code, suffix, raw, None, (reason, detail))


def _cp_structure_error(cp: str) -> HJ212Error:
    """Name the field that has two '=' or repeats a key (slow path)."""
    seen: set[str] = set()
    for fld in cp.replace(",", ";").split(";"):
        key, _, raw = fld.partition("=")
        if "=" in raw:
            return _field(f"CP field {fld!r} has more than one '='")
        if key in seen:
            return _field(f"CP field {key!r} appears twice")
        seen.add(key)
    return _field(f"malformed CP {cp!r}")  # pragma: no cover - callers checked


def _strip_trailing_sep(cp: str, quirks: list[str]) -> str:
    """Loggers that write a separator *after* each item end CP with ';&&'."""
    if len(cp) > 1 and cp[-1] in ";," and cp[-2] not in ";,":
        quirks.append("cp_trailing_sep")
        return cp[:-1]
    return cp


def _parse_cp(cp: str, strict: bool, quirks: list[str]) -> tuple[dict[str, Item], dict[str, str]]:
    """CP content → items by key and parameter-style fields, in packet order.

    Per-field work is kept to a partition, a memoised key lookup and the
    value conversion; whole-CP invariants (exactly one '=' per field, no
    repeated key) are checked once at the end by counting.
    """
    items: dict[str, Item] = {}
    params: dict[str, str] = {}
    if not cp:
        return items, params
    cp = cp if strict else _strip_trailing_sep(cp, quirks)
    key_info = _KEY_CACHES[strict].get
    new = _ITEM_NEW
    item_cls = Item
    flag_set = _FLAG_SET
    number_chars = _NUMBER_CHARS
    ignored = 0
    for group in cp.split(";"):
        group_code = ""
        for fld in group.split(","):
            key, eq, raw = fld.partition("=")
            info = key_info(key)
            if info is None or not eq:
                info = _classify_key(key, eq, fld, cp, strict)
            code, suffix, kind = info
            if kind == _K_NUMERIC:
                try:
                    value = float(raw)
                except ValueError:
                    item = _bad_item(RejectReason.NON_NUMERIC, code, suffix, raw, fld)
                else:
                    # float() also takes ' 1', '+1', '1e3', '1_0', 'nan', 'inf';
                    # HJ 212 values are plain decimals. 309+ digits overflow to
                    # inf, caught by inf - inf = nan (truthy); finite v - v is 0.0.
                    if raw.strip(number_chars) or value - value:
                        item = _bad_item(RejectReason.NON_NUMERIC, code, suffix, raw, fld)
                    else:
                        item = new(item_cls, (code, suffix, raw, value, None))
            elif kind == _K_FLAG:
                if raw in flag_set:
                    item = new(item_cls, (code, suffix, raw, None, None))
                else:
                    item = _bad_item(RejectReason.UNKNOWN_FLAG, code, suffix, raw, fld)
            elif kind == _K_TEXT:
                item = new(item_cls, (code, suffix, raw, None, None))
            elif kind == _K_IGNORED:
                ignored += 1
                if "cp_unknown_field" not in quirks:
                    quirks.append("cp_unknown_field")
                continue
            else:
                params[key] = raw
                continue
            if code != group_code:
                if group_code:
                    raise _field(
                        f"fields of different codes {group_code!r} and {code!r} joined by ',' "
                        f"in {group!r} (pollutants are separated by ';')"
                    )
                group_code = code
            items[key] = item
    n_fields = cp.count(";") + cp.count(",") + 1
    if cp.count("=") != n_fields or len(items) + len(params) + ignored != n_fields:
        raise _cp_structure_error(cp)
    return items, params


def _split_segment(seg: str) -> tuple[str, str]:
    """Header text (without the ';' before CP) and CP content (without '&&')."""
    cp_at = seg.find("CP=&&")
    if cp_at < 0:
        raise _field("data segment has no 'CP=&&…&&' field")
    if cp_at and seg[cp_at - 1] != ";":
        raise _field(f"'CP=&&' at offset {cp_at} is not preceded by ';'")
    if len(seg) < cp_at + 7 or not seg.endswith("&&"):
        raise _field("CP is not closed by '&&' at the end of the data segment (CP must be last)")
    cp = seg[cp_at + 5 : -2]
    if "&" in cp:
        pos = cp_at + 5 + cp.index("&")
        raise _field(f"'&' inside CP at offset {pos}; CP must be the last field, '&&…&&'")
    return seg[: cp_at - 1] if cp_at else "", cp


def _data_time(raw: str, strict: bool, quirks: list[str]) -> datetime:
    if not strict and len(raw) == 17 and raw.isdigit():
        quirks.append("datatime_ms")
        return _parse_time(raw[:14], "DataTime")
    return _parse_time(raw, "DataTime")


def parse_packet(frame: bytes | str, *, strict: bool = False, content: bool = True) -> Packet:
    """Parse and validate one HJ 212 frame; raise :class:`HJ212Error`.

    Checks, in order (the first failure wins, with the most precise reason):
    ASCII (BAD_ENCODING); frame size (OVERSIZED); ``##`` header, CRLF tail,
    4-digit length and 4-hex CRC fields (HJ212_FRAMING); length ≤ 1024 and
    equal to the segment's byte count (HJ212_LENGTH); CRC16 (HJ212_CRC);
    header and CP syntax (HJ212_FIELD); a packetised upload with PNUM > 1
    (HJ212_PACKETISED). Per-reading problems do not raise: they are set on
    ``Item.error``. Non-data commands parse too — see
    :func:`require_data_upload`.

    ``strict=False`` (the default) accepts the header and CP liberties real
    loggers take (:data:`QUIRKS`) and lists them in ``Packet.quirks``;
    ``strict=True`` is the letter of HJ 212-2017. Framing, length and CRC are
    hard errors in both modes.

    ``content=False`` stops after the envelope — framing, length, CRC, the header and
    the ``CP=&&…&&`` delimiters — and leaves ``items``/``params``/``datatime`` empty:
    what a transport (the TCP gateway) needs to route and answer a frame, at a third of
    the cost. The content is then the decoder's to check, reading by reading.
    """
    quirks: list[str] = []
    header, cp = _split_segment(_unframe(frame, strict, quirks))
    qn, (st, cn, pw, mn, flag, pnum, pno, header_quirks) = _parse_header(header, strict)
    quirks += header_quirks
    if not content:
        quirks.sort()
        return Packet(qn, st, cn, pw, mn, flag, pnum, pno, None, None, (), (), tuple(quirks))
    items, params = _parse_cp(cp, strict, quirks)
    datatime = params.get("DataTime")
    datatime_local = None if datatime is None else _data_time(datatime, strict, quirks)
    if cn in DATA_COMMANDS and (datatime is None or len(params) != 1):
        if datatime is None:
            raise _field(f"CN={cn} data upload has no DataTime in CP")
        extra = next(k for k in params if k != "DataTime")
        if strict:
            raise _field(
                f"unexpected CP parameter '{extra}={params[extra]}' in a CN={cn} data upload"
            )
        quirks.append("cp_extra_param")
    return Packet(
        qn,
        st,
        cn,
        pw,
        mn,
        flag,
        pnum,
        pno,
        datatime,
        datatime_local,
        tuple(items.values()),
        tuple(params.items()),
        tuple(sorted(set(quirks))),
    )
