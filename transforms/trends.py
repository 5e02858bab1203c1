"""Long-term trends: Theil–Sen slope with Mann–Kendall significance (numpy and the stdlib).

* :func:`theil_sen` — the median of all pairwise slopes (Theil 1950, Sen 1968) with the
  Conover (1980) intercept ``median(y) − slope · median(t)`` and Sen's rank-based confidence
  interval;
* :func:`mann_kendall` — the Mann–Kendall S statistic with the tie correction of its
  variance ``Var S = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18`` and the continuity-corrected
  ``Z``; ``method="hamed_rao"`` (default) inflates ``Var S`` for autocorrelation following
  Hamed & Rao (1998): ranks of the Sen-detrended series, their significant lag-k
  autocorrelations ``ρ_k`` (|ρ_k| > z_{1−α/2}/√n), ``n/n* = 1 + 2/(n(n−1)(n−2)) Σ (n−k)(n−k−1)
  (n−k−2) ρ_k``; ``method="prewhiten"`` is the lag-1 pre-whitening of von Storch (1995);
  ``method="original"`` is the plain test. Results agree with ``pymannkendall`` (tests).
* :func:`monthly_means`, :func:`deseasonalise` and :func:`trend_table` — monthly means from
  the ``daily`` table (GB 3095 Table 4: ≥ 27 valid days, ≥ 25 in February), optional removal
  of the mean seasonal cycle, and one trend row per station (or ``city``) and parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from aircarbon.core.catalog import Catalog

__all__ = [
    "TREND_SCHEMA",
    "MannKendall",
    "Method",
    "TheilSen",
    "deseasonalise",
    "mann_kendall",
    "monthly_means",
    "theil_sen",
    "trend_table",
]

Method = Literal["original", "hamed_rao", "prewhiten"]
FloatArray = npt.NDArray[np.float64]
_NORMAL = NormalDist()


def _ppf(q: float) -> float:
    return _NORMAL.inv_cdf(q)


def _rank(x: FloatArray) -> FloatArray:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=float)
    ranks[order] = np.arange(1, x.size + 1, dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    out: FloatArray = sums[inverse] / counts[inverse]
    return out


@dataclass(frozen=True, slots=True)
class TheilSen:
    slope: float
    intercept: float
    slope_lo: float
    slope_hi: float
    """Sen's (1968) confidence interval of the slope at the requested level."""


@dataclass(frozen=True, slots=True)
class MannKendall:
    trend: str  # "increasing" | "decreasing" | "no trend"
    h: bool
    p: float
    z: float
    tau: float
    s: float
    var_s: float
    n: int
    slope: float
    intercept: float
    slope_lo: float
    slope_hi: float
    method: str


