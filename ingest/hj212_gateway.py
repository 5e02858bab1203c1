"""HJ 212 over TCP → MQTT: the gateway data loggers connect to.

A station's logger opens a TCP connection and writes HJ 212 frames; the gateway cuts the
stream into frames (:mod:`ingest.hj212_framer`), checks each one (CRC, length, syntax,
MN → station), publishes it QoS 1 to ``aircarbon/v1/{station}/hj212`` where the collector
takes it, and — when the frame's Flag asks for it — answers CN=9014 with the frame's QN
**only after the broker's PUBACK**. So an answered frame is durable at the broker, and an
unanswered one is retransmitted by the logger itself (HJ 212's own retry, 1000 "set
timeout and retry count"): a gateway crash, ``kill -9`` included, loses nothing.

Frames that are not answered, ever: bad CRC/length/framing, a header that breaks the
syntax, an MN of no station, garbage between frames. They are counted and kept in the
dead-letter store (reason, detail and bytes) so an operator sees a misconfigured logger.
The gateway checks the envelope only (what routing and the answer need); a frame whose
transport is sound but whose CP content is wrong is answered — retransmitting it would not
fix it — and the collector dead-letters its bad readings one by one, payload kept.

Commands that are not data uploads (a logger's 9014 answers, 1013 time-calibration
requests, 2021 status…) are counted by CN and ignored: the pipeline stores none of them,
and answering would tell the logger that something it sent was stored.

Per connection: an idle timeout, a token-bucket rate limit that stops *reading* (TCP flow
control pushes back on the logger; nothing is dropped), frames handled in order. Across
connections: a connection limit, one MQTT client with a reconnect loop, a small HTTP
endpoint with JSON health and Prometheus metrics, and a graceful stop (SIGTERM) that
finishes the frame in hand on every connection before closing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from aircarbon.core.catalog import Catalog, Station
from aircarbon.core.settings import Settings
from ingest.dead_letter import DeadLetterBatch
from ingest.hj212 import DATA_COMMANDS, HJ212Error, Packet, build_frame, parse_packet
from ingest.hj212_framer import Chunk, Framer
from ingest.mqtt_client import Backoff, MqttEndpoint, aiomqtt_client, endpoint
from ingest.raw_store import write_dead_letters
from ingest.reasons import RejectReason

__all__ = [
    "Gateway",
    "GatewayConfig",
    "GatewayStats",
    "data_response",
    "parse_listen",
]

log = logging.getLogger("aircarbon.gateway")

_READ_SIZE = 4096
#: how long a complete frame waits for the CR LF its logger may still send
_CRLF_WAIT_S = 0.2
_DEAD_FLUSH_S = 1.0
_DEAD_FLUSH_ROWS = 1000
_TOPIC = "aircarbon/v1/{station}/hj212"
_HTTP_LIMIT = 8192


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9212`` for IPv6) → (host, port); ValueError naming the value."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {value!r} is not HOST:PORT")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs, from :class:`~aircarbon.core.settings.Settings` and the CLI."""

    host: str
    port: int
    #: broker, TLS, credentials, client id, protocol, keepalive (:mod:`ingest.mqtt_client`)
    broker: MqttEndpoint
    max_connections: int = 2000
    idle_timeout_s: float = 900.0
    rate_frames_s: float = 50.0
    rate_burst: int = 500
    publish_timeout_s: float = 10.0
    strict: bool = False
    health_host: str = "127.0.0.1"
    health_port: int | None = 8766
    dead_letter_payload_bytes: int = 4096
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    @property
    def client_id(self) -> str:
        return self.broker.client_id

    @classmethod
    def from_settings(
        cls, settings: Settings, *, listen: str | None = None, broker_url: str | None = None
    ) -> GatewayConfig:
        host, port = parse_listen(listen or settings.gateway_listen)
        broker = endpoint(
            settings,
            url=broker_url,
            client_id=settings.gateway_client_id,
            default_username=settings.gateway_client_id,
            # v3.1.1, not the collector's v5: the gateway only publishes, needs no session or
            # Receive Maximum, and paho builds a Properties object for every v5 PUBACK
            protocol="v311",
        )
        if broker is None:
            raise ValueError("the gateway needs a broker: give --broker or AIRCARBON_BROKER_URL")
        return cls(
            host=host,
            port=port,
            broker=broker,
            max_connections=settings.gateway_max_connections,
            idle_timeout_s=settings.gateway_idle_timeout_s,
            rate_frames_s=settings.gateway_rate_frames_s,
            rate_burst=settings.gateway_rate_burst,
            publish_timeout_s=settings.gateway_publish_timeout_s,
            strict=settings.hj212_strict,
            health_host=settings.health_host,
            health_port=settings.gateway_health_port,
            dead_letter_payload_bytes=settings.dead_letter_payload_bytes,
            reconnect_min_s=settings.reconnect_min_s,
            reconnect_max_s=settings.reconnect_max_s,
        )


