"""One path for every importer: readings frame → the decoders' checks → raw store.

Readers (``ingest.history.formats``) turn a file into a *readings frame*, a Polars frame
with one row per reading the file offers (:data:`FRAME_SCHEMA`). This module applies the
live decoders' rules to whole columns at once (a 26 M-row history is checked in seconds;
a Python loop per reading would take minutes), drops duplicates, and lands the rest in
the SAME raw store as live data (``raw/date=…/hour=…/``, ``ingest.batch.reading_schema``),
the rejections in the dead-letter store, and a manifest entry that makes the import
idempotent.

**The rules are the decoders'** (``ingest/decode.py``), with the same reason codes
(``ingest/reasons.py``), in the same order: unknown station, timestamp (unparseable, outside
1970-2099, further in the future than ``max_future_s``), measured after the station's
``valid_to`` (``station_retired``), unknown parameter, the station
does not measure the parameter (imports only, ``param_not_measured``), not a finite number,
unknown flag, unit the parameter does not accept (``Catalog.conversion``), outside the
physical range (after conversion). History has **no** maximum age: the late-data window
exists to bound the collector's memory of re-deliveries, not to refuse old facts.

**Idempotence.** An import is identified by a content hash (kind, station, file bytes).
Its outputs have deterministic names (``import-<id>.parquet`` in each hour partition), and
``<data_dir>/imports/<id>.json`` is written last, after every output is durable: a second
import of the same file finds the manifest and lands nothing; an import that crashed before
its manifest is re-run over the same names (overwritten, not duplicated). ``force``
re-imports and removes what the earlier landing wrote that the new one did not.

**Durability.** Every file is written to a hidden temporary and renamed (readers never see
half a file); then ONE ``syncfs`` of the data directory's file system makes all of them
durable, and only then is the manifest written (fsynced). The collector fsyncs each file
and its directory because it acknowledges messages per batch; an import acknowledges
nothing until its manifest, and per-file fsyncs cost ~3 ms each on this machine: 80 s of
fsyncs for a 3-year history's 26,000 hour files, against well under a second for one
``syncfs``. A crash before the manifest leaves files that the re-run overwrites (same
names); the raw-store readers skip a file that is not intact Parquet meanwhile.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import AirCarbonError, UnknownUnitError
from ingest.batch import reading_schema
from ingest.dead_letter import IMPORT_TOPIC_PREFIX, DeadLetterBatch
from ingest.history.report import ImportReport
from ingest.raw_store import fsync_dir, write_durable
from ingest.reasons import RejectReason

if TYPE_CHECKING:
    import pyarrow as pa

    from aircarbon.core.settings import Settings

__all__ = [
    "CHECKED_REASONS",
    "FRAME_SCHEMA",
    "NOT_FOR_HISTORY",
    "ImportContext",
    "ImportRefused",
    "Prepared",
    "check_readings",
    "empty_frame",
    "run_import",
]

#: The readings frame every reader produces (one row per reading the file offers).
#: ``ts`` is µs since the epoch, UTC, END of the reading's period (null: not a time);
#: ``reason``/``detail`` are set by a reader that already knows a row is refused;
#: ``ts_raw``/``value_raw`` (the cells' text, for details) and ``source`` may be null: typed
#: cells are their own text, and a null ``source`` is the import's (one string, not 26 M).
FRAME_SCHEMA: Final = {
    "station": pl.String,
    "param": pl.String,
    "ts": pl.Int64,
    "ts_raw": pl.String,
    "value": pl.Float64,
    "value_raw": pl.String,
    "flag": pl.String,
    "unit": pl.String,
    "period_s": pl.Int32,
    "line": pl.Int64,
    "reason": pl.String,
    "detail": pl.String,
    "source": pl.String,
    "payload": pl.String,
}

_TS_MAX_US: Final = (
    dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
) // dt.timedelta(microseconds=1)
_HOUR_US: Final = 3_600_000_000
_DEAD_PAYLOAD_BYTES: Final = 4096


#: Reasons the importers' checks give (``check_readings``, plus the HJ 212 decoder's own for
#: ``import hj212``); every other reason is about a live message's envelope or transport.
CHECKED_REASONS: Final = frozenset(
    {
        RejectReason.UNKNOWN_STATION,
        RejectReason.BAD_TIMESTAMP,
        RejectReason.TS_FUTURE,
        RejectReason.STATION_RETIRED,
        RejectReason.UNKNOWN_PARAM,
        RejectReason.PARAM_NOT_MEASURED,
        RejectReason.NON_NUMERIC,
        RejectReason.UNKNOWN_FLAG,
        RejectReason.UNKNOWN_UNIT,
        RejectReason.OUT_OF_RANGE,
    }
)
#: Reasons that cannot apply to a history file, and why (a new reason must be placed in one
#: of the two sets: tests/ingest/test_import_long.py fails until it is).
NOT_FOR_HISTORY: Final = {
    RejectReason.OVERSIZED: "a message size limit (files are read whole)",
    RejectReason.BAD_TOPIC: "MQTT topics",
    RejectReason.BAD_ENCODING: "a message's encoding (files: UTF-8, UTF-16, GBK, or refused)",
    RejectReason.MALFORMED_JSON: "JSON messages",
    RejectReason.BAD_SCHEMA: "JSON envelopes (a file's columns are checked up front)",
    RejectReason.TOPIC_MISMATCH: "MQTT topics",
    RejectReason.TS_TOO_OLD: "the live late-data window; history has no maximum age",
    RejectReason.HJ212_FRAMING: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.HJ212_LENGTH: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.HJ212_CRC: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.HJ212_FIELD: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.HJ212_COMMAND: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.HJ212_PACKETISED: "HJ 212 frames (import hj212: the decoder's own)",
    RejectReason.BAD_STATUS: "status messages",
    RejectReason.DECODE_ERROR: "the live decode boundary (import hj212: the decoder's own)",
    RejectReason.TOO_MANY_READINGS: "a message's reading cap",
    RejectReason.POISON: "collector crashes",
    RejectReason.WRITE_ERROR: "the collector's row isolation (an import fails whole)",
}


class ImportRefused(AirCarbonError):  # noqa: N818 - reads as the event it reports
    """An import that cannot run as asked (one line naming the file and why)."""


@dataclass(frozen=True)
class ImportContext:
    """What every importer needs: where to land, the rules, the import time."""

    data_dir: Path
    catalog: Catalog
    max_future_s: int
    now_us: int
    progress: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings, catalog: Catalog, *, progress: bool = False
    ) -> ImportContext:
        return cls(
            data_dir=settings.data_dir,
            catalog=catalog,
            max_future_s=settings.max_future_s,
            now_us=time.time_ns() // 1000,
            progress=progress,
        )


@dataclass
class Prepared:
    """A reader's output: the readings frame and what it skipped on the way."""

    frame: pl.DataFrame
    skipped_markers: int = 0
    skipped_derived: int = 0
    skipped_lines: int = 0
    unmapped_codes: list[str] = field(default_factory=list)


def empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=FRAME_SCHEMA)


# --------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------


def _unit_table(frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Per (param, unit) present: scale, offset, canonical unit, physical range, or error."""
    pairs = (
        frame.select(pl.col("param"), pl.col("unit").fill_null(""))
        .unique()
        .filter(pl.col("param").is_in(list(catalog.parameters)))
    )
    rows: dict[str, list[Any]] = {
        k: [] for k in ("param", "unit", "scale", "offset", "unit_error", "canon", "lo", "hi")
    }
    for code, unit in pairs.iter_rows():
        param = catalog.parameters[code]
        scale, offset, error = 1.0, 0.0, None
        if unit and unit != param.unit:
            try:
                conv = catalog.conversion(code, unit)
                scale, offset = conv.scale, conv.offset
            except UnknownUnitError as exc:
                error = str(exc)
        rows["param"].append(code)
        rows["unit"].append(unit)
        rows["scale"].append(scale)
        rows["offset"].append(offset)
        rows["unit_error"].append(error)
        rows["canon"].append(param.unit)
        rows["lo"].append(param.physical[0])
        rows["hi"].append(param.physical[1])
    return pl.DataFrame(
        rows,
        schema={
            "param": pl.String,
            "unit": pl.String,
            "scale": pl.Float64,
            "offset": pl.Float64,
            "unit_error": pl.String,
            "canon": pl.String,
            "lo": pl.Float64,
            "hi": pl.Float64,
        },
    )


def _measured_table(catalog: Catalog) -> pl.DataFrame:
    pairs = [(s.id, p) for s in catalog.stations.values() for p in s.params]
    return pl.DataFrame(
        {
            "station": [s for s, _ in pairs],
            "param": [p for _, p in pairs],
            "measured": [True] * len(pairs),
        },
        schema={"station": pl.String, "param": pl.String, "measured": pl.Boolean},
    )


def check_readings(
    frame: pl.DataFrame, catalog: Catalog, *, now_us: int, max_future_s: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``frame`` split into the readings the decoders' rules accept (``value`` now in the
    parameter's canonical unit) and those they refuse (``reason``, ``detail``): the module
    docstring lists the rules. Reasons are decided for every row (cheap comparisons); the
    detail text only for refused rows, so a clean 26 M-row history formats no strings."""
    station, param, ts, value = pl.col("station"), pl.col("param"), pl.col("ts"), pl.col("value")
    canonical = value * pl.col("scale") + pl.col("offset")
    ts_text = pl.coalesce(pl.col("ts_raw"), ts.cast(pl.Datetime("us", "UTC")).cast(pl.String))
    value_text = pl.coalesce(pl.col("value_raw"), value.cast(pl.String), pl.lit(""))
    retired_after = dict(catalog.retired_after_us)
    valid_to = {s.id: str(s.valid_to) for s in catalog.stations.values() if s.valid_to is not None}
    # (condition, reason, detail) in the decoders' order: the first that holds names the reason
    rules: list[tuple[pl.Expr, RejectReason, pl.Expr]] = [
        (
            station.is_null() | ~station.is_in(list(catalog.stations)),
            RejectReason.UNKNOWN_STATION,
            pl.format("unknown station '{}'", station.fill_null("")),
        ),
        (
            ts.is_null(),
            RejectReason.BAD_TIMESTAMP,
            pl.format("ts '{}' is not a timestamp", pl.col("ts_raw").fill_null("")),
        ),
        (
            (ts < 0) | (ts >= _TS_MAX_US),
            RejectReason.BAD_TIMESTAMP,
            pl.format("ts {} is outside the years 1970 to 2099", ts_text),
        ),
        (
            ts - now_us > max_future_s * 1_000_000,
            RejectReason.TS_FUTURE,
            pl.format(
                "ts {} is {} s in the future (limit {} s)",
                ts_text,
                (ts - now_us) // 1_000_000,
                pl.lit(max_future_s),
            ),
        ),
        (
            ts > station.replace_strict(retired_after, default=None, return_dtype=pl.Int64),
            RejectReason.STATION_RETIRED,
            pl.format(
                "station '{}' was retired after {} (valid_to in the network file)",
                station,
                station.replace_strict(valid_to, default=None, return_dtype=pl.String),
            ),
        ),
        (
            param.is_null() | ~param.is_in(list(catalog.parameters)),
            RejectReason.UNKNOWN_PARAM,
            pl.format("unknown parameter '{}'", param.fill_null("")),
        ),
        (
            pl.col("measured").is_null(),
            RejectReason.PARAM_NOT_MEASURED,
            pl.format("station {} does not measure {} (its params in the network)", station, param),
        ),
        (
            value.is_null() | ~value.is_finite(),
            RejectReason.NON_NUMERIC,
            pl.format("{}={} is not a finite number", param, value_text),
        ),
        (
            ~pl.col("flag").is_in(list(catalog.flags)),
            RejectReason.UNKNOWN_FLAG,
            pl.format(
                "{} flag '{}' is not an HJ 212 data flag ({})",
                param,
                pl.col("flag"),
                pl.lit("".join(catalog.flags)),
            ),
        ),
        (pl.col("unit_error").is_not_null(), RejectReason.UNKNOWN_UNIT, pl.col("unit_error")),
        (
            (canonical < pl.col("lo")) | (canonical > pl.col("hi")),
            RejectReason.OUT_OF_RANGE,
            pl.format(
                "{}={} {} outside the physical range [{}, {}]",
                param,
                canonical.round_sig_figs(6),
                pl.col("canon"),
                pl.col("lo"),
                pl.col("hi"),
            ),
        ),
    ]
    units = _unit_table(frame, catalog)
    joined = (
        frame.with_columns(pl.col("unit").fill_null("").alias("_unit"))
        .join(
            units.rename({"unit": "_unit"}),
            on=["param", "_unit"],
            how="left",
            maintain_order="left",
        )
        .join(_measured_table(catalog), on=["station", "param"], how="left", maintain_order="left")
    )
    chosen: pl.Expr = pl.lit(None, pl.String)
    for cond, code, _ in reversed(rules):
        chosen = pl.when(cond.fill_null(False)).then(pl.lit(code.value)).otherwise(chosen)
    joined = joined.with_columns(pl.coalesce(pl.col("reason"), chosen).alias("reason"))
    helpers = ["_unit", "scale", "offset", "unit_error", "canon", "lo", "hi", "measured"]
    ok = joined.filter(pl.col("reason").is_null()).with_columns(canonical.alias("value"))
    refused = joined.filter(pl.col("reason").is_not_null())
    if refused.height:
        text: pl.Expr = pl.lit(None, pl.String)
        for cond, code, detail in reversed(rules):
            hit = (pl.col("reason") == code.value) & cond.fill_null(False)
            text = pl.when(hit).then(detail).otherwise(text)
        refused = refused.with_columns(pl.coalesce(pl.col("detail"), text).alias("detail"))
    return ok.drop(helpers), refused.drop(helpers)


# --------------------------------------------------------------------------------------
# landing
# --------------------------------------------------------------------------------------


def import_id(kind: str, station: str | None, sha256: str) -> str:
    """The identity of an import: the same file (bytes) of the same kind for the same
    station is the same import, whatever its name or path."""
    digest = hashlib.sha256(f"{kind}\0{station or ''}\0{sha256}".encode())
    return digest.hexdigest()[:24]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest_path(data_dir: Path, key: str) -> Path:
    return data_dir / "imports" / f"{key}.json"


def _write_json_durable(doc: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(path)
    fsync_dir(path.parent)


@contextmanager
def _progress(enabled: bool, label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over ``total`` steps (a no-op when disabled)."""
    if not enabled or total < 2:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _readings_table(ok: pl.DataFrame, received_us: int, source: str) -> pa.Table:
    """The accepted readings as Arrow, ``source`` dictionary-encoded (one string, not one
    per row); :func:`_write_hours` casts each hour's slice to the raw-store schema."""
    import pyarrow as pa

    utc = pl.Datetime("us", "UTC")
    frame = ok.select(
        pl.col("station"),
        pl.col("param"),
        pl.col("ts").cast(utc),
        pl.col("value"),
        pl.col("flag"),
        pl.col("period_s").cast(pl.Int32),
        pl.lit(None, pl.Int64).alias("seq"),
        pl.lit(received_us).cast(utc).alias("received_at"),
    )
    table = frame.to_arrow()
    given = ok["source"]
    if given.null_count() == ok.height:
        sources = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(ok.height, dtype=np.int32)), pa.array([source])
        )
    else:
        sources = given.fill_null(source).to_arrow()
    return table.append_column("source", sources)


def _write_hours(
    table: pa.Table, raw_dir: Path, name: str, tick: Callable[[int], None]
) -> tuple[list[Path], set[Path]]:
    """``table`` (sorted by ts) as one file per UTC hour partition; files and new dirs.

    Two writer threads: Parquet encoding and the file system calls release the GIL, and
    a history is thousands of small files (one per hour), each mostly fixed cost.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    schema = reading_schema()
    ts = table.column("ts").cast("int64").to_numpy()
    hours = ts // _HOUR_US
    cuts = np.flatnonzero(np.diff(hours)) + 1
    starts = np.concatenate(([0], cuts)).tolist()
    ends = np.concatenate((cuts, [len(ts)])).tolist()
    dirs: set[Path] = set()
    jobs: list[tuple[Path, int, int]] = []
    for start, end in zip(starts, ends, strict=True):
        hour = dt.datetime.fromtimestamp(int(hours[start]) * 3600, dt.UTC)
        directory = raw_dir / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            dirs.add(directory.parent)
            dirs.add(directory.parent.parent)
        dirs.add(directory)
        jobs.append((directory, start, end))

    def write(job: tuple[Path, int, int]) -> Path:
        directory, start, end = job
        path = directory / name
        tmp = directory / f".{name}.tmp"
        part = table.slice(start, end - start).cast(schema)
        # statistics on ts only (what the raw readers filter on): half the cost of a file
        pq.write_table(part, tmp, compression="zstd", write_statistics=["ts"])
        tmp.rename(path)
        tick(1)
        return path

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="import-write") as pool:
        written = list(pool.map(write, jobs))
    return written, dirs


def _sync_all(data_dir: Path, files: list[Path], dirs: set[Path]) -> None:
    """Make ``files`` and their directories durable: one ``syncfs`` of the data directory's
    file system (Linux), else an fsync of each file and directory."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        syncfs = None
    if syncfs is not None:
        fd = os.open(data_dir, os.O_RDONLY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for directory in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(directory)


def _dead_letters(rejected: pl.DataFrame, received_us: int, default: str) -> DeadLetterBatch:
    """One dead-letter row per refused reading: topic = the import's source and the line,
    payload = the line's frame (HJ 212) or the reading's raw cells as JSON."""
    batch = DeadLetterBatch(_DEAD_PAYLOAD_BYTES)
    cols = rejected.select(
        "station",
        "param",
        "ts_raw",
        "value_raw",
        "unit",
        "flag",
        "line",
        "reason",
        "detail",
        "source",
        "payload",
    )
    for (
        station,
        param,
        ts_raw,
        value_raw,
        unit,
        flag,
        line,
        reason,
        detail,
        source,
        payload,
    ) in cols.iter_rows():
        text = payload
        if text is None:
            text = json.dumps(
                {
                    "station": station,
                    "param": param,
                    "ts": ts_raw,
                    "value": value_raw,
                    "unit": unit,
                    "flag": flag,
                },
                ensure_ascii=False,
            )
        batch.append(
            received_us,
            f"{source or default};line={line}",
            station,
            RejectReason(reason),
            param,
            detail or reason,
            text.encode("utf-8", "surrogateescape"),
        )
    return batch


def run_import(
    ctx: ImportContext,
    path: Path,
    *,
    kind: str,
    station: str | None,
    options: Mapping[str, Any],
    prepare: Callable[[Path, str], Prepared],
    force: bool = False,
) -> ImportReport:
    """Import ``path``: hash, check the manifest, ``prepare`` its readings frame (given the
    ``source`` string), check, de-duplicate and land it; the report of what happened."""
    started = time.perf_counter()
    if not path.is_file():
        raise ImportRefused(f"no such file: {path}")
    sha = file_sha256(path)
    key = import_id(kind, station, sha)
    source = f"{IMPORT_TOPIC_PREFIX}{kind};file={_safe_name(path.name)}"
    report = ImportReport(file=path, kind=kind, source=source, sha256=sha)
    manifest = _manifest_path(ctx.data_dir, key)
    previous: dict[str, Any] | None = None
    if manifest.is_file():
        previous = json.loads(manifest.read_text(encoding="utf-8"))
        if not force:
            if previous.get("options") != _jsonable(options):
                raise ImportRefused(
                    f"{path.name} was imported before with other options "
                    f"({_describe(previous.get('options', {}))}); --force replaces that import"
                )
            report.status = "already_imported"
            report.landed = int(previous.get("landed", 0))
            report.seconds = time.perf_counter() - started
            return report
    try:
        prepared = prepare(path, source)
    except pl.exceptions.PolarsError as exc:  # a file shaped like nothing we read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportRefused(f"{path.name}: cannot be read as a {kind} file ({first})") from exc
    report.skipped_markers = prepared.skipped_markers
    report.skipped_derived = prepared.skipped_derived
    report.skipped_lines = prepared.skipped_lines
    report.unmapped_codes = list(prepared.unmapped_codes)
    frame = prepared.frame
    report.readings = frame.height
    ok, rejected = check_readings(
        frame, ctx.catalog, now_us=ctx.now_us, max_future_s=ctx.max_future_s
    )
    for reason, count in rejected.group_by("reason").len().iter_rows():
        report.rejected[reason] = count
    kept = ok.unique(subset=["station", "param", "ts"], keep="last")
    report.duplicates = ok.height - kept.height
    if report.duplicates:
        distinct = ok.unique(subset=["station", "param", "ts", "value", "flag"]).height
        report.conflicts = distinct - kept.height
    kept = kept.sort("ts")  # hour slices; a multi-key string sort would cost seconds
    report.landed = kept.height
    if kept.height:
        first, last = kept["ts"][0], kept["ts"][-1]
        report.first_ts = _iso(first)
        report.last_ts = _iso(last)
    name = f"import-{key}.parquet"
    raw_dir = ctx.data_dir / "raw"
    dirs: set[Path] = set()
    if kept.height:
        table = _readings_table(kept, ctx.now_us, source)
        n_hours = kept.select((pl.col("ts") // _HOUR_US).n_unique()).item()
        with _progress(ctx.progress, f"landing {path.name}", int(n_hours)) as tick:
            report.files, dirs = _write_hours(table, raw_dir, name, tick)
    if rejected.height:
        dead = _dead_letters(rejected, ctx.now_us, source)
        # one file, named by the import (a re-run after a crash overwrites it), in the
        # partition of the day the rows were received (now)
        day = dt.datetime.fromtimestamp(ctx.now_us / 1e6, dt.UTC)
        dead_path = ctx.data_dir / "dead_letter" / f"date={day:%Y-%m-%d}" / name
        report.dead_letter_files = [write_durable(dead.to_arrow(), dead_path)]
    if report.files:
        _sync_all(ctx.data_dir, report.files, dirs)
    if previous is not None:
        report.status = "replaced"
        keep = {str(p) for p in [*report.files, *report.dead_letter_files]}
        for rel in [*previous.get("files", []), *previous.get("dead_letter_files", [])]:
            old = ctx.data_dir / rel
            if str(old) not in keep and old.exists():
                old.unlink()
                report.removed_files.append(old)
    report.seconds = time.perf_counter() - started
    _write_json_durable(
        {
            "id": key,
            "kind": kind,
            "file": str(path),
            "name": path.name,
            "sha256": sha,
            "station": station,
            "options": _jsonable(options),
            "imported_at": _iso(ctx.now_us),
            "readings": report.readings,
            "landed": report.landed,
            "rejected": dict(report.rejected),
            "files": [str(p.relative_to(ctx.data_dir)) for p in report.files],
            "dead_letter_files": [
                str(p.relative_to(ctx.data_dir)) for p in report.dead_letter_files
            ],
        },
        manifest,
    )
    return report


def _safe_name(name: str) -> str:
    """A file name as it may appear in ``source`` (no ';', no control characters)."""
    cleaned = "".join("_" if c == ";" or ord(c) < 32 else c for c in name)
    return cleaned or "_"


def _iso(us: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)).isoformat()


def _jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(dict(options), sort_keys=True, default=str))
    return loaded


def _describe(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "none"
