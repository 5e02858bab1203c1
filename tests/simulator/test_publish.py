"""Publishing to a real Mosquitto: every message the simulator sends arrives, byte for byte."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aircarbon.core.settings import load_settings
from aircarbon.simulator.faults import FaultConfig
from aircarbon.simulator.messages import iter_messages
from aircarbon.simulator.publisher import (
    broker_endpoint,
    publish_realtime,
    publish_replay,
    realtime_config,
)
from ingest.mqtt_client import MqttEndpoint
from tests.fixtures.brokers import MosquittoBroker

from .conftest import small_config

pytestmark = pytest.mark.integration


class Subscriber:
    """A paho QoS 1 subscriber on ``aircarbon/v1/+/+`` collecting (topic, payload)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.received: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="sim-test-sub")
        client.username_pw_set("collector")
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_a: self._ready.set()
        client.on_message = self._on_message
        client.connect(broker.host, broker.port)
        client.loop_start()
        self.client = client
        assert self._ready.wait(10), "subscription not acknowledged"

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        client.subscribe("aircarbon/v1/+/+", qos=1)

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, bytes(msg.payload)))

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _endpoint(broker: MosquittoBroker) -> MqttEndpoint:
    conn = broker_endpoint(load_settings({}, broker_url=broker.url))
    assert conn is not None
    return conn


def test_replay_delivers_every_message(mosquitto: MosquittoBroker) -> None:
    config = small_config(format="mixed", faults=FaultConfig.demo(), operations=True)
    expected = collections.Counter((m.topic, m.payload) for m in iter_messages(config))
    sub = Subscriber(mosquitto)
    try:
        conn = _endpoint(mosquitto)
        assert conn.username == "simulator"
        report = publish_replay(config, conn, window=64)
        sub.wait_for(sum(expected.values()))
    finally:
        sub.close()
    assert report.total == sum(expected.values())
    assert report.sent["hj212"] > 0
    assert report.sent["readings"] > 0
    assert collections.Counter(sub.received) == expected


def test_realtime_paces_by_the_wall_clock(mosquitto: MosquittoBroker) -> None:
    config = realtime_config(small_config(stations=("SY-XH-02",)), rate=10.0)
    assert config.period_s == 0
    sub = Subscriber(mosquitto)
    try:
        t0 = time.monotonic()
        report = publish_realtime(config, _endpoint(mosquitto), duration_s=1.5)
        elapsed = time.monotonic() - t0
        sub.wait_for(report.total)
    finally:
        sub.close()
    assert 1.0 < elapsed < 10.0
    assert 12 <= report.sent["readings"] <= 16
    assert report.sent["status"] == 2  # online at start, offline at stop
    assert len(sub.received) == report.total
