"""Publishing an issue's warnings on MQTT for downstream systems (docs/forecast.md).

Topic ``aircarbon/v1/_network/forecast/warnings``, QoS 1, **retained** (a system that connects later
gets the current state at once), one JSON document per issue::

    {"issued_date": "2026-12-01", "issued_at": "2026-12-01T16:00:00+00:00",
     "model_version": "gbm-…", "method": "gbm", "warnings": [{"station": "city",
     "kind": "heavy_pollution", "level": "yellow", "start_date": "…", "end_date": "…",
     "days": 2, "max_aqi": 245, "max_value": null, "reason": "…", "reason_zh": "…",
     "source": "…"}]}

An issue without warnings publishes an empty list (it clears the retained state). Five topic
levels on purpose: the collector subscribes to ``aircarbon/v1/+/+`` and never receives it, so
the retained message cannot land in the dead-letter store on every collector reconnect.
Published only when ``AIRCARBON_BROKER_URL`` is set.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import polars as pl

from aircarbon.core.settings import Settings

__all__ = ["WARNINGS_TOPIC", "publish_warnings", "warnings_payload"]

WARNINGS_TOPIC = "aircarbon/v1/_network/forecast/warnings"
_log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def warnings_payload(
    warnings: pl.DataFrame,
    *,
    day: dt.date,
    issued_at: dt.datetime,
    model_version: str | None,
    method: str,
) -> bytes:
    """The retained message of one issue (UTF-8 JSON)."""
    rows = [
        {k: _jsonable(v) for k, v in row.items() if k not in ("issued_date", "issued_at")}
        for row in warnings.iter_rows(named=True)
    ]
    doc = {
        "issued_date": day.isoformat(),
        "issued_at": issued_at.isoformat(),
        "model_version": model_version,
        "method": method,
        "warnings": rows,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def publish_warnings(settings: Settings, payload: bytes, *, timeout_s: float = 10.0) -> bool:
    """Publish (QoS 1, retained) and wait for the broker's PUBACK; False when no broker set.

    A broker that cannot be reached raises :class:`~aircarbon.core.errors.BrokerError`: the
    caller decides whether that fails the run (the forecast is already stored).
    """
    from ingest.mqtt_client import endpoint

    # its own client id (the collector's would take over the collector's session); v3.1.1 like
    # every publisher: one clean session, no properties
    conn = endpoint(settings, client_id=f"{settings.client_id}-forecast", protocol="v311")
    if conn is None:
        _log.info("no AIRCARBON_BROKER_URL: warnings not published on %s", WARNINGS_TOPIC)
        return False
    from ingest.mqtt_publish import Message, MqttPublisher

    with MqttPublisher(conn, window=4, connect_timeout_s=timeout_s) as pub:
        pub.publish(Message(WARNINGS_TOPIC, payload, retain=True, qos=1))
        pub.drain(timeout_s)
    _log.info("published warnings on %s (%d bytes)", WARNINGS_TOPIC, len(payload))
    return True
