"""Same seed, same bytes: benchmarks and regression tests replay runs exactly."""

from __future__ import annotations

import time

from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.faults import FaultConfig, GroundTruth
from aircarbon.simulator.messages import iter_messages, simulate_frame

from .conftest import small_config


def test_same_seed_same_payload_bytes() -> None:
    config = small_config(format="mixed", faults=FaultConfig.demo(), operations=True)
    first = [(m.topic, m.payload, m.retain) for m in iter_messages(config)]
    second = [(m.topic, m.payload, m.retain) for m in iter_messages(config)]
    assert first == second
    assert len(first) > 700


def test_different_seed_different_payloads() -> None:
    a = [m.payload for m in iter_messages(small_config(seed=1))]
    b = [m.payload for m in iter_messages(small_config(seed=2))]
    assert len(a) == len(b)
    assert a != b


def test_values_do_not_depend_on_faults_or_station_subset() -> None:
    """Fault and station choice never shift the clean random streams."""
    alone = simulate_frame(small_config(stations=("SY-SL-05",)))
    both = simulate_frame(small_config()).filter(station="SY-SL-05")
    assert alone.equals(both)
    truth = GroundTruth()
    list(iter_messages(small_config(faults=FaultConfig(spike=0.01)), truth=truth))
    assert truth.of_kind("spike")


def test_frame_matches_fault_free_messages() -> None:
    config = small_config(stations=("SY-SL-05",))
    frame = simulate_frame(config)
    msgs = [m for m in iter_messages(config) if m.kind == "readings"]
    assert frame.height == len(msgs) * len(frame["param"].unique())
    assert frame["ts"].dtype.time_zone == "UTC"  # type: ignore[attr-defined]


def test_two_days_all_stations_generate_in_a_few_seconds() -> None:
    config = SimulationConfig(seed=3, days=2, format="mixed")
    t0 = time.perf_counter()
    n = sum(1 for _ in iter_messages(config))
    elapsed = time.perf_counter() - t0
    assert n >= 12 * 2 * 1440
    assert elapsed < 15.0, f"{n} messages took {elapsed:.1f} s"
