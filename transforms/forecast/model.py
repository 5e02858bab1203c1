"""The forecast model: boosting per pollutant, blended with the baselines, conformal intervals.

Why this design (docs/forecast.md has the numbers):

* ``HistGradientBoostingRegressor`` (scikit-learn), one per pollutant, lead as a feature.
  With ``target = "change"`` it learns the *change from a base* — persistence (same hour of
  the last observed day), else the climatology, else the last value — with squared error:
  the level is carried by the base, so the model does not regress episodes to the mean and
  spends its trees on what persistence gets wrong. ``target = "level"`` (Poisson loss on
  the level) is the former model, kept for models stored before.
* Early stopping on a random tenth of the rows, and ``row_sample`` of the rows: the 72
  leads of one origin are near-duplicates, so a sample trains almost as well, faster.
* **Blend by lead**: the most recent ``calibration_share`` of origins is held out; the
  model fitted on the rest predicts them, and per pollutant and block of ``blend_hours``
  lead hours the convex combination picks the weights of model, persistence and
  climatology that would have forecast the hold-out best. Learned only on data before
  every origin the model later forecasts, so a backtest that scores later origins stays
  honest; where the model adds nothing its weight goes to persistence (short leads) or
  climatology (long leads).
* **Intervals**: split-conformal on the same hold-out — per pollutant, lead day and level
  bin of the blended forecast (Mondrian: episodes get their own, wider band), the
  quantiles of ``(observed + 1) / (forecast + 1)``, with the finite-sample rank.
* The final model is then refitted on all origins (blend weights and bands stay).

sklearn is imported inside the functions (it costs ~1 s to import).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from transforms.forecast.rules import ModelSettings

__all__ = [
    "VERIFIED",
    "ForecastModel",
    "adapt_band_shift",
    "fit_forecast_model",
    "lead_day",
    "predict",
    "ratio_quantiles",
    "verified_rows",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
#: Fewer hold-out rows than this in a cell: the cell borrows a coarser one.
_MIN_CELL = 200


def lead_day(lead: pl.Expr) -> pl.Expr:
    """1 for lead hours 1-24, 2 for 25-48, 3 for 49-72."""
    return ((lead - 1) // 24 + 1).cast(pl.Int32)


@dataclass
class ForecastModel:
    """A fitted model set: one regressor per pollutant, its blend and interval tables."""

    params: tuple[str, ...]
    features: list[str]
    regressors: dict[str, Any]
    ratios: dict[str, dict[int, tuple[float, float]]]
    """Per pollutant and lead day: (low, high) quantiles of (obs + 1) / (forecast + 1)."""
    interval_pct: int
    aqi_ratios: dict[int, tuple[float, float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    fit_seconds: float = 0.0
    threads: int = 1
    target: str = "level"
    """``level`` (Poisson on the value) or ``change`` (squared error on value - base)."""
    blend_hours: int = 0
    blend: dict[str, dict[int, tuple[float, float, float]]] = field(default_factory=dict)
    """Per pollutant and lead block: weights of (model, persistence, climatology)."""
    level_edges: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Per pollutant: the forecast levels between the interval bins."""
    binned_ratios: dict[str, dict[tuple[int, int], tuple[float, float]]] = field(
        default_factory=dict
    )
    """Per pollutant and (lead day, level bin): the interval ratios."""
    aqi_blend: dict[int, tuple[float, float]] = field(default_factory=dict)
    """Per lead day: weights of (forecast AQI, the issue day's observed AQI)."""
    param_features: dict[str, list[str]] = field(default_factory=dict)
    """Per pollutant: its regressor's input columns when not all of ``features``."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a model pickled before a field existed gets that field's default
        for f in dataclasses.fields(self):
            if f.name not in state:
                if f.default_factory is not dataclasses.MISSING:
                    state[f.name] = f.default_factory()
                elif f.default is not dataclasses.MISSING:
                    state[f.name] = f.default
        self.__dict__.update(state)

    def columns(self, param: str) -> list[str]:
        """The input columns of ``param``'s regressor (models stored before: all features)."""
        return self.param_features.get(param) or self.features

    def interval(self, param: str, day: int, level_bin: int | None = None) -> tuple[float, float]:
        binned = self.binned_ratios.get(param, {})
        if level_bin is not None and (day, level_bin) in binned:
            return binned[(day, level_bin)]
        table = self.ratios.get(param, {})
        if not table:
            return (0.5, 1.8)
        return table.get(day, table[max(table)])


