"""Station simulator: realistic Shenyang air-quality and carbon data on the wire
(docs/contract.md §1).

Deterministic by seed: city weather, plumes from point/line sources, chemistry, station
operations and injectable faults with a ground truth. Public API (imported lazily, so that
importing :mod:`aircarbon.simulator.command` for the CLI stays light):

* :class:`SimulationConfig`, :class:`FaultConfig`, :class:`FaultEvent`, :class:`GroundTruth`
* :func:`iter_messages` / :class:`Simulation` — the messages, without a broker
* :func:`simulate_frame` — the clean values as a Polars frame
* :func:`publish_replay`, :func:`publish_realtime` — to an MQTT broker (:func:`broker_endpoint`)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aircarbon.simulator.config import SimulationConfig
    from aircarbon.simulator.faults import FaultConfig, FaultEvent, GroundTruth
    from aircarbon.simulator.messages import Simulation, iter_messages, simulate_frame
    from aircarbon.simulator.publisher import (
        PublishReport,
        broker_endpoint,
        publish_realtime,
        publish_replay,
    )
    from aircarbon.simulator.stream import SimMessage

__all__ = [
    "FaultConfig",
    "FaultEvent",
    "GroundTruth",
    "PublishReport",
    "SimMessage",
    "Simulation",
    "SimulationConfig",
    "broker_endpoint",
    "iter_messages",
    "publish_realtime",
    "publish_replay",
    "simulate_frame",
]

_WHERE = {
    "SimulationConfig": "config",
    "FaultConfig": "faults",
    "FaultEvent": "faults",
    "GroundTruth": "faults",
    "Simulation": "messages",
    "iter_messages": "messages",
    "simulate_frame": "messages",
    "SimMessage": "stream",
    "broker_endpoint": "publisher",
    "PublishReport": "publisher",
    "publish_realtime": "publisher",
    "publish_replay": "publisher",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
