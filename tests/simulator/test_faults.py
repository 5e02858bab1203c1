"""Each fault, enabled alone, is in the ground truth and visible in the messages."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
from pathlib import Path

import msgspec
import pytest

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import UnknownUnitError
from aircarbon.simulator.faults import FAULT_KINDS, FaultConfig, FaultEvent, GroundTruth
from aircarbon.simulator.messages import Simulation, simulate_frame
from aircarbon.simulator.stream import SimMessage
from ingest.hj212 import HJ212Error, parse_packet

from .conftest import decode, readings, small_config


def run(**rates: float) -> tuple[list[SimMessage], GroundTruth]:
    sim = Simulation(small_config(faults=FaultConfig(**rates)))
    return list(sim.messages()), sim.truth


def series(messages: list[SimMessage], station: str) -> list[dict[str, object]]:
    return [decode(m) for m in readings(messages) if m.station == station]


def test_parse_profiles_and_lists() -> None:
    assert not FaultConfig.parse("none").enabled
    assert FaultConfig.parse("demo") == FaultConfig.demo()
    parsed = FaultConfig.parse("flatline=0.01, spike=0.002")
    assert (parsed.flatline, parsed.spike, parsed.drift) == (0.01, 0.002, 0.0)
    assert FaultConfig.parse("demo,spike=0.5").spike == 0.5
    assert str(parsed) == "flatline=0.01,spike=0.002"
    for bad in ("sparkle=0.1", "spike", "spike=lots", "spike=2"):
        with pytest.raises(ValueError):  # noqa: PT011 - each message names the problem
            FaultConfig.parse(bad)


def test_no_faults_no_events() -> None:
    msgs, truth = run()
    assert truth.faults == []
    assert all(decode(m)["station"] == m.station for m in readings(msgs))


def test_duplicate_payload_sent_twice() -> None:
    msgs, truth = run(duplicate=0.02)
    events = truth.of_kind("duplicate")
    assert events
    counts = collections.Counter(m.payload for m in readings(msgs))
    assert sum(c - 1 for c in counts.values()) == len(events)


def test_malformed_payloads_fail_to_decode_or_lie() -> None:
    msgs, truth = run(malformed=0.03)
    events = truth.of_kind("malformed")
    assert events
    bad = 0
    for m in readings(msgs):
        try:
            body = msgspec.json.decode(m.payload)
        except msgspec.DecodeError:
            bad += 1
            continue
        if body["station"] != m.station:
            bad += 1
    assert bad == len(events)
    assert {e.detail["variant"] for e in events} <= {"truncated", "garbage", "wrong_station"}


def test_malformed_hj212_packets_are_rejected(catalog: Catalog) -> None:
    sim = Simulation(small_config(format="hj212", faults=FaultConfig(malformed=0.05)))
    msgs = [m for m in sim.messages() if m.kind == "hj212"]
    events = sim.truth.of_kind("malformed")
    assert events
    bad = 0
    for m in msgs:
        try:
            packet = parse_packet(m.payload)
        except HJ212Error:
            bad += 1
            continue
        if packet.mn != catalog.station(m.station).mn:
            bad += 1
    assert bad == len(events)


def test_flatline_repeats_a_value() -> None:
    msgs, truth = run(flatline=0.01)
    events = truth.of_kind("flatline")
    assert events
    for event in events:
        param = str(event.detail["param"])
        later = [
            e.ts
            for e in events
            if e.station == event.station and e.detail["param"] == param and e.ts > event.ts
        ]
        stop = min([*later, event.ts + dt.timedelta(minutes=int(event.detail["messages"]))])
        body = series(msgs, event.station)
        stuck = [
            b["readings"][param]  # type: ignore[index]
            for b in body
            if event.ts <= dt.datetime.fromisoformat(str(b["ts"])) < stop
        ]
        assert stuck
        assert set(stuck) == {event.detail["value"]}


def test_spike_and_drift_depart_from_the_clean_values() -> None:
    config = small_config(faults=FaultConfig(spike=0.01, drift=0.003))
    sim = Simulation(config)
    msgs = list(sim.messages())
    clean = simulate_frame(config)
    spikes, drifts = sim.truth.of_kind("spike"), sim.truth.of_kind("drift")
    assert spikes
    assert drifts
    sent = {
        (m.station, dt.datetime.fromisoformat(str(b["ts"]))): b["readings"]
        for m in readings(msgs)
        for b in [decode(m)]
    }
    for event in spikes:
        value = sent[(event.station, event.ts)][event.detail["param"]]
        assert value == event.detail["value"]
        assert abs(value - event.detail["true"]) > 0
    for event in drifts:
        last = event.ts + dt.timedelta(minutes=int(event.detail["messages"]) - 1)
        reported = sent[(event.station, last)][event.detail["param"]]
        truth_value = clean.filter(station=event.station, param=event.detail["param"], ts=last)[
            "value"
        ].item()
        assert reported != pytest.approx(truth_value, abs=1e-9)


def _seqs(msgs: list[SimMessage], station: str) -> list[int]:
    return [int(b["seq"]) for b in series(msgs, station)]  # type: ignore[call-overload]


def test_dropout_leaves_seq_gaps_and_offline_status() -> None:
    msgs, truth = run(dropout=0.01)
    events = truth.of_kind("dropout")
    assert events
    for station in {e.station for e in events}:
        seqs = _seqs(msgs, station)
        missing = set(range(1, 361)) - set(seqs)
        lost = sum(int(e.detail["messages"]) for e in events if e.station == station)
        assert len(missing) == lost
    states = [decode(m)["state"] for m in msgs if m.kind == "status"]
    assert "offline" in states


def test_late_messages_arrive_after_newer_ones() -> None:
    msgs, truth = run(late=0.01)
    events = truth.of_kind("late")
    assert events
    station = events[0].station
    seqs = _seqs(msgs, station)
    assert sorted(seqs) == list(range(1, 361))  # nothing lost...
    assert seqs != sorted(seqs)  # ...but some arrive late
    late_seq = next(s for i, s in enumerate(seqs) if i and s < seqs[i - 1])
    assert late_seq < max(seqs[: seqs.index(late_seq)])


def test_out_of_order_swaps_neighbours() -> None:
    msgs, truth = run(out_of_order=0.01)
    events = truth.of_kind("out_of_order")
    assert events
    inversions = 0
    for station in ("SY-TY-01", "SY-SL-05"):
        seqs = _seqs(msgs, station)
        inversions += sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    assert inversions == len(events)


def test_clock_skew_shifts_timestamps() -> None:
    config = small_config(faults=FaultConfig(clock_skew=0.01))
    sim = Simulation(config)
    msgs = list(sim.messages())
    events = sim.truth.of_kind("clock_skew")
    assert events
    start = config.start_utc
    skewed = 0
    for body in (decode(m) for m in readings(msgs)):
        expected = start + dt.timedelta(minutes=int(body["seq"]))
        if dt.datetime.fromisoformat(str(body["ts"])) != expected:
            skewed += 1
    assert 0 < skewed <= sum(int(e.detail["messages"]) for e in events)
    for event in events:
        assert event.detail["beyond_future_limit"] == (event.detail["shift_s"] > 300)


def test_wrong_units_valid_convert_invalid_reject(catalog: Catalog) -> None:
    config = small_config(faults=FaultConfig(wrong_units=0.02))
    sim = Simulation(config)
    msgs = list(sim.messages())
    clean = simulate_frame(config)
    events = sim.truth.of_kind("wrong_units")
    assert {e.detail["valid"] for e in events} == {True, False}
    overridden = [(m, b) for m in readings(msgs) for b in [decode(m)] if "units" in b]
    assert len(overridden) == len(events)
    for m, body in overridden:
        ((param, unit),) = body["units"].items()
        value = body["readings"][param]
        ts = dt.datetime.fromisoformat(body["ts"])
        event = next(e for e in events if e.station == m.station and e.ts == ts)
        if event.detail["valid"]:
            canonical = catalog.to_canonical(param, value, unit)
            expected = clean.filter(station=m.station, param=param, ts=ts)["value"].item()
            assert canonical == pytest.approx(expected, rel=1e-6, abs=1e-9)
        else:
            with pytest.raises(UnknownUnitError):
                catalog.conversion(param, unit)


def test_every_kind_at_once_and_jsonl(tmp_path: Path) -> None:
    rates = dict.fromkeys(FAULT_KINDS, 0.01)
    sim = Simulation(small_config(format="mixed", faults=FaultConfig(**rates)))
    list(sim.messages())
    assert {e.kind for e in sim.truth.faults} == set(FAULT_KINDS)
    path = tmp_path / "truth.jsonl"
    assert sim.truth.write_jsonl(path) == len(sim.truth)
    first = msgspec.json.decode(path.read_text().splitlines()[0])
    assert set(first) == {"kind", "station", "ts", "detail"}
    assert isinstance(sim.truth.events[0], FaultEvent)
