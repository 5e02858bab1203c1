"""The one module that talks to Great Expectations; everything GX-shaped stays in here.

GX 1.x is untyped and costs 7-8 s to import, so it is imported inside these functions and
its objects never leave this module: callers pass our :class:`~expectations.suites.SuiteSpec`
and a pandas frame, and get plain dicts back. ``Any`` is confined to this file.

Context: a *file* context rooted at ``<data_dir>/gx/`` (GX's ``project_root_dir`` layout),
so result JSONs and Data Docs persist between runs; one context object per directory per
process, because building one reads and writes its YAML. The suite, data source
(``aircarbon``, pandas), data asset (one per suite) and whole-dataframe batch definition
are created on first use and updated only when the generated suite changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from aircarbon.core.errors import AirCarbonError
from expectations.data_docs_offline import make_offline
from expectations.suites import Condition, ExpectationSpec, SuiteSpec

__all__ = ["build_docs", "docs_index", "gx_root", "run_suite"]

_DATASOURCE = "aircarbon"
_BATCH_DEFINITION = "whole_frame"
_SITE = "local_site"

_lock = threading.Lock()
_contexts: dict[Path, Any] = {}
_suite_fingerprints: dict[tuple[Path, str], str] = {}
_suite_pages: set[tuple[Path, str, str | None]] = set()  # suite pages rendered this process


def gx_root(data_dir: Path) -> Path:
    """``<data_dir>/gx``: GX puts its project under ``project_root_dir / "gx"``."""
    return data_dir / "gx"


def docs_index(data_dir: Path) -> Path:
    return gx_root(data_dir) / "uncommitted" / "data_docs" / _SITE / "index.html"


def _quiet_gx() -> None:
    """Keep GX's INFO chatter (context loading, metric batches, Data Docs) out of task logs.

    Why: an Airflow task logs at INFO, and GX's own INFO lines were ~95 % of an hourly task's
    log, burying the pipeline's lines; its warnings and errors still show. Our results are in
    ``validation_runs`` and the Data Docs, not in GX's log lines.
    """
    import logging

    # the package's loggers, and one module that sets its own logger to INFO when imported
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logger = logging.getLogger(name)
        if logger.level in (logging.NOTSET, logging.DEBUG, logging.INFO):
            logger.setLevel(logging.WARNING)


_quiet_gx()  # before any function here imports GX (its import logs ~200 INFO lines)


def _context(data_dir: Path) -> Any:
    root = data_dir.resolve()
    ctx = _contexts.get(root)
    if ctx is not None:
        return ctx
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()  # again: importing GX set one of its loggers back to INFO
    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    bars: Any = ctx.variables.progress_bars  # a ProgressBarsConfig, or a dict from YAML
    if isinstance(bars, dict):
        bars = ProgressBarsConfig(**bars)
    if bars is None or bars.globally or bars.metric_calculations:
        # tqdm bars on stderr of a DAG task or a CLI run are noise, and cost time
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.variables.save()
    site: Any = (ctx.variables.data_docs_sites or {}).get(_SITE)
    if isinstance(site, dict) and site.get("show_how_to_buttons", True):
        # GX's "how to" footer and walkthrough pop-up link to its online tutorials: noise
        # on an operator's (often offline) site
        config: Any = {**site, "show_how_to_buttons": False}
        ctx.update_data_docs_site(_SITE, config)
    _contexts[root] = ctx
    return ctx


def _condition(where: tuple[Condition, ...]) -> Any:
    from great_expectations.expectations.row_conditions import Column

    combined: Any = None
    for clause in where:
        col = Column(clause.column)
        if clause.op == "in":
            assert isinstance(clause.value, tuple)
            cond = col.is_in(list(clause.value))
        elif clause.op == "<=":
            cond = col <= clause.value
        else:
            cond = col == clause.value
        combined = cond if combined is None else combined & cond
    return combined


def _expectation(spec: ExpectationSpec, index: int) -> Any:
    import great_expectations as gx

    cls = getattr(gx.expectations, spec.type)
    kwargs: dict[str, Any] = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in spec.kwargs.items()
    }
    if spec.where:
        kwargs["row_condition"] = _condition(spec.where)
    return cls(
        **kwargs,
        severity=spec.severity.value,
        notes=spec.why,
        meta={"aircarbon_index": index, "why": spec.why},
    )


def _fingerprint(spec: SuiteSpec) -> str:
    text = json.dumps(
        [
            [[e.type, dict(e.kwargs), e.severity, e.why, repr(e.where)] for e in spec.expectations],
            spec.bounds,
        ],
        default=str,
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _validation_definition(ctx: Any, root: Path, spec: SuiteSpec) -> Any:
    """The suite's validation definition, (re)registered when the generated suite changed."""
    import great_expectations as gx

    fingerprint = _fingerprint(spec)
    key = (root, spec.name)
    if _suite_fingerprints.get(key) == fingerprint:
        return ctx.validation_definitions.get(spec.name)
    # add_or_update_pandas() would REPLACE the data source and drop the other suites'
    # assets (their validation definitions then fail to load): get it, add it only once
    try:
        source = ctx.data_sources.get(_DATASOURCE)
    except (KeyError, ValueError):
        source = ctx.data_sources.add_pandas(_DATASOURCE)
    try:
        asset = source.get_asset(spec.name)
    except LookupError:
        asset = source.add_dataframe_asset(spec.name)
    try:
        batch = asset.get_batch_definition(_BATCH_DEFINITION)
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe(_BATCH_DEFINITION)
    suite = gx.ExpectationSuite(
        name=spec.name,
        expectations=[_expectation(e, i) for i, e in enumerate(spec.expectations)],
        meta={
            "aircarbon_fingerprint": fingerprint,
            "description": spec.description,
            # the catalog ranges the <kind>_lo/_hi columns carry, so the stored suite shows them
            "bounds": {k: {p: list(r) for p, r in v.items()} for k, v in spec.bounds.items()},
        },
    )
    suite = ctx.suites.add_or_update(suite)
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=spec.name, data=batch, suite=suite)
    )
    _suite_fingerprints[key] = fingerprint
    return definition


