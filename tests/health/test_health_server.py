"""The health server's HTTP contract: /healthz, /metrics, /api/stations, lifecycle."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import AirCarbonError
from ingest.health import LATENCY_BUCKETS_S, IngestStats
from ingest.health_server import HealthServer

from .conftest import NOISY, PARTIAL, SILENT, US, FakeClock, healthy_stats


def _url(server: HealthServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


async def _get(server: HealthServer, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        return await client.get(_url(server, path), headers=headers)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


# --- /healthz ---------------------------------------------------------------------------------


async def test_healthz_degraded_names_the_silent_station(server: HealthServer) -> None:
    resp = await _get(server, "/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "degraded"
    rules = {(r["rule"], r["station"]) for r in body["reasons"]}
    assert ("silent", SILENT) in rules
    assert ("dead_letter_rate", NOISY) in rules
    assert any(
        SILENT in r["message"] and "silent for 7200 s" in r["message"] for r in body["reasons"]
    )
    # a station that says it is calibrating is shown, but is not an ingest fault
    assert all(r["rule"] != "status" for r in body["reasons"])
    # the stations that report are not blamed
    assert not any(r["station"] == "SY-TY-01" for r in body["reasons"])


async def test_healthz_ok_when_every_station_is_recent(catalog: Catalog, clock: FakeClock) -> None:
    srv = HealthServer(healthy_stats(catalog, clock), clock=clock)
    task = asyncio.create_task(srv.serve())
    await srv.started.wait()
    try:
        resp = await _get(srv, "/healthz")
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"status": "ok", "reasons": []}
        # time passes without messages: every station falls silent
        clock.now_us += 10 * 60 * US
        resp = await _get(srv, "/healthz")
        assert resp.status_code == 503
        silent = {r["station"] for r in resp.json()["reasons"] if r["rule"] == "silent"}
        assert silent == set(catalog.stations)
    finally:
        await srv.shutdown()
        await task


async def test_healthz_process_rules(catalog: Catalog, clock: FakeClock) -> None:
    stats = healthy_stats(catalog, clock)
    stats.connected = False
    stats.queue_depth = 2  # == queue_capacity: the writer is behind, backpressure is on
    sid = "SY-TY-01"
    stats.observe_message(sid, clock.now_us, 5, clock.now_us - 3600 * US, 2000, 60, None)
    srv = HealthServer(stats, clock=clock)
    assert {(r["rule"], r["station"]) for r in srv.health()} == {
        ("broker_disconnected", None),
        ("queue_full", None),
        ("lag", sid),
    }


@pytest.mark.parametrize(
    ("capacity", "depth", "full"),
    [
        (2, 0, False),
        (2, 1, False),  # one batch waiting while another is written: normal
        (2, 2, True),  # the queue is full: the disk is the bottleneck
        (2, 3, True),  # ... and the reader is blocked putting a third (backpressure)
        (0, 50, False),  # capacity unknown (collector not reporting it): no alert
    ],
)
def test_queue_full_compares_batches_with_batches(
    catalog: Catalog, clock: FakeClock, capacity: int, depth: int, full: bool
) -> None:
    stats = healthy_stats(catalog, clock)
    stats.queue_capacity = capacity
    stats.queue_depth = depth
    stats.pending_acks = 19_999  # a message count: never compared with the batch queue
    reasons = HealthServer(stats, clock=clock).health()
    assert [r["rule"] for r in reasons] == (["queue_full"] if full else [])
    if full:
        assert f"({depth}/{capacity} batches)" in reasons[0]["message"]


def test_document_reports_queue_and_held_messages(catalog: Catalog, clock: FakeClock) -> None:
    stats = healthy_stats(catalog, clock)
    stats.queue_depth, stats.pending_acks = 2, 5_000
    doc = HealthServer(stats, clock=clock).document()
    assert (doc["queue_depth"], doc["queue_capacity"]) == (2, 2)
    assert (doc["pending_acks"], doc["pending_acks_limit"]) == (5_000, 20_000)
    assert doc["rules"]["queue_capacity"] == 2
    assert [r["rule"] for r in doc["reasons"]] == ["queue_full"]


def test_never_seen_station_gets_a_grace_period(catalog: Catalog, clock: FakeClock) -> None:
    stats = healthy_stats(catalog, clock)
    sid = "SY-YN-10"
    stats.stations[sid] = type(stats.stations[sid])(sid)  # forget everything about it
    stats.started_us = clock.now_us - 60 * US
    srv = HealthServer(stats, clock=clock)
    assert srv.health() == []
    clock.now_us += 10 * 60 * US
    for other in catalog.stations:
        if other != sid:
            stats.observe_message(other, clock.now_us, 1, clock.now_us, None, 60, None)
    assert [(r["rule"], r["station"]) for r in srv.health()] == [("never_seen", sid)]


# --- /metrics ---------------------------------------------------------------------------------


async def test_metrics_answer_at_metrics_without_redirect(
    server: HealthServer, stats: IngestStats, clock: FakeClock
) -> None:
    resp = await _get(server, "/metrics")
    assert resp.status_code == 200
    assert not resp.history
    assert resp.headers["content-type"].startswith("text/plain")
    s = _samples(resp.text)

    assert _value(s, "aircarbon_ingest_messages_total") == stats.messages_total
    assert _value(s, "aircarbon_ingest_readings_total") == stats.readings_total
    assert _value(s, "aircarbon_ingest_dead_letters_total", reason="malformed_json") == 4
    assert _value(s, "aircarbon_ingest_dead_letters_total", reason="unknown_station") == 1
    assert _value(s, "aircarbon_ingest_duplicates_total") == 1
    assert _value(s, "aircarbon_ingest_batches_written_total") == 9
    assert _value(s, "aircarbon_ingest_pending_acks") == 17
    assert _value(s, "aircarbon_ingest_queue_depth") == 1
    assert _value(s, "aircarbon_ingest_queue_capacity") == 2
    assert _value(s, "aircarbon_ingest_pending_acks_limit") == 20_000
    assert _value(s, "aircarbon_ingest_connected") == 1
    assert _value(s, "aircarbon_ingest_reconnects_total") == 0
    assert _value(s, "aircarbon_ingest_healthy") == 0

    assert _value(s, "aircarbon_station_messages_total", station="SY-TY-01") == 3
    assert _value(s, "aircarbon_station_seq_gaps_total", station="SY-TY-01") == 0
    assert (
        _value(s, "aircarbon_station_dead_letters_total", station=NOISY, reason="malformed_json")
        == 4
    )
    assert _value(s, "aircarbon_station_params_missing", station=PARTIAL) == 2
    last_seen = _value(s, "aircarbon_station_last_seen_timestamp_seconds", station=SILENT)
    assert last_seen == (clock.now_us - 7200 * US) / US
    assert _value(s, "aircarbon_station_lag_seconds", station="SY-TY-01") == pytest.approx(2.0)
    assert _value(s, "aircarbon_alerts", rule="silent", station=SILENT) == 1
    assert _value(s, "aircarbon_alerts", rule="dead_letter_rate", station=NOISY) == 1
    assert _value(s, "aircarbon_alerts", rule="status", station="SY-HS-12") == 1
    assert ("aircarbon_alerts", frozenset({("rule", "silent"), ("station", "SY-TY-01")})) not in s
    assert _value(s, "aircarbon_station_info", station="SY-TY-01", name_en="Taiyuan Jie",
                  name_zh="太原街", type="national") == 1  # fmt: skip

    # histogram: cumulative buckets from observe_latency (0.02, 0.3, 0.8, 1.2, 7, 120 s)
    hist = "aircarbon_ingest_durable_latency_seconds"
    assert _value(s, f"{hist}_count") == 6
    assert _value(s, f"{hist}_sum") == pytest.approx(129.32)
    assert _value(s, f"{hist}_bucket", le="0.025") == 1
    assert _value(s, f"{hist}_bucket", le="1.0") == 3
    assert _value(s, f"{hist}_bucket", le="10.0") == 5
    assert _value(s, f"{hist}_bucket", le="60.0") == 5
    assert _value(s, f"{hist}_bucket", le="+Inf") == 6
    assert len([k for k in s if k[0] == f"{hist}_bucket"]) == len(LATENCY_BUCKETS_S) + 1


async def test_metrics_openmetrics_negotiation(server: HealthServer) -> None:
    resp = await _get(server, "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/openmetrics-text")
    assert resp.text.rstrip().endswith("# EOF")


async def test_two_servers_in_one_process_do_not_collide(
    catalog: Catalog, clock: FakeClock, server: HealthServer
) -> None:
    other_stats = healthy_stats(catalog, clock)
    other = HealthServer(other_stats, clock=clock)
    task = asyncio.create_task(other.serve())
    await other.started.wait()
    try:
        assert other.port != server.port
        a = _samples((await _get(server, "/metrics")).text)
        b = _samples((await _get(other, "/metrics")).text)
        assert _value(a, "aircarbon_ingest_healthy") == 0
        assert _value(b, "aircarbon_ingest_healthy") == 1
        assert _value(b, "aircarbon_ingest_messages_total") == other_stats.messages_total
    finally:
        await other.shutdown()
        await task


def test_latency_histogram_falls_back_to_the_window(catalog: Catalog, clock: FakeClock) -> None:
    """A collector that only appends to ``latencies_s`` still gets a histogram."""
    from prometheus_client import generate_latest

    stats = healthy_stats(catalog, clock)
    stats.latencies_s.extend([0.2, 0.4, 3.0])
    srv = HealthServer(stats, clock=clock)
    s = _samples(generate_latest(srv.registry).decode())
    assert _value(s, "aircarbon_ingest_durable_latency_seconds_count") == 3
    assert _value(s, "aircarbon_ingest_durable_latency_seconds_bucket", le="0.5") == 2


# --- /api/stations and / ----------------------------------------------------------------------


async def test_api_stations_document(server: HealthServer, catalog: Catalog) -> None:
    resp = await _get(server, "/api/stations")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    doc = resp.json()
    assert doc["status"] == "degraded"
    assert doc["connected"] is True
    assert doc["dead_letters_total"] == {
        "malformed_json": 4,
        "unknown_param": 1,
        "unknown_station": 1,
    }
    assert doc["rules"]["silent_periods"] == 3
    assert doc["latency_s"]["count"] == 6
    assert doc["network"]["name_en"] == catalog.network.name_en
    by_id = {s["station"]: s for s in doc["stations"]}
    assert set(by_id) == set(catalog.stations)
    expected_keys = {
        "station", "name_zh", "name_en", "type", "state", "health", "alerts", "alert_rules",
        "last_seen", "messages_per_min", "readings_per_min", "seq_gaps", "late", "duplicates",
        "dead_letters", "lag_s", "params_missing", "params_expected", "messages", "readings",
    }  # fmt: skip
    for record in doc["stations"]:
        assert expected_keys <= set(record), expected_keys - set(record)
    assert by_id[SILENT]["health"] == "silent"
    assert by_id[SILENT]["alert_rules"] == ["silent"]
    assert by_id[NOISY]["health"] == "degraded"
    assert by_id[NOISY]["dead_letters"] == {"malformed_json": 4, "unknown_param": 1}
    assert by_id["SY-TY-01"]["health"] == "ok"
    assert by_id["SY-TY-01"]["name_zh"] == "太原街"
    assert by_id["SY-TY-01"]["messages_per_min"] == 1  # one a minute, the last 5 s ago
    assert by_id["SY-TY-01"]["lag_s"] == pytest.approx(2.0)
    assert by_id[PARTIAL]["params_missing"] == sorted(catalog.stations[PARTIAL].params[-2:])
    assert by_id["SY-HS-12"]["state"] == "calibrating"


async def test_index_page_is_self_contained(server: HealthServer) -> None:
    resp = await _get(server, "/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text
    assert "__INITIAL_DOCUMENT__" not in html  # the snapshot is inlined
    assert SILENT in html
    for external in ("http://", "https://", "//cdn", "@import", "fonts.googleapis"):
        assert external not in html.replace("http://www.w3.org", ""), external
    assert "</script" not in html.split('id="initial-document"')[1].split("</script>")[0]


# --- lifecycle --------------------------------------------------------------------------------


async def test_shutdown_releases_the_port_and_leaves_signals_alone(
    stats: IngestStats, clock: FakeClock
) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    srv = HealthServer(stats, clock=clock)
    task = asyncio.create_task(srv.serve())
    await srv.started.wait()
    assert {sig: signal.getsignal(sig) for sig in before} == before
    port = srv.port
    assert (await _get(srv, "/healthz")).status_code == 503
    await srv.shutdown()
    await asyncio.wait_for(task, 5)
    assert not srv.started.is_set()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again
    assert {sig: signal.getsignal(sig) for sig in before} == before


async def test_cancelling_serve_stops_listening(stats: IngestStats, clock: FakeClock) -> None:
    srv = HealthServer(stats, clock=clock)
    task = asyncio.create_task(srv.serve())
    await srv.started.wait()
    port = srv.port
    assert (await _get(srv, "/api/stations")).status_code == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(httpx.ConnectError):
        await _get(srv, "/healthz")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


async def test_port_in_use_is_a_one_line_error(stats: IngestStats, clock: FakeClock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        srv = HealthServer(stats, port=taken.getsockname()[1], clock=clock)
        with pytest.raises(AirCarbonError, match=r"health server cannot listen on 127\.0\.0\.1:"):
            await srv.serve()
