"""The brokers the other tests stand on: QoS 1 delivery, persistent sessions, restarts.

Every client sends a username: the embedded amqtt broker needs one to queue messages for an
offline session (see ``ingest/embedded_broker.py``), and Mosquitto does not mind.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aiomqtt
import pytest

from ingest.embedded_broker import EmbeddedBroker, start_in_thread
from tests.fixtures.brokers import MosquittoBroker, paho_publish

pytestmark = pytest.mark.integration

TOPICS = "aircarbon/v1/+/+"
RECEIVE_TIMEOUT_S = 15.0


@dataclass
class Endpoint:
    host: str
    port: int


@pytest.fixture(params=["mosquitto", "amqtt_broker"])
def broker(request: pytest.FixtureRequest) -> Endpoint:
    """Tests taking ``broker`` run against both brokers."""
    started: MosquittoBroker | EmbeddedBroker = request.getfixturevalue(request.param)
    return Endpoint(started.host, started.port)


def subscriber(endpoint: Endpoint, *, persistent: bool = False) -> aiomqtt.Client:
    """An aiomqtt client; ``persistent`` = fixed client id and ``clean_session=False``."""
    return aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        identifier="test-collector" if persistent else None,
        clean_session=False if persistent else None,
        username="collector",
    )


async def receive(client: aiomqtt.Client, count: int) -> list[int]:
    """The ``seq`` of up to ``count`` messages, giving up after ``RECEIVE_TIMEOUT_S``."""
    seqs: list[int] = []
    try:
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seqs.append(json.loads(message.payload)["seq"])
                if len(seqs) >= count:
                    break
    except TimeoutError:
        pass
    return seqs


async def publish(endpoint: Endpoint, count: int) -> None:
    await asyncio.to_thread(paho_publish, endpoint.host, endpoint.port, count)


async def test_qos1_live_delivery(broker: Endpoint) -> None:
    async with subscriber(broker) as client:
        await client.subscribe(TOPICS, qos=1)
        publishing = asyncio.create_task(publish(broker, 1000))
        seqs = await receive(client, 1000)
        await publishing
    assert sorted(seqs) == list(range(1000))


async def test_persistent_session_gets_backlog(broker: Endpoint) -> None:
    async with subscriber(broker, persistent=True) as client:
        await client.subscribe(TOPICS, qos=1)
    await publish(broker, 500)
    async with subscriber(broker, persistent=True) as client:
        seqs = await receive(client, 500)
    assert sorted(seqs) == list(range(500))


async def test_anonymous_refused_by_embedded_broker(amqtt_broker: EmbeddedBroker) -> None:
    """Anonymous sessions would silently get no backlog from amqtt, so they are refused."""
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(amqtt_broker.host, amqtt_broker.port):
            pass


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_mosquitto_restart_keeps_backlog(mosquitto: MosquittoBroker, how: str) -> None:
    endpoint = Endpoint(mosquitto.host, mosquitto.port)
    async with subscriber(endpoint, persistent=True) as client:
        await client.subscribe(TOPICS, qos=1)
    await publish(endpoint, 500)
    if how == "kill":
        await asyncio.sleep(2.5)  # autosave_interval 1: a crash keeps the last snapshot
        mosquitto.kill()
    else:
        mosquitto.stop()  # SIGTERM writes the persistence file
    mosquitto.start()
    async with subscriber(endpoint, persistent=True) as client:
        seqs = await receive(client, 500)
    assert sorted(seqs) == list(range(500))


async def test_embedded_restart_keeps_backlog(amqtt_broker: EmbeddedBroker) -> None:
    endpoint = Endpoint(amqtt_broker.host, amqtt_broker.port)
    async with subscriber(endpoint, persistent=True) as client:
        await client.subscribe(TOPICS, qos=1)
    await publish(endpoint, 500)
    await amqtt_broker.stop()
    await amqtt_broker.start()
    assert amqtt_broker.port == endpoint.port
    async with subscriber(endpoint, persistent=True) as client:
        seqs = await receive(client, 500)
    assert sorted(seqs) == list(range(500))


def test_embedded_broker_in_thread() -> None:
    """The synchronous handle the CLI's demo uses."""
    with start_in_thread() as handle:
        assert handle.url == f"mqtt://127.0.0.1:{handle.port}"
        started = time.monotonic()
        paho_publish("127.0.0.1", handle.port, 100)
        assert time.monotonic() - started < 10
    handle.stop()  # idempotent
