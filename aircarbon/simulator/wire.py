"""Wire encodings (docs/contract.md §1): JSON reading messages, HJ 212 packets, status.

Kept apart from the simulation so that the exact bytes a station would send are defined in
one place. JSON is encoded with ``msgspec.json`` (compact, shortest float repr); HJ 212
frames are built with :mod:`ingest.hj212`, the same module the collector parses with.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import numpy as np

from aircarbon.core.catalog import Catalog, Station, StationType
from ingest.hj212 import build_data_segment, build_frame

__all__ = [
    "HJ212_PASSWORD",
    "Hj212Encoder",
    "format_ts",
    "reading_payload",
    "status_payload",
    "topic",
]

HJ212_PASSWORD = "123456"
_HJ212_FLAG = 4  # protocol version HJ 212-2017, no acknowledgement requested
_MAX_CP = 950
_ENCODER = msgspec.json.Encoder()


def topic(station: str, kind: str) -> str:
    """``aircarbon/v1/{station}/{kind}`` (kind: readings, hj212, status)."""
    return f"aircarbon/v1/{station}/{kind}"


def format_ts(t: float, tz: ZoneInfo) -> str:
    """RFC 3339 in the station's local offset; milliseconds only when not whole seconds."""
    moment = dt.datetime.fromtimestamp(t, tz)
    if abs(t - round(t)) < 1e-6:
        return moment.replace(microsecond=0).isoformat(timespec="seconds")
    return moment.isoformat(timespec="milliseconds")


def reading_payload(
    station: str,
    ts: str,
    period_s: int,
    seq: int,
    readings: Mapping[str, float],
    units: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> bytes:
    """One JSON reading message; ``units``/``flags`` only when non-empty."""
    msg: dict[str, Any] = {
        "station": station,
        "ts": ts,
        "period_s": period_s,
        "seq": seq,
        "readings": readings,
    }
    if units:
        msg["units"] = units
    if flags:
        msg["flags"] = flags
    return _ENCODER.encode(msg)


def status_payload(state: str, ts: str) -> bytes:
    return _ENCODER.encode({"state": state, "ts": ts})


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    code: str
    scale: float
    offset: float
    decimals: int


def command_for(period_s: int) -> tuple[str, str]:
    """(CN, value suffix) for a period: minute/hour/day data, else real-time ``Rtd``."""
    return {60: ("2051", "Avg"), 3600: ("2061", "Avg"), 86400: ("2031", "Avg")}.get(
        period_s, ("2011", "Rtd")
    )


class Hj212Encoder:
    """HJ 212 data uploads of one station: its MN, ST and its parameters with an HJ 212 code.

    Values are converted from the canonical unit into the parameter's ``hj212_unit`` (e.g.
    pressure in kPa); ``DataTime`` is the START of the period in local time. A CP longer
    than the standard's 950 characters is split into several complete packets.
    """

    def __init__(
        self, station: Station, catalog: Catalog, params: Sequence[str], decimals: Sequence[int]
    ) -> None:
        self.station = station
        self.st = "27" if station.type == StationType.VOC else "22"
        cols: list[_Column] = []
        for j, code in enumerate(params):
            param = catalog.parameter(code)
            if not param.hj212:
                continue
            scale, offset, places = 1.0, 0.0, decimals[j]
            if param.hj212_unit and param.hj212_unit != param.unit:
                conv = catalog.conversion(code, param.hj212_unit)  # hj212 unit -> canonical
                scale, offset = conv.scale, conv.offset
                places = max(0, places + round(math.log10(scale)))
            cols.append(_Column(j, param.hj212, scale, offset, places))
        self.columns = tuple(cols)

    def packets(
        self,
        t_end: float,
        period_s: int,
        row: Sequence[float],
        flags: Sequence[str],
        tz: ZoneInfo,
        *,
        mn: str | None = None,
        stamps: tuple[str, str] | None = None,
    ) -> list[bytes]:
        """The frame(s) for one period whose values (canonical units) are ``row``.

        ``stamps`` = (DataTime, QN prefix) precomputed by :func:`local_stamps` (faster for
        a block); computed here when omitted.
        """
        cn, suffix = command_for(period_s)
        if stamps is None:
            datatime = local_stamps([t_end - period_s], tz)[0]
            sent = local_stamps([t_end], tz)[0]
        else:
            datatime, sent = stamps
        items: list[tuple[str, dict[str, str]]] = []
        sizes: list[int] = []
        for c in self.columns:
            value = row[c.index]
            if math.isnan(value):  # not measured
                continue
            raw = f"{(value - c.offset) / c.scale:.{c.decimals}f}"
            flag = flags[c.index]
            items.append((c.code, {suffix: raw, "Flag": flag}))
            sizes.append(2 * len(c.code) + len(suffix) + len(raw) + len(flag) + 9)
        frames = []
        for i, chunk in enumerate(_chunks(items, sizes, datatime)):
            segment = build_data_segment(
                qn=f"{sent}{i:03d}",
                st=self.st,
                cn=cn,
                pw=HJ212_PASSWORD,
                mn=mn or self.station.mn,
                flag=_HJ212_FLAG,
                datatime=datatime,
                items=chunk,
            )
            frames.append(build_frame(segment))
        return frames


def local_stamps(times: Sequence[float], tz: ZoneInfo) -> list[str]:
    """``YYYYMMDDhhmmss`` local times of epoch seconds (vectorised; HJ 212 DataTime/QN)."""
    t = np.floor(np.asarray(times, dtype=np.float64) + 1e-6)
    hours = np.floor(t / 3600.0).astype(np.int64)
    uniq, inverse = np.unique(hours, return_inverse=True)
    offsets = np.array([_offset(tz, int(h)) for h in uniq], dtype=np.int64)[inverse]
    local = (t.astype(np.int64) + offsets).astype("datetime64[s]")
    text = np.datetime_as_string(local, unit="s")
    return [s.replace("-", "").replace("T", "").replace(":", "") for s in text.tolist()]


def _offset(tz: ZoneInfo, hour_index: int) -> int:
    moment = dt.datetime.fromtimestamp(hour_index * 3600.0, dt.UTC).astimezone(tz)
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _chunks(
    items: list[tuple[str, dict[str, str]]], sizes: list[int], datatime: str
) -> list[list[tuple[str, dict[str, str]]]]:
    """Split items so that each packet's CP stays within the standard's 950 characters."""
    budget = _MAX_CP - len("&&DataTime=") - len(datatime) - 3
    if sum(sizes) <= budget:
        return [items]
    out: list[list[tuple[str, dict[str, str]]]] = [[]]
    used = 0
    for item, size in zip(items, sizes, strict=True):
        if out[-1] and used + size > budget:
            out.append([])
            used = 0
        out[-1].append(item)
        used += size
    return out