def _clean(
    y: Sequence[float] | FloatArray, t: Sequence[float] | FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    ya = np.asarray(y, dtype=float)
    ta = np.arange(ya.size, dtype=float) if t is None else np.asarray(t, dtype=float)
    keep = np.isfinite(ya) & np.isfinite(ta)
    return ya[keep], ta[keep]


def _pairs(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    i, j = np.triu_indices(n, k=1)
    return i, j


def _s_and_var(y: FloatArray) -> tuple[float, float]:
    """Mann–Kendall S and its tie-corrected variance."""
    n = y.size
    i, j = _pairs(n)
    s = float(np.sign(y[j] - y[i]).sum())
    _, counts = np.unique(y, return_counts=True)
    ties = counts[counts > 1].astype(float)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18.0
    return s, var


def theil_sen(
    y: Sequence[float] | FloatArray,
    t: Sequence[float] | FloatArray | None = None,
    *,
    alpha: float = 0.05,
) -> TheilSen:
    """Theil–Sen slope of ``y`` against ``t`` (default 0, 1, 2, …; NaNs dropped)."""
    ya, ta = _clean(y, t)
    n = ya.size
    if n < 2:
        nan = float("nan")
        return TheilSen(nan, nan, nan, nan)
    i, j = _pairs(n)
    dt = ta[j] - ta[i]
    ok = dt != 0
    slopes = np.sort((ya[j] - ya[i])[ok] / dt[ok])
    slope = float(np.median(slopes))
    intercept = float(np.median(ya) - slope * np.median(ta))
    # Sen (1968): ranks (N − C)/2 and (N + C)/2 + 1 of the ordered slopes, C = z·√Var S
    _, var = _s_and_var(ya)
    c = _ppf(1.0 - alpha / 2.0) * math.sqrt(var)
    m = slopes.size
    lo = int(np.clip(math.floor((m - c) / 2.0), 0, m - 1))
    hi = int(np.clip(math.ceil((m + c) / 2.0), 0, m - 1))
    return TheilSen(slope, intercept, float(slopes[lo]), float(slopes[hi]))


def _acf(x: FloatArray, nlags: int) -> FloatArray:
    y = x - x.mean()
    n = x.size
    acov = np.correlate(y, y, "full")[n - 1 :] / n
    out: FloatArray = acov[: nlags + 1] / acov[0]
    return out


def mann_kendall(
    y: Sequence[float] | FloatArray,
    t: Sequence[float] | FloatArray | None = None,
    *,
    alpha: float = 0.05,
    method: Method = "hamed_rao",
    max_lag: int | None = None,
) -> MannKendall:
    """Mann–Kendall trend test of ``y`` (time order ``t``) with the Theil–Sen slope.

    ``max_lag`` limits the Hamed–Rao autocorrelation lags (default: all, n − 1).
    """
    ya, ta = _clean(y, t)
    n = ya.size
    sen = theil_sen(ya, ta, alpha=alpha)
    if n < 3:
        nan = float("nan")
        return MannKendall(
            "no trend",
            False,
            nan,
            nan,
            nan,
            nan,
            nan,
            n,
            sen.slope,
            sen.intercept,
            sen.slope_lo,
            sen.slope_hi,
            method,
        )
    series = ya
    if method == "prewhiten":
        r1 = _acf(ya, 1)[1]
        series = ya[1:] - r1 * ya[:-1]
    m = series.size
    s, var = _s_and_var(series)
    tau = s / (0.5 * m * (m - 1))
    if method == "hamed_rao":
        lags = (n - 1) if max_lag is None else min(max_lag, n - 1)
        ranks = _rank(ya - (ta - ta[0] + 1.0) * sen.slope)
        rho = _acf(ranks, lags)
        bound = _ppf(1.0 - alpha / 2.0) / math.sqrt(n)
        k = np.arange(1, lags + 1, dtype=float)
        sig = np.abs(rho[1:]) > bound
        total = float(np.sum(((n - k) * (n - k - 1) * (n - k - 2) * rho[1:])[sig]))
        var = var * (1.0 + 2.0 / (n * (n - 1) * (n - 2)) * total)
    if s > 0:
        z = (s - 1.0) / math.sqrt(var)
    elif s < 0:
        z = (s + 1.0) / math.sqrt(var)
    else:
        z = 0.0
    p = 2.0 * (1.0 - _NORMAL.cdf(abs(z)))
    h = bool(abs(z) > _ppf(1.0 - alpha / 2.0))
    trend = "no trend" if not h else ("increasing" if z > 0 else "decreasing")
    return MannKendall(
        trend,
        h,
        p,
        float(z),
        float(tau),
        s,
        float(var),
        n,
        sen.slope,
        sen.intercept,
        sen.slope_lo,
        sen.slope_hi,
        method,
    )


def monthly_means(daily: pl.DataFrame, catalog: Catalog, *, params: Sequence[str]) -> pl.DataFrame:
    """Monthly means of valid daily values: ``station, param, month, value, n, valid``.

    ``valid``: ≥ ``annual.min_days_per_month`` valid days (``min_days_february`` in
    February), the GB 3095 Table 4 rule for monthly statistics.
    """
    v = catalog.validity
    rows = daily.filter(pl.col("param").is_in(list(params)) & pl.col("valid"))
    out = rows.group_by("station", "param", pl.col("date").dt.truncate("1mo").alias("month")).agg(
        pl.col("value").mean().alias("value"), pl.len().cast(pl.UInt32).alias("n")
    )
    need = (
        pl.when(pl.col("month").dt.month() == 2)
        .then(v.annual_min_days_february)
        .otherwise(v.annual_min_days_per_month)
    )
    return out.with_columns((pl.col("n") >= need).alias("valid")).sort("station", "param", "month")


def deseasonalise(monthly: pl.DataFrame) -> pl.DataFrame:
    """Valid monthly means minus their mean seasonal cycle (per station and param).

    The cycle is estimated on the residuals of a least-squares line through the series (so
    the trend does not leak into it): for each calendar month the mean residual, centred to
    a zero mean over the twelve months. Subtracting it keeps level and trend.
    """
    ok = monthly.filter(pl.col("valid"))
    keys = ("station", "param")
    t = pl.col("month").dt.year() + (pl.col("month").dt.month() - 1) / 12.0
    slope = pl.cov(t, pl.col("value")).over(keys) / t.var().over(keys)
    line = pl.col("value").mean().over(keys) + slope * (t - t.mean().over(keys))
    cal = pl.col("month").dt.month()
    out = ok.with_columns((pl.col("value") - line).alias("_resid"))
    out = out.with_columns(pl.col("_resid").mean().over(*keys, cal).alias("_season"))
    centre = (
        out.unique(["station", "param", "month"])
        .group_by(*keys, cal.alias("_m"))
        .agg(pl.col("_season").first())
        .group_by(*keys)
        .agg(pl.col("_season").mean().alias("_centre"))
    )
    out = out.join(centre, on=list(keys), how="left")
    return out.with_columns(
        (pl.col("value") - (pl.col("_season") - pl.col("_centre"))).alias("value")
    ).drop("_resid", "_season", "_centre")


TREND_SCHEMA = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "n": pl.UInt32(),
        "first": pl.Date(),
        "last": pl.Date(),
        "slope_per_year": pl.Float64(),
        "slope_lo": pl.Float64(),
        "slope_hi": pl.Float64(),
        "intercept": pl.Float64(),
        "tau": pl.Float64(),
        "s": pl.Float64(),
        "var_s": pl.Float64(),
        "z": pl.Float64(),
        "p": pl.Float64(),
        "trend": pl.String(),
        "method": pl.String(),
        "deseasonalised": pl.Boolean(),
    }
)


