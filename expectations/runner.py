"""Run a suite on a Polars frame and say what it means for the batch.

``validate()`` checks the frame's column contract in Polars, reduces ``raw``/``readings``
batches to their profile (``expectations.profile``), hands pandas to GX (the only path
GX 1.x offers: no Polars datasource, DuckDB unsupported), and folds GX's result into a
typed :class:`ValidationOutcome`. ``raise_on_critical()`` turns a critical failure into
:class:`~aircarbon.core.errors.ValidationFailed`; warnings never raise.

Persistence: GX writes one result JSON per run under ``<data_dir>/gx/uncommitted/
validations/`` and never prunes them, so every run keeps the newest ``keep_results`` per
suite and deletes the rest together with their Data Docs pages. ``outcome.to_row()`` is
the row of the warehouse table ``validation_runs``; ``write_validation_runs()`` appends
rows as Parquet under ``<data_dir>/validation_runs/`` until the warehouse loads them.

Concurrency: the GX file context is not safe for two processes at once (a backfill and a
scheduled run once collided creating the same data source and pruning each other's
results), so every use of it holds :func:`gx_lock`, an exclusive ``flock`` on
``<data_dir>/gx/.aircarbon.lock``: validations of one data directory run one at a time,
across processes and threads; the Polars and pandas work before GX runs unlocked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.contracts import VALIDATION_RESULTS
from aircarbon.core.errors import ValidationFailed
from expectations import _gx
from expectations.profile import for_pandas, profile, with_bounds
from expectations.suites import (
    Condition,
    ExpectationSpec,
    Severity,
    build_suite,
    suite_parameters,
)

__all__ = [
    "RESULTS_KEPT",
    "VALIDATION_RESULTS",
    "FailedExpectation",
    "ValidationOutcome",
    "gx_lock",
    "prune_results",
    "raise_on_critical",
    "read_validation_runs",
    "runs_dir",
    "validate",
    "write_validation_runs",
]

log = logging.getLogger("aircarbon.expectations")

#: Result JSONs (and their Data Docs pages) kept per suite; ~11-40 KB each.
RESULTS_KEPT = 30

_SCHEMA_CHECK = "expect_frame_schema_to_match_contract"


@dataclass(frozen=True, slots=True)
class FailedExpectation:
    """One expectation that did not hold, in the terms the ``validation_runs`` row uses."""

    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_in_set
    columns: tuple[str, ...]
    severity: Severity
    unexpected_count: int | None
    unexpected_percent: float | None
    element_count: int | None
    counted: str  # what the counts count: "rows" or "profile rows"
    condition: str = ""  # the row condition, e.g. "param in (so2, no2) and valid == True"
    why: str = ""
    exception: str | None = None

    @property
    def label(self) -> str:
        """``type(column[, column]) [where condition]``: names it in one line."""
        where = f" where {self.condition}" if self.condition else ""
        return f"{self.expectation}({', '.join(self.columns)}){where}"

    def describe(self) -> str:
        if self.exception:
            return f"raised: {self.exception}"
        if self.unexpected_count is None:
            return "failed"
        pct = f" ({self.unexpected_percent:.3g} %)" if self.unexpected_percent is not None else ""
        of = f" of {self.element_count}" if self.element_count is not None else ""
        return f"{self.unexpected_count} unexpected {self.counted}{pct}{of}"

    def to_json(self) -> dict[str, object]:
        return {
            "expectation": self.expectation,
            "column": ",".join(self.columns) or None,
            "condition": self.condition or None,
            "severity": self.severity.value,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
        }


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """What one validation run found, and whether the batch may be loaded (``success``)."""

    suite: str
    batch: str
    run_id: str
    success: bool  # no critical expectation failed (warnings may have)
    critical_failures: tuple[FailedExpectation, ...]
    warnings: tuple[FailedExpectation, ...]
    evaluated: int
    successful: int
    unsuccessful: int
    started_at: dt.datetime
    finished_at: dt.datetime
    seconds: float
    rows: int  # rows of the batch
    checked_rows: int  # rows GX saw (the profile's, for raw/readings)
    docs_path: Path | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[FailedExpectation, ...]:
        return self.critical_failures + self.warnings

    @property
    def statistics(self) -> dict[str, int]:
        return {
            "evaluated": self.evaluated,
            "successful": self.successful,
            "unsuccessful": self.unsuccessful,
        }

    @property
    def severity_max(self) -> str | None:
        if self.critical_failures:
            return Severity.CRITICAL.value
        return Severity.WARNING.value if self.warnings else None

    def to_row(self) -> dict[str, object]:
        """The ``validation_runs`` row; ``lake_snapshot`` is filled by the warehouse load."""
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "batch": self.batch,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "success": self.success,
            "severity_max": self.severity_max,
            "evaluated": self.evaluated,
            "successful": self.successful,
            "unsuccessful": self.unsuccessful,
            "failed_expectations": json.dumps(
                [f.to_json() for f in self.failed], ensure_ascii=False
            ),
            "docs_path": str(self.docs_path) if self.docs_path else None,
            "lake_snapshot": None,
        }


# --------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------


def validate(
    frame: pl.DataFrame,
    suite_name: str,
    *,
    batch_id: str,
    interval: tuple[dt.datetime, dt.datetime] | None,
    catalog: Catalog,
    data_dir: Path,
    build_docs: bool = True,
    keep_results: int = RESULTS_KEPT,
) -> ValidationOutcome:
    """Validate ``frame`` with the catalog-generated suite ``suite_name``.

    ``interval`` (UTC-aware ``(start, end)``) adds the "rows belong to this interval"
    expectation; None leaves it out. GX runs in a file context under ``<data_dir>/gx/``.
    """
    spec = build_suite(suite_name, catalog, interval=interval is not None)
    params = suite_parameters(spec, interval, catalog.network.timezone)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    run_id = uuid.uuid4().hex

    mismatch = _schema_mismatch(frame.schema, spec.schema)
    if mismatch:
        failure = FailedExpectation(
            _SCHEMA_CHECK,
            tuple(sorted(mismatch)),
            Severity.CRITICAL,
            len(mismatch),
            None,
            len(spec.schema),
            "columns",
            why="; ".join(f"{k}: {v}" for k, v in sorted(mismatch.items())),
        )
        return ValidationOutcome(
            spec.name, batch_id, run_id, False, (failure,), (), 1, 0, 1,
            started, dt.datetime.now(dt.UTC), time.perf_counter() - t0,
            frame.height, 0,
        )  # fmt: skip

    checked = profile(frame, spec.name) if spec.frame == "profile" else for_pandas(frame)
    checked = with_bounds(checked, spec.bounds)
    timings["reduce"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    pdf = checked.to_pandas()
    timings["to_pandas"] = time.perf_counter() - t1
    run_name = _safe_name(batch_id)
    with gx_lock(data_dir):  # waiting for another run is in ``seconds``, not in a split
        t1 = time.perf_counter()
        result = _gx.run_suite(data_dir, spec, pdf, run_name=run_name, parameters=params)
        timings["gx"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        prune_results(data_dir, spec.name, keep_results)
        docs = None
        if build_docs:
            docs = _gx.build_docs(data_dir, spec.name, run_name, result["run_time"])
        timings["docs"] = time.perf_counter() - t1

    counted = "profile rows" if spec.frame == "profile" else "rows"
    critical: list[FailedExpectation] = []
    warnings: list[FailedExpectation] = []
    for r in result["results"]:
        if r["success"]:
            continue
        exp = spec.expectations[r["index"]] if r["index"] is not None else None
        failure = _failure(r, exp, counted)
        (critical if failure.severity is Severity.CRITICAL else warnings).append(failure)
    evaluated = len(result["results"])
    unsuccessful = len(critical) + len(warnings)
    return ValidationOutcome(
        suite=spec.name,
        batch=batch_id,
        run_id=run_id,
        success=not critical,
        critical_failures=tuple(critical),
        warnings=tuple(warnings),
        evaluated=evaluated,
        successful=evaluated - unsuccessful,
        unsuccessful=unsuccessful,
        started_at=started,
        finished_at=dt.datetime.now(dt.UTC),
        seconds=time.perf_counter() - t0,
        rows=frame.height,
        checked_rows=checked.height,
        docs_path=docs,
        timings=timings,
    )


@contextlib.contextmanager
def gx_lock(data_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``data_dir``'s GX context (blocks while another holds it).

    ``flock`` locks belong to the open file, so two threads of one process exclude each
    other as two processes do, and the kernel releases the lock when its holder dies: a
    crashed run never leaves a stale lock behind. The lock file itself stays (empty).
    """
    path = _gx.gx_root(data_dir) / ".aircarbon.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another validation of %s to finish", data_dir)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def raise_on_critical(outcome: ValidationOutcome) -> None:
    """Raise ValidationFailed naming the first critical failure; warnings pass."""
    if not outcome.critical_failures:
        return
    first = outcome.critical_failures[0]
    more = len(outcome.critical_failures) - 1
    detail = f"{first.describe()} in batch {outcome.batch!r}"
    if more:
        detail += f" (+{more} more critical)"
    raise ValidationFailed(outcome.suite, first.label, detail)


