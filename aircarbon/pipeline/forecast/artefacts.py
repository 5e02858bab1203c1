"""The forecast's inputs and artefacts on disk: the meteorology forecast and the models.

**Meteorology input**: the documented per-issue files of :mod:`aircarbon.pipeline.forecast.met`
(``<data dir>/met_forecast/issued=YYYY-MM-DD.parquet``, city-wide rows used here). Without a
file for the issue day the forecast uses the last observed day's weather repeated ("met
persistence") and says so in its method. For past origins (training, backtests) the archived
files are used where they exist, else the observed city-mean weather of the forecast hours
(perfect-prognosis training).

**Models**: ``<data dir>/models/forecast/<version>/model.pkl`` (the fitted
:class:`~transforms.forecast.model.ForecastModel`, pickled) and ``model.json`` (training
window, settings, metrics). Only load pickles your own pipeline wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from transforms.forecast.design import MET_COLUMNS
from transforms.forecast.model import ForecastModel

__all__ = [
    "first_local_day",
    "last_local_day",
    "load_model",
    "load_pickled_model",
    "model_dir",
    "observed_city_met",
    "read_met_forecasts",
    "save_model",
]

UTC: pl.DataType = pl.Datetime("us", "UTC")
_MET_SCHEMA: dict[str, pl.DataType] = {"ts": UTC, **{c: pl.Float64() for c in MET_COLUMNS}}


def _read_one(data_dir: Path, day: dt.date) -> pl.DataFrame | None:
    from aircarbon.pipeline.forecast.met import MET_FORECAST_DIR, read_met_forecast

    raw = read_met_forecast(data_dir / MET_FORECAST_DIR, day)
    if raw is None:
        return None
    return raw.filter(pl.col("station") == "city").select(list(_MET_SCHEMA))


def observed_city_met(hourly: pl.DataFrame) -> pl.DataFrame:
    """City-mean observed weather per hour (``ts`` + met columns) from the hourly table.

    Wind direction is a vector mean (weighted by speed where known).
    """
    met = hourly.filter(pl.col("valid") & pl.col("param").is_in(list(MET_COLUMNS))).select(
        "station", "param", pl.col("ts").cast(UTC), "value"
    )
    if met.is_empty():
        return pl.DataFrame(schema=_MET_SCHEMA)
    wide = met.pivot(on="param", index=["station", "ts"], values="value", aggregate_function="mean")
    for c in MET_COLUMNS:
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(c))
    rad = pl.col("wd").radians()
    return (
        wide.group_by("ts")
        .agg(
            pl.col("ws").mean(),
            pl.col("temp").mean(),
            pl.col("rh").mean(),
            pl.col("blh").mean(),
            rad.sin().mean().alias("_s"),
            rad.cos().mean().alias("_c"),
        )
        .with_columns((pl.arctan2("_s", "_c").degrees() % 360.0).alias("wd"))
        .select(list(_MET_SCHEMA))
        .sort("ts")
    )


def read_met_forecasts(
    data_dir: Path,
    days: Sequence[dt.date],
    origins: Sequence[dt.datetime],
    observed: pl.DataFrame,
    *,
    horizon_hours: int,
    allow_observed: bool,
) -> tuple[pl.DataFrame, dict[dt.date, str]]:
    """Met input per origin (``origin, ts`` + met columns) and where each came from.

    Per day: ``file`` (the archived forecast), ``observed`` (perfect prognosis: only for
    past origins, ``allow_observed``), or ``persistence`` (the last observed day repeated).
    """
    frames: list[pl.DataFrame] = []
    used: dict[dt.date, str] = {}
    leads = pl.DataFrame({"lead": list(range(1, horizon_hours + 1))})
    for day, origin in zip(days, origins, strict=True):
        archived = _read_one(data_dir, day)
        hours = leads.select(
            pl.lit(origin).cast(UTC).alias("origin"),
            (pl.lit(origin).cast(UTC) + pl.duration(hours=pl.col("lead"))).alias("ts"),
        )
        if archived is not None:
            frame = hours.join(archived, on="ts", how="left")
            used[day] = "file"
        elif allow_observed:
            frame = hours.join(observed, on="ts", how="left")
            used[day] = "observed"
        else:
            # the last observed day, hour by hour: lead L repeats the hour L - 24k (k >= 1)
            last = observed.filter(
                (pl.col("ts") > origin - dt.timedelta(hours=24)) & (pl.col("ts") <= origin)
            ).with_columns((pl.col("ts") - origin).dt.total_hours().alias("_k"))
            offset = (pl.col("ts") - pl.lit(origin).cast(UTC)).dt.total_hours()
            frame = (
                hours.with_columns(((offset - 1) % 24 - 23).alias("_k"))
                .join(last.drop("ts"), on="_k", how="left")
                .drop("_k")
            )
            used[day] = "persistence"
        frames.append(frame.select("origin", "ts", *MET_COLUMNS))
    if not frames:
        return pl.DataFrame(schema={"origin": UTC, **_MET_SCHEMA}), used
    return pl.concat(frames), used


def _ts(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a timestamp, got {value!r}")
    return value


def first_local_day(hist: pl.DataFrame, tz: dt.tzinfo) -> dt.date:
    """The local day of the earliest hour in ``hist`` (hour ends: midnight is the day before)."""
    return (_ts(hist["ts"].min()) - dt.timedelta(microseconds=1)).astimezone(tz).date()


def last_local_day(hist: pl.DataFrame, tz: dt.tzinfo) -> dt.date:
    """The local day of the latest hour in ``hist``."""
    return (_ts(hist["ts"].max()) - dt.timedelta(microseconds=1)).astimezone(tz).date()


def model_dir(data_dir: Path, version: str) -> Path:
    return data_dir / "models" / "forecast" / version


def save_model(data_dir: Path, version: str, model: ForecastModel, card: dict[str, Any]) -> Path:
    """Write ``model.pkl`` and ``model.json`` (atomically) under the version's folder."""
    folder = model_dir(data_dir, version)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (
        ("model.pkl", pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)),
        ("model.json", json.dumps(card, indent=2, default=str).encode()),
    ):
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / name)
    return folder


def load_model(data_dir: Path, version: str) -> ForecastModel | None:
    """The stored model of ``version``, or None when its artefact is missing."""
    path = model_dir(data_dir, version) / "model.pkl"
    if not path.is_file():
        return None
    model = load_pickled_model(path.read_bytes())
    return model if isinstance(model, ForecastModel) else None


#: Where the forecast's modules lived before they became packages (issue 19): a model
#: pickled then names its classes by these paths.
_MOVED = {
    "transforms.forecast_backtest": "transforms.forecast.backtest",
    "transforms.forecast_daily": "transforms.forecast.daily",
    "transforms.forecast_design": "transforms.forecast.design",
    "transforms.forecast_issue": "transforms.forecast.issue",
    "transforms.forecast_model": "transforms.forecast.model",
    "transforms.forecast_rules": "transforms.forecast.rules",
    "transforms.forecast_train": "transforms.forecast.train",
}


class _Unpickler(pickle.Unpickler):
    """Resolves the old module paths of models saved before the move."""

    def find_class(self, module: str, name: str, /) -> Any:
        return super().find_class(_MOVED.get(module, module), name)


def load_pickled_model(data: bytes) -> object:
    """Unpickle a stored model, whichever module layout wrote it."""
    import io

    return _Unpickler(io.BytesIO(data)).load()
