"""The GX suites of AirCarbon, generated from the catalog as plain, typed data.

No range, code list or completeness minimum is written here: every number comes from the
catalog (``physical``/``plausible`` ranges, station ids, parameter codes, HJ 212 flags,
``validity``), so changing the catalog changes the suites, and the suites can be built,
compared and tested without importing Great Expectations (7-8 s). ``expectations._gx``
turns an :class:`ExpectationSpec` into a GX expectation; nothing else touches GX.

Four suites, one per frame the pipeline hands on:

``raw`` and ``readings``
    validate a *profile* of the batch (``expectations.profile``), not its rows: a day of
    1,000 stations x 30 parameters of minute data is ~43 M rows, which GX's pandas engine
    checks at ~8 s per million rows. The profile has two rows (the minimum and the maximum)
    per group of equal keys, so every set, null and range check passes on the profile
    exactly when it passes on every row; counts in their results are profile rows.
``hourly`` and ``daily``
    validate the rows themselves (24 and 1 per station-parameter-day).

Severities: ``critical`` stops the load of the batch (keys, schema, uniqueness, physical
ranges, validity rules the transforms promise); ``warning`` is recorded and lets the batch
through (plausibility shares, completeness).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

from aircarbon.core.catalog import Catalog, Parameter
from aircarbon.core.contracts import DAILY, HOURLY, MOVING_SOURCES, RAW, READINGS, QcReason

__all__ = [
    "COMPLETENESS_SHARE",
    "DAILY_EXTRA_PARAMS",
    "PLAUSIBLE_SHARE",
    "SOURCE_REGEX",
    "STREAM_VALID_SHARE",
    "SUITE_NAMES",
    "Condition",
    "ExpectationSpec",
    "Severity",
    "SuiteSpec",
    "bounds",
    "build_suite",
    "daily_suite",
    "hourly_suite",
    "raw_suite",
    "readings_suite",
    "suite_parameters",
]

SUITE_NAMES = ("raw", "readings", "hourly", "daily")

#: How a reading reached the raw store: its decoder, HJ 212's 2005 code table when the
#: frame used it, and the header quirks a tolerant HJ 212 decode accepted
#: (``hj212;quirks=mn_punct,pw_long``, ``ingest.hj212.QUIRKS``), so non-conforming loggers'
#: readings still validate. History imports (``ingest.history``) say the importer and the
#: file: ``import:table;file=site.csv``, ``import:cnemc;file=china_sites_20240101.csv``,
#: ``import:hj212;quirks=mn_punct;file=logger.log`` (a file name never holds ';').
_QUIRKS = r"(?:;quirks=[a-z0-9_]+(?:,[a-z0-9_]+)*)?"
SOURCE_REGEX = (
    rf"^(?:json|hj212(?:-2005)?{_QUIRKS}"
    rf"|import:(?:table|long|cnemc|hj212(?:-2005)?{_QUIRKS});file=[^;]+)$"
)

#: Daily-only parameters: O3's daily maximum 1-hour and 8-hour means (contract.md §4.3).
DAILY_EXTRA_PARAMS = {"o3_1h_max": "o3", "o3_8h_max": "o3"}

# Warning thresholds. They are network-health judgements, not rules of a standard, so they
# are not in the catalog's validity.toml; one place, named, so a reviewer can argue them.
#: Share of hourly / daily statistics that should be valid (18 of 24 hours; GB 3095's 75 %).
COMPLETENESS_SHARE = 0.75
#: Share of raw profile rows (group minima and maxima) inside the plausibility range.
PLAUSIBLE_SHARE = 0.95
#: A station-parameter stream should have this share of valid readings ...
STREAM_VALID_SHARE = 0.75
#: ... in at least this share of the batch's streams.
STREAMS_MOSTLY = 0.9


class Severity(StrEnum):
    """What a failed expectation does to its batch (GX 1.x ``FailureSeverity`` values)."""

    CRITICAL = "critical"  # stop the load of that batch
    WARNING = "warning"  # record, flag and let the batch through


@dataclass(frozen=True, slots=True)
class Condition:
    """One clause of a row condition; clauses of an expectation are ANDed (GX ``Column``)."""

    column: str
    op: Literal["==", "<=", "in"]
    value: str | float | bool | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExpectationSpec:
    """One expectation as data: the GX class name, its keyword arguments, why it exists."""

    type: str  # GX class name, e.g. "ExpectColumnValuesToBeBetween"
    kwargs: Mapping[str, object]
    severity: Severity
    why: str
    where: tuple[Condition, ...] = ()

    @property
    def expectation_type(self) -> str:
        """The snake_case name GX results report (``expect_column_values_to_be_between``)."""
        out = [f"_{c.lower()}" if c.isupper() else c for c in self.type]
        return "".join(out).lstrip("_")

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (str(self.kwargs["column"]),)
        if "column_A" in self.kwargs:
            return (str(self.kwargs["column_A"]), str(self.kwargs["column_B"]))
        for key in ("column_list", "column_set"):
            if key in self.kwargs:
                value = self.kwargs[key]
                assert isinstance(value, list | tuple)
                return tuple(str(v) for v in value)
        return ()


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """A suite: its name, the frame it reads (``profile`` or ``rows``), its contract."""

    name: str
    frame: Literal["profile", "rows"]
    schema: pl.Schema  # the contract of the *input* frame, checked before GX runs
    expectations: tuple[ExpectationSpec, ...]
    parameters: tuple[str, ...] = field(default=())  # suite parameters it needs
    description: str = ""
    #: per-parameter ranges the runner joins as ``<kind>_lo``/``<kind>_hi`` columns
    bounds: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------


def _param(name: str) -> dict[str, str]:
    return {"$PARAMETER": name}


def _not_null(column: str, why: str) -> ExpectationSpec:
    return ExpectationSpec(
        "ExpectColumnValuesToNotBeNull", {"column": column}, Severity.CRITICAL, why
    )


def _in_set(
    column: str,
    values: Iterable[object],
    why: str,
    *,
    severity: Severity = Severity.CRITICAL,
    where: tuple[Condition, ...] = (),
    mostly: float | None = None,
) -> ExpectationSpec:
    kwargs: dict[str, object] = {"column": column, "value_set": sorted(set(values), key=str)}
    if mostly is not None:
        kwargs["mostly"] = mostly
    return ExpectationSpec("ExpectColumnValuesToBeInSet", kwargs, severity, why, where)


def _between(
    column: str,
    lo: object,
    hi: object,
    why: str,
    *,
    severity: Severity = Severity.CRITICAL,
    where: tuple[Condition, ...] = (),
    mostly: float | None = None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> ExpectationSpec:
    kwargs: dict[str, object] = {"column": column, "min_value": lo, "max_value": hi}
    if strict_min:
        kwargs["strict_min"] = True
    if strict_max:
        kwargs["strict_max"] = True
    if mostly is not None:
        kwargs["mostly"] = mostly
    return ExpectationSpec("ExpectColumnValuesToBeBetween", kwargs, severity, why, where)


def bounds(
    catalog: Catalog, which: Literal["physical", "plausible"], extra: Mapping[str, str] = {}
) -> dict[str, tuple[float, float]]:
    """Each parameter code's catalog range; ``extra`` maps derived codes to their base.

    The plausible range is widened below by the instrument noise: QC (transforms/qc.py)
    keeps negatives within noise valid, as real analysers report them around zero.
    """

    def rng(p: Parameter) -> tuple[float, float]:
        lo, hi = getattr(p, which)
        return (lo - p.noise, hi) if which == "plausible" else (lo, hi)

    out = {p.code: rng(p) for p in catalog.parameters.values()}
    for code, base in extra.items():
        out[code] = rng(catalog.parameter(base))
    return dict(sorted(out.items()))


def _bound_checks(
    which: Literal["physical", "plausible"],
    *,
    severity: Severity,
    why: str,
    where: tuple[Condition, ...] = (),
    mostly: float | None = None,
) -> list[ExpectationSpec]:
    """``lo <= value <= hi`` against per-row bound columns ``<which>_lo``/``<which>_hi``.

    The runner joins the bounds of :attr:`SuiteSpec.bounds` onto the frame by ``param``
    (a vectorised lookup), so a range check is two expectations whatever the number of
    parameters; one expectation per parameter (or per distinct range, ~20-30) would cost
    GX ~0.1 s each in row-condition filtering. Rows of unknown parameters have null bounds
    and are skipped here: the ``param`` set check fails them instead.
    """
    extra: dict[str, object] = {"or_equal": True}
    if mostly is not None:
        extra["mostly"] = mostly
    return [
        ExpectationSpec(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "value", "column_B": f"{which}_lo", **extra},
            severity,
            f"{why} (lower bound)",
            where,
        ),
        ExpectationSpec(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": f"{which}_hi", "column_B": "value", **extra},
            severity,
            f"{why} (upper bound)",
            where,
        ),
    ]


def _qc_regex() -> str:
    """``qc`` codes joined by commas (``expectations.profile``): empty or known codes only."""
    codes = "|".join(sorted(r.value for r in QcReason))
    return rf"^(?:(?:{codes})(?:,(?:{codes}))*)?$"  # no capture groups: pandas warns


_VALID = Condition("valid", "==", True)
_BOUND_COLUMNS = ("plausible_lo", "plausible_hi")


def _stream_keys(catalog: Catalog, params: Iterable[str]) -> list[ExpectationSpec]:
    return [
        _not_null("station", "every reading names its station"),
        _not_null("param", "every reading names its parameter"),
        _not_null("ts", "a reading without a time cannot be placed in any interval"),
        _in_set("station", catalog.stations, "only the catalog's stations are loaded"),
        _in_set("param", params, "only the catalog's parameter codes are loaded"),
    ]


# --------------------------------------------------------------------------------------
# the suites
# --------------------------------------------------------------------------------------


def _profile_suite(
    name: Literal["raw", "readings"],
    schema: pl.Schema,
    catalog: Catalog,
    *,
    decided: ExpectationSpec,
    checks: Sequence[ExpectationSpec],
    interval: bool,
    description: str,
) -> SuiteSpec:
    """A suite for a readings-shaped store (``raw``, ``readings``), validated on its profile.

    Both hold one row per reading as a decoder produced it, so both start with the same
    stream keys, HJ 212 flag, decoder and averaging-period checks; ``decided`` is the one
    more column that must never be null (``received_at`` / ``valid``), ``checks`` the
    suite's own contract (ranges, QC rules), then rows inside the batch's interval.
    """
    exps = [
        *_stream_keys(catalog, catalog.parameters),
        _not_null("flag", "the HJ 212 flag decides whether a value may be averaged"),
        _not_null("source", "lineage: which decoder produced the reading"),
        decided,
        _in_set("flag", catalog.flags, "HJ 212-2017 flag letters only"),
        ExpectationSpec(
            "ExpectColumnValuesToMatchRegex",
            {"column": "source", "regex": SOURCE_REGEX},
            Severity.CRITICAL,
            "a decoder the collector has (json, hj212), with the HJ 212 quirks it accepted",
        ),
        _between("period_s", 1, 86_400, "an averaging period is a positive part of a day"),
        *checks,
    ]
    params: tuple[str, ...] = ()
    if interval:
        exps.append(_ts_in_interval())
        params = ("interval_start", "interval_end")
    return SuiteSpec(
        name,
        "profile",
        schema,
        tuple(exps),
        params,
        description,
        {"physical": bounds(catalog, "physical"), "plausible": bounds(catalog, "plausible")},
    )


def raw_suite(catalog: Catalog, *, interval: bool = True) -> SuiteSpec:
    """Raw store batches (RAW), validated on their profile (group minima and maxima)."""
    return _profile_suite(
        "raw",
        RAW,
        catalog,
        decided=_not_null("received_at", "late-data accounting and revision order need it"),
        checks=[
            *_bound_checks(
                "physical",
                severity=Severity.CRITICAL,
                why="outside the physical range the value is impossible: ingest should have "
                "dead-lettered it",
            ),
            *_bound_checks(
                "plausible",
                severity=Severity.WARNING,
                mostly=PLAUSIBLE_SHARE,
                why="many implausible values hint at a unit or calibration problem; QC flags them",
            ),
        ],
        interval=interval,
        description="raw readings of one interval, as the collector landed them",
    )


def readings_suite(catalog: Catalog, *, interval: bool = True) -> SuiteSpec:
    """Clean readings (READINGS) with QC flags, validated on their profile."""
    valid_flags = [f.letter for f in catalog.flags.values() if f.valid]
    return _profile_suite(
        "readings",
        READINGS,
        catalog,
        decided=_not_null("valid", "QC must decide every reading"),
        checks=[
            _between(
                "identity_duplicates",
                0,
                0,
                "a reading identity (station, param, ts) is stored once: dedup must have run",
            ),
            ExpectationSpec(
                "ExpectColumnValuesToMatchRegex",
                {"column": "qc", "regex": _qc_regex()},
                Severity.CRITICAL,
                "QC reasons are the QcReason codes, so analysts can filter on them",
            ),
            _in_set(
                "flag",
                valid_flags,
                "a reading the station itself flagged invalid (M, C, D...) cannot be valid",
                where=(_VALID,),
            ),
            *_bound_checks(
                "physical",
                severity=Severity.CRITICAL,
                why="outside the physical range the value is impossible",
            ),
            *_bound_checks(
                "plausible",
                severity=Severity.CRITICAL,
                where=(_VALID,),
                why="QC marks implausible values invalid, so a valid one breaks the QC contract",
            ),
            _between(
                "valid_share",
                STREAM_VALID_SHARE,
                1.0,
                "most station-parameter streams should be mostly valid; if not, look at QC or "
                "the instruments",
                severity=Severity.WARNING,
                mostly=STREAMS_MOSTLY,
            ),
        ],
        interval=interval,
        description="clean readings with QC flags (warehouse table readings)",
    )


def _ts_in_interval() -> ExpectationSpec:
    # ``ts`` is the END of a reading's period, so an interval holds start < ts <= end
    # (transforms.raw.scan_raw reads exactly that).
    return _between(
        "ts",
        _param("interval_start"),
        _param("interval_end"),
        "a batch holds only its own interval (start, end]: anything else is a partition bug",
        strict_min=True,
    )


def _aggregate_suite(
    name: Literal["hourly", "daily"],
    schema: pl.Schema,
    *,
    frame: Literal["profile", "rows"],
    period: Literal["hour", "day"],
    time: Literal["ts", "date"],
    keys: Sequence[ExpectationSpec],
    unique_why: str,
    counts: Sequence[ExpectationSpec],
    statistic: str,
    interval: ExpectationSpec | None,
    interval_params: tuple[str, str],
    description: str,
    plausible: Mapping[str, tuple[float, float]],
) -> SuiteSpec:
    """A suite for an aggregate table (``hourly``, ``daily``).

    The two tables make the same promises and differ only in their time column, their count
    column and the completeness rules of their period, so the contract is written once:
    exactly the table's columns, the suite's ``keys`` checks (not-null and known codes),
    one row per station, parameter and ``time``, the ``counts`` checks (ranges of the count
    column and the GB 3095 / HJ 663 completeness minima), valid statistics plausible, most
    statistics valid (a warning), and rows inside the batch's ``interval``.

    ``frame = "profile"`` (hourly: ~1 M rows a month of history) has GX read the batch's
    profile (:mod:`expectations.profile`; its ``where`` clauses may then only name the
    profile's keys): the columns are checked before GX runs, uniqueness becomes
    ``identity_duplicates`` per stream and completeness the batch's ``valid_share``, with
    the same pass/fail. ``"rows"`` (daily, whose O3 rule conditions on ``value``) reads
    every row.
    """
    completeness = f"completeness: most station-parameter-{period}s should be valid"
    if frame == "profile":
        table = [
            *keys,
            _between("identity_duplicates", 0, 0, unique_why),
            *counts,
        ]
        share = _between(
            "valid_share", COMPLETENESS_SHARE, 1.0, completeness, severity=Severity.WARNING
        )
    else:
        table = [
            ExpectationSpec(
                "ExpectTableColumnsToMatchSet",
                {"column_set": [*schema.names(), *_BOUND_COLUMNS], "exact_match": True},
                Severity.CRITICAL,
                "the warehouse table has exactly these columns (plus the joined range bounds)",
            ),
            *keys,
            ExpectationSpec(
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["station", "param", time]},
                Severity.CRITICAL,
                unique_why,
            ),
            *counts,
        ]
        share = _in_set(
            "valid", [True], completeness, severity=Severity.WARNING, mostly=COMPLETENESS_SHARE
        )
    exps = [
        *table,
        *_bound_checks(
            "plausible",
            severity=Severity.CRITICAL,
            where=(_VALID,),
            why=f"a {statistic} of valid (plausible) readings is plausible",
        ),
        share,
    ]
    params: tuple[str, ...] = ()
    if interval is not None:
        exps.append(interval)
        params = interval_params
    return SuiteSpec(
        name, frame, schema, tuple(exps), params, description, {"plausible": plausible}
    )


def _completeness_rule(
    column: str, minimum: float, most: float, params: Iterable[str], why: str
) -> ExpectationSpec:
    """``minimum <= column <= most`` for the valid statistics of the rule's parameters."""
    where = (Condition("param", "in", tuple(sorted(params))), _VALID)
    return _between(column, minimum, most, why, where=where)


_VALID_NOT_NULL = "every statistic says whether it meets the completeness rule"


def hourly_suite(catalog: Catalog, *, interval: bool = True) -> SuiteSpec:
    """Hourly means (HOURLY), validated on their profile (keys station, param, valid)."""
    v = catalog.validity
    return _aggregate_suite(
        "hourly",
        HOURLY,
        frame="profile",
        period="hour",
        time="ts",
        keys=[
            *_stream_keys(catalog, [*catalog.parameters, *MOVING_SOURCES]),
            _not_null("n", "the count of averaged values is part of every statistic"),
            _not_null("valid", _VALID_NOT_NULL),
        ],
        unique_why="one mean per station, parameter and hour: a duplicate would double-count",
        counts=[
            _between("n", 0, None, "a count is never negative"),
            _between("minutes", 0, 60, "an hour has 60 minutes"),
            _completeness_rule(
                "minutes",
                v.hourly_min_minutes,
                60,
                v.hourly_params,
                "GB 3095 Table 4: a valid hourly mean needs enough minutes of valid data",
            ),
        ],
        statistic="mean",
        # hour-END timestamps: the interval (start, end] holds the hours ending after start
        interval=_ts_in_interval() if interval else None,
        interval_params=("interval_start", "interval_end"),
        description="hourly means (warehouse hourly)",
        plausible=bounds(catalog, "plausible", MOVING_SOURCES),
    )


def daily_suite(catalog: Catalog, *, interval: bool = True) -> SuiteSpec:
    """Daily statistics (DAILY), validated row by row."""
    v = catalog.validity
    windows = v.o3_8h_max_last_end_hour - v.o3_8h_max_first_end_hour + 1
    mda8 = Condition("param", "==", "o3_8h_max")
    return _aggregate_suite(
        "daily",
        DAILY,
        frame="rows",
        period="day",
        time="date",
        keys=[
            _not_null("station", "every statistic names its station"),
            _not_null("param", "every statistic names its parameter"),
            _not_null("date", "every daily statistic belongs to a local calendar day"),
            _not_null("n", "the count of valid inputs is part of every statistic"),
            _not_null("valid", _VALID_NOT_NULL),
            _in_set("station", catalog.stations, "only the catalog's stations are loaded"),
            _in_set(
                "param",
                [*catalog.parameters, *DAILY_EXTRA_PARAMS],
                "catalog codes plus O3's daily maxima",
            ),
        ],
        unique_why="one statistic per station, parameter and day",
        counts=[
            _between("n", 0, 24, "a day has at most 24 valid hours"),
            _completeness_rule(
                "n",
                v.daily_min_hours,
                24,
                v.daily_params,
                "GB 3095 Table 4: a valid daily mean needs enough valid hours",
            ),
            _between(
                "n",
                0,
                windows,
                "HJ 663: 8-hour windows ending between the first and last end hour",
                where=(mda8,),
            ),
            _between(
                "n",
                v.o3_8h_max_min_windows,
                windows,
                "HJ 663: a valid O3 MDA8 needs enough valid 8-hour windows, unless the maximum "
                "found already exceeds the Grade II limit",
                where=(mda8, _VALID, Condition("value", "<=", v.o3_8h_max_valid_if_exceeds)),
            ),
        ],
        statistic="statistic",
        interval=_between(
            "date",
            _param("date_first"),
            _param("date_last"),
            "a batch holds only the local days of its interval",
        )
        if interval
        else None,
        interval_params=("date_first", "date_last"),
        description="daily statistics (warehouse daily)",
        plausible=bounds(catalog, "plausible", DAILY_EXTRA_PARAMS),
    )


def build_suite(name: str, catalog: Catalog, *, interval: bool = True) -> SuiteSpec:
    """The suite ``name`` (one of SUITE_NAMES) for ``catalog``."""
    builders = {
        "raw": raw_suite,
        "readings": readings_suite,
        "hourly": hourly_suite,
        "daily": daily_suite,
    }
    try:
        builder = builders[name]
    except KeyError:
        raise ValueError(f"unknown suite {name!r}; known: {', '.join(SUITE_NAMES)}") from None
    return builder(catalog, interval=interval)


def suite_parameters(
    suite: SuiteSpec, interval: tuple[dt.datetime, dt.datetime] | None, timezone: str
) -> dict[str, object]:
    """Values of the suite's parameters for one batch interval (UTC-aware datetimes).

    Daily batches are local calendar days: the interval's first and last local dates
    (``date`` columns reach pandas as midnight datetimes, so they are passed as such).
    """
    if not suite.parameters:
        return {}
    if interval is None:
        raise ValueError(f"suite {suite.name!r} needs the batch interval")
    start, end = interval
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("interval datetimes must be timezone-aware")
    if "date_first" in suite.parameters:
        tz = ZoneInfo(timezone)
        first = start.astimezone(tz).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
        return {
            "date_first": dt.datetime.combine(first, dt.time()),
            "date_last": dt.datetime.combine(last, dt.time()),
        }
    return {"interval_start": start.astimezone(dt.UTC), "interval_end": end.astimezone(dt.UTC)}
