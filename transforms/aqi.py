"""Air quality index (HJ 633-2012 and HJ 633-2026), computed from the catalog's rules.

Every breakpoint, special rule, report composition and input-rounding rule comes from
``aircarbon/core/catalog/data/aqi.toml`` (both versions as data), so this module holds the
*method* only: the same code computes 2012 and 2026 AQI, and a future revision is a data
change. Two layers share one definition of the method:

* a scalar core (:func:`iaqi`, :func:`compute_aqi`) — readable, used by the
  ``aircarbon aqi`` calculator and as the oracle the tests hold the frames to;
* vectorised Polars (:func:`aqi_hourly`, :func:`aqi_daily`) — ``when/then`` chains built
  from the breakpoint segments, no Python per row, for the network's hourly and daily
  tables (thousands of stations per call).

Decisions the standard leaves open, taken here once (and tested):

* **Ceiling.** IAQI is "全部向上进位取整数" (always rounded *up*). The interpolation is
  floating point, so a result such as ``100.00000000000001`` would ceil to 101; the value
  is first rounded to 6 decimals (``math.ceil(round(v, 6))``, domain.md §1.5) — far below
  any real concentration resolution, far above float noise.
* **Off-scale.** Above the last breakpoint of a full column the IAQI is clamped to the
  top step (500); the standard does not define it, every public implementation clamps.
  Shortened columns (SO2 1h, O3 8h) follow their ``above_top`` rule instead.
* **Fallback rules (2012).** ``fallback`` means "the IAQI of this other column": the
  caller supplies that column's value (in the hourly 2012 report the SO2 24-h value is the
  auxiliary input ``so2_24h``, not one of the nine indicators). Unavailable → the IAQI is
  unknown (None) and the AQI is formed from the other pollutants. Fallbacks do not chain.
* **Input rounding (2026).** GB/T 8170 修约 is round-half-even on the *decimal* value. A
  binary float such as 2.675 is really 2.67499999…; rounding that would give 2.67, which no
  human reading "2.675" would. The scalar path therefore rounds ``Decimal(repr(x))`` (the
  shortest decimal that round-trips to ``x``, i.e. what was written); the vectorised path
  reaches the same result with exact IEEE comparisons (see :func:`_round_half_even_array`).
  2012 has no ``input_decimals``: values are used as they are.
* **Missing / invalid.** None, NaN and negative inputs are missing (negative values are
  judged before rounding: QC, not rounding, decides what a negative reading means).
  Missing pollutants are skipped: the AQI is the maximum over those present. In the
  tables a row exists only when at least one IAQI is known (no all-null rows).
* **Pollutant names.** The ``iaqi`` items keep the *input code* (``pm25_24h``,
  ``o3_8h_max``) — what was measured. Primary and exceedance pollutants name the
  *pollutant*: the breakpoint column without its averaging suffix (``so2_1h`` → ``so2``,
  ``pm25_24h`` → ``pm25``), except where one report uses two columns of the same pollutant
  (O3: 1-h and 8-h) — those keep the period (``o3_1h``, ``o3_8h``), in every version, so
  the same indicator has the same name in 2012 and 2026 rows.
* **Which version.** A value is computed under the version in force on its *local* day
  (``Catalog.aqi_standard_for``). An hourly value's ``ts`` is the end of its hour; the hour
  belongs to the local day in which it *starts*, so the hour ending 2026-03-01 00:00+08:00
  is hour 24 of 2026-02-28 (HJ 663 counts a day's hours by their end, 1…24) and is computed
  under HJ 633-2012 — the same day the daily aggregation gives it. ``standard=`` forces one
  version for every row (recomputing history under the other version is one call).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import polars as pl

from aircarbon.core.catalog import AqiCategory, AqiStandard, Catalog
from aircarbon.core.contracts import AQI_DAILY, AQI_HOURLY
from aircarbon.core.errors import AirCarbonError, CatalogError

__all__ = [
    "REPORT_KINDS",
    "AqiResult",
    "FallbackValue",
    "ReportKind",
    "aqi_daily",
    "aqi_hourly",
    "compute_aqi",
    "hour_day",
    "iaqi",
    "input_codes",
    "pollutant_names",
    "report_inputs",
    "resolve_standard",
    "round_half_even",
    "round_input",
]

ReportKind: TypeAlias = Literal["hourly", "daily"]
REPORT_KINDS: Final[tuple[ReportKind, ...]] = ("hourly", "daily")

#: A caller-supplied value for a fallback column: a mapping or a function of the column name.
FallbackValue: TypeAlias = Callable[[str], float | None] | Mapping[str, float | None]

# Float-noise guard before the ceiling (domain.md §1.5). Not a domain number: it only
# removes interpolation round-off, far below any concentration's resolution.
_CEIL_GUARD_DECIMALS: Final = 6
# An hourly row's ts is the END of its hour (aircarbon.core.contracts.HOURLY).
_HOUR: Final = dt.timedelta(hours=1)
# above_top rule kinds in aqi.toml.
_FALLBACK: Final = "fallback"
_FIXED: Final = "fixed"


# --------------------------------------------------------------------------------------
# report composition and names
# --------------------------------------------------------------------------------------


def report_inputs(standard: AqiStandard, kind: str) -> dict[str, str]:
    """The report's indicators: input code (table ``param``) → breakpoint column."""
    try:
        return dict(standard.reports[kind])
    except KeyError:
        kinds = ", ".join(sorted(standard.reports))
        raise AirCarbonError(
            f"unknown AQI report kind {kind!r} for {standard.name} (valid: {kinds})"
        ) from None


