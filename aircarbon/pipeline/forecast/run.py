"""The forecast step: a 72-hour forecast issued at the end of a local day, with warnings.

``forecast_day(settings, catalog, day)`` is what the daily DAG's ``forecast`` task, ``aircarbon
forecast --date D`` and ``aircarbon demo`` run (idempotent on ``day``):

1. read the lake's hourly history up to the origin (local midnight ending ``day``);
2. with enough history, use the newest stored model trained through ``day`` at the latest,
   retraining first when it is older than the retrain schedule (``forecast.toml``) or
   missing; with too little history, the honest persistence fallback (method column);
3. forecast hourly PM2.5, PM10, O3, NO2, SO2, CO and the daily AQI (from all six) per station
   and city-wide, with intervals;
4. derive the warnings, and replace the issue's ``forecasts`` and ``warnings`` partitions
   (plus a new model's ``forecast_models`` row) in ONE lake transaction;
5. publish the warnings on MQTT when a broker is configured.

Never ``now()``: the origin, the training window and the model version derive from ``day``
and the data, so re-running a day gives the same issue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import BrokerError
from aircarbon.core.settings import Settings
from aircarbon.pipeline.common import lake
from transforms.forecast.design import MET_COLUMNS, origins_utc
from transforms.forecast.rules import ForecastRules, load_forecast_rules

if TYPE_CHECKING:
    import duckdb

    from transforms.forecast.model import ForecastModel

__all__ = ["ForecastResult", "forecast_day", "latest_model", "train_and_store"]

_log = logging.getLogger(__name__)
UTC = pl.Datetime("us", "UTC")


@dataclass
class ForecastResult:
    """What one forecast issue did."""

    date: dt.date
    issued_at: dt.datetime
    method: str
    model_version: str | None
    history_days: int
    rows: int
    warnings: list[dict[str, Any]] = field(default_factory=list)
    retrained: bool = False
    met_source: str = "none"
    published: bool = False
    note: str = ""
    snapshot: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "issued_at": self.issued_at.isoformat(),
            "method": self.method,
            "model_version": self.model_version,
            "history_days": self.history_days,
            "rows": self.rows,
            "retrained": self.retrained,
            "met_source": self.met_source,
            "published": self.published,
            "note": self.note,
            "snapshot": self.snapshot,
            "warnings": [
                {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in w.items()}
                for w in self.warnings
            ],
        }


def _read_history(
    con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime, params: tuple[str, ...]
) -> pl.DataFrame:
    from aircarbon.pipeline.hourly import recent_hourly

    return recent_hourly(con, start, end, (*params, *MET_COLUMNS))


def latest_model(
    con: duckdb.DuckDBPyConnection, settings: Settings, day: dt.date
) -> tuple[str, dt.date, ForecastModel] | None:
    """The newest stored model trained through ``day`` at the latest (no look-ahead)."""
    from aircarbon.pipeline.forecast.artefacts import load_model

    rows = con.execute(
        "SELECT model_version, trained_through FROM forecast_models "
        "WHERE trained_through <= ? ORDER BY trained_through DESC, model_version DESC",
        [day],
    ).fetchall()
    for version, through in rows:
        model = load_model(settings.data_dir, str(version))
        if model is not None:
            return str(version), through, model
    return None


def _version(day: dt.date, rules: ForecastRules, hist: pl.DataFrame) -> str:
    """gbm-<day>-<hash of the settings and the training window's content size>."""
    key = json.dumps(
        {
            "day": day.isoformat(),
            "settings": {k: getattr(rules.model, k) for k in rules.model.__slots__},
            "rows": hist.height,
            "first": str(hist["ts"].min()) if hist.height else None,
        },
        sort_keys=True,
        default=str,
    )
    return f"gbm-{day.isoformat()}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def verified_forecasts(
    con: duckdb.DuckDBPyConnection,
    hist: pl.DataFrame,
    version: str,
    origin: dt.datetime,
    params: tuple[str, ...],
) -> pl.DataFrame:
    """``param, y, lower, upper``: model ``version``'s hourly forecasts observed by ``origin``.

    The ACI feedback's input (:func:`transforms.forecast.model.adapt_band_shift`): what the
    previous model's bands covered of the hours that have since been measured (``city`` =
    the station mean, as forecast).
    """
    from transforms.forecast.design import wide_hourly
    from transforms.forecast.model import VERIFIED

    rows = con.execute(
        "SELECT station, param, ts, lower, upper FROM forecasts WHERE model_version = ? "
        "AND ts <= ? AND param IN (SELECT unnest(?::VARCHAR[])) AND lower IS NOT NULL",
        [version, origin, list(params)],
    ).pl()
    if rows.is_empty():
        return pl.DataFrame(schema=VERIFIED)
    wide = wide_hourly(hist, params)
    observed = wide.unpivot(index=["station", "ts"], on=list(params), variable_name="param")
    return (
        rows.with_columns(pl.col("ts").cast(UTC))
        .join(observed.rename({"value": "y"}), on=["station", "param", "ts"], how="inner")
        .select("param", pl.col("y").cast(pl.Float64), "lower", "upper")
    )


