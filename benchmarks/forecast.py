"""The forecast's costs: training on a year of the network, predicting one issue for it.

    uv run --frozen python -m benchmarks.forecast [--days N] [--stations a,b] [--write]

Simulates ``--days`` (365) of hourly history for the 12-station network with winter
episodes and its met forecasts (no MQTT), then measures, in this process:

* the design matrix of every issue day (lags, baselines, met features);
* training the production model set (``fit_forecast_model``: six HistGradientBoosting
  pollutant models, PM2.5/O3/NO2 in full and PM10/SO2/CO lighter, fitted on 80 % of the
  origins, blend and bands learned on the rest, refitted on all), one model after the
  other and several at once in threads (``jobs``),
  next to a plain ridge regression on the same matrix (the ratio says what boosting costs);
* one issue for the whole network (features, the six models, intervals, daily AQI,
  warnings) next to the persistence fallback issue on the same history.

Targets: training under 60 s on 2 cores (issue 18), prediction under 10 s. ``--write``
replaces the ``## Forecast`` section of docs/benchmarks.md (only for a full run).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from typing import Any

from benchmarks._report import machine_line, markdown_table, measure, publish, section

HEADING = "## Forecast"


def _ridge(design: Any, features: list[str], params: tuple[str, ...]) -> None:
    import numpy as np
    import polars as pl
    from sklearn.linear_model import Ridge

    for p in params:
        rows = design.filter(pl.col(f"y_{p}").is_not_null())
        x = rows.select(pl.col(features).cast(pl.Float64)).to_numpy()
        x = np.where(np.isnan(x), 0.0, x)
        Ridge(alpha=1.0).fit(x, rows[f"y_{p}"].to_numpy())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--stations", default=None, help="comma-separated (default: all 12)")
    parser.add_argument("--write", action="store_true", help="rewrite the docs section")
    args = parser.parse_args(argv)

    from aircarbon.core.catalog import load_catalog
    from aircarbon.simulator.episodes import winter_episodes
    from aircarbon.simulator.history import met_forecast_frame, simulate_hourly
    from transforms.forecast.design import feature_columns, origins_utc
    from transforms.forecast.issue import FALLBACK, issue_forecast
    from transforms.forecast.model import fit_forecast_model
    from transforms.forecast.rules import load_forecast_rules
    from transforms.forecast.train import training_design

    tz = "Asia/Shanghai"
    catalog = load_catalog()
    rules = load_forecast_rules()
    ms = rules.model
    start = dt.date(2025, 9, 1)
    stations = args.stations.split(",") if args.stations else None
    eps = winter_episodes(start, start + dt.timedelta(days=args.days - 1), seed=1)
    hist, sim_s, _ = measure(
        lambda: simulate_hourly(start, args.days, seed=1, stations=stations, episodes=eps)
    )
    days = [start + dt.timedelta(days=k) for k in range(1, args.days - 1)]
    met = met_forecast_frame(hist.weather, days, seed=1, timezone=tz)
    (_wide, design), design_s, design_mb = measure(
        lambda: training_design(hist.hourly, days, met, ms, timezone=tz)
    )
    features = feature_columns(ms.params)
    (model, _), fit_s, fit_mb = measure(lambda: fit_forecast_model(design, ms, features=features))
    # the pollutant models fitted at once in threads: worth it only with idle cores
    par = dataclasses.replace(ms, jobs=len(ms.params))
    _, par_s, _ = measure(lambda: fit_forecast_model(design, par, features=features))
    _, ridge_s, _ = measure(lambda: _ridge(design, features, ms.params))

    day = days[-3]
    origin = origins_utc([day], tz)[0]
    window = dt.timedelta(days=ms.climatology_days + 1)
    recent = hist.hourly.filter(
        (hist.hourly["ts"] > origin - window) & (hist.hourly["ts"] <= origin)
    )
    met_now = met.filter(met["origin"] == origin)

    def issue(method: str) -> Any:
        return issue_forecast(
            recent, day, origin, met_now, catalog, rules,
            model=model if method == "gbm" else None, model_version=None, method=method,
            timezone=tz,
        )  # fmt: skip

    out, issue_s, issue_mb = measure(lambda: issue("gbm"))
    _, base_s, _ = measure(lambda: issue(FALLBACK))
    n_series = design["station"].n_unique()
    trees = ", ".join(f"{p} {reg.n_iter_}" for p, reg in model.regressors.items())
    rows = [
        ["simulate the hourly history", f"{sim_s:.1f}", "", ""],
        ["design matrix (every issue day)", f"{design_s:.1f}", "", f"{design_mb:,.0f}"],
        ["train: 3 GBM pollutant models + blend + calibration + refit", f"{fit_s:.1f}",
         f"{fit_s / ridge_s:.0f}× ridge ({ridge_s:.1f} s)", f"{fit_mb:,.0f}"],
        [f"train, the {len(ms.params)} pollutant models in parallel threads", f"{par_s:.1f}",
         f"{par_s / fit_s:.2f}× one at a time", ""],
        ["one issue for the network (72 h, AQI, warnings)", f"{issue_s:.2f}",
         f"{issue_s / base_s:.1f}× persistence issue ({base_s:.2f} s)", f"{issue_mb:,.0f}"],
    ]  # fmt: skip
    table = markdown_table(["step", "s", "vs baseline (same run)", "peak RSS MB"], "lrlr", rows)
    machine = machine_line(
        "polars", "scikit-learn",
        notes=[
            f"OpenMP threads per fit: {ms.threads}",
            f"max_iter {ms.max_iter}, early stopping {ms.early_stopping}, "
            f"row_sample {ms.row_sample}, target {ms.target}",
            f"trees per model: {trees}",
        ],
    )  # fmt: skip
    intro = (
        "`uv run --frozen python -m benchmarks.forecast --write` — a simulated year "
        f"({args.days} days from {start}, {len(eps)} winter episodes) of {n_series - 1} "
        f"stations + city: {design.height:,} training rows (issue × lead hour × series), "
        f"{model.rows:,} targets over the forecast pollutants; the issue writes "
        f"{out.forecasts.height:,} forecast rows. Target of issue 18: training < 60 s "
        "(it was 86-303 s with 150 Poisson trees on every row); prediction < 10 s, on 2 cores."
    )
    text = section(HEADING, intro, table, f"Measured on: {machine}.")
    publish(HEADING, table, machine, text, write=args.write)


if __name__ == "__main__":
    main()
