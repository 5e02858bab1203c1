"""``aircarbon decode``: show operators what a station's messages carry, or why they fail.

It runs the collector's own decoders, without a broker and without the station list
(an unknown station or MN is not an error here: the station may not be onboarded yet),
and prints one JSON object per input line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from aircarbon.core.catalog import Catalog, catalog_for
from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import load_settings
from ingest.batch import ReadingBatch
from ingest.decode import Decoded, DecodeRules, decode_failure, decode_payload, to_us

__all__ = ["decode_lines", "run"]


def run(file: str, *, fmt: str, time_check: bool) -> int:
    """Decode every line of ``file`` (``-`` = stdin); exit status 1 if any was rejected."""
    if fmt not in {"auto", "json", "hj212"}:
        raise AirCarbonError(f"--format must be json, hj212 or auto, not {fmt!r}")
    settings = load_settings()
    rules = DecodeRules(
        catalog_for(settings),
        check_station=False,
        check_time=time_check,
        max_payload_bytes=settings.max_payload_bytes,
        max_age_s=settings.max_age_s,
        max_future_s=settings.max_future_s,
        hj212_datatime=settings.hj212_datatime,
        hj212_strict=settings.hj212_strict,
    )
    if file == "-":
        return _emit(decode_lines(sys.stdin, fmt, rules), sys.stdout)
    path = Path(file)
    if not path.exists():
        raise AirCarbonError(f"no such file: {file}")
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as fh:
        return _emit(decode_lines(fh, fmt, rules), sys.stdout)


def _emit(results: Iterable[dict[str, Any]], out: TextIO) -> int:
    status = 0
    for result in results:
        if not result["ok"]:
            status = 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return status


def decode_lines(lines: Iterable[str], fmt: str, rules: DecodeRules) -> Iterator[dict[str, Any]]:
    """One result dict per non-blank line (the docs/contract.md §2.3 shape)."""
    now_us = to_us(dt.datetime.now(dt.UTC))
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        kind = fmt if fmt != "auto" else ("hj212" if line.lstrip().startswith("##") else "json")
        payload = line.encode("utf-8", errors="surrogateescape")
        batch = ReadingBatch()
        if kind == "hj212":
            decoded = decode_payload("hj212", payload + b"\r\n", None, rules, now_us, batch)
        else:
            decoded = decode_payload("readings", payload, None, rules, now_us, batch)
        try:
            if kind == "hj212":
                yield _hj212_result(decoded, batch, rules.catalog)
            else:
                yield _json_result(decoded, batch, rules.catalog)
        except Exception as exc:  # one line's report, never the whole run
            failed = decode_failure(decoded.station, kind, exc)
            yield {**_base(failed), "format": kind, "readings": []}


def _base(decoded: Decoded) -> dict[str, Any]:
    first = next((r for r in decoded.rejections if r.param is None), None)
    first = first or (decoded.rejections[0] if decoded.rejections else None)
    return {
        "ok": not decoded.rejections,
        "reason": first.reason.value if first else None,
        "detail": first.detail if first else None,
        "rejections": [
            {"reason": r.reason.value, "param": r.param, "detail": r.detail}
            for r in decoded.rejections
        ],
    }


def _iso(ts_us: int | None) -> str | None:
    if ts_us is None:
        return None
    try:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (epoch + dt.timedelta(microseconds=ts_us)).isoformat()
    except OverflowError:  # e.g. 0001-01-01T00:00+23:59 is in year 0 UTC (--no-time-check)
        return None


def _readings(batch: ReadingBatch, catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {
            "param": row["param"],
            "value": row["value"],
            "unit": catalog.parameter(row["param"]).unit,
            "flag": row["flag"],
        }
        for row in batch.rows()
    ]


def _json_result(decoded: Decoded, batch: ReadingBatch, catalog: Catalog) -> dict[str, Any]:
    result = _base(decoded)
    result.update(
        {
            "format": "json",
            "station": decoded.station,
            "ts": _iso(decoded.ts_us),
            "period_s": decoded.period_s,
            "seq": decoded.seq,
            "readings": _readings(batch, catalog),
        }
    )
    return result


def _hj212_result(decoded: Decoded, batch: ReadingBatch, catalog: Catalog) -> dict[str, Any]:
    result = _base(decoded)
    packet = decoded.packet
    result["format"] = "hj212"
    if packet is None:
        result.update({"mn": None, "cn": None, "datatime": None, "values": []})
        return result
    values = []
    for code, fields in packet.values_by_code().items():
        param = catalog.hj212_param(code)
        flag_item = fields.get("Flag")
        for name, item in fields.items():
            if name == "Flag":
                continue
            values.append(
                {
                    "code": code,
                    "param": param.code if param else None,
                    "field": name,
                    "value": item.value if item.value is not None else item.raw,
                    "flag": flag_item.raw if flag_item else None,
                }
            )
    result.update(
        {
            "mn": packet.mn,
            "st": packet.st,
            "cn": packet.cn,
            "datatime": packet.datatime,
            "params": dict(packet.params),
            "ts": _iso(decoded.ts_us),
            "period_s": decoded.period_s,
            "values": values,
            "readings": _readings(batch, catalog),
        }
    )
    return result
