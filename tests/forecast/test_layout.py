"""The forecast's package layout (issue 19): old pickles load, layers hold, overrides count."""

from __future__ import annotations

import ast
import datetime as dt
import pickle
import shutil
from pathlib import Path

import pytest

from aircarbon.pipeline.forecast.artefacts import load_model, model_dir
from tests.forecast.conftest import fast_catalog, simulated_lake
from transforms.forecast.model import ForecastModel

ROOT = Path(__file__).resolve().parents[2]
#: Pickled by the pre-package code (``transforms.forecast_model.ForecastModel``).
OLD_PICKLE = Path(__file__).parent / "data" / "model_pre_package.pkl"


def test_a_model_saved_under_the_old_module_path_still_loads(tmp_path: Path) -> None:
    data = OLD_PICKLE.read_bytes()
    assert b"transforms.forecast_model" in data  # really the old layout
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)  # plain pickle cannot: the mapping is what makes it load
    folder = model_dir(tmp_path, "gbm-old")
    folder.mkdir(parents=True)
    shutil.copy(OLD_PICKLE, folder / "model.pkl")
    model = load_model(tmp_path, "gbm-old")
    assert isinstance(model, ForecastModel)
    assert model.params == ("pm25", "o3")
    assert model.interval("pm25", 2) == (0.5, 1.7)
    assert model.aqi_ratios == {1: (0.7, 1.4)}
    assert model.rows == 123


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize(
    ("where", "forbidden"),
    [
        ("aircarbon/pipeline/forecast", ("aircarbon.simulator",)),
        ("transforms/forecast", ("aircarbon.pipeline", "aircarbon.simulator", "warehouse")),
        ("ingest/health_server.py", ("aircarbon.pipeline", "warehouse", "transforms")),
        ("warehouse/forecast_warnings.py", ("aircarbon.pipeline", "ingest", "transforms")),
    ],
)
def test_forecast_modules_import_only_downwards(where: str, forbidden: tuple[str, ...]) -> None:
    path = ROOT / where
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    assert files
    bad = {
        f"{f.relative_to(ROOT)}: {name}"
        for f in files
        for name in _imports(f)
        if any(name == b or name.startswith(f"{b}.") for b in forbidden)
    }
    assert not bad


def test_transforms_forecast_has_no_import_cycle() -> None:
    pkg = ROOT / "transforms" / "forecast"
    graph = {
        f.stem: {
            n.removeprefix("transforms.forecast.")
            for n in _imports(f)
            if n.startswith("transforms.forecast.")
        }
        for f in pkg.glob("*.py")
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    assert not [m for m in graph if reaches(m, m, {m})]


@pytest.mark.integration
def test_forecast_toml_of_a_catalog_override_is_honoured(tmp_path: Path) -> None:
    from aircarbon.pipeline.forecast import forecast_day
    from warehouse.lake import connect

    share = 0.5  # the shipped file says 0.2
    catalog_dir = fast_catalog(
        tmp_path, max_iter=15, min_samples_leaf=20, calibration_share=share, min_history_days=10
    )
    start = dt.date(2025, 11, 1)
    settings, catalog = simulated_lake(tmp_path, start, 24, catalog_dir=catalog_dir)
    issue = start + dt.timedelta(days=22)
    result = forecast_day(settings, catalog, issue, publish=False)
    assert result.method == "gbm"  # min_history_days 10 of the override, not the shipped 21
    con = connect(settings, read_only=True)
    try:
        firsts = con.execute("SELECT DISTINCT first_origin FROM forecast_skill").fetchall()
        ci = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE skill_low <= skill AND skill <= skill_high) "
            "FROM forecast_skill"
        ).fetchone()
    finally:
        con.close()
    days = [start + dt.timedelta(days=k) for k in range(1, (issue - start).days)]
    assert firsts == [(days[int(len(days) * (1.0 - share))],)]
    assert ci is not None
    # the hold-out's skill rows (migration 0014) carry their bootstrap CI: 6 pollutants and
    # the AQI x 3 lead days
    assert ci[0] == 21
    assert ci[1] == ci[0]