def _auxiliary_inputs(standard: AqiStandard, kind: str) -> dict[str, str]:
    """Fallback columns no indicator of the report feeds, named by the column itself.

    HJ 633-2012's hourly report replaces an SO2 1-h IAQI above 800 µg/m³ by the SO2 24-h
    IAQI, yet the 24-h SO2 value is not one of its nine indicators: the caller passes it as
    the extra input ``so2_24h``. It never contributes an IAQI of its own.
    """
    report = report_inputs(standard, kind)
    fed = set(report.values())
    aux: dict[str, str] = {}
    for column in report.values():
        rule = standard.above_top.get(column, {})
        target = rule.get(_FALLBACK)
        if isinstance(target, str) and target not in fed:
            aux[target] = target
    return aux


def input_codes(standard: AqiStandard, kind: str) -> tuple[str, ...]:
    """Every input code the report accepts: its indicators, then auxiliary fallback inputs."""
    return (*report_inputs(standard, kind), *_auxiliary_inputs(standard, kind))


@lru_cache(maxsize=8)
def pollutant_names(catalog: Catalog) -> dict[str, str]:
    """Breakpoint column → the pollutant name used for primary/exceedance pollutants.

    The averaging suffix is dropped (``pm25_24h`` → ``pm25``) unless some report of some
    version feeds two columns of the same pollutant (O3 1-h and 8-h), where the period is
    what tells them apart; deciding over *all* versions keeps names stable across them.
    """
    columns = {c for std in catalog.aqi_standards.values() for c in std.breakpoints}
    keep_period: set[str] = set()
    for std in catalog.aqi_standards.values():
        for mapping in std.reports.values():
            seen: dict[str, str] = {}
            for column in mapping.values():
                stem = _stem(column)
                if seen.setdefault(stem, column) != column:
                    keep_period.add(stem)
    return {c: c if _stem(c) in keep_period else _stem(c) for c in sorted(columns)}


def _stem(column: str) -> str:
    return column.rsplit("_", 1)[0]


def resolve_standard(
    catalog: Catalog, standard: str | None = None, *, day: dt.date | None = None
) -> AqiStandard:
    """The version named ``standard`` ("2012", "HJ 633-2026"…), else the one in force on ``day``.

    With neither, the version in force today in the network's time zone.
    """
    if standard is None:
        if day is None:
            from zoneinfo import ZoneInfo

            day = dt.datetime.now(ZoneInfo(catalog.network.timezone)).date()
        return catalog.aqi_standard_for(day)
    for std in catalog.aqi_standards.values():
        if standard in (std.version, std.name):
            return std
    valid = ", ".join(sorted(catalog.aqi_standards))
    raise AirCarbonError(f"unknown AQI standard {standard!r} (valid: {valid})")


# --------------------------------------------------------------------------------------
# scalar core
# --------------------------------------------------------------------------------------


