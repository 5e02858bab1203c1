"""Wire messages → normalised readings (docs/contract.md §1), for JSON v1 and HJ 212 alike.

Both formats end in the same rows (station, param, ts UTC, value in canonical unit,
flag, period_s, seq, source) appended to a :class:`~ingest.batch.ReadingBatch`, and the
same :class:`Rejection` records carrying a :class:`~ingest.reasons.RejectReason`.
A message-level problem rejects the whole payload; a reading-level one rejects only that
reading, so the valid readings of a partly valid message still land.

Decoding is pure: the caller passes the time "now" and the rules (catalog, limits), which
keeps it deterministic for tests and usable without a broker (``aircarbon decode``).

:func:`decode_message`, :func:`decode_status` and :func:`decode_payload` are the decode
boundary and never raise: whatever one message does inside a decoder (recursion, an
overflow, a bug of ours), it comes back as a ``decode_error`` rejection of that message and
its half-appended readings are taken back, so one hostile payload cannot stop ingest.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from aircarbon.core.catalog import Catalog, HJ212Version, Parameter
from aircarbon.core.errors import UnknownUnitError
from ingest.batch import ReadingBatch
from ingest.hj212 import HJ212Error, Packet, parse_packet, require_data_upload
from ingest.reasons import RejectReason

__all__ = [
    "STATUS_STATES",
    "DecodeRules",
    "Decoded",
    "Rejection",
    "StatusEvent",
    "decode_hj212",
    "decode_json",
    "decode_message",
    "decode_payload",
    "decode_status",
    "parse_topic",
    "to_us",
]

TOPIC_ROOT: Final = "aircarbon/v1/"
STATION_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATUS_STATES: Final = frozenset({"online", "offline", "maintenance", "calibrating"})
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US: Final = dt.timedelta(microseconds=1)
_MAX_PERIOD_S: Final = 86_400
_MAX_SEQ: Final = 2**63 - 1  # the raw store's seq column is int64
_MAX_INT_VALUE: Final = 10**300  # larger JSON integers do not fit a float64 reading
# Timestamps outside [1970, 2100) are refused at decode whatever the late-data window says:
# the raw store partitions by date and hour, and nothing the network sends is older or newer
_TS_MIN_US: Final = 0
_TS_MAX_US: Final = (dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - _EPOCH) // _US
# An RFC 3339 timestamp with nanoseconds and an offset is 35 characters: longer strings are
# refused before the parse cache, which therefore holds at most 8192 short keys
_MAX_TS_CHARS: Final = 40
_DETAIL_CHARS: Final = 160  # an exception's text kept in a decode_error detail

Kind = Literal["readings", "hj212", "status"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message (``param`` None) or one of its readings did not land."""

    reason: RejectReason
    detail: str
    param: str | None = None


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A station's status message (retained, also its MQTT will)."""

    station: str
    state: str
    ts_us: int | None


@dataclass(slots=True)
class Decoded:
    """What one message produced: how many readings were appended, and what was refused."""

    station: str | None
    kind: str
    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    seq: int | None = None
    ts_us: int | None = None
    period_s: int | None = None
    status: StatusEvent | None = None
    packet: Packet | None = None

    @property
    def rejected_whole(self) -> bool:
        """True when the message as a whole was refused (nothing of it landed)."""
        return any(r.param is None for r in self.rejections)

    def reject(self, reason: RejectReason, detail: str, param: str | None = None) -> Decoded:
        self.rejections.append(Rejection(reason, detail, param))
        return self


@dataclass(frozen=True, slots=True)
class DecodeRules:
    """The catalog and limits a decoder checks against (from the settings object)."""

    catalog: Catalog
    check_station: bool = True
    check_time: bool = True
    max_payload_bytes: int = 64 * 1024
    max_age_s: int = 7 * 24 * 3600
    max_future_s: int = 300
    hj212_datatime: Literal["start", "end"] = "start"
    #: True: the letter of HJ 212-2017; False: accept (and record) real loggers' quirks
    hj212_strict: bool = False
    max_readings_per_message: int = 10_000


def to_us(ts: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, no float rounding)."""
    return (ts - _EPOCH) // _US


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``aircarbon/v1/{station}/{kind}`` → (station, kind), or None when malformed."""
    if not topic.startswith(TOPIC_ROOT):
        return None
    rest = topic[len(TOPIC_ROOT) :].split("/")
    if len(rest) != 2 or not STATION_RE.fullmatch(rest[0]):
        return None
    return rest[0], rest[1]


