"""The forecast's settings and warning rules, from ``forecast.toml`` of the catalog.

One source of truth for the model's knobs (horizon, retrain schedule, interval), for the
heavy-pollution warning levels of the emergency plan and for the O3 episode rule, each with
the key of the document it follows (``sources.toml``). The shipped file is used when a
catalog override lacks one, as for ``targets.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aircarbon.core.errors import CatalogError

__all__ = [
    "ForecastRules",
    "LevelRule",
    "ModelSettings",
    "O3Rule",
    "load_forecast_rules",
]


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The model's knobs (forecast.toml ``[model]``)."""

    params: tuple[str, ...]
    horizon_hours: int
    retrain_days: int
    min_history_days: int
    training_days: int
    interval_pct: int
    calibration_share: float
    climatology_days: int
    max_iter: int
    learning_rate: float
    max_leaf_nodes: int
    min_samples_leaf: int
    l2_regularization: float
    seed: int
    threads: int
    fallback_ratio: tuple[float, float]
    target: str = "change"
    early_stopping: bool = True
    n_iter_no_change: int = 10
    validation_fraction: float = 0.1
    row_sample: float = 1.0
    blend_hours: int = 6
    interval_bins: int = 3
    jobs: int = 1
    lag_params: tuple[str, ...] = ()
    light_params: tuple[str, ...] = ()
    light_max_iter: int = 100
    light_row_sample: float = 0.15
    band_adapt: float = 0.5

    @property
    def quantiles(self) -> tuple[float, float]:
        """Lower and upper quantile of the central interval (0.1, 0.9 for 80 %)."""
        tail = (1.0 - self.interval_pct / 100.0) / 2.0
        return tail, 1.0 - tail


@dataclass(frozen=True, slots=True)
class LevelRule:
    """One heavy-pollution warning level: any ``when`` clause suffices.

    A clause is ``((threshold, days), ...)``: inside a run of consecutive days above the
    first threshold, at least ``days`` days above each threshold.
    """

    level: str
    name_zh: str
    when: tuple[tuple[tuple[int, int], ...], ...]


@dataclass(frozen=True, slots=True)
class O3Rule:
    """O3 episode alert: daily max 8-h O3 above a limit on ``min_days`` consecutive days."""

    o3_8h_max_ug_m3: float
    min_days: int
    stations: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class ForecastRules:
    """Everything ``forecast.toml`` says, sources resolved to their text."""

    model: ModelSettings
    levels: tuple[LevelRule, ...]
    """Highest level first."""
    heavy_source: str
    heavy_stations: tuple[str, ...]
    count_observed_day: bool
    o3: O3Rule
    sources: dict[str, str]

    def source_text(self, key: str) -> str:
        return self.sources.get(key, key)


def _model(doc: dict[str, Any]) -> ModelSettings:
    low, high = doc["fallback_ratio"]
    return ModelSettings(
        params=tuple(doc["params"]),
        horizon_hours=int(doc["horizon_hours"]),
        retrain_days=int(doc["retrain_days"]),
        min_history_days=int(doc["min_history_days"]),
        training_days=int(doc["training_days"]),
        interval_pct=int(doc["interval_pct"]),
        calibration_share=float(doc["calibration_share"]),
        climatology_days=int(doc["climatology_days"]),
        max_iter=int(doc["max_iter"]),
        learning_rate=float(doc["learning_rate"]),
        max_leaf_nodes=int(doc["max_leaf_nodes"]),
        min_samples_leaf=int(doc["min_samples_leaf"]),
        l2_regularization=float(doc["l2_regularization"]),
        seed=int(doc["seed"]),
        threads=int(doc.get("threads", 1)),
        fallback_ratio=(float(low), float(high)),
        target=str(doc.get("target", "change")),
        early_stopping=bool(doc.get("early_stopping", True)),
        n_iter_no_change=int(doc.get("n_iter_no_change", 10)),
        validation_fraction=float(doc.get("validation_fraction", 0.1)),
        row_sample=float(doc.get("row_sample", 1.0)),
        blend_hours=int(doc.get("blend_hours", 6)),
        interval_bins=int(doc.get("interval_bins", 3)),
        jobs=int(doc.get("jobs", 1)),
        lag_params=tuple(doc.get("lag_params", ())),
        light_params=tuple(doc.get("light_params", ())),
        light_max_iter=int(doc.get("light_max_iter", 100)),
        light_row_sample=float(doc.get("light_row_sample", 0.15)),
        band_adapt=float(doc.get("band_adapt", 0.5)),
    )


def parse_forecast_rules(doc: dict[str, Any], sources: dict[str, str]) -> ForecastRules:
    """Typed rules from a parsed ``forecast.toml`` (every source key must resolve)."""
    for where, block in (
        ("model", doc["model"]),
        ("heavy_pollution", doc["heavy_pollution"]),
        ("o3_episode", doc["o3_episode"]),
    ):
        for key in ("source", "duration_source"):
            if key in block and block[key] not in sources:
                raise CatalogError(f"forecast.toml: [{where}] unknown source {block[key]!r}")
    model = _model(doc["model"])
    if not 0 < model.interval_pct < 100 or model.horizon_hours % 24:
        raise CatalogError("forecast.toml: interval_pct in (0, 100), horizon_hours whole days")
    if model.target not in ("level", "change") or not 0 < model.row_sample <= 1:
        raise CatalogError("forecast.toml: target is 'level' or 'change', row_sample in (0, 1]")
    heavy = doc["heavy_pollution"]
    levels = tuple(
        LevelRule(
            level=str(item["level"]),
            name_zh=str(item["name_zh"]),
            when=tuple(tuple((int(t), int(d)) for t, d in clause) for clause in item["when"]),
        )
        for item in heavy["level"]
    )
    if not levels or any(not clause for lv in levels for clause in lv.when):
        raise CatalogError("forecast.toml: every warning level needs a non-empty clause")
    o3 = doc["o3_episode"]
    return ForecastRules(
        model=model,
        levels=levels,
        heavy_source=str(heavy["source"]),
        heavy_stations=tuple(heavy.get("stations", ["city"])),
        count_observed_day=bool(heavy.get("count_observed_day", True)),
        o3=O3Rule(
            o3_8h_max_ug_m3=float(o3["o3_8h_max_ug_m3"]),
            min_days=int(o3["min_days"]),
            stations=tuple(o3.get("stations", ["city"])),
            source=str(o3["source"]),
        ),
        sources=sources,
    )


@cache
def _load(directory: Path) -> ForecastRules:
    doc = tomllib.loads((directory / "forecast.toml").read_text(encoding="utf-8"))
    shared = tomllib.loads((directory / "sources.toml").read_text(encoding="utf-8"))
    return parse_forecast_rules(doc, dict(shared["sources"]))


def load_forecast_rules(catalog_dir: Path | None = None) -> ForecastRules:
    """``forecast.toml`` of the catalog override when it has one, else the shipped one."""
    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR

    if catalog_dir is not None and (catalog_dir / "forecast.toml").is_file():
        return _load(catalog_dir.resolve())
    return _load(DEFAULT_CATALOG_DIR)