def round_half_even(value: float, decimals: int) -> float:
    """GB/T 8170 修约 of ``value`` to ``decimals``: round-half-even on its decimal form.

    ``Decimal(repr(value))`` is the shortest decimal that round-trips to the float, i.e.
    the number as written (2.675, not 2.67499999…), so ties are ties.
    """
    quantum = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_EVEN))


def _usable(value: float | None) -> float | None:
    """None for missing, NaN and negative values; the value otherwise."""
    if value is None or math.isnan(value) or value < 0:
        return None
    return float(value)


def round_input(value: float | None, code: str, standard: AqiStandard) -> float | None:
    """The concentration the standard interpolates: usable, then rounded if it says so."""
    usable = _usable(value)
    decimals = standard.input_decimals.get(code)
    if usable is None or decimals is None:
        return usable
    return round_half_even(usable, decimals)


def _ceil(value: float) -> int:
    return math.ceil(round(value, _CEIL_GUARD_DECIMALS))


def _segments(bps: Sequence[float], steps: Sequence[int]) -> list[tuple[float, float, float, int]]:
    """(BP_Lo, BP_Hi, slope, IAQI_Lo) per segment, slope = ΔIAQI / ΔBP (HJ 633 eq. 1)."""
    if len(bps) > len(steps):
        raise CatalogError(f"{len(bps)} breakpoints but only {len(steps)} IAQI steps")
    return [
        (bps[i - 1], bps[i], (steps[i] - steps[i - 1]) / (bps[i] - bps[i - 1]), steps[i - 1])
        for i in range(1, len(bps))
    ]


def _lookup(source: FallbackValue | None, column: str) -> float | None:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(column)
    return source(column)


def iaqi(
    value: float | None,
    column: str,
    standard: AqiStandard,
    steps: Sequence[int],
    *,
    fallback_value: FallbackValue | None = None,
    decimals: int | None = None,
) -> int | None:
    """The individual AQI of one concentration on breakpoint ``column`` (HJ 633 eq. 1).

    ``steps`` is ``catalog.iaqi_steps``. ``decimals`` rounds the input first (GB/T 8170);
    :func:`compute_aqi` rounds per the standard's ``input_decimals`` itself and leaves it
    None. ``fallback_value`` gives the value of the column an ``above_top`` *fallback*
    rule points to (2012: SO2 1-h > 800 → the SO2 24-h IAQI; O3 8-h > 800 → the O3 1-h
    IAQI); without it such a value has no IAQI (None). A *fixed* rule (2026: 200, 300)
    needs nothing. Other values above the last breakpoint clamp to the top step.
    """
    usable = _usable(value)
    if usable is None:
        return None
    if decimals is not None:
        usable = round_half_even(usable, decimals)
    try:
        bps = standard.breakpoints[column]
    except KeyError:
        raise CatalogError(f"{standard.name} has no breakpoint column {column!r}") from None
    if usable > bps[-1]:
        rule = standard.above_top.get(column)
        if rule is None:
            return steps[-1]
        if _FIXED in rule:
            return int(rule[_FIXED])
        target = str(rule[_FALLBACK])
        return iaqi(_lookup(fallback_value, target), target, standard, steps)
    for lo, hi, slope, step_lo in _segments(bps, steps):
        if usable <= hi:
            return _ceil(slope * (usable - lo) + step_lo)
    raise AssertionError("unreachable: usable <= bps[-1]")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class AqiResult:
    """One AQI computation: per-indicator IAQI, the AQI and what it means."""

    standard: str  # "HJ 633-2026"
    version: str  # "2026"
    kind: str  # "hourly" | "daily"
    aqi: int | None
    #: input code → IAQI (None when unknown, e.g. SO2 1-h > 800 without the 24-h value).
    iaqi: Mapping[str, int | None]
    #: input code → the (rounded) concentration the IAQI was computed from.
    concentrations: Mapping[str, float]
    primary_pollutants: tuple[str, ...]
    #: 超标污染物 (HJ 633-2012 only: IAQI above 100); always empty under 2026.
    exceedance_pollutants: tuple[str, ...]
    category: AqiCategory | None

    def to_json(self) -> dict[str, Any]:
        """The row as the ``aqi_daily`` / ``aqi_hourly`` tables name it (plus extras)."""
        cat = self.category
        return {
            "standard": self.standard,
            "version": self.version,
            "kind": self.kind,
            "aqi": self.aqi,
            "level": cat.level if cat else None,
            "category": cat.name_en if cat else None,
            "category_zh": cat.name_zh if cat else None,
            "color": cat.color if cat else None,
            "primary_pollutants": list(self.primary_pollutants),
            "exceedance_pollutants": list(self.exceedance_pollutants),
            "iaqi": [
                {"pollutant": code, "concentration": self.concentrations[code], "iaqi": value}
                for code, value in self.iaqi.items()
            ],
        }