def decode_message(
    topic: str, payload: bytes, rules: DecodeRules, now_us: int, out: ReadingBatch
) -> Decoded:
    """Decode one MQTT message by its topic; readings are appended to ``out``. Never raises."""
    mark = len(out)
    try:
        decoded = _decode_message(topic, payload, rules, now_us, out)
    except Exception as exc:  # the decode boundary: one message, not ingest
        out.truncate(mark)
        parsed = _safe_topic(topic)
        station, kind = parsed if parsed is not None else (None, "unknown")
        return decode_failure(station, kind, exc)
    return _cap_readings(decoded, rules, out, mark)


def decode_payload(
    kind: Literal["readings", "hj212"],
    payload: bytes,
    topic_station: str | None,
    rules: DecodeRules,
    now_us: int,
    out: ReadingBatch,
) -> Decoded:
    """One JSON or HJ 212 payload without a topic (``aircarbon decode``). Never raises."""
    mark = len(out)
    decoder = decode_json if kind == "readings" else decode_hj212
    try:
        decoded = decoder(payload, topic_station, rules, now_us, out)
    except Exception as exc:  # the decode boundary, as in decode_message
        out.truncate(mark)
        return decode_failure(topic_station, kind, exc)
    return _cap_readings(decoded, rules, out, mark)


def decode_failure(station: str | None, kind: str, exc: BaseException) -> Decoded:
    """The rejection of a message whose decoding raised: class and a short, safe detail."""
    try:
        text = str(exc)
    except Exception:  # an exception whose str() fails still has a class
        text = ""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    if len(text) > _DETAIL_CHARS:
        text = text[:_DETAIL_CHARS] + "…"
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return Decoded(station, kind).reject(RejectReason.DECODE_ERROR, detail)


def _safe_topic(topic: str) -> tuple[str, str] | None:
    try:
        return parse_topic(topic)
    except Exception:  # only a str topic can be parsed
        return None


def _cap_readings(decoded: Decoded, rules: DecodeRules, out: ReadingBatch, mark: int) -> Decoded:
    """A message with more readings than the cap is dead-lettered whole (bounded memory)."""
    cap = rules.max_readings_per_message
    n = decoded.accepted + len(decoded.rejections)
    if n <= cap:
        return decoded
    out.truncate(mark)
    capped = Decoded(decoded.station, decoded.kind, ts_us=decoded.ts_us, seq=decoded.seq)
    return capped.reject(
        RejectReason.TOO_MANY_READINGS,
        f"{n} readings in one message exceed the limit of {cap}",
    )


def _decode_message(
    topic: str, payload: bytes, rules: DecodeRules, now_us: int, out: ReadingBatch
) -> Decoded:
    parsed = parse_topic(topic)
    if parsed is None:
        return Decoded(None, "unknown").reject(
            RejectReason.BAD_TOPIC, f"topic {topic!r} is not aircarbon/v1/{{station}}/{{kind}}"
        )
    station, kind = parsed
    if len(payload) > rules.max_payload_bytes:
        return Decoded(station, kind).reject(
            RejectReason.OVERSIZED,
            f"payload of {len(payload)} bytes exceeds the limit of {rules.max_payload_bytes}",
        )
    if kind == "readings":
        return decode_json(payload, station, rules, now_us, out)
    if kind == "hj212":
        return decode_hj212(payload, station, rules, now_us, out)
    if kind == "status":
        return _decode_status(payload, station, rules)
    return Decoded(station, kind).reject(
        RejectReason.BAD_TOPIC, f"topic kind {kind!r} is not readings, hj212 or status"
    )


# --------------------------------------------------------------------------------------
# JSON v1
# --------------------------------------------------------------------------------------


class _JsonMessage(msgspec.Struct, forbid_unknown_fields=False):
    station: str
    ts: str
    readings: dict[str, Any]
    period_s: int = 0
    seq: int | None = None
    units: dict[str, str] = {}
    flags: dict[str, str] = {}


_JSON_DECODER: Final = msgspec.json.Decoder(_JsonMessage)


def _parse_rfc3339(text: str) -> int | None:
    """µs since the epoch, or None when not RFC 3339 with an offset.

    Cached (every station of a network sends the same ts), but only on strings short enough
    to be a timestamp: the cache's keys are attacker-chosen, so its size is bounded in bytes.
    """
    if not 20 <= len(text) <= _MAX_TS_CHARS:
        return None
    return _parse_rfc3339_cached(text)


@lru_cache(maxsize=8192)
def _parse_rfc3339_cached(text: str) -> int | None:
    if text[10] not in "Tt ":
        return None
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    return to_us(ts)