@dataclass(slots=True)
class GatewayStats:
    """Counters for the health endpoint; plain ints, updated on the event loop only."""

    started: float = field(default_factory=time.monotonic)
    connections_total: int = 0
    connections_refused: int = 0
    connected: int = 0
    frames: int = 0
    published: int = 0
    answered: int = 0
    #: frames not answered, by reason (a RejectReason value, ``broker``, ``ignored_cn``)
    unanswered: Counter[str] = field(default_factory=Counter)
    ignored_cn: Counter[str] = field(default_factory=Counter)
    garbage_bytes: int = 0
    rate_limited: int = 0
    idle_closed: int = 0
    dead_letters: int = 0
    #: (station, quirk) → frames
    quirks: Counter[tuple[str, str]] = field(default_factory=Counter)
    loggers: dict[str, int] = field(default_factory=dict)  # station → open connections
    broker_connected: bool = False
    _window: list[tuple[float, int]] = field(default_factory=list)

    def frames_per_s(self) -> float:
        """Frames per second over the last ~10 s (sampled when the endpoint is read)."""
        now = time.monotonic()
        self._window.append((now, self.frames))
        while len(self._window) > 2 and now - self._window[0][0] > 10:
            self._window.pop(0)
        t0, f0 = self._window[0]
        return (self.frames - f0) / (now - t0) if now > t0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        quirks: dict[str, dict[str, int]] = {}
        for (station, quirk), n in sorted(self.quirks.items()):
            quirks.setdefault(station, {})[quirk] = n
        return {
            "uptime_s": round(time.monotonic() - self.started, 1),
            "broker_connected": self.broker_connected,
            "connected_loggers": self.connected,
            "loggers_by_station": dict(sorted(self.loggers.items())),
            "connections_total": self.connections_total,
            "connections_refused": self.connections_refused,
            "frames": self.frames,
            "frames_per_s": round(self.frames_per_s(), 2),
            "published": self.published,
            "answered": self.answered,
            "unanswered": dict(sorted(self.unanswered.items())),
            "ignored_cn": dict(sorted(self.ignored_cn.items())),
            "garbage_bytes": self.garbage_bytes,
            "rate_limited": self.rate_limited,
            "idle_closed": self.idle_closed,
            "dead_letters": self.dead_letters,
            "quirks_by_station": quirks,
        }

    def prometheus(self) -> str:
        """The counters in Prometheus text format (no client library needed for a dozen)."""
        lines = [
            "# TYPE aircarbon_gateway_connected_loggers gauge",
            f"aircarbon_gateway_connected_loggers {self.connected}",
            "# TYPE aircarbon_gateway_broker_connected gauge",
            f"aircarbon_gateway_broker_connected {int(self.broker_connected)}",
            "# TYPE aircarbon_gateway_frames_per_second gauge",
            f"aircarbon_gateway_frames_per_second {self.frames_per_s():.3f}",
        ]
        for name, value in (
            ("connections", self.connections_total),
            ("connections_refused", self.connections_refused),
            ("frames", self.frames),
            ("published", self.published),
            ("answered", self.answered),
            ("garbage_bytes", self.garbage_bytes),
            ("rate_limited", self.rate_limited),
            ("dead_letters", self.dead_letters),
        ):
            lines += [
                f"# TYPE aircarbon_gateway_{name}_total counter",
                f"aircarbon_gateway_{name}_total {value}",
            ]
        lines.append("# TYPE aircarbon_gateway_unanswered_total counter")
        lines += [
            f'aircarbon_gateway_unanswered_total{{reason="{reason}"}} {n}'
            for reason, n in sorted(self.unanswered.items())
        ]
        lines.append("# TYPE aircarbon_gateway_quirks_total counter")
        lines += [
            f'aircarbon_gateway_quirks_total{{station="{s}",quirk="{q}"}} {n}'
            for (s, q), n in sorted(self.quirks.items())
        ]
        return "\n".join(lines) + "\n"