def compute_aqi(
    inputs: Mapping[str, float | None],
    *,
    kind: str,
    standard: AqiStandard,
    catalog: Catalog,
) -> AqiResult:
    """The AQI of one station-hour (``kind="hourly"``) or station-day (``"daily"``).

    ``inputs`` maps input codes (the ``hourly``/``daily`` table params of the report, see
    :func:`input_codes`) to concentrations; absent, None, NaN or negative ones are
    skipped. An unknown code is an error naming it (a typo must not silently drop a
    pollutant from the AQI).
    """
    report = report_inputs(standard, kind)
    aux = _auxiliary_inputs(standard, kind)
    unknown = sorted(set(inputs) - report.keys() - aux.keys())
    if unknown:
        listed = ", ".join(repr(u) for u in unknown)
        valid = ", ".join(input_codes(standard, kind))
        raise AirCarbonError(
            f"unknown AQI input {listed} for the {standard.name} {kind} report (valid: {valid})"
        )
    concentrations: dict[str, float] = {}
    for code in (*report, *aux):
        rounded = round_input(inputs.get(code), code, standard)
        if rounded is not None:
            concentrations[code] = rounded
    by_column = {column: concentrations.get(code) for code, column in {**report, **aux}.items()}
    iaqis = {
        code: iaqi(
            concentrations[code], column, standard, catalog.iaqi_steps, fallback_value=by_column
        )
        for code, column in report.items()
        if code in concentrations
    }
    known = [v for v in iaqis.values() if v is not None]
    aqi = max(known) if known else None
    names = pollutant_names(catalog)
    primary: dict[str, None] = {}
    if aqi is not None and aqi > catalog.primary_pollutant_above:
        primary = {names[report[c]]: None for c, v in iaqis.items() if v == aqi}
    exceed: dict[str, None] = {}
    limit = standard.exceedance_pollutant_above
    if limit is not None:
        exceed = {names[report[c]]: None for c, v in iaqis.items() if v is not None and v > limit}
    return AqiResult(
        standard=standard.name,
        version=standard.version,
        kind=kind,
        aqi=aqi,
        iaqi=iaqis,
        concentrations={c: concentrations[c] for c in iaqis},
        primary_pollutants=tuple(primary),
        exceedance_pollutants=tuple(exceed),
        category=catalog.category_for(aqi) if aqi is not None else None,
    )


# --------------------------------------------------------------------------------------
# vectorised (Polars)
# --------------------------------------------------------------------------------------


def _round_half_even_array(values: np.ndarray[Any, Any], decimals: int) -> np.ndarray[Any, Any]:
    """Round-half-even on the decimal form of each float, exactly as :func:`round_half_even`.

    With k = floor(x·10ᵈ), the only candidate tie is t = (k + ½)/10ᵈ; IEEE division is
    correctly rounded, so ``(k + 0.5) / 10**d`` is *the* float nearest that decimal — and
    ``x == t`` holds exactly when ``repr(x)`` is that decimal. ``x < t`` / ``x > t`` then
    order x against the tie as the decimals order (rounding is monotone). NumPy divides
    element by element; Polars would multiply by a reciprocal, which is not exact, hence
    NumPy here.
    """
    scale = 10.0**decimals
    k = np.floor(values * scale)
    tie = (k + 0.5) / scale
    rounded = np.where(values < tie, k, np.where(values > tie, k + 1, k + np.mod(k, 2)))
    out: np.ndarray[Any, Any] = rounded / scale
    return out


def _round_expr(expr: pl.Expr, decimals: int | None) -> pl.Expr:
    if decimals is None:
        return expr

    def apply(series: pl.Series) -> pl.Series:
        array = series.cast(pl.Float64).to_numpy()
        return pl.Series(series.name, _round_half_even_array(array, decimals), nan_to_null=True)

    return expr.map_batches(apply, return_dtype=pl.Float64, is_elementwise=True)


