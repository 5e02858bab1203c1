"""Wire formats (docs/contract.md §1): JSON messages, HJ 212-2017 packets, retained status."""

from __future__ import annotations

import datetime as dt

from aircarbon.core.catalog import Catalog
from aircarbon.simulator.messages import Simulation, iter_messages
from aircarbon.simulator.wire import command_for
from ingest.hj212 import parse_packet

from .conftest import decode, small_config


def test_json_reading_messages_follow_the_spec(catalog: Catalog) -> None:
    msgs = list(iter_messages(small_config(stations=("SY-SL-05",), operations=True, days=1)))
    bodies = [decode(m) for m in msgs if m.kind == "readings"]
    assert [b["seq"] for b in bodies] == list(range(1, 1441))
    first = bodies[0]
    assert first["station"] == "SY-SL-05"
    assert first["ts"] == "2026-11-23T00:01:00+08:00"  # END of the first minute, local offset
    assert first["period_s"] == 60
    assert set(first["readings"]) == set(catalog.station("SY-SL-05").params)
    for body in bodies:
        for flag in body.get("flags", {}).values():
            assert flag in {"M", "C"}


def test_status_messages_are_retained_and_valid() -> None:
    msgs = list(iter_messages(small_config(operations=True, days=2)))
    statuses = [m for m in msgs if m.kind == "status"]
    assert statuses[0].retain
    assert all(m.retain and m.qos == 1 for m in statuses)
    states = {decode(m)["state"] for m in statuses}
    assert states <= {"online", "offline", "maintenance", "calibrating"}
    assert "calibrating" in states


def test_hj212_packets_parse_and_carry_the_station_mn(catalog: Catalog) -> None:
    config = small_config(format="hj212", operations=True, days=1)
    msgs = [m for m in iter_messages(config) if m.kind == "hj212"]
    assert msgs
    for m in msgs:
        packet = parse_packet(m.payload)
        station = catalog.station(m.station)
        assert packet.mn == station.mn
        assert packet.cn == "2051"
        assert packet.st == ("27" if station.type == "voc" else "22")
        for item in packet.items:
            assert item.error is None
            assert catalog.hj212_param(item.code) is not None
    first = parse_packet(msgs[0].payload)
    assert first.datatime_local == dt.datetime(2026, 11, 23, 0, 0)  # START of the period
    fields = first.values_by_code()
    assert fields["a01006"]["Avg"].value is not None  # pressure, sent in kPa
    assert 90.0 < fields["a01006"]["Avg"].value < 110.0


def test_mixed_format_national_stations_speak_hj212() -> None:
    sim = Simulation(small_config(format="mixed"))
    assert sim.formats == {"SY-TY-01": "hj212", "SY-SL-05": "json"}
    assert command_for(60) == ("2051", "Avg")
    assert command_for(1) == ("2011", "Rtd")