def data_response(packet: Packet) -> bytes:
    """The CN=9014 data response to ``packet`` (HJ 212-2017 §6.6: ST=91, the frame's QN).

    The Flag keeps the request's protocol-version bits and clears A and D: a response is
    never answered and never packetised. PW and MN are echoed as the logger sent them.
    """
    head = [] if packet.qn is None else [f"QN={packet.qn}"]
    head += ["ST=91", "CN=9014"]
    if packet.pw is not None:
        head.append(f"PW={packet.pw}")
    head += [f"MN={packet.mn}", f"Flag={packet.flag & 0xFC}"]
    return build_frame(";".join(head) + ";CP=&&&&")


class _PublishError(Exception):
    """The frame did not reach the broker (not connected, refused, or no PUBACK in time)."""


class _Acks:
    """QoS 1 publishes through aiomqtt's paho client, each resolved by its PUBACK.

    aiomqtt 2.5's own ``publish()`` spends more CPU per message than the rest of the
    gateway's work on a frame: it lists every pending call (a warning threshold), makes an
    Event and a context manager, and its timeout runs through ``asyncio.wait_for`` — a task
    per message. Here: paho's public ``publish()`` and one future per message id, resolved
    by a chained ``on_publish``. The one private access is ``client._client`` (aiomqtt is
    pinned ``<3``, which is built on paho); tests cover it with a real broker.
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho = client._client  # the private access of the class docstring
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._early: set[int] = set()  # acknowledged before their future existed
        inner: Callable[..., None] | None = self._paho.on_publish

        def on_publish(c: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
            fut = self._waiting.pop(mid, None)
            if fut is None:
                if len(self._early) < 65536:
                    self._early.add(mid)
                if inner is not None:
                    inner(c, userdata, mid, reason, props)
            elif not fut.done():
                if getattr(reason, "is_failure", False):  # MQTT v5 only: 3.1.1 has no code
                    fut.set_exception(_PublishError(f"broker refused the message: {reason}"))
                else:
                    fut.set_result(None)

        self._paho.on_publish = on_publish

    async def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        info = self._paho.publish(topic, payload, qos=1)
        if info.rc != 0:
            raise _PublishError(f"paho refused the publish (rc {info.rc})")
        if info.mid in self._early:
            self._early.discard(info.mid)
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiting[info.mid] = fut
        try:
            async with asyncio.timeout(timeout_s):
                await fut
        except TimeoutError as exc:
            raise _PublishError("no PUBACK in time") from exc
        finally:
            self._waiting.pop(info.mid, None)

    def fail_all(self, why: str) -> None:
        """The connection is gone: every publish still waiting is left unanswered now."""
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(_PublishError(why))
        self._waiting.clear()
        self._early.clear()


class _Publisher:
    """One MQTT client, reconnected forever; :meth:`publish` returns once PUBACK arrived."""

    def __init__(self, config: GatewayConfig, stats: GatewayStats) -> None:
        self.config = config
        self.stats = stats
        self._acks: _Acks | None = None
        self.connected = asyncio.Event()
        self._stop = asyncio.Event()

    def _new_client(self) -> aiomqtt.Client:
        # many loggers publish at once; paho queues beyond the window, bounded by the
        # connection count (each connection has at most one frame in flight)
        return aiomqtt_client(self.config.broker, max_inflight_messages=1024)

    async def run(self) -> None:
        # without jitter, as the gateway always waited (one process, not a fleet of collectors)
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s, jitter=False)
        while not self._stop.is_set():
            wait: float | None = None
            try:
                async with self._new_client() as client:
                    self._acks = _Acks(client)
                    self.connected.set()
                    self.stats.broker_connected = True
                    backoff.reset()
                    log.info("gateway connected to %s", self.config.broker.url)
                    stop = asyncio.ensure_future(self._stop.wait())
                    lost = asyncio.ensure_future(self._until_disconnected(client))
                    try:
                        await asyncio.wait({stop, lost}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        stop.cancel()
                        lost.cancel()
            except aiomqtt.MqttError as exc:
                wait = backoff.next()
                log.warning("broker unreachable (%s); retrying in %.1f s", exc, wait)
            finally:
                if self._acks is not None:
                    self._acks.fail_all("connection to the broker lost")
                self._acks = None
                self.connected.clear()
                self.stats.broker_connected = False
            if self._stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stop.wait(), timeout=backoff.next() if wait is None else wait
                )

    @staticmethod
    async def _until_disconnected(client: aiomqtt.Client) -> None:
        """Returns (or raises MqttError) when the connection is lost: the gateway subscribes
        to nothing, so the message iterator only ever ends that way."""
        with contextlib.suppress(aiomqtt.MqttError):
            async for _ in client.messages:
                pass

    def stop(self) -> None:
        self._stop.set()

    async def publish(self, topic: str, payload: bytes) -> None:
        acks = self._acks
        if acks is None:
            raise _PublishError("not connected to the broker")
        await acks.publish(topic, payload, self.config.publish_timeout_s)


@dataclass(slots=True)
class _Connection:
    peer: str
    writer: asyncio.StreamWriter
    tokens: float
    stamp: float
    station: str | None = None
    busy: bool = False
    #: answers of the frames of one read, written together (one send, not one per frame)
    replies: list[bytes] = field(default_factory=list)


class Gateway:
    """The TCP server; :meth:`run` serves until :meth:`stop`."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        catalog: Catalog,
        data_dir: Path,
        network: Callable[[], Catalog] | None = None,
        network_poll_s: float = 5.0,
    ) -> None:
        self.config = config
        self.catalog = catalog
        # as the collector: the network file is re-read when it changed (stations added)
        self._network = network
        self._network_poll_s = network_poll_s
        self.stats = GatewayStats()
        self.dead_dir = data_dir / "dead_letter"
        self._dead = DeadLetterBatch(config.dead_letter_payload_bytes)
        self._by_mn: Mapping[str, Station] = catalog.stations_by_mn()
        self._publisher = _Publisher(config, self.stats)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._conns: dict[asyncio.Task[None], _Connection] = {}
        #: set once the TCP listener is bound; ``port`` is then the bound port
        self.listening = asyncio.Event()
        self.port = config.port
        self.health_port: int | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to finish (safe from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        cfg = self.config
        publisher = asyncio.create_task(self._publisher.run(), name="gateway-mqtt")
        flusher = asyncio.create_task(self._flush_loop(), name="gateway-dead-letters")
        watcher = asyncio.create_task(self._network_watch(), name="gateway-network")
        server = await asyncio.start_server(
            self._accept, cfg.host, cfg.port, limit=_READ_SIZE * 2, backlog=1024
        )
        self.port = server.sockets[0].getsockname()[1]
        health = None
        if cfg.health_port is not None:
            health = await asyncio.start_server(self._http, cfg.health_host, cfg.health_port)
            self.health_port = health.sockets[0].getsockname()[1]
        log.info("HJ 212 gateway listening on %s:%d", cfg.host, self.port)
        self.listening.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            # every connection finishes the frame in hand, then closes
            for task, conn in list(self._conns.items()):
                if not conn.busy:
                    task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=cfg.publish_timeout_s + 5)
            for task in list(self._tasks):
                task.cancel()
            self._publisher.stop()
            for background in (flusher, watcher):
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await self._flush_dead()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher
            if health is not None:
                health.close()
            log.info("gateway stopped: %s", json.dumps(self.stats.snapshot()))

    async def _network_watch(self) -> None:
        """Know a station's MN from the moment it is added to the network file (no restart)."""
        if self._network is None:
            return
        while True:
            await asyncio.sleep(self._network_poll_s)
            try:
                catalog = await asyncio.to_thread(self._network)
            except Exception as exc:  # a broken file keeps the network in use
                log.warning("network file not reloaded, keeping the one in use: %s", exc)
                continue
            if catalog is not self.catalog:
                self.catalog = catalog
                self._by_mn = catalog.stations_by_mn()
                log.warning("network reloaded: %d stations", len(catalog.stations))

    # ---- connections --------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        peer_info = writer.get_extra_info("peername")
        peer = f"{peer_info[0]}:{peer_info[1]}" if peer_info else "?"
        if self._stopping.is_set() or stats.connected >= self.config.max_connections:
            stats.connections_refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        conn = _Connection(peer, writer, float(self.config.rate_burst), time.monotonic())
        self._tasks.add(task)
        self._conns[task] = conn
        stats.connections_total += 1
        stats.connected += 1
        try:
            await self._serve(reader, conn)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, OSError) as exc:
            log.info("logger %s: connection lost (%s)", peer, exc)
        finally:
            stats.connected -= 1
            if conn.station is not None:
                left = stats.loggers.get(conn.station, 1) - 1
                if left > 0:
                    stats.loggers[conn.station] = left
                else:
                    stats.loggers.pop(conn.station, None)
            self._tasks.discard(task)
            self._conns.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        framer = Framer()
        cfg = self.config
        while not self._stopping.is_set():
            wait = _CRLF_WAIT_S if framer.pending else cfg.idle_timeout_s
            try:
                data = await asyncio.wait_for(reader.read(_READ_SIZE), timeout=wait)
            except TimeoutError:
                if framer.pending:
                    await self._handle_all(framer.flush(), conn)
                    continue
                self.stats.idle_closed += 1
                log.info("logger %s idle for %.0f s: closing", conn.peer, cfg.idle_timeout_s)
                return
            if not data:
                await self._handle_all(framer.close(), conn)
                return
            await self._handle_all(framer.feed(data), conn)

    async def _handle_all(self, chunks: list[Chunk], conn: _Connection) -> None:
        try:
            for chunk in chunks:
                await self._throttle(conn)
                conn.busy = True
                try:
                    await self._handle(chunk, conn)
                finally:
                    conn.busy = False
                if self._stopping.is_set():
                    return
        finally:
            if conn.replies:
                conn.writer.write(b"".join(conn.replies))
                conn.replies.clear()
                await conn.writer.drain()

    async def _throttle(self, conn: _Connection) -> None:
        """Token bucket: a connection over its rate waits (and so stops reading)."""
        cfg = self.config
        now = time.monotonic()
        conn.tokens = min(
            float(cfg.rate_burst), conn.tokens + (now - conn.stamp) * cfg.rate_frames_s
        )
        conn.stamp = now
        if conn.tokens < 1.0:
            self.stats.rate_limited += 1
            await asyncio.sleep((1.0 - conn.tokens) / cfg.rate_frames_s)
            conn.tokens, conn.stamp = 1.0, time.monotonic()
        conn.tokens -= 1.0

    async def _handle(self, chunk: Chunk, conn: _Connection) -> None:
        stats = self.stats
        if chunk.kind == "garbage":
            stats.garbage_bytes += len(chunk.data)
            self._dead_letter(
                conn,
                None,
                RejectReason.HJ212_FRAMING,
                f"{len(chunk.data)} bytes outside any frame",
                chunk.data,
            )
            return
        stats.frames += 1
        if chunk.kind == "bad":
            self._unanswered(conn, None, RejectReason.HJ212_LENGTH, chunk.detail, chunk.data)
            return
        try:
            # the envelope only (framing, length, CRC, header): what routing and the answer
            # need; the collector checks the content and refuses readings one by one
            packet = parse_packet(chunk.data, strict=self.config.strict, content=False)
        except HJ212Error as exc:
            self._unanswered(conn, None, exc.reason, exc.detail, chunk.data)
            return
        station = self._by_mn.get(packet.mn)
        if station is None:
            self._unanswered(
                conn,
                None,
                RejectReason.UNKNOWN_STATION,
                f"MN {packet.mn!r} is not a station of the network",
                chunk.data,
            )
            return
        if conn.station != station.id:
            if conn.station is not None:
                stats.loggers[conn.station] -= 1
            conn.station = station.id
            stats.loggers[station.id] = stats.loggers.get(station.id, 0) + 1
        for quirk in packet.quirks:
            stats.quirks[station.id, quirk] += 1
        if packet.cn not in DATA_COMMANDS:
            stats.ignored_cn[packet.cn] += 1
            stats.unanswered["ignored_cn"] += 1
            return
        try:
            await self._publisher.publish(_TOPIC.format(station=station.id), chunk.data)
        except _PublishError as exc:
            # a good frame: the logger retransmits it since it got no answer
            stats.unanswered["broker"] += 1
            log.warning("frame of %s not published (%s): left unanswered", station.id, exc)
            return
        stats.published += 1
        if packet.ack_required:
            conn.replies.append(data_response(packet))  # sent by _handle_all, in order
            stats.answered += 1

    def _unanswered(
        self,
        conn: _Connection,
        station: str | None,
        reason: RejectReason,
        detail: str,
        data: bytes,
    ) -> None:
        self.stats.unanswered[reason.value] += 1
        self._dead_letter(conn, station, reason, detail, data)

    # ---- dead letters -------------------------------------------------------------------

    def _dead_letter(
        self,
        conn: _Connection,
        station: str | None,
        reason: RejectReason,
        detail: str,
        data: bytes,
    ) -> None:
        now_us = time.time_ns() // 1000
        topic = f"tcp/hj212/{conn.peer}"
        self._dead.append(now_us, topic, station or conn.station, reason, None, detail, data)
        self.stats.dead_letters += 1
        if len(self._dead) >= _DEAD_FLUSH_ROWS:
            self._spawn_flush()

    def _spawn_flush(self) -> None:
        task = asyncio.ensure_future(self._flush_dead())
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(_DEAD_FLUSH_S)
            await self._flush_dead()

    async def _flush_dead(self) -> None:
        if not len(self._dead):
            return
        batch, self._dead = self._dead, DeadLetterBatch(self.config.dead_letter_payload_bytes)
        try:
            await asyncio.to_thread(
                write_dead_letters, batch.to_arrow(), self.dead_dir, self.config.client_id
            )
        except OSError:
            log.exception("could not write %d gateway dead letters; retrying", len(batch))
            if len(self._dead) + len(batch) <= 100 * _DEAD_FLUSH_ROWS:  # bounded
                batch.extend(self._dead)
                self._dead = batch

    # ---- health endpoint ----------------------------------------------------------------

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """``GET /`` or ``/health`` (JSON), ``/metrics`` (Prometheus), ``/healthz``."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        if len(head) > _HTTP_LIMIT:
            writer.close()
            return
        path = head.split(b" ", 2)[1].decode("ascii", "replace") if b" " in head else "/"
        if path == "/metrics":
            status, ctype, body = "200 OK", "text/plain; version=0.0.4", self.stats.prometheus()
        elif path == "/healthz":
            ok = self.stats.broker_connected
            status = "200 OK" if ok else "503 Service Unavailable"
            ctype, body = "text/plain", "ok\n" if ok else "broker not connected\n"
        elif path in {"/", "/health"}:
            doc = {"gateway": "hj212", "at": dt.datetime.now(dt.UTC).isoformat()}
            doc |= self.stats.snapshot()
            status, ctype, body = "200 OK", "application/json", json.dumps(doc, indent=1)
        else:
            status, ctype, body = "404 Not Found", "text/plain", "not found\n"
        data = body.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + data
        )
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()
