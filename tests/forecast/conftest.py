"""Shared helpers: a catalog with a small, fast model and simulated lakes in ``tmp_path``."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from aircarbon.core.catalog import DEFAULT_CATALOG_DIR, Catalog, load_catalog
from aircarbon.core.settings import Settings, load_settings
from aircarbon.simulator.episodes import Episode

#: Two national stations: enough for station and city series, small enough to train in seconds.
STATIONS = ("SY-TY-01", "SY-XH-02")


def fast_catalog(tmp_path: Path, **model: object) -> Path:
    """A copy of the shipped catalog whose forecast.toml ``[model]`` takes ``model`` values."""
    target = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, target)
    path = target / "forecast.toml"
    text = path.read_text(encoding="utf-8")
    for key, value in model.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
        assert n == 1, key
    path.write_text(text, encoding="utf-8")
    return target


def simulated_lake(
    tmp_path: Path,
    start: dt.date,
    days: int,
    *,
    episodes: Sequence[Episode] = (),
    stations: Sequence[str] = STATIONS,
    seed: int = 5,
    catalog_dir: Path | None = None,
) -> tuple[Settings, Catalog]:
    """A real DuckLake under ``tmp_path/data`` holding a simulated hourly history."""
    from aircarbon.commands.forecast_sim import load_simulated

    settings = load_settings({}, data_dir=tmp_path / "data", catalog_dir=catalog_dir)
    catalog = load_catalog(settings.catalog_dir)
    load_simulated(
        settings, catalog, start, days, seed=seed, stations=list(stations), episodes=episodes
    )
    return settings, catalog