def _retired(decoded: Decoded, station: str, ts_us: int, rules: DecodeRules) -> bool:
    """Reject a reading measured after its station was retired (``valid_to``)."""
    end_us = rules.catalog.retired_after_us.get(station)
    if end_us is None or ts_us <= end_us:
        return False
    valid_to = rules.catalog.stations[station].valid_to
    decoded.reject(
        RejectReason.STATION_RETIRED,
        f"station {station!r} was retired after {valid_to} (valid_to in the network file)",
    )
    return True


def _check_time(decoded: Decoded, ts_us: int, rules: DecodeRules, now_us: int, raw: str) -> bool:
    if not _TS_MIN_US <= ts_us < _TS_MAX_US:
        decoded.reject(
            RejectReason.BAD_TIMESTAMP, f"ts {raw[:40]} is outside the years 1970 to 2099"
        )
        return False
    if not rules.check_time:
        return True
    if ts_us - now_us > rules.max_future_s * 1_000_000:
        decoded.reject(
            RejectReason.TS_FUTURE,
            f"ts {raw} is {(ts_us - now_us) / 1e6:.0f} s in the future "
            f"(limit {rules.max_future_s} s)",
        )
        return False
    if now_us - ts_us > rules.max_age_s * 1_000_000:
        decoded.reject(
            RejectReason.TS_TOO_OLD,
            f"ts {raw} is {(now_us - ts_us) / 86_400e6:.1f} days old "
            f"(limit {rules.max_age_s / 86_400:.1f} days)",
        )
        return False
    return True


def decode_json(
    payload: bytes, topic_station: str | None, rules: DecodeRules, now_us: int, out: ReadingBatch
) -> Decoded:
    """Decode a JSON v1 reading message (docs/contract.md §1.2)."""
    decoded = Decoded(topic_station, "readings")
    try:
        msg = _JSON_DECODER.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: msgspec raises it for invalid UTF-8 inside a string
        return _reject_undecodable(decoded, payload, exc)
    station = msg.station
    decoded.station = station
    if topic_station is not None and station != topic_station:
        return decoded.reject(
            RejectReason.TOPIC_MISMATCH,
            f"payload station {station!r} differs from topic station {topic_station!r}",
        )
    if rules.check_station and station not in rules.catalog.stations:
        return decoded.reject(RejectReason.UNKNOWN_STATION, f"unknown station {station!r}")
    if not 0 <= msg.period_s <= _MAX_PERIOD_S:
        return decoded.reject(
            RejectReason.BAD_SCHEMA, f"period_s {msg.period_s} outside 0..{_MAX_PERIOD_S}"
        )
    if msg.seq is not None and not 0 <= msg.seq <= _MAX_SEQ:
        return decoded.reject(RejectReason.BAD_SCHEMA, f"seq {msg.seq} outside 0..{_MAX_SEQ}")
    ts_us = _parse_rfc3339(msg.ts)
    if ts_us is None:
        return decoded.reject(
            RejectReason.BAD_TIMESTAMP, f"ts {msg.ts[:40]!r} is not RFC 3339 with a UTC offset"
        )
    decoded.seq, decoded.ts_us, decoded.period_s = msg.seq, ts_us, msg.period_s
    if not _check_time(decoded, ts_us, rules, now_us, msg.ts):
        return decoded
    if rules.check_station and _retired(decoded, station, ts_us, rules):
        return decoded
    catalog = rules.catalog
    params = catalog.parameters
    flags = catalog.flags
    units, msg_flags = msg.units, msg.flags
    if len(msg.readings) > rules.max_readings_per_message:
        return decoded.reject(
            RejectReason.TOO_MANY_READINGS,
            f"{len(msg.readings)} readings in one message exceed the limit of "
            f"{rules.max_readings_per_message}",
        )
    # accepted readings are collected per message and appended to the columns in one go
    codes: list[str] = []
    values: list[float] = []
    row_flags: list[str] = []
    for code, value in msg.readings.items():
        param = params.get(code)
        if param is None:
            decoded.reject(RejectReason.UNKNOWN_PARAM, f"unknown parameter {code!r}", code)
            continue
        kind = type(value)
        if kind is int and not -_MAX_INT_VALUE < value < _MAX_INT_VALUE:
            decoded.reject(
                RejectReason.NON_NUMERIC, f"{code}: integer beyond the float64 range", code
            )
            continue
        if (kind is not float and kind is not int) or not math.isfinite(value):
            decoded.reject(
                RejectReason.NON_NUMERIC, f"{code}={value!r} is not a finite number", code
            )
            continue
        flag = msg_flags.get(code, "N") if msg_flags else "N"
        if flag not in flags:
            decoded.reject(
                RejectReason.UNKNOWN_FLAG,
                f"{code} flag {flag!r} is not an HJ 212 data flag ({''.join(flags)})",
                code,
            )
            continue
        unit = units.get(code) if units else None
        canonical = _canonical(decoded, catalog, param, float(value), unit)
        if canonical is None:
            continue
        codes.append(code)
        values.append(canonical)
        row_flags.append(flag)
    if codes:
        out.append_message(
            station, codes, ts_us, values, row_flags, msg.period_s, msg.seq, now_us, "json"
        )
    decoded.accepted = len(codes)
    return decoded


