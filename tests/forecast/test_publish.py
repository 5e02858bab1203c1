"""Warnings on MQTT: retained, QoS 1, JSON, on the documented topic of a real Mosquitto."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import paho.mqtt.client as paho
import polars as pl
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aircarbon.core.errors import BrokerError
from aircarbon.core.settings import load_settings
from aircarbon.pipeline.forecast.publish import WARNINGS_TOPIC, publish_warnings, warnings_payload
from tests.fixtures.brokers import MosquittoBroker, free_port
from transforms.forecast.rules import load_forecast_rules
from transforms.warnings import heavy_pollution_warnings

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 1, 10)
ORIGIN = dt.datetime(2026, 1, 10, 16, tzinfo=dt.UTC)


def _warnings() -> pl.DataFrame:
    dates = [DAY + dt.timedelta(days=k) for k in (1, 2, 3)]
    aqi = pl.DataFrame({"station": "city", "date": dates, "aqi": [230, 260, 150]})
    return heavy_pollution_warnings(aqi, load_forecast_rules())


def _retained(broker: MosquittoBroker, timeout: float = 10.0) -> paho.MQTTMessage:
    """Subscribe AFTER the publisher has gone: only a retained message can arrive."""
    got: list[paho.MQTTMessage] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-downstream")
    client.on_connect = lambda c, *_: c.subscribe(WARNINGS_TOPIC, qos=1)
    client.on_message = lambda _c, _u, msg: (got.append(msg), done.set())
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert done.wait(timeout), "no retained warnings message"
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


def test_warnings_are_retained_on_the_documented_topic(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    settings = load_settings({}, data_dir=tmp_path, broker_url=mosquitto.url)
    payload = warnings_payload(
        _warnings(), day=DAY, issued_at=ORIGIN, model_version="gbm-x", method="gbm"
    )
    assert publish_warnings(settings, payload) is True
    msg = _retained(mosquitto)
    assert msg.retain
    assert msg.qos == 1
    doc = json.loads(msg.payload)
    assert doc["issued_date"] == "2026-01-10"
    assert doc["issued_at"] == ORIGIN.isoformat()
    assert [(w["station"], w["level"], w["start_date"]) for w in doc["warnings"]] == [
        ("city", "yellow", "2026-01-11")
    ]
    # the next issue without warnings clears the retained state to an empty list
    empty = warnings_payload(
        _warnings().clear(), day=DAY, issued_at=ORIGIN, model_version=None, method="gbm"
    )
    publish_warnings(settings, empty)
    assert json.loads(_retained(mosquitto).payload)["warnings"] == []


def test_no_broker_configured_skips_and_unreachable_broker_raises(tmp_path: Path) -> None:
    payload = warnings_payload(
        _warnings(), day=DAY, issued_at=ORIGIN, model_version=None, method="m"
    )
    assert publish_warnings(load_settings({}, data_dir=tmp_path), payload) is False
    dead = load_settings({}, data_dir=tmp_path, broker_url=f"mqtt://127.0.0.1:{free_port()}")
    with pytest.raises(BrokerError):
        publish_warnings(dead, payload, timeout_s=2.0)


def test_topic_is_outside_the_collectors_subscription() -> None:
    # a retained message the collector received would be dead-lettered on every reconnect
    assert not paho.topic_matches_sub("aircarbon/v1/+/+", WARNINGS_TOPIC)
    assert paho.topic_matches_sub("aircarbon/v1/_network/#", WARNINGS_TOPIC)