def _failure(r: Mapping[str, Any], exp: ExpectationSpec | None, counted: str) -> FailedExpectation:
    severity = Severity(r["severity"]) if r["severity"] in set(Severity) else Severity.CRITICAL
    return FailedExpectation(
        expectation=str(r["type"]),
        columns=exp.columns if exp else (),
        severity=severity,
        unexpected_count=_int_or_none(r["unexpected_count"]),
        unexpected_percent=_float_or_none(r["unexpected_percent"]),
        element_count=_int_or_none(r["element_count"]),
        counted=counted,
        condition=_condition_text(exp.where) if exp else "",
        why=exp.why if exp else "",
        exception=r["exception"],
    )


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _condition_text(where: tuple[Condition, ...]) -> str:
    parts = []
    for c in where:
        if isinstance(c.value, tuple):
            shown = ", ".join(c.value[:6]) + (", …" if len(c.value) > 6 else "")
            parts.append(f"{c.column} in ({shown})")
        else:
            parts.append(f"{c.column} {c.op} {c.value}")
    return " and ".join(parts)


def _schema_mismatch(actual: pl.Schema, contract: pl.Schema) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, dtype in contract.items():
        if name not in actual:
            problems[name] = "missing"
        elif actual[name] != dtype:
            problems[name] = f"{actual[name]} instead of {dtype}"
    for name in actual:
        if name not in contract:
            problems[name] = "not in the contract"
    return problems


