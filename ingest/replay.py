"""Replay the dead-letter store through the current decoders (after fixing one).

The dead-letter store (``dead_letter/date=*/*.parquet``, docs/contract.md §3.3) keeps every
rejected message
with its payload, truncated to ``dead_letter_payload_bytes`` (4096 by default). After a decoder
or catalog fix, :func:`replay_dead_letters` decodes those payloads again and lands the readings
that now pass in the raw store, the way the collector does (fsynced, atomically renamed files
under ``raw/date=…/hour=…/``, named ``replay-…``).

- **Same rules as at arrival.** Each message is decoded with "now" = the time the collector
  received it, so the late-data and future-time limits judge it as they would have then (a
  message is not refused today only because it waited a week in the dead-letter store), and its
  readings keep their original ``received_at``.
- **Truncated payloads are skipped**, counted as ``truncated``: a message longer than the limit
  was not kept whole and cannot be decoded faithfully.
- **Idempotent.** A reading whose ``(station, param, ts, value)`` is already in the raw store
  is not landed again: that covers the valid siblings of a partly rejected message (they landed
  the first time), a message dead-lettered twice, and a second replay. A different value for an
  identity already stored lands, as the revision it is.
- Nothing is deleted from the dead-letter store, and nothing new is written there: readings
  still refused are only counted by reason. Status messages are not replayed.
- **Payload once per message.** A message's rows share a ``message_id``; its payload sits on
  one of them (files from before that change have it on every row, and are grouped by
  received time, topic and payload instead).
- ``poison`` rows (messages the collector died on) are left alone unless ``--reason poison``
  asks for them: decoding one may kill the replay the way it killed the collector.
- A dead-letter or raw file that is not readable Parquet is skipped and reported.

Run it with ``python -m ingest.replay --help`` (documented in docs/operators.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aircarbon.core.parquet_check import parquet_intact
from ingest.batch import ReadingBatch, reading_schema
from ingest.dead_letter import IMPORT_TOPIC_PREFIX
from ingest.decode import DecodeRules, decode_message
from ingest.raw_store import write_readings
from ingest.reasons import RejectReason

if TYPE_CHECKING:
    import polars as pl

__all__ = ["ReplayReport", "main", "replay_dead_letters"]

_KEY = ["station", "param", "ts", "value"]


@dataclass
class ReplayReport:
    """What a replay found and did."""

    rows: int = 0  # dead-letter rows read
    skipped_files: list[Path] = field(default_factory=list)  # not readable Parquet
    messages: int = 0  # distinct messages among them
    truncated: int = 0  # payloads cut at the limit: not replayable
    status_messages: int = 0  # status topic: not replayed
    import_rows: int = 0  # refused rows of `aircarbon import`: a new import, not a replay
    recovered: int = 0  # readings that pass now and were not in the raw store: landed
    already_landed: int = 0  # readings that pass now but were already in the raw store
    still_rejected: Counter[str] = field(default_factory=Counter)  # by reason code
    files: list[Path] = field(default_factory=list)
    hours: list[str] = field(default_factory=list)  # "YYYY-MM-DDTHH" UTC partitions landed in
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "messages": self.messages,
            "truncated": self.truncated,
            "status_messages": self.status_messages,
            "import_rows": self.import_rows,
            "recovered": self.recovered,
            "already_landed": self.already_landed,
            "still_rejected": dict(sorted(self.still_rejected.items())),
            "files": [str(p) for p in self.files],
            "hours": self.hours,
            "dry_run": self.dry_run,
            "skipped_files": [str(p) for p in self.skipped_files],
        }


def _dead_letter_files(dead_dir: Path, since: dt.date | None, until: dt.date | None) -> list[Path]:
    files = []
    for part in sorted(dead_dir.glob("date=*")):
        try:
            day = dt.date.fromisoformat(part.name.removeprefix("date="))
        except ValueError:
            continue
        if (since and day < since) or (until and day > until):
            continue
        files.extend(sorted(part.glob("*.parquet")))
    return files


_DEAD_COLUMNS = ["received_at", "topic", "station", "reason", "payload", "payload_size"]


def _read_file(path: Path, columns: list[str], skipped: list[Path]) -> pl.DataFrame | None:
    """One Parquet file, or None (and listed in ``skipped``) when it is not readable."""
    import polars as pl

    if not parquet_intact(path):
        skipped.append(path)
        return None
    try:
        present = set(pl.read_parquet_schema(path))
        frame = pl.read_parquet(path, columns=[c for c in columns if c in present])
    except (pl.exceptions.PolarsError, OSError):
        skipped.append(path)
        return None
    # files from before message_id existed: the column is added, null
    missing = [pl.lit(None, pl.String).alias(c) for c in columns if c not in present]
    return frame.with_columns(missing) if missing else frame


def _read_dead_letters(
    files: Sequence[Path],
    reasons: Iterable[str] | None,
    stations: Iterable[str] | None,
    skipped: list[Path],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The selected rows, and one payload-bearing row per selected message."""
    import polars as pl

    frames = [_read_file(f, [*_DEAD_COLUMNS, "message_id"], skipped) for f in files]
    found = [f for f in frames if f is not None]
    if not found:
        empty = pl.DataFrame(schema={**_dead_schema(), "message_id": pl.String})
        return empty, empty
    frame = pl.concat(found, how="diagonal_relaxed")
    if "message_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("message_id"))
    # files written before payloads were stored once: every row has its payload
    legacy = pl.struct("received_at", "topic", "payload").hash().cast(pl.String)
    frame = frame.with_columns(pl.coalesce("message_id", "legacy:" + legacy).alias("message_id"))
    wanted = list(reasons) if reasons else None
    selected = frame
    if wanted:
        selected = selected.filter(pl.col("reason").is_in(wanted))
    elif RejectReason.POISON.value in frame["reason"]:
        poisoned = frame.filter(pl.col("reason") == RejectReason.POISON.value)["message_id"]
        selected = selected.filter(~pl.col("message_id").is_in(poisoned.implode()))
    if stations:
        selected = selected.filter(pl.col("station").is_in(list(stations)))
    ids = selected["message_id"].unique()
    messages = frame.filter(
        pl.col("message_id").is_in(ids.implode()) & pl.col("payload").is_not_null()
    ).unique("message_id", keep="first", maintain_order=True)
    return selected, messages