def _reject_undecodable(decoded: Decoded, payload: bytes, exc: Exception) -> Decoded:
    """The most precise reason: encoding, then JSON syntax, then schema.

    msgspec stops at the first problem it meets, so a truncated ``[1, 2`` fails as a
    schema error; only on this error path, re-check the syntax without the schema.
    """
    if not _is_utf8(payload):
        return decoded.reject(RejectReason.BAD_ENCODING, "payload is not UTF-8")
    if isinstance(exc, msgspec.ValidationError):
        try:
            msgspec.json.decode(payload)
        except msgspec.DecodeError as syntax:
            return decoded.reject(RejectReason.MALFORMED_JSON, f"not JSON: {syntax}")
        return decoded.reject(RejectReason.BAD_SCHEMA, f"JSON message: {exc}")
    return decoded.reject(RejectReason.MALFORMED_JSON, f"not JSON: {exc}")


def _is_utf8(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _canonical(
    decoded: Decoded, catalog: Catalog, param: Parameter, value: float, unit: str | None
) -> float | None:
    """The value in the canonical unit, range-checked; records a rejection and gives None."""
    if unit is not None and unit != param.unit:
        try:
            value = catalog.conversion(param.code, unit).apply(value)
        except UnknownUnitError as exc:
            decoded.reject(RejectReason.UNKNOWN_UNIT, str(exc), param.code)
            return None
    lo, hi = param.physical
    if not lo <= value <= hi:
        decoded.reject(
            RejectReason.OUT_OF_RANGE,
            f"{param.code}={value:g} {param.unit} outside the physical range [{lo:g}, {hi:g}]",
            param.code,
        )
        return None
    return value


# --------------------------------------------------------------------------------------
# HJ 212-2017
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def decode_hj212(
    payload: bytes, topic_station: str | None, rules: DecodeRules, now_us: int, out: ReadingBatch
) -> Decoded:
    """Decode one HJ 212 data upload (CN 2011/2051/2061/2031), 2017 or 2005 codes.

    Unless ``rules.hj212_strict``, the header liberties real loggers take are accepted and
    named in each landed reading's ``source`` (``hj212;quirks=mn_punct,pw_long``); readings
    of HJ/T 212-2005 codes say ``hj212-2005``. A code the station's table does not know is
    refused alone: the packet's known readings still land.
    """
    decoded = Decoded(topic_station, "hj212")
    try:
        packet = parse_packet(payload, strict=rules.hj212_strict)
        decoded.packet = packet
        command = require_data_upload(packet)
    except HJ212Error as exc:
        return decoded.reject(exc.reason, exc.detail)
    catalog = rules.catalog
    station_id = topic_station
    tz_name = catalog.network.timezone
    version: HJ212Version = "auto"
    if rules.check_station:
        station = catalog.stations_by_mn().get(packet.mn)
        if station is None:
            return decoded.reject(
                RejectReason.UNKNOWN_STATION, f"MN {packet.mn!r} is not a known station"
            )
        if topic_station is not None and station.id != topic_station:
            return decoded.reject(
                RejectReason.TOPIC_MISMATCH,
                f"MN {packet.mn!r} belongs to {station.id!r}, not topic station {topic_station!r}",
            )
        station_id, tz_name, version = station.id, station.timezone, station.hj212_version
    decoded.station = station_id
    local = packet.datatime_local
    assert local is not None  # guaranteed for data uploads by require_data_upload
    ts_us = to_us(local.replace(tzinfo=_zone(tz_name)))
    period = command.period_s
    if rules.hj212_datatime == "start":
        ts_us += period * 1_000_000
    decoded.ts_us, decoded.period_s = ts_us, period
    if not _check_time(decoded, ts_us, rules, now_us, packet.datatime or "?"):
        return decoded
    if (
        rules.check_station
        and station_id is not None
        and _retired(decoded, station_id, ts_us, rules)
    ):
        return decoded
    if station_id is None:  # decode without a catalog station: nothing to store
        station_id = packet.mn
    quirks = f";quirks={','.join(packet.quirks)}" if packet.quirks else ""
    sources = (f"hj212{quirks}", f"hj212-2005{quirks}")
    append = out.append
    accepted = 0
    for code, fields in packet.values_by_code().items():
        item = fields.get(command.value_field)
        if item is None:
            continue  # e.g. a code sending only -Cou or -Flag: nothing to store
        found = _hj212_code(decoded, catalog, code, version)
        if found is None:
            continue
        param, unit, legacy = found
        if item.error is not None:
            decoded.reject(item.error[0], item.error[1], param.code)
            continue
        flag_item = fields.get("Flag")
        flag = "N"
        if flag_item is not None:
            if flag_item.error is not None:
                decoded.reject(flag_item.error[0], flag_item.error[1], param.code)
                continue
            flag = flag_item.raw
        assert item.value is not None
        canonical = _canonical(decoded, catalog, param, item.value, unit)
        if canonical is None:
            continue
        append(
            station_id, param.code, ts_us, canonical, flag, period, None, now_us, sources[legacy]
        )
        accepted += 1
    decoded.accepted = accepted
    return decoded


def _hj212_code(
    decoded: Decoded, catalog: Catalog, code: str, version: HJ212Version
) -> tuple[Parameter, str | None, bool] | None:
    """(parameter, transport unit, is a 2005 code) of an HJ 212 pollutant code, or None.

    The station's ``hj212_version`` picks the table: 2017 codes (``a21026``), HJ/T
    212-2005 codes (``02``) or, for ``auto``, both (they cannot collide). An unknown code,
    or a 2005 code naming a substance the catalog lacks, is recorded as a per-reading
    ``unknown_param`` whose detail says why, and None returned.
    """
    if version != "2005":
        param = catalog.hj212_param(code)
        if param is not None:
            return param, param.hj212_unit, False
    legacy = catalog.hj212_2005_code(code)
    if legacy is not None and version != "2017":
        if legacy.param is not None:
            return catalog.parameters[legacy.param], legacy.unit, True
        decoded.reject(
            RejectReason.UNKNOWN_PARAM,
            f"HJ/T 212-2005 code {code!r} ({legacy.name_en}) has no catalog parameter",
            code,
        )
        return None
    if legacy is not None:
        detail = (
            f"{code!r} is an HJ/T 212-2005 code ({legacy.name_en}) but the station's "
            "hj212_version is 2017"
        )
    elif version == "2005" and catalog.hj212_param(code) is not None:
        detail = f"{code!r} is an HJ 212-2017 code but the station's hj212_version is 2005"
    else:
        detail = f"unknown HJ 212 code {code!r}"
    decoded.reject(RejectReason.UNKNOWN_PARAM, detail, code)
    return None


# --------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------


class _StatusMessage(msgspec.Struct, forbid_unknown_fields=False):
    state: str
    ts: str | None = None


_STATUS_DECODER: Final = msgspec.json.Decoder(_StatusMessage)


def decode_status(payload: bytes, topic_station: str, rules: DecodeRules) -> Decoded:
    """Decode a station status (or last-will) message; an empty payload clears retention.

    Never raises: a failure inside is a ``decode_error`` rejection (the decode boundary).
    """
    try:
        return _decode_status(payload, topic_station, rules)
    except Exception as exc:  # the decode boundary, as in decode_message
        return decode_failure(topic_station, "status", exc)


def _decode_status(payload: bytes, topic_station: str, rules: DecodeRules) -> Decoded:
    decoded = Decoded(topic_station, "status")
    if not payload:
        return decoded
    try:
        msg = _STATUS_DECODER.decode(payload)
    except UnicodeDecodeError:  # msgspec raises it for invalid UTF-8 inside a string
        return decoded.reject(RejectReason.BAD_STATUS, "status message is not UTF-8")
    except msgspec.DecodeError as exc:
        return decoded.reject(RejectReason.BAD_STATUS, f"status message: {exc}")
    if msg.state not in STATUS_STATES:
        return decoded.reject(
            RejectReason.BAD_STATUS,
            f"state {msg.state!r} is not one of {', '.join(sorted(STATUS_STATES))}",
        )
    if rules.check_station and topic_station not in rules.catalog.stations:
        return decoded.reject(RejectReason.UNKNOWN_STATION, f"unknown station {topic_station!r}")
    ts_us = _parse_rfc3339(msg.ts) if msg.ts else None
    if ts_us is not None and not _TS_MIN_US <= ts_us < _TS_MAX_US:
        ts_us = None  # a status without a usable time is still a status
    decoded.status = StatusEvent(topic_station, msg.state, ts_us)
    decoded.ts_us = ts_us
    return decoded
