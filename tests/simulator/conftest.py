"""Shared helpers for the simulator tests: small runs and message decoding."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.stream import SimMessage


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


def small_config(**changes: Any) -> SimulationConfig:
    """A quick run: two stations, six hours of one-minute data, no operations windows."""
    base: dict[str, Any] = {
        "seed": 11,
        "start": dt.date(2026, 11, 23),
        "days": 0.25,
        "stations": ("SY-TY-01", "SY-SL-05"),
        "operations": False,
    }
    base.update(changes)
    return SimulationConfig(**base)


def decode(msg: SimMessage) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.json.decode(msg.payload)
    return out


def readings(messages: list[SimMessage]) -> list[SimMessage]:
    return [m for m in messages if m.kind == "readings"]
