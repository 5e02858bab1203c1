"""A scripted data logger and an in-process gateway for the gateway tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import aiomqtt

from aircarbon.core.catalog import load_catalog
from ingest.hj212 import Packet, build_data_segment, build_frame, parse_packet
from ingest.hj212_framer import Framer
from ingest.hj212_gateway import Gateway, GatewayConfig
from ingest.mqtt_client import MqttEndpoint

CATALOG = load_catalog()
STATIONS = ["SY-TY-01", "SY-XH-02", "SY-XX-03", "SY-HN-06", "SY-LD-08"]
# four days ago: inside the collector's late-data window whatever the time of day
BASE = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=4)).replace(
    minute=0, second=0, microsecond=0, tzinfo=None
)


def data_frame(station: str, n: int, *, flag: int = 5, mn: str | None = None) -> bytes:
    """Minute ``n`` of ``station``: PM2.5 = n % 300, SO2 = 7; QN unique per (station, n)."""
    when = BASE + dt.timedelta(minutes=n)
    seg = build_data_segment(
        qn=f"{when:%Y%m%d%H%M%S}{STATIONS.index(station) if station in STATIONS else 9:03d}",
        st="22",
        cn="2051",
        pw="123456",
        mn=mn or CATALOG.station(station).mn,
        flag=flag,
        datatime=f"{when:%Y%m%d%H%M%S}",
        items=[("a34004", {"Avg": f"{n % 300}.5", "Flag": "N"}), ("a21026", {"Avg": "7"})],
    )
    return build_frame(seg)


def corrupt_crc(frame: bytes) -> bytes:
    crc = int(frame[-6:-2], 16)
    return frame[:-6] + b"%04X" % (crc ^ 0x00FF) + b"\r\n"


def config(broker_port: int, **changes: object) -> GatewayConfig:
    base = GatewayConfig(
        host="127.0.0.1",
        port=0,
        broker=MqttEndpoint("127.0.0.1", broker_port, client_id="aircarbon-gateway"),
        health_port=0,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
        publish_timeout_s=5.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_gateway(cfg: GatewayConfig, data_dir: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(cfg, catalog=CATALOG, data_dir=data_dir)
    task = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.listening.wait(), timeout=15)
        await asyncio.wait_for(gateway._publisher.connected.wait(), timeout=15)
        yield gateway
    finally:
        gateway.stop()
        await asyncio.wait_for(task, timeout=30)


class Logger:
    """A TCP data logger: writes frames, parses the platform's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._framer = Framer()
        self._answers: list[Packet] = []

    @classmethod
    async def connect(cls, port: int) -> Logger:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, *frames: bytes) -> None:
        self.writer.write(b"".join(frames))
        await self.writer.drain()

    async def answer(self, limit_s: float = 30.0) -> Packet:
        """The next answer from the platform (a parsed frame)."""
        while not self._answers:
            data = await asyncio.wait_for(self.reader.read(4096), timeout=limit_s)
            if not data:
                raise ConnectionError("platform closed the connection")
            for chunk in self._framer.feed(data) + self._framer.flush():
                assert chunk.kind == "frame", chunk
                self._answers.append(parse_packet(chunk.data))
        return self._answers.pop(0)

    async def answers(self, n: int, limit_s: float = 30.0) -> list[Packet]:
        return [await self.answer(limit_s) for _ in range(n)]

    async def closed_by_peer(self, limit_s: float = 30.0) -> bool:
        data = await asyncio.wait_for(self.reader.read(4096), timeout=limit_s)
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def subscriber(
    port: int, topic: str = "aircarbon/v1/+/hj212"
) -> AsyncIterator[tuple[aiomqtt.Client, list[tuple[str, bytes]]]]:
    """A subscriber collecting (topic, payload) of every message, in a background task."""
    got: list[tuple[str, bytes]] = []
    async with aiomqtt.Client("127.0.0.1", port, identifier="test-sub") as client:
        await client.subscribe(topic, qos=1)

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                got.append((str(message.topic), message.payload))

        task = asyncio.create_task(pump())
        try:
            yield client, got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_until(predicate: object, limit_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


def qns(packets: Sequence[Packet]) -> list[str | None]:
    return [p.qn for p in packets]
