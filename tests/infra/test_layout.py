"""The repository layout is part of the design (STYLE.md): keep it visible and unshadowed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("aircarbon", "ingest", "transforms", "warehouse", "expectations")
FOLDERS = (
    "ingest",
    "dags",
    "transforms",
    "warehouse",
    "expectations",
    "tests",
    "docker",
    "aircarbon",
    "benchmarks",
    "docs",
)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_not_shadowed(package: str) -> None:
    """No installed distribution other than ours provides a top-level module of the same name.

    Either way round it would break: theirs could be imported instead of ours, or ours would
    hide theirs from a library that needs it.
    """
    owners = importlib.metadata.packages_distributions().get(package, [])
    others = sorted({name for name in owners if name.lower() != "aircarbon"})
    assert not others, f"top-level package {package!r} is also installed by {others}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_from_this_repository(package: str) -> None:
    module = __import__(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / package


@pytest.mark.parametrize("folder", FOLDERS)
def test_folder_has_readme(folder: str) -> None:
    readme = ROOT / folder / "README.md"
    assert readme.is_file(), f"{folder}/ needs a README.md saying what lives there"
    assert readme.read_text(encoding="utf-8").strip()
