"""The model's parts on synthetic data: blend weights, conformal bands, skill intervals."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest

from transforms.forecast.model import (
    ForecastModel,
    calibrate_intervals,
    learn_blend,
    predict,
    shift_aware_level,
)
from transforms.forecast.scoring import skill_intervals

ORIGIN0 = dt.datetime(2026, 1, 1, 16, tzinfo=dt.UTC)


class _Constant:
    """A stand-in regressor: predicts column ``col`` of X plus ``offset``."""

    def __init__(self, col: int, offset: float = 0.0) -> None:
        self.col = col
        self.offset = offset

    def predict(self, x: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        return x[:, self.col] + self.offset


def _frame(n_origins: int, rng: np.random.Generator, noise: float) -> pl.DataFrame:
    """Origins x 72 leads of one series: truth, persistence = truth, a noisy 'model'."""
    rows = n_origins * 72
    truth = rng.gamma(4.0, 15.0, rows)
    return pl.DataFrame(
        {
            "station": ["s"] * rows,
            "origin": [ORIGIN0 + dt.timedelta(days=i // 72) for i in range(rows)],
            "lead": np.tile(np.arange(1, 73), n_origins).astype(np.int32),
            "y_pm25": truth,
            "pm25_persist": truth + rng.normal(0, 1.0, rows),
            "pm25_clim": np.full(rows, truth.mean()),
            "noisy": truth + rng.normal(0, noise, rows),
        }
    )


def _model(regressor: object) -> ForecastModel:
    return ForecastModel(("pm25",), ["noisy"], {"pm25": regressor}, {}, 80, target="level")


def test_blend_weights_go_to_what_forecast_the_hold_out_best() -> None:
    rng = np.random.default_rng(1)
    hold = _frame(40, rng, noise=30.0)
    model = _model(_Constant(0))
    learn_blend(model, hold, 24)
    weights = model.blend["pm25"]
    assert set(weights) == {0, 1, 2}
    for wm, wp, wc in weights.values():
        assert wp > 0.9  # persistence is nearly the truth here, the model is noise
        assert wm + wp + wc == pytest.approx(1.0)  # convex: the blend cannot rescale
    blended = predict(model, hold)
    rmse = float(np.sqrt(((blended["pred_pm25"] - blended["y_pm25"]) ** 2).mean()))
    assert rmse < 3.0  # the noisy model alone is ~30


def test_conformal_bands_cover_their_level_on_exchangeable_cases() -> None:
    rng = np.random.default_rng(2)
    hold = _frame(60, rng, noise=0.0).with_columns(
        (pl.col("y_pm25") * np.exp(rng.normal(0, 0.3, 60 * 72))).alias("y_pm25")
    )
    model = _model(_Constant(0))
    calibrate_intervals(model, predict(model, hold), (0.1, 0.9), bins=3)
    assert model.metrics["band_level"]["pm25"] < 0.83  # no shift: (close to) nominal
    fresh = _frame(60, np.random.default_rng(3), noise=0.0)
    fresh = fresh.with_columns(
        (pl.col("y_pm25") * np.exp(np.random.default_rng(4).normal(0, 0.3, 60 * 72))).alias(
            "y_pm25"
        )
    )
    out = predict(model, fresh)
    coverage = out.select(
        pl.col("y_pm25").is_between(pl.col("lower_pm25"), pl.col("upper_pm25")).mean()
    ).item()
    assert 0.78 <= coverage <= 0.82, coverage


def test_shift_aware_level_widens_when_the_newer_half_is_more_dispersed() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    point = rng.gamma(4.0, 15.0, n)
    order = np.arange(n)
    spread = np.where(order < n // 2, 0.2, 0.4)  # the newer half twice as uncertain
    y = point * np.exp(rng.normal(0, 1, n) * spread)
    days = np.ones(n, dtype=np.int64)
    which = np.zeros(n, dtype=np.int64)
    level = shift_aware_level(y, point, days, which, order, 1, 0.8)
    assert level > 0.9
    same = point * np.exp(rng.normal(0, 0.3, n))
    assert shift_aware_level(same, point, days, which, order, 1, 0.8) < 0.84


def test_skill_intervals_bracket_the_skill_and_narrow_with_data() -> None:
    rng = np.random.default_rng(6)

    def frame(n: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "origin": [ORIGIN0 + dt.timedelta(days=i) for i in range(n)],
                "param": ["pm25"] * n,
                "day": [1] * n,
                "se": rng.gamma(2.0, 50.0, n),
                "pse": rng.gamma(2.0, 100.0, n),
            },
            schema_overrides={"day": pl.Int32},
        )

    small, large = frame(40), frame(400)
    for data in (small, large):
        row = skill_intervals(data, n_boot=400).row(0, named=True)
        point = 1.0 - float(np.sqrt(data["se"].sum() / data["pse"].sum()))
        assert row["skill_low"] < point < row["skill_high"]
    rows = [skill_intervals(d, n_boot=400).row(0, named=True) for d in (small, large)]
    width = [r["skill_high"] - r["skill_low"] for r in rows]
    assert width[1] < width[0] / 2


def test_a_row_without_any_baseline_is_forecast_as_null_not_nan() -> None:
    rng = np.random.default_rng(7)
    frame = _frame(2, rng, noise=1.0).with_columns(
        pl.when(pl.col("lead") == 5).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("pm25_persist", "pm25_clim")
    )
    model = ForecastModel(("pm25",), ["noisy"], {"pm25": _Constant(0, -1.0)}, {}, 80,
                          target="change")  # fmt: skip
    out = predict(model, frame)
    for col in ("pred_pm25", "lower_pm25", "upper_pm25"):
        assert out[col].is_nan().sum() == 0
        assert out.filter(pl.col("lead") == 5)[col].null_count() == 2
        assert out.filter(pl.col("lead") != 5)[col].null_count() == 0


def test_a_feature_the_network_never_measured_does_not_stop_training() -> None:
    """A real lake may lack a met parameter: its feature column is all missing."""
    import dataclasses

    from transforms.forecast.model import _fit_one
    from transforms.forecast.rules import load_forecast_rules

    settings = dataclasses.replace(
        load_forecast_rules().model, max_iter=5, early_stopping=False, row_sample=1.0
    )
    rng = np.random.default_rng(3)
    frame = _frame(3, rng, noise=5.0).with_columns(
        temp_forecast=pl.lit(None, pl.Float64), **{"pm25_lag1": pl.col("pm25_persist")}
    )
    reg = _fit_one(frame, ["noisy", "temp_forecast", "pm25_lag1"], "pm25", settings)
    assert reg is not None
    x = frame.select(pl.col(["noisy", "temp_forecast", "pm25_lag1"]).cast(pl.Float32)).to_numpy()
    assert np.isfinite(reg.predict(x)).all()


def _drifting_blocks(n_blocks: int, rng: np.random.Generator) -> list[pl.DataFrame]:
    """Blocks of 30 origins whose forecast errors widen from block to block (a season turning).

    Inside a block the errors are exchangeable, so a band fitted on the last block — even
    shift-aware — cannot see that the next one will be wider.
    """
    blocks = []
    for k in range(n_blocks):
        frame = _frame(30, rng, noise=0.0).with_columns(
            pl.col("origin") + dt.timedelta(days=30 * k)
        )
        spread = 0.15 * 1.12**k
        blocks.append(
            frame.with_columns(
                (pl.col("noisy") * np.exp(rng.normal(0, spread, frame.height))).alias("y_pm25")
            )
        )
    return blocks


def _rolling_coverage(blocks: list[pl.DataFrame], gamma: float) -> float:
    """Calibrate on each block, forecast the next, feed the verified block back (ACI)."""
    from transforms.forecast.model import adapt_band_shift, verified_rows

    shift: dict[str, float] = {}
    hits = n = 0
    for hold, test in itertools.pairwise(blocks):
        model = _model(_Constant(0))
        calibrate_intervals(model, predict(model, hold), (0.1, 0.9), bins=3, shift=shift)
        out = predict(model, test)
        verified = verified_rows(out, ("pm25",))
        inside = verified.select(pl.col("y").is_between("lower", "upper").sum()).item()
        hits, n = hits + inside, n + verified.height
        shift = adapt_band_shift(shift, verified, 0.8, gamma)
    return hits / n


def test_adaptive_bands_keep_their_coverage_when_the_errors_drift() -> None:
    """The backtest's calibration check in small: 80 % bands cover 78-82 % of later blocks.

    Without the feedback (gamma 0) the same bands cover too little — the failure this guards.
    """
    blocks = _drifting_blocks(25, np.random.default_rng(11))
    adaptive = _rolling_coverage(blocks, 0.5)
    fixed = _rolling_coverage(blocks, 0.0)
    assert 0.78 <= adaptive <= 0.82, adaptive
    assert fixed < 0.78, fixed  # ~0.76


def test_band_shift_moves_against_the_coverage_error_and_stays_bounded() -> None:
    from transforms.forecast.model import adapt_band_shift

    def verified(covered: float, n: int = 1000) -> pl.DataFrame:
        y = np.where(np.arange(n) < covered * n, 1.0, 5.0)
        return pl.DataFrame(
            {"param": ["o3"] * n, "y": y, "lower": np.zeros(n), "upper": np.full(n, 2.0)}
        )

    wider = adapt_band_shift({}, verified(0.70), 0.8, 0.5)
    assert wider["o3"] == pytest.approx(0.05)
    narrower = adapt_band_shift(wider, verified(0.90), 0.8, 0.5)
    assert narrower["o3"] == pytest.approx(0.0)
    assert adapt_band_shift({}, verified(0.7, n=50), 0.8, 0.5) == {}  # too few hours
    capped = {"o3": 0.0}
    for _ in range(20):
        capped = adapt_band_shift(capped, verified(0.0), 0.8, 0.5)
    assert capped["o3"] == pytest.approx(0.18)  # the level never exceeds 0.98


def test_a_hold_out_row_without_a_forecast_does_not_unbin_the_bands() -> None:
    """One null point forecast made every level edge NaN: all rows fell in one band."""
    rng = np.random.default_rng(8)
    hold = _frame(40, rng, noise=0.0).with_columns(
        (pl.col("y_pm25") * np.exp(rng.normal(0, 0.3, 40 * 72))).alias("y_pm25")
    )
    model = _model(_Constant(0))
    pred = predict(model, hold).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(None)
        .otherwise(pl.col("pred_pm25"))
        .alias("pred_pm25")
    )
    calibrate_intervals(model, pred, (0.1, 0.9), bins=3)
    assert len(model.level_edges["pm25"]) == 2
    assert np.isfinite(model.level_edges["pm25"]).all()
    assert {b for _, b in model.binned_ratios["pm25"]} == {0, 1, 2}


def test_light_pollutants_see_the_core_lags_and_their_own_only() -> None:
    from transforms.forecast.design import feature_columns
    from transforms.forecast.model import param_features
    from transforms.forecast.rules import load_forecast_rules

    ms = load_forecast_rules().model
    assert set(ms.params) == {"pm25", "pm10", "so2", "no2", "co", "o3"}  # all the AQI reads
    every = feature_columns(ms.params)
    core = feature_columns(ms.lag_params)
    assert param_features(every, "pm25", ms) == core  # the PM2.5 model is unchanged
    pm10 = param_features(every, "pm10", ms)
    assert "pm10_last" in pm10
    assert "pm25_last" in pm10
    assert not any(f.startswith(("so2_", "co_")) for f in pm10)