def _usable_expr(code: str) -> pl.Expr:
    c = pl.col(code).cast(pl.Float64)
    return pl.when(c.is_not_nan() & (c >= 0)).then(c)


def _iaqi_expr(
    conc: pl.Expr,
    column: str,
    standard: AqiStandard,
    steps: Sequence[int],
    by_column: Mapping[str, pl.Expr],
    *,
    allow_fallback: bool = True,
) -> pl.Expr:
    """Float64 IAQI of ``conc`` (already usable and rounded): the scalar :func:`iaqi`."""
    bps = standard.breakpoints[column]
    segments = _segments(bps, steps)
    # Nested from the last segment down: the first segment whose BP_Hi ≥ C wins, as in iaqi().
    raw = pl.lit(None, dtype=pl.Float64)
    for lo, hi, slope, step_lo in reversed(segments):
        raw = pl.when(conc <= hi).then(slope * (conc - lo) + step_lo).otherwise(raw)
    inside = raw.round(_CEIL_GUARD_DECIMALS).ceil()
    rule = standard.above_top.get(column)
    above: pl.Expr
    if rule is None:
        above = pl.lit(float(steps[-1]))
    elif _FIXED in rule:
        above = pl.lit(float(rule[_FIXED]))
    else:
        target = str(rule[_FALLBACK])
        source = by_column.get(target) if allow_fallback else None
        if source is None:
            above = pl.lit(None, dtype=pl.Float64)
        else:
            above = _iaqi_expr(source, target, standard, steps, by_column, allow_fallback=False)
    return pl.when(conc > bps[-1]).then(above).otherwise(inside)


def _category_expr(aqi: pl.Expr, categories: Sequence[AqiCategory], attr: str) -> pl.Expr:
    """``Catalog.category_for`` as an expression (the first level whose max is ≥ AQI)."""
    chosen = pl.lit(getattr(categories[-1], attr))  # above every max: the last level
    for cat in reversed(categories):
        chosen = pl.when(aqi <= cat.aqi_max).then(pl.lit(getattr(cat, attr))).otherwise(chosen)
    return pl.when(aqi.is_not_null()).then(chosen)


def _with_aqi(
    wide: pl.LazyFrame, keys: Sequence[str], standard: AqiStandard, kind: str, catalog: Catalog
) -> pl.LazyFrame:
    """The AQI table columns for rows of one version, in stages over named columns.

    Concentrations → IAQIs → AQI are columns of the wide frame, each stage referring to
    the previous one by name (embedding it would copy the breakpoint chains into every
    branch). The two list columns are then built from a long form with ``group_by``:
    Polars' per-row list operations (``list.filter``, ``list.drop_nulls``) evaluate row
    by row and cost ten times more.
    """
    report = report_inputs(standard, kind)
    every = {**report, **_auxiliary_inputs(standard, kind)}
    conc = {code: pl.col(f"_c_{code}") for code in every}
    iaqis = {code: pl.col(f"_i_{code}") for code in report}
    by_column = {column: conc[code] for code, column in every.items()}
    steps = catalog.iaqi_steps
    names = pollutant_names(catalog)
    aqi = pl.col("aqi")
    scored = (
        wide.with_columns(
            _round_expr(_usable_expr(code), standard.input_decimals.get(code)).alias(f"_c_{code}")
            for code in every
        )
        .with_columns(
            _iaqi_expr(conc[code], column, standard, steps, by_column)
            .cast(pl.Int32)
            .alias(f"_i_{code}")
            for code, column in report.items()
        )
        .with_columns(pl.max_horizontal(*iaqis.values()).alias("aqi"))
        .filter(aqi.is_not_null())
    )
    # One row per (key, indicator present), in report order: group_by keeps row order
    # within each group, so the lists come out in the catalog's report order.
    long = pl.concat(
        [
            scored.select(
                *keys,
                aqi,
                pl.lit(code).alias("pollutant"),
                pl.lit(names[report[code]]).alias("_name"),
                conc[code].alias("concentration"),
                iaqis[code].alias("iaqi"),
            ).filter(pl.col("concentration").is_not_null())
            for code in report
        ],
        how="vertical",
    )
    is_primary = (pl.col("iaqi") == aqi) & (aqi > catalog.primary_pollutant_above)
    lists = long.group_by(*keys).agg(
        pl.struct("pollutant", "concentration", "iaqi").alias("iaqi"),
        pl.col("_name").filter(is_primary).unique(maintain_order=True).alias("primary_pollutants"),
    )
    categories = sorted(catalog.categories, key=lambda c: c.aqi_max)
    return (
        scored.select(*keys, aqi)
        .join(lists, on=list(keys), how="inner")
        .select(
            *keys,
            aqi,
            _category_expr(aqi, categories, "level").alias("level"),
            _category_expr(aqi, categories, "name_en").alias("category"),
            _category_expr(aqi, categories, "name_zh").alias("category_zh"),
            _category_expr(aqi, categories, "color").alias("color"),
            "primary_pollutants",
            "iaqi",
            pl.lit(standard.name).alias("standard"),
        )
    )