def train_and_store(
    settings: Settings,
    catalog: Catalog,
    rules: ForecastRules,
    day: dt.date,
    hist: pl.DataFrame,
    band_shift: dict[str, float] | None = None,
) -> tuple[str, ForecastModel, pl.DataFrame, pl.DataFrame]:
    """Train on the history ending at the origin of ``day``; save the artefacts.

    ``band_shift``: the interval levels' ACI shift (from the previous model's verified
    forecasts). Returns the version, the model, its ``forecast_models`` row and its
    hold-out skill rows (loaded by the caller in the issue's transaction).
    """
    import sklearn

    from aircarbon.pipeline.forecast.artefacts import (
        first_local_day,
        model_dir,
        observed_city_met,
        read_met_forecasts,
        save_model,
    )
    from transforms.forecast.train import train_model

    ms = rules.model
    tz = settings.timezone
    first = first_local_day(hist, settings.tz)
    # issues whose lags exist (a day of history) and whose targets are (partly) observed
    days = [first + dt.timedelta(days=k) for k in range(1, (day - first).days)]
    origins = origins_utc(days, tz)
    met, _ = read_met_forecasts(
        settings.data_dir,
        days,
        origins,
        observed_city_met(hist),
        horizon_hours=ms.horizon_hours,
        allow_observed=True,
    )
    model, card = train_model(hist, days, met, catalog, ms, timezone=tz, band_shift=band_shift)
    skill: pl.DataFrame = card.pop("skill")
    version = _version(day, rules, hist)
    card.update(
        {
            "model_version": version,
            "trained_through": day.isoformat(),
            "library": f"scikit-learn {sklearn.__version__}",
        }
    )
    folder = save_model(settings.data_dir, version, model, card)
    origin = origins_utc([day], tz)[0]
    row = pl.DataFrame(
        {
            "model_version": [version],
            "trained_at": [origin],
            "trained_through": [day],
            "train_start": [hist["ts"].min()],
            "train_end": [hist["ts"].max()],
            "params": [list(model.regressors)],
            "series": [card["series"]],
            "rows": [model.rows],
            "method": [
                f"HistGradientBoostingRegressor({ms.target}) per pollutant, lead as feature, "
                "blended with persistence/climatology; split-conformal ratio intervals with "
                "ACI level feedback"
            ],
            "library": [card["library"]],
            "path": [str(model_dir(settings.data_dir, version) if folder else "")],
            "fit_seconds": [model.fit_seconds],
            "metrics": [json.dumps(card["metrics"], default=str)],
        },
        schema_overrides={"trained_at": UTC, "train_start": UTC, "train_end": UTC},
    )
    held = ms.calibration_share
    return version, model, row, _holdout_skill(skill, version, day, days, settings.timezone, held)


def _holdout_skill(
    skill: pl.DataFrame,
    version: str,
    day: dt.date,
    days: list[dt.date],
    tz: str,
    calibration_share: float,
) -> pl.DataFrame:
    """``forecast_skill`` rows from a new model's hold-out (backtest_id ``holdout-<version>``).

    ``calibration_share`` is the one the model was trained with: the rules of the catalog in
    use, never the shipped file's.
    """
    if skill.is_empty():
        return skill
    origin = origins_utc([day], tz)[0]
    share = 1.0 - calibration_share
    first = days[min(len(days) - 1, int(len(days) * share))]
    columns = {
        "backtest_id": pl.lit(f"holdout-{version}"),
        "model_version": pl.lit(version),
        "first_origin": pl.lit(first),
        "last_origin": pl.lit(days[-1]),
        "computed_at": pl.lit(origin).cast(UTC),
    }
    out = skill.with_columns(**columns).with_columns(pl.col("n").cast(pl.Int64))
    keep = [c for c in _SKILL_COLUMNS if c in out.columns]
    return out.select(keep)


_SKILL_COLUMNS = (
    "backtest_id", "model_version", "param", "lead_hours", "n", "rmse", "mae",
    "persistence_rmse", "persistence_mae", "climatology_rmse", "climatology_mae", "skill",
    "skill_climatology", "category_hit_rate", "persistence_hit_rate", "climatology_hit_rate",
    "coverage", "first_origin", "last_origin", "computed_at", "skill_low", "skill_high",
)  # fmt: skip