def trend_table(
    daily: pl.DataFrame,
    catalog: Catalog,
    *,
    params: Sequence[str],
    deseasonalised: bool = True,
    method: Method = "hamed_rao",
    city: bool = True,
    min_months: int = 24,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """One Mann–Kendall/Theil–Sen row per station (and ``city``) and parameter, on valid
    monthly means (deseasonalised by default); slopes in units per year. Series with fewer
    than ``min_months`` valid months are skipped."""
    monthly = monthly_means(daily, catalog, params=params)
    if city:
        town = (
            monthly.filter(pl.col("valid"))
            .group_by("param", "month")
            .agg(pl.col("value").mean(), pl.len().cast(pl.UInt32).alias("n"))
            .with_columns(pl.lit("city").alias("station"), pl.lit(True).alias("valid"))
        )
        monthly = pl.concat([monthly, town.select(monthly.columns)])
    series = deseasonalise(monthly) if deseasonalised else monthly.filter(pl.col("valid"))
    rows = []
    for (station, param), part in series.sort("month").group_by(
        ["station", "param"], maintain_order=True
    ):
        if part.height < min_months:
            continue
        months = part.get_column("month")
        t = (months.dt.year() * 12 + months.dt.month() - 1).to_numpy().astype(float) / 12.0
        res = mann_kendall(part.get_column("value").to_numpy(), t, alpha=alpha, method=method)
        rows.append(
            {
                "station": station,
                "param": param,
                "n": res.n,
                "first": months.min(),
                "last": months.max(),
                "slope_per_year": res.slope,
                "slope_lo": res.slope_lo,
                "slope_hi": res.slope_hi,
                "intercept": res.intercept,
                "tau": res.tau,
                "s": res.s,
                "var_s": res.var_s,
                "z": res.z,
                "p": res.p,
                "trend": res.trend,
                "method": method,
                "deseasonalised": deseasonalised,
            }
        )
    return pl.DataFrame(rows, schema=TREND_SCHEMA)