def hour_day(ts: pl.Expr, timezone: str) -> pl.Expr:
    """The local day an hourly value belongs to: the day its hour *starts* in.

    ``ts`` is the end of the hour (UTC), so the hour ending at local midnight is hour 24
    of the previous day (HJ 663's 1…24 numbering) — the module docstring explains why.
    """
    return (ts - _HOUR).dt.convert_time_zone(timezone).dt.date()


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AirCarbonError(f"{what} frame lacks column(s) {', '.join(missing)}")


def _compute(
    long: pl.DataFrame,
    key: str,
    day: pl.Expr,
    kind: ReportKind,
    catalog: Catalog,
    standard: str | None,
    schema: pl.Schema,
) -> pl.DataFrame:
    """Pivot valid inputs per (station, key), pick each row's version, compute, shape."""
    _require(long, ("station", "param", key, "value", "valid"), kind)
    forced = resolve_standard(catalog, standard) if standard is not None else None
    versions = [forced] if forced is not None else list(catalog.aqi_standards.values())
    codes = sorted({c for std in versions for c in input_codes(std, kind)})
    wide = (
        long.filter(pl.col("valid") & pl.col("param").is_in(codes))
        .group_by("station", key)
        .agg(pl.col("value").filter(pl.col("param") == code).first().alias(code) for code in codes)
        .with_columns(day.alias("_day"))
    )
    if forced is not None:
        wide = wide.with_columns(pl.lit(forced.version).alias("_version"))
    else:
        days = wide.select(pl.col("_day").unique()).to_series().to_list()
        lookup = pl.DataFrame(
            {"_day": days, "_version": [catalog.aqi_standard_for(d).version for d in days]},
            schema={"_day": pl.Date, "_version": pl.String},
        )
        wide = wide.join(lookup, on="_day", how="left")
    lazy = wide.lazy()
    parts = [
        _with_aqi(
            lazy.filter(pl.col("_version") == std.version), ("station", key), std, kind, catalog
        )
        .select(schema.names())
        .cast(schema)
        for std in versions
    ]
    return pl.concat(parts, how="vertical").sort("station", key).collect()


def aqi_hourly(
    hourly: pl.DataFrame, catalog: Catalog, *, standard: str | None = None
) -> pl.DataFrame:
    """The ``aqi_hourly`` table (real-time report) from the ``hourly`` table.

    Each row's version is the one in force on the local day its hour belongs to (see
    :func:`hour_day`, in the network's time zone) unless ``standard`` ("2012"/"2026")
    forces one. Only ``valid`` values of the report's inputs count; 2012's SO2 fallback
    reads the auxiliary hourly param ``so2_24h`` when present.
    """
    day = hour_day(pl.col("ts"), catalog.network.timezone)
    return _compute(hourly, "ts", day, "hourly", catalog, standard, AQI_HOURLY)


def aqi_daily(
    daily: pl.DataFrame, catalog: Catalog, *, standard: str | None = None
) -> pl.DataFrame:
    """The ``aqi_daily`` table (daily report) from the ``daily`` table.

    Each row's version is the one in force on its local ``date`` unless ``standard``
    forces one. Only ``valid`` daily statistics of the report's inputs count.
    """
    return _compute(daily, "date", pl.col("date"), "daily", catalog, standard, AQI_DAILY)
