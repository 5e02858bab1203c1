"""Great Expectations suites for AirCarbon's frames, generated from the catalog.

Importing this package does not import ``great_expectations`` (7-8 s, ~230 MB): GX is
loaded on the first ``validate()`` call, inside ``expectations._gx``::

    outcome = validate(frame, "hourly", batch_id="2026-01-01", interval=(start, end),
                       catalog=catalog, data_dir=settings.data_dir)
    write_validation_runs([outcome.to_row()], settings.data_dir)
    write_summary(settings.data_dir)
    raise_on_critical(outcome)  # ValidationFailed: the batch must not be loaded
"""

from expectations.report import write_summary
from expectations.runner import (
    RESULTS_KEPT,
    VALIDATION_RESULTS,
    FailedExpectation,
    ValidationOutcome,
    prune_results,
    raise_on_critical,
    read_validation_runs,
    validate,
    write_validation_runs,
)
from expectations.suites import SUITE_NAMES, ExpectationSpec, Severity, SuiteSpec, build_suite

__all__ = [
    "RESULTS_KEPT",
    "SUITE_NAMES",
    "VALIDATION_RESULTS",
    "ExpectationSpec",
    "FailedExpectation",
    "Severity",
    "SuiteSpec",
    "ValidationOutcome",
    "build_suite",
    "prune_results",
    "raise_on_critical",
    "read_validation_runs",
    "validate",
    "write_summary",
    "write_validation_runs",
]