def _safe_name(batch_id: str) -> str:
    """The batch id as one path segment (GX uses the run name as a directory).

    A range ``D1..D2`` is written ``D1_to_D2``: GX titles a docs page by parsing the run
    name as a time (dateutil), and ``2023-01-01..2023-01-31`` parses into a UTC offset of
    -31 h, which makes the page's rendering fail ("offset must be a timedelta strictly
    between …") for every batched back-fill.
    """
    name = re.sub(r"[^A-Za-z0-9._=+-]+", "_", batch_id.replace("..", "_to_"))
    return name.strip("._") or "batch"


# --------------------------------------------------------------------------------------
# retention and the interim validation_runs store
# --------------------------------------------------------------------------------------


def prune_results(data_dir: Path, suite: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` result JSONs of ``suite``, with their docs pages.

    GX lays results out as ``validations/<suite>/<run_name>/<run_time>/<batch>.json`` with
    ``run_time`` as ``YYYYmmddTHHMMSS.ffffffZ``, which sorts by time as text.
    """
    root = _gx.gx_root(data_dir) / "uncommitted"
    results = root / "validations" / suite
    if not results.is_dir():
        return []
    files = sorted(results.glob("*/*/*.json"), key=lambda p: (p.parent.name, str(p)))
    doomed = files[: max(len(files) - max(keep, 0), 0)]
    site = root / "data_docs" / "local_site" / "validations" / suite
    for path in doomed:
        rel = path.relative_to(results)
        path.unlink(missing_ok=True)
        page = (site / rel).with_suffix(".html")
        page.unlink(missing_ok=True)
        for base, leaf in ((results, path.parent), (site, page.parent)):
            _remove_empty(leaf, base)
    return doomed


def _remove_empty(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def runs_dir(data_dir: Path) -> Path:
    return data_dir / "validation_runs"


def write_validation_runs(rows: Iterable[Mapping[str, object]], data_dir: Path) -> Path | None:
    """Append ``rows`` (``outcome.to_row()``) as one new Parquet file; its path.

    Durable: written to a temporary name, fsynced, then renamed, so a reader or a crash
    never sees half a file. One file per call keeps appends lock-free; the warehouse loader
    reads ``*.parquet`` and may delete what it loaded.
    """
    frame = pl.DataFrame(list(rows), schema=VALIDATION_RESULTS)
    if frame.is_empty():
        return None
    out = runs_dir(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    final = out / f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = final.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(final)
    dir_fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def read_validation_runs(data_dir: Path) -> pl.DataFrame:
    """Every row of the interim store, newest first (empty frame when there is none)."""
    files = sorted(runs_dir(data_dir).glob("*.parquet"))
    if not files:
        return pl.DataFrame(schema=VALIDATION_RESULTS)
    return pl.read_parquet(files, schema=VALIDATION_RESULTS).sort("started_at", descending=True)
