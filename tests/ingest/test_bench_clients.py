"""The benchmarks' load generators build their MQTT clients through ``ingest.mqtt_client``.

Only the bare aiomqtt baseline of benchmarks/ingest.py (``role_aiomqtt``) builds its own
client: it is the baseline the collector is measured against. A load generator with a
hand-made client would silently drift from how AirCarbon's publishers connect.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fixtures.brokers import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]


def _client_constructions(path: Path) -> list[tuple[str, str]]:
    """(enclosing function, call) for every ``<module>.Client(...)`` call in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = where
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "Client"
            ):
                found.append((name, ast.unparse(child.func)))
            visit(child, name)

    visit(tree, "<module>")
    return found


def test_only_the_bare_baseline_builds_its_own_client() -> None:
    assert _client_constructions(ROOT / "benchmarks" / "hostile.py") == []
    assert _client_constructions(ROOT / "benchmarks" / "ingest.py") == [
        ("main", "aiomqtt.Client")  # role_aiomqtt's loop, the baseline
    ]


@pytest.mark.integration
def test_the_load_client_publishes_at_qos1(mosquitto: MosquittoBroker) -> None:
    import threading

    from benchmarks.ingest import load_client

    client, ep = load_client(mosquitto.port, "bench-test")
    assert (ep.protocol, ep.username, ep.tls) == ("v311", None, False)
    acked = threading.Event()
    client.on_publish = lambda *_a: acked.set()
    client.connect(ep.host, ep.port, keepalive=ep.keepalive_s)
    client.loop_start()
    try:
        client.publish("aircarbon/v1/SY-TY-01/readings", b"{}", qos=1)
        assert acked.wait(30)
    finally:
        client.disconnect()
        client.loop_stop()