def _regressor(settings: ModelSettings, light: bool = False) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="squared_error" if settings.target == "change" else "poisson",
        max_iter=settings.light_max_iter if light else settings.max_iter,
        learning_rate=settings.learning_rate,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        l2_regularization=settings.l2_regularization,
        early_stopping=settings.early_stopping,
        n_iter_no_change=settings.n_iter_no_change,
        validation_fraction=settings.validation_fraction if settings.early_stopping else None,
        random_state=settings.seed,
    )


def _base(frame: pl.DataFrame, param: str) -> pl.Expr:
    """What the change is measured from: persistence, else climatology, else the last value."""
    cols = [c for c in (f"{param}_persist", f"{param}_clim", f"{param}_last") if c in frame.columns]
    return pl.coalesce([pl.col(c) for c in cols]).cast(pl.Float64)


def _xy(
    frame: pl.DataFrame,
    features: list[str],
    param: str,
    target: str = "level",
    sample: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    y = pl.col(f"y_{param}")
    rows = frame.filter(y.is_not_null() & (y >= 0))
    if target == "change":
        rows = rows.with_columns(_base(rows, param).alias("_base")).filter(
            pl.col("_base").is_not_null()
        )
    if sample < 1.0 and rows.height:
        rows = rows.sample(fraction=sample, seed=seed)
    x = rows.select(pl.col(features).cast(pl.Float32)).to_numpy()
    if target == "change":
        return x, (rows[f"y_{param}"] - rows["_base"]).to_numpy()
    return x, rows[f"y_{param}"].to_numpy()


def ratio_quantiles(
    observed: np.ndarray[Any, Any], forecast: np.ndarray[Any, Any], quantiles: tuple[float, float]
) -> tuple[float, float]:
    """Quantiles of (observed + 1) / (forecast + 1): the multiplicative interval.

    Split-conformal ranks: the ``ceil((n + 1) q) / n`` empirical quantile of the upper tail
    (and its mirror below), so a band covers at least its nominal share of exchangeable
    new cases.
    """
    ok = np.isfinite(observed) & np.isfinite(forecast)
    n = int(ok.sum())
    if n < 10:
        return (0.5, 1.8)
    ratio = (observed[ok] + 1.0) / (np.maximum(forecast[ok], 0.0) + 1.0)
    lo_q = max(0.0, math.floor((n + 1) * quantiles[0]) / n - 1.0 / n)
    hi_q = min(1.0, math.ceil((n + 1) * quantiles[1]) / n)
    low, high = np.quantile(ratio, [lo_q, hi_q])
    return float(low), float(high)


def _split(frame: pl.DataFrame, share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    origins = frame.select(pl.col("origin").unique().sort()).to_series()
    n_hold = max(1, math.ceil(len(origins) * share)) if len(origins) > 1 else 0
    if n_hold == 0 or n_hold >= len(origins):
        return frame, frame.clear()
    cut = origins[len(origins) - n_hold]
    return frame.filter(pl.col("origin") < cut), frame.filter(pl.col("origin") >= cut)


def param_features(features: list[str], p: str, settings: ModelSettings) -> list[str]:
    """``features`` without the lags of pollutants outside ``lag_params`` (other than ``p``).

    Every model sees the lags of the ``lag_params`` pollutants and its own; the lags of the
    other pollutants (PM10, SO2, CO for the PM2.5 model) would add columns — training time —
    for little. Empty ``lag_params``: every pollutant's lags (the models stored before).
    """
    if not settings.lag_params:
        return list(features)
    others = {q for q in settings.params if q != p and q not in settings.lag_params}
    return [f for f in features if not any(f.startswith(f"{q}_") for q in others)]


def _fit_one(frame: pl.DataFrame, features: list[str], p: str, settings: ModelSettings) -> Any:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    light = p in settings.light_params
    sample = settings.light_row_sample if light else settings.row_sample
    x, y = _xy(frame, features, p, settings.target, sample, settings.seed)
    if len(y) < 50:
        return None
    # A feature the network never measured (a lake without temperature or pressure) is all
    # missing: scikit-learn's binning fails on such a column ("window shape cannot be larger
    # than input array shape"). As a constant it carries no split, so the trees ignore it.
    x[:, np.isnan(x).all(axis=0)] = 0.0
    with threadpool_limits(limits=settings.threads or None):
        reg = _regressor(settings, light)
        reg.fit(x, y)
    return reg


def _fit(
    frame: pl.DataFrame, features: list[str], params: tuple[str, ...], settings: ModelSettings
) -> dict[str, Any]:
    """One regressor per pollutant; ``jobs`` > 1 fits them in threads (sklearn frees the GIL)."""

    def fit(p: str) -> Any:
        return _fit_one(frame, param_features(features, p, settings), p, settings)

    if settings.jobs > 1 and len(params) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
            fitted = list(pool.map(fit, params))
    else:
        fitted = [fit(p) for p in params]
    return {p: reg for p, reg in zip(params, fitted, strict=True) if reg is not None}


def _inputs(model: ForecastModel, design: pl.DataFrame, p: str, cache: dict[Any, Any]) -> Any:
    """``p``'s regressor inputs as float32 (shared by the pollutants with the same columns)."""
    cols = tuple(model.columns(p))
    if cols not in cache:
        cache[cols] = design.select(pl.col(list(cols)).cast(pl.Float32)).to_numpy()
    return cache[cols]


def _raw_point(model: ForecastModel, design: pl.DataFrame, p: str, x: Any) -> FloatArray:
    """The regressor's forecast of the level (before the blend)."""
    from threadpoolctl import threadpool_limits

    reg = model.regressors[p]
    with threadpool_limits(limits=model.threads or None):
        raw = np.asarray(reg.predict(x), dtype=np.float64) if len(x) else np.zeros(0)
    if model.target == "change":
        base = design.select(_base(design, p)).to_series().to_numpy().astype(np.float64)
        raw = np.where(np.isnan(base), np.nan, base + raw)
    return np.maximum(raw, 0.0)


def _baselines(design: pl.DataFrame, p: str) -> tuple[FloatArray, FloatArray]:
    out = []
    for c in (f"{p}_persist", f"{p}_clim"):
        col = design[c] if c in design.columns else pl.Series([None] * design.height)
        out.append(col.cast(pl.Float64).to_numpy().astype(np.float64))
    return out[0], out[1]


def _blended(
    model: ForecastModel, p: str, raw: FloatArray, persist: FloatArray, clim: FloatArray,
    leads: np.ndarray[Any, Any],
) -> FloatArray:  # fmt: skip
    """Model, persistence and climatology weighted by lead block (missing parts: the model)."""
    weights = model.blend.get(p)
    point = raw.copy()
    if weights and model.blend_hours:
        blocks = (leads - 1) // model.blend_hours
        for block, (wm, wp, wc) in weights.items():
            sel = blocks == block
            m = raw[sel]
            pe = np.where(np.isnan(persist[sel]), m, persist[sel])
            cl = np.where(np.isnan(clim[sel]), pe, clim[sel])
            point[sel] = wm * m + wp * pe + wc * cl
    # no model value (no base for a change model): persistence, then climatology
    point = np.where(np.isnan(point), np.where(np.isnan(persist), clim, persist), point)
    return np.maximum(point, 0.0)


def _level_bin(model: ForecastModel, p: str, point: FloatArray) -> np.ndarray[Any, Any]:
    edges = model.level_edges.get(p, ())
    return (
        np.searchsorted(np.asarray(edges), point, side="right")
        if edges
        else np.zeros(len(point), dtype=np.int64)
    )


def predict(model: ForecastModel, design: pl.DataFrame) -> pl.DataFrame:
    """``design`` with ``pred_<p>``, ``lower_<p>``, ``upper_<p>`` per pollutant with a model."""
    cache: dict[Any, Any] = {}
    leads = design["lead"].to_numpy()
    days = (leads - 1) // 24 + 1
    cols: list[pl.Series] = []
    for p in model.params:
        if p not in model.regressors:
            continue
        raw = _raw_point(model, design, p, _inputs(model, design, p, cache))
        persist, clim = _baselines(design, p)
        point = _blended(model, p, raw, persist, clim, leads)
        bins = _level_bin(model, p, point)
        low = np.empty_like(point)
        high = np.empty_like(point)
        for day in np.unique(days):
            for b in np.unique(bins):
                sel = (days == day) & (bins == b)
                lo, hi = model.interval(p, int(day), int(b) if model.level_edges else None)
                low[sel] = np.maximum((point[sel] + 1.0) * lo - 1.0, 0.0)
                high[sel] = (point[sel] + 1.0) * hi - 1.0
        # no base and no baseline (a series without history): null, never NaN downstream
        cols += [
            pl.Series(f"pred_{p}", point, nan_to_null=True),
            pl.Series(f"lower_{p}", np.minimum(low, point), nan_to_null=True),
            pl.Series(f"upper_{p}", np.maximum(high, point), nan_to_null=True),
        ]
    return design.with_columns(cols)


def _convex_weights(y: FloatArray, parts: list[FloatArray]) -> tuple[float, float, float]:
    """Weights on the simplex (step 0.05) of (model, persistence, climatology) with least SSE.

    Convex on purpose: a blend cannot then scale the level up or down, which a hold-out
    without an episode would otherwise teach it to do for the next episode.
    """
    a = np.column_stack(parts)
    gram = a.T @ a
    cross = a.T @ y
    steps = np.arange(0, 21) / 20.0
    grid = np.array([(m, q, 1.0 - m - q) for m in steps for q in steps if m + q <= 1.0 + 1e-9])
    sse = np.einsum("ij,jk,ik->i", grid, gram, grid) - 2.0 * grid @ cross
    best = grid[int(np.argmin(sse))]
    return (float(best[0]), float(best[1]), float(max(best[2], 0.0)))


def learn_blend(model: ForecastModel, hold: pl.DataFrame, blend_hours: int) -> None:
    """Blend weights per pollutant and lead block from hold-out forecasts of the bare model."""
    model.blend_hours = blend_hours
    model.blend = {}
    if not blend_hours or hold.is_empty():
        return
    cache: dict[Any, Any] = {}
    leads = hold["lead"].to_numpy()
    blocks = (leads - 1) // blend_hours
    for p in model.regressors:
        raw = _raw_point(model, hold, p, _inputs(model, hold, p, cache))
        persist, clim = _baselines(hold, p)
        y = hold[f"y_{p}"].cast(pl.Float64).to_numpy().astype(np.float64)
        ok = np.isfinite(y) & np.isfinite(raw) & np.isfinite(persist)
        cl = np.where(np.isnan(clim), persist, clim)
        table: dict[int, tuple[float, float, float]] = {}
        for block in np.unique(blocks):
            sel = ok & (blocks == block)
            if sel.sum() < _MIN_CELL:
                continue
            table[int(block)] = _convex_weights(y[sel], [raw[sel], persist[sel], cl[sel]])
        model.blend[p] = table


def _band_tables(
    y: FloatArray,
    point: FloatArray,
    days: np.ndarray[Any, Any],
    which: np.ndarray[Any, Any],
    bins: int,
    quantiles: tuple[float, float],
) -> tuple[dict[int, tuple[float, float]], dict[tuple[int, int], tuple[float, float]]]:
    by_day = {
        int(d): ratio_quantiles(y[days == d], point[days == d], quantiles) for d in np.unique(days)
    }
    binned: dict[tuple[int, int], tuple[float, float]] = {}
    if bins > 1:
        for d in np.unique(days):
            for b in range(bins):
                sel = (days == d) & (which == b)
                if sel.sum() >= _MIN_CELL:
                    binned[(int(d), b)] = ratio_quantiles(y[sel], point[sel], quantiles)
    return by_day, binned


def _covered(
    y: FloatArray,
    point: FloatArray,
    days: np.ndarray[Any, Any],
    which: np.ndarray[Any, Any],
    tables: tuple[dict[int, tuple[float, float]], dict[tuple[int, int], tuple[float, float]]],
) -> float:
    by_day, binned = tables
    lo = np.full_like(point, 0.5)
    hi = np.full_like(point, 1.8)
    for d in np.unique(days):
        for b in np.unique(which):
            sel = (days == d) & (which == b)
            lo[sel], hi[sel] = binned.get((int(d), int(b))) or by_day.get(int(d)) or (0.5, 1.8)
    low = (point + 1.0) * lo - 1.0
    high = (point + 1.0) * hi - 1.0
    return float(np.mean((y >= np.minimum(low, point)) & (y <= np.maximum(high, point))))


def shift_aware_level(
    y: FloatArray,
    point: FloatArray,
    days: np.ndarray[Any, Any],
    which: np.ndarray[Any, Any],
    order: np.ndarray[Any, Any],
    bins: int,
    nominal: float,
) -> float:
    """The central level whose bands, fitted on the older half of the hold-out, cover
    ``nominal`` of its newer half.

    Split-conformal promises its level only for exchangeable cases; the next weeks are not
    exchangeable with the last ones (seasons turn, episodes come and go), so bands at the
    nominal level cover less. How much less is measured on the hold-out itself, one step
    back in time, and the band level raised by that much — learned from the past only.
    """
    early = order < np.median(order)
    late = ~early
    if early.sum() < _MIN_CELL or late.sum() < _MIN_CELL:
        return nominal
    for level in np.arange(nominal, 0.99, 0.01):
        tail = (1.0 - level) / 2.0
        tables = _band_tables(
            y[early], point[early], days[early], which[early], bins, (tail, 1.0 - tail)
        )
        if _covered(y[late], point[late], days[late], which[late], tables) >= nominal:
            return float(level)
    return 0.98


#: Verified forecasts (``adapt_band_shift``'s input): a forecast pollutant, the observed value
#: and the band.
VERIFIED = pl.Schema(
    {"param": pl.String, "y": pl.Float64, "lower": pl.Float64, "upper": pl.Float64}
)

#: The band level stays inside these bounds whatever the feedback says.
_LEVEL_BOUNDS = (0.5, 0.98)


def adapt_band_shift(
    shift: dict[str, float], verified: pl.DataFrame, nominal: float, gamma: float
) -> dict[str, float]:
    """The band-level shift per pollutant after the coverage of verified forecasts.

    ``verified`` has ``param, y, lower, upper``: forecasts issued before, whose hours have
    since been observed. Adaptive conformal inference (Gibbs & Candès 2021, ACI): each
    update moves the shift by ``gamma × (nominal − coverage)`` — bands that covered too
    little are widened next time, too much narrowed — so the long-run coverage tracks the
    nominal level even when the errors drift (seasons, episodes), which a band fitted on
    one hold-out cannot promise. Fewer than ``_MIN_CELL`` verified hours: no update.
    """
    out = dict(shift)
    if verified.is_empty() or gamma <= 0:
        return out
    cov = (
        verified.filter(pl.col("y").is_not_null() & pl.col("lower").is_not_null())
        .group_by("param")
        .agg(pl.len().alias("n"), pl.col("y").is_between("lower", "upper").mean().alias("c"))
    )
    low, high = _LEVEL_BOUNDS
    for p, n, c in cov.iter_rows():
        if n >= _MIN_CELL:
            new = out.get(p, 0.0) + gamma * (nominal - float(c))
            out[p] = round(min(max(new, low - nominal), high - nominal), 4)
    return out


def verified_rows(pred: pl.DataFrame, params: tuple[str, ...]) -> pl.DataFrame:
    """``param, y, lower, upper`` of scored forecasts (``y_<p>``, ``lower_<p>``, …) with a y."""
    parts = [
        pred.select(
            pl.lit(p).alias("param"),
            pl.col(f"y_{p}").cast(pl.Float64).alias("y"),
            pl.col(f"lower_{p}").cast(pl.Float64).alias("lower"),
            pl.col(f"upper_{p}").cast(pl.Float64).alias("upper"),
        )
        for p in params
        if f"lower_{p}" in pred.columns and f"y_{p}" in pred.columns
    ]
    if not parts:
        return pl.DataFrame(schema=VERIFIED)
    return pl.concat(parts).filter(pl.col("y").is_not_null())


def calibrate_intervals(
    model: ForecastModel,
    hold_pred: pl.DataFrame,
    quantiles: tuple[float, float],
    bins: int,
    shift: dict[str, float] | None = None,
) -> None:
    """Conformal ratio bands per pollutant and lead day (and level bin) from hold-out forecasts.

    The band level is :func:`shift_aware_level` plus the pollutant's ``shift`` (the ACI
    feedback of :func:`adapt_band_shift`; stored in ``metrics["band_level"]``).
    """
    nominal = quantiles[1] - quantiles[0]
    levels: dict[str, float] = {}
    shift = shift or {}
    for p in model.regressors:
        # a row without a point forecast (no base) would make every level edge NaN
        scored = hold_pred.filter(
            pl.col(f"y_{p}").is_not_null() & pl.col(f"pred_{p}").is_not_null()
        )
        y = scored[f"y_{p}"].cast(pl.Float64).to_numpy()
        point = scored[f"pred_{p}"].cast(pl.Float64).to_numpy()
        days = (scored["lead"].to_numpy() - 1) // 24 + 1
        order = scored["origin"].dt.epoch("s").to_numpy()
        nb = bins  # per pollutant: one with too few rows must not unbin the next ones
        if bins > 1 and len(point) >= _MIN_CELL * bins:
            edges = tuple(float(e) for e in np.quantile(point, np.arange(1, bins) / bins))
            model.level_edges[p] = edges
        else:
            model.level_edges.pop(p, None)
            nb = 1
        edges_arr = np.asarray(model.level_edges.get(p, ()))
        which = (
            np.searchsorted(edges_arr, point, side="right")
            if len(edges_arr)
            else np.zeros(len(point), dtype=np.int64)
        )
        level = shift_aware_level(y, point, days, which, order, nb, nominal)
        level = min(max(level + shift.get(p, 0.0), _LEVEL_BOUNDS[0]), _LEVEL_BOUNDS[1])
        levels[p] = round(level, 3)
        tail = (1.0 - level) / 2.0
        model.ratios[p], model.binned_ratios[p] = _band_tables(
            y, point, days, which, nb, (tail, 1.0 - tail)
        )
    model.metrics["band_level"] = levels


def _metrics(hold: pl.DataFrame, params: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        if f"pred_{p}" not in hold.columns:
            continue
        scored = hold.filter(pl.col(f"y_{p}").is_not_null()).with_columns(
            lead_day(pl.col("lead")).alias("day"),
            (pl.col(f"pred_{p}") - pl.col(f"y_{p}")).alias("err"),
            (pl.col(f"{p}_persist") - pl.col(f"y_{p}")).alias("perr"),
        )
        stats = (
            scored.group_by("day")
            .agg(
                pl.len().alias("n"),
                (pl.col("err") ** 2).mean().sqrt().alias("rmse"),
                pl.col("err").abs().mean().alias("mae"),
                (pl.col("perr") ** 2).mean().sqrt().alias("persistence_rmse"),
            )
            .sort("day")
        )
        out[p] = {
            str(r["day"] * 24): {k: r[k] for k in ("n", "rmse", "mae", "persistence_rmse")}
            for r in stats.iter_rows(named=True)
        }
    return out


def fit_forecast_model(
    design: pl.DataFrame,
    settings: ModelSettings,
    *,
    features: list[str],
    refit: bool = True,
    band_shift: dict[str, float] | None = None,
) -> tuple[ForecastModel, pl.DataFrame]:
    """Fit, calibrate on the held-out recent origins, then refit on everything.

    ``band_shift``: the ACI shift of each pollutant's band level (:func:`adapt_band_shift`
    from the verified forecasts of the models before; stored in ``metrics``).

    Returns the model and the hold-out rows with their predictions (for the daily AQI
    interval, which needs the catalog: see :func:`calibrate_aqi`).
    """
    import time

    start = time.perf_counter()
    params = settings.params
    train, hold = _split(design, settings.calibration_share)
    regs = _fit(train, features, params, settings)
    model = ForecastModel(
        params, features, regs, {}, settings.interval_pct, threads=settings.threads,
        target=settings.target,
        param_features={
            p: param_features(features, p, settings) for p in params if settings.lag_params
        },
    )  # fmt: skip
    hold_pred = hold
    if hold.height:
        learn_blend(model, hold, settings.blend_hours)
        model.level_edges = {}
        hold_pred = predict(model, hold)  # blended points; bands follow from them
        calibrate_intervals(
            model, hold_pred, settings.quantiles, settings.interval_bins, band_shift
        )
        hold_pred = predict(model, hold)
    model.metrics["band_shift"] = dict(band_shift or {})
    if hold.height:
        model.metrics["holdout"] = _metrics(hold_pred, params)
    if model.blend:
        model.metrics["blend"] = {
            p: {str(k): [round(w, 3) for w in v] for k, v in t.items()}
            for p, t in model.blend.items()
        }
    if refit and hold.height:
        model.regressors = _fit(design, features, params, settings)
    model.rows = sum(int(design.select((pl.col(f"y_{p}") >= 0).sum()).item()) for p in params)
    model.fit_seconds = time.perf_counter() - start
    return model, hold_pred


def calibrate_aqi(
    model: ForecastModel,
    forecast_aqi: pl.DataFrame,
    observed_aqi: pl.DataFrame,
    quantiles: tuple[float, float],
) -> None:
    """Set the daily AQI interval ratios from hold-out ``key, date, day, aqi`` vs observed."""
    joined = forecast_aqi.join(
        observed_aqi.select("station", "date", pl.col("aqi").alias("obs")),
        on=["station", "date"],
        how="inner",
    )
    for (day,), group in joined.group_by("day"):
        model.aqi_ratios[int(day)] = ratio_quantiles(
            group["obs"].cast(pl.Float64).to_numpy(),
            group["aqi"].cast(pl.Float64).to_numpy(),
            quantiles,
        )