def _skill_replaceable(con: duckdb.DuckDBPyConnection) -> bool:
    """A model's hold-out skill never replaces a full backtest's (``backtest-…`` rows)."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE backtest_id NOT LIKE 'holdout-%') FROM forecast_skill"
    ).fetchone()
    return row is None or int(row[0]) == 0


def forecast_day(
    settings: Settings,
    catalog: Catalog,
    day: dt.date,
    *,
    retrain: bool = False,
    publish: bool = True,
    lock_wait_s: float = 0.0,
) -> ForecastResult:
    """Issue the forecast at the end of local ``day`` for 72 hours (idempotent on ``day``).

    Holds the data directory's writer lock while it reads and writes the lake
    (``lock_wait_s``: 0 fails at once naming the holder; scheduled tasks pass a wait).
    """
    from aircarbon.pipeline.forecast.artefacts import observed_city_met, read_met_forecasts
    from transforms.forecast.issue import FALLBACK, issue_forecast
    from transforms.forecast.model import adapt_band_shift
    from transforms.forecast.train import history_days
    from warehouse.load import replace_partitions

    rules = load_forecast_rules(settings.catalog_dir)
    ms = rules.model
    tz = settings.timezone
    origin = origins_utc([day], tz)[0]
    note = ""
    retrained = False
    model: ForecastModel | None = None
    version: str | None = None
    new_model_row: pl.DataFrame | None = None
    new_skill: pl.DataFrame | None = None
    with lake(settings, catalog, lock_wait_s=lock_wait_s, what=f"forecast {day}") as con:
        start = origin - dt.timedelta(days=ms.training_days)
        hist = _read_history(con, start, origin, ms.params)
        n_days = history_days(hist, ms.params, tz)
        if n_days < ms.min_history_days:
            note = (
                f"{n_days} day(s) of history, fewer than the {ms.min_history_days} needed to "
                "train: persistence fallback (same hour of the last observed day), "
                "uncalibrated interval"
            )
        else:
            found = latest_model(con, settings, day)
            if not retrain and found is not None and (day - found[1]).days < ms.retrain_days:
                version, _, model = found
            else:
                shift: dict[str, float] = {}
                if found is not None:  # ACI: what the previous model's bands covered
                    shift = adapt_band_shift(
                        dict(found[2].metrics.get("band_shift") or {}),
                        verified_forecasts(con, hist, found[0], origin, ms.params),
                        ms.interval_pct / 100.0,
                        ms.band_adapt,
                    )
                version, model, new_model_row, new_skill = train_and_store(
                    settings, catalog, rules, day, hist, shift
                )
                retrained = True
        method = "gbm" if model is not None else FALLBACK
        met, used = read_met_forecasts(
            settings.data_dir,
            [day],
            [origin],
            observed_city_met(hist),
            horizon_hours=ms.horizon_hours,
            allow_observed=False,
        )
        met_source = used.get(day, "none")
        if model is not None and met_source != "file":
            method = "gbm+met_persistence"
            note = f"no met forecast at {day}: the last observed day's weather stood in"
        issue = issue_forecast(
            hist, day, origin, met, catalog, rules,
            model=model, model_version=version, method=method, timezone=tz,
        )  # fmt: skip
        warnings = issue.warnings.with_columns(
            pl.lit(day).alias("issued_date"),
            pl.lit(origin).cast(UTC).alias("issued_at"),
            pl.lit(version, pl.String).alias("model_version"),
            pl.lit(method).alias("method"),
        )
        loads: list[tuple[str, pl.DataFrame, dict[str, Any]]] = [
            ("forecasts", issue.forecasts, {"issued_date": day}),
            ("warnings", warnings, {"issued_date": day}),
        ]
        if new_model_row is not None and version is not None:
            loads.append(("forecast_models", new_model_row, {"model_version": version}))
        if new_skill is not None and new_skill.height and _skill_replaceable(con):
            loads.append(("forecast_skill", new_skill, {}))
        done = replace_partitions(con, loads, f"forecast {day.isoformat()}")
    result = ForecastResult(
        date=day,
        issued_at=origin,
        method=method,
        model_version=version,
        history_days=n_days,
        rows=issue.forecasts.height,
        warnings=issue.warnings.select(
            "station", "kind", "level", "start_date", "end_date", "days", "max_aqi", "reason"
        ).to_dicts(),
        retrained=retrained,
        met_source=met_source,
        note=note,
        snapshot=done[-1].snapshot if done else None,
    )
    if publish:
        from aircarbon.pipeline.forecast.publish import publish_warnings, warnings_payload

        payload = warnings_payload(
            issue.warnings, day=day, issued_at=origin, model_version=version, method=method
        )
        try:
            result.published = publish_warnings(settings, payload)
        except BrokerError as exc:  # the issue is stored; the retained message can follow
            _log.error("warnings of %s not published: %s", day, exc)
            result.note = f"{result.note}; not published: {exc}".lstrip("; ")
    return result