def _dead_schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "received_at": pl.Datetime("us", "UTC"),
        "topic": pl.String(),
        "station": pl.String(),
        "reason": pl.String(),
        "payload": pl.Binary(),
        "payload_size": pl.Int64(),
    }


def _raw_keys(raw_dir: Path, hours: Iterable[str], skipped: list[Path]) -> pl.DataFrame:
    """``(station, param, ts, value)`` already in the raw store, in the given UTC hours."""
    import polars as pl

    files: list[Path] = []
    for hour in sorted(set(hours)):
        day, hh = hour.split("T")
        files.extend(sorted((raw_dir / f"date={day}" / f"hour={hh}").glob("*.parquet")))
    frames = [f for f in (_read_file(p, _KEY, skipped) for p in files) if f is not None]
    if not frames:
        return pl.DataFrame(
            schema={
                "station": pl.String,
                "param": pl.String,
                "ts": pl.Datetime("us", "UTC"),
                "value": pl.Float64,
            }
        )
    return pl.concat(frames, how="vertical_relaxed").unique()


def replay_dead_letters(
    data_dir: Path,
    rules: DecodeRules,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    reasons: Iterable[str] | None = None,
    stations: Iterable[str] | None = None,
    time_check: bool = True,
    dry_run: bool = False,
    writer_id: str = "replay",
) -> ReplayReport:
    """Re-decode the dead letters of ``data_dir`` and land what now passes (see module doc).

    ``since``/``until`` select ``dead_letter/date=…`` partitions (the UTC day received);
    ``reasons``/``stations`` filter rows; ``time_check=False`` also lands readings that are too
    old or too far in the future (an operator's decision for a known back-fill).
    """
    import dataclasses

    import polars as pl

    report = ReplayReport(dry_run=dry_run)
    files = _dead_letter_files(data_dir / "dead_letter", since, until)
    if not files:
        return report
    frame, messages = _read_dead_letters(files, reasons, stations, report.skipped_files)
    report.rows = frame.height
    # one row per rejection: a partly valid message has a row per refused reading
    messages = messages.sort("received_at")
    report.messages = messages.height
    if not time_check:
        rules = dataclasses.replace(rules, check_time=False)

    batch = ReadingBatch()
    for received, topic, payload, size in zip(
        messages["received_at"].dt.epoch("us"),
        messages["topic"],
        messages["payload"],
        messages["payload_size"],
        strict=True,
    ):
        if size > len(payload):
            report.truncated += 1
            continue
        if topic.endswith("/status"):
            report.status_messages += 1
            continue
        if topic.startswith(IMPORT_TOPIC_PREFIX):  # not an MQTT message: never "bad_topic"
            report.import_rows += 1
            continue
        decoded = decode_message(topic, payload, rules, received, batch)
        for rejection in decoded.rejections:
            report.still_rejected[rejection.reason.value] += 1
    if not len(batch):
        return report

    found = pl.from_arrow(batch.to_arrow())
    assert isinstance(found, pl.DataFrame)
    # the same reading from a message dead-lettered twice: once, the earliest received
    found = found.sort("received_at").unique(_KEY, keep="first", maintain_order=True)
    hours = found["ts"].dt.strftime("%Y-%m-%dT%H").unique().to_list()
    present = _raw_keys(data_dir / "raw", hours, report.skipped_files)
    new = found.join(present, on=_KEY, how="anti")
    report.already_landed = found.height - new.height
    report.recovered = new.height
    report.hours = sorted(new["ts"].dt.strftime("%Y-%m-%dT%H").unique().to_list())
    if new.height and not dry_run:
        table = new.sort(["ts", "station", "param"]).to_arrow().cast(reading_schema())
        report.files = write_readings(table, data_dir / "raw", writer_id)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ingest.replay``: replay the dead-letter store of the configured data dir."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.errors import AirCarbonError
    from aircarbon.core.settings import load_settings

    parser = argparse.ArgumentParser(
        prog="python -m ingest.replay",
        description="Re-decode the dead-letter store with the current decoders and catalog; "
        "land the readings that now pass in the raw store (idempotent).",
    )
    parser.add_argument("--data-dir", type=Path, help="data directory (AIRCARBON_DATA_DIR)")
    parser.add_argument("--since", type=dt.date.fromisoformat, help="first day received, UTC")
    parser.add_argument("--until", type=dt.date.fromisoformat, help="last day received, UTC")
    parser.add_argument("--reason", action="append", help="only this reason code (repeatable)")
    parser.add_argument("--station", action="append", help="only this station (repeatable)")
    parser.add_argument(
        "--no-time-check", action="store_true", help="also land too-old / future readings"
    )
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(data_dir=args.data_dir)
        catalog = catalog_for(settings)
    except AirCarbonError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    rules = DecodeRules(
        catalog,
        max_payload_bytes=settings.max_payload_bytes,
        max_age_s=settings.max_age_s,
        max_future_s=settings.max_future_s,
        hj212_datatime=settings.hj212_datatime,
        max_readings_per_message=settings.max_readings_per_message,
    )
    try:
        report = replay_dead_letters(
            settings.data_dir,
            rules,
            since=args.since,
            until=args.until,
            reasons=args.reason,
            stations=args.station,
            time_check=not args.no_time_check,
            dry_run=args.dry_run,
        )
    except OSError as exc:  # a data dir that is a file, a full disk: one line, not a traceback
        print(f"replay: {settings.data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for path in report.skipped_files:
        print(f"replay: skipped {path}: not a readable Parquet file", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    still = ", ".join(f"{k} {v}" for k, v in report.still_rejected.most_common()) or "none"
    verb = "would land" if args.dry_run else "landed"
    print(
        f"{report.messages} dead-lettered messages ({report.rows} rows) in "
        f"{settings.data_dir / 'dead_letter'}: {verb} {report.recovered} readings "
        f"in {len(report.files)} files; already in the raw store {report.already_landed}; "
        f"truncated (not replayable) {report.truncated}; status messages skipped "
        f"{report.status_messages}; still rejected: {still}"
    )
    if report.import_rows:
        print(
            f"{report.import_rows} rows refused by `aircarbon import` left as they are: fix the "
            "file or the network, then run the same import again with --force"
        )
    if report.hours:
        print(f"UTC hours with new readings: {', '.join(report.hours)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