def run_suite(
    data_dir: Path,
    spec: SuiteSpec,
    frame: pd.DataFrame,
    *,
    run_name: str,
    parameters: dict[str, object],
) -> dict[str, Any]:
    """Validate ``frame`` with ``spec``; GX stores the result JSON. Returns plain data.

    ``{"success", "run_time", "result_id", "results": [{"index", "type", "severity",
    "success", "element_count", "unexpected_count", "unexpected_percent", "exception"}]}``;
    ``index`` is the expectation's position in ``spec.expectations``.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    with _lock:
        root = data_dir.resolve()
        try:
            ctx = _context(root)
            definition = _validation_definition(ctx, root, spec)
            run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.UTC))
            result = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=parameters or None,
                result_format="SUMMARY",
                run_id=run_id,
            )
        except (ValueError, TypeError, KeyError, OSError, RuntimeError) as exc:
            # GX's own errors derive from these; name the suite, keep the cause chained
            raise AirCarbonError(f"GX could not validate suite {spec.name!r}: {exc}") from exc
    results = []
    for r in result.results:
        config = r.expectation_config
        meta = config.meta or {}
        info = r.exception_info or {}
        raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
        stats = r.result or {}
        results.append(
            {
                "index": meta.get("aircarbon_index"),
                "type": config.type,
                "severity": str(getattr(config.severity, "value", config.severity)),
                "success": bool(r.success) and not raised,
                "element_count": stats.get("element_count"),
                "unexpected_count": stats.get("unexpected_count"),
                "unexpected_percent": stats.get("unexpected_percent"),
                "exception": info.get("exception_message") if raised else None,
            }
        )
    return {
        "success": bool(result.success),
        "run_time": run_id.run_time,
        "results": results,
    }


def build_docs(data_dir: Path, suite: str, run_name: str, run_time: dt.datetime) -> Path:
    """Render one run's page and rebuild the Data Docs index; the page's path.

    Incremental on purpose: a full ``build_data_docs()`` re-renders every stored result
    (~0.1 s each), which grows with the retention setting. The suite's page is rendered too
    when missing (the index links it), and the site is made to work offline
    (:mod:`expectations.data_docs_offline`).
    """
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    key: Any = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite),
        run_id=RunIdentifier(run_name=run_name, run_time=run_time),
        batch_identifier=f"{_DATASOURCE}-{suite}",
    )
    site = docs_index(data_dir).parent
    with _lock:
        root = data_dir.resolve()
        ctx = _context(root)
        keys = [key]
        # the suite's own page, which the index and every result page link to: rendered when
        # missing or when the suite changed in this process (not on every run: ~0.1-0.3 s)
        built = (root, suite, _suite_fingerprints.get((root, suite)))
        if built not in _suite_pages or not (site / "expectations" / f"{suite}.html").exists():
            keys.append(ExpectationSuiteIdentifier(name=suite))
        try:
            ctx.build_data_docs(site_names=[_SITE], resource_identifiers=keys)
            _suite_pages.add(built)
            make_offline(site)  # GX's pages load CSS/JS from CDNs: rewrite them to local files
        except (ValueError, TypeError, KeyError, OSError) as exc:
            raise AirCarbonError(f"GX could not build Data Docs: {exc}") from exc
    page = site.joinpath("validations", *(str(part) for part in key.to_tuple()))
    page = page.with_name(page.name + ".html")
    return page if page.exists() else docs_index(data_dir)
