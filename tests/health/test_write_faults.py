"""A failing writer and hostile-traffic counters on /healthz, /metrics and /api/stations."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ingest.health import IngestStats
from ingest.health_server import HealthServer


async def _get(server: HealthServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"http://127.0.0.1:{server.port}{path}")


async def test_a_failing_writer_is_a_fault_with_its_error(
    server: HealthServer, stats: IngestStats
) -> None:
    stats.write_failures = 4
    stats.write_error = "OSError: [Errno 28] No space left on device"
    stats.isolated_rows = 3
    stats.poison_messages = 1
    resp = await _get(server, "/healthz")
    assert resp.status_code == 503
    [reason] = [r for r in resp.json()["reasons"] if r["rule"] == "write_failing"]
    assert reason["station"] is None
    assert "No space left on device" in reason["message"]
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families((await _get(server, "/metrics")).text)
        for s in family.samples
    }
    assert samples["aircarbon_ingest_write_failures"] == 4
    assert samples["aircarbon_ingest_isolated_rows_total"] == 3
    doc = (await _get(server, "/api/stations")).json()
    assert (doc["write_failures"], doc["isolated_rows"], doc["poison_messages"]) == (4, 3, 1)


async def test_a_writer_that_recovered_is_no_fault(
    server: HealthServer, stats: IngestStats
) -> None:
    stats.write_failures = 0
    body = (await _get(server, "/healthz")).json()
    assert "write_failing" not in {r["rule"] for r in body["reasons"]}
