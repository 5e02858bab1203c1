"""The 72-hour forecast as pure functions over frames (docs/forecast.md).

One package so the forecast reads top-down, each module depending only on those above it:

* :mod:`.rules` — ``forecast.toml`` (model knobs, warning levels), typed;
* :mod:`.design` — the design matrix (lags, baselines, met features) per series × origin × lead;
* :mod:`.daily` — daily values and AQI of hourly forecasts, by the observations' rules;
* :mod:`.model` — the fitted model set, its prediction and intervals;
* :mod:`.scoring` — skill tables against persistence and climatology;
* :mod:`.train` — training from hourly history (design, fit, AQI calibration, hold-out skill);
* :mod:`.backtest` — the rolling-origin backtest;
* :mod:`.issue` — one issue: hourly and daily rows with intervals, and the warnings.

Nothing is imported here: ``sklearn`` and the design code load only where used.
"""
