"""The collector: MQTT → decoded readings → durable Parquet, acknowledged only when durable.

Guarantee (documented in docs/operators.md): **at-least-once delivery into the raw store,
exactly-once after de-duplication by reading identity**. A QoS 1 message is acknowledged
(PUBACK) only after every reading and rejection it produced sits in an fsynced, atomically
renamed Parquet file. A crash at any instant therefore loses nothing: unacknowledged
messages stay with the broker's persistent session and are re-delivered; a message written
but not yet acknowledged when the process died lands twice, and readers de-duplicate on
``(station, param, ts)`` (same value = duplicate, different value = revision).

Transport: the collector's own MQTT v5 subscriber (``ingest.mqtt_native``: an asyncio
Protocol around the Rust ``mqtt5`` codec, parsing a whole socket buffer per loop turn) by
default; paho through aiomqtt (``mqtt_client = "paho"``, and always for MQTT v3.1.1) as the
alternative. Both send PUBACK only when told, after the batch is durable.

Shape: one supervised asyncio program. A reconnect loop (jittered exponential backoff,
catching only MQTT errors) feeds a reader that decodes each message into columnar
buffers; full or old buffers go through a bounded queue (backpressure: while the writer is
behind, the reader stops taking messages and the broker's in-flight window fills up) to a
writer that lands them off the event loop and then acknowledges them.

Nothing a message carries can stop it: decoding never raises (a failing decoder dead-letters
the message as ``decode_error``), a message the process died on twice is quarantined unread
(``ingest.poison``), a row the store cannot take is isolated to the dead-letter store by the
lander, and a batch flushes on its dead-letter bytes as well as its readings, so memory stays
bounded whatever arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from aircarbon.core.catalog import Catalog, catalog_for
from aircarbon.core.settings import Settings
from ingest.batch import ReadingBatch
from ingest.dead_letter import DeadLetterBatch
from ingest.decode import Decoded, DecodeRules, decode_failure, parse_topic
from ingest.health import AlertRules, IngestStats, StationHealth
from ingest.lander import Lander, Landing, status_schema
from ingest.manual_ack import AckTracker, PendingAck, enable_manual_ack, incoming_queue
from ingest.mqtt_client import Backoff, MqttEndpoint, MqttProtocol, aiomqtt_client, endpoint
from ingest.mqtt_native import MqttNativeError, NativeConnection, NativeOptions
from ingest.poison import PoisonJournal, message_digest
from ingest.reasons import RejectReason

__all__ = ["COLLECTOR_USERNAME", "Collector", "CollectorConfig", "status_schema"]

log = logging.getLogger("aircarbon.collector")

TOPIC = "aircarbon/v1/+/+"
_DEDUP_KEYS = 200_000
# While messages keep arriving, _consume takes up to _BUSY_MAX queued messages at a time and
# then sleeps this long (paho reads meanwhile): one wake-up per ~tens of messages instead of
# two event-loop round trips per message; at most this much added latency.
_BUSY_POLL_S = 0.002
_BUSY_MAX = 1000
_SUBSCRIBE_TIMEOUT_S = 120.0
# the native transport hands over this many messages per turn before letting the event loop
# run (acks going out, the writer's completion, the health server)
_NATIVE_TURN = 2000
#: the collector's MQTT user name unless the settings or the URL give one (the broker ACL's)
COLLECTOR_USERNAME = "aircarbon-collector"


@dataclass(frozen=True)
class CollectorConfig:
    """Connection and batching knobs, derived from Settings (or set directly in tests)."""

    #: broker, TLS, credentials, client id, protocol, keepalive (:mod:`ingest.mqtt_client`)
    endpoint: MqttEndpoint
    share_group: str | None = None
    #: "native" = ingest.mqtt_native (v5 only); "paho" = aiomqtt/paho (v3.1.1 always uses it)
    mqtt_client: Literal["native", "paho"] = "native"
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 20_000
    batch_max_messages: int = 5_000
    batch_max_readings: int = 50_000
    batch_max_age_s: float = 1.0
    batch_max_dead_bytes: int = 8 * 1024 * 1024
    queue_batches: int = 2
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    @property
    def client_id(self) -> str:
        return self.endpoint.client_id

    @property
    def topic(self) -> str:
        return f"$share/{self.share_group}/{TOPIC}" if self.share_group else TOPIC

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        url: str | None = None,
        protocol: MqttProtocol | None = None,
    ) -> CollectorConfig:
        ep = endpoint(settings, url=url, default_username=COLLECTOR_USERNAME, protocol=protocol)
        if ep is None:
            raise ValueError("no broker URL: start the embedded broker first")
        return cls(
            endpoint=ep,
            share_group=settings.share_group,
            mqtt_client=settings.mqtt_client,
            session_expiry_s=settings.session_expiry_s,
            receive_maximum=min(settings.queue_max_messages, 65_535),
            batch_max_readings=settings.batch_max_readings,
            batch_max_age_s=settings.batch_max_age_s,
            batch_max_dead_bytes=settings.dead_letter_flush_bytes,
            reconnect_min_s=settings.reconnect_min_s,
            reconnect_max_s=settings.reconnect_max_s,
        )


@dataclass(slots=True)
class _Batch(Landing):
    """One unit of landing: what a flush writes (a :class:`Landing`), then acknowledges."""

    acks: list[PendingAck] = field(default_factory=list)
    received_us: list[int] = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> int:
        return len(self.received_us)


def _now_us() -> int:
    return time.time_ns() // 1000


class Collector:
    """A lossless MQTT collector for one data directory."""

    def __init__(
        self,
        config: CollectorConfig,
        *,
        catalog: Catalog,
        data_dir: Path,
        rules: DecodeRules,
        dead_letter_payload_bytes: int = 4096,
        writer_id: str | None = None,
        alert_rules: AlertRules | None = None,
        clock: Callable[[], int] = _now_us,
        poison_crashes: int = 2,
        crash_on_topic: str | None = None,
        network: Callable[[], Catalog] | None = None,
        network_poll_s: float = 5.0,
    ) -> None:
        self.config = config
        # the network file is re-read (when its mtime changed) every network_poll_s seconds
        self._network = network
        self._network_poll_s = network_poll_s
        self._network_error: str | None = None
        self.catalog = catalog
        self.writer_id = writer_id or config.client_id
        self.lander = Lander(
            data_dir,
            rules,
            writer_id=self.writer_id,
            dead_letter_payload_bytes=dead_letter_payload_bytes,
        )
        self.stats = IngestStats(catalog, alert_rules)
        self.stats.queue_capacity = config.queue_batches
        self._payload_limit = dead_letter_payload_bytes
        self.poison = PoisonJournal(
            data_dir / "collector", self.writer_id, threshold=poison_crashes
        )
        self._crash_on_topic = crash_on_topic
        self._clock = clock
        self._acks = AckTracker()
        self._batch = self._new_batch()
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=config.queue_batches)
        self._seen: dict[int, None] = {}
        self.connected = asyncio.Event()
        self.stopping = asyncio.Event()
        self._native_conn: NativeConnection | None = None

    @property
    def rules(self) -> DecodeRules:
        """The decode rules, held by the lander (set here to change them before a run)."""
        return self.lander.rules

    @rules.setter
    def rules(self, rules: DecodeRules) -> None:
        self.lander.rules = rules

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        catalog: Catalog,
        *,
        url: str | None = None,
        protocol: MqttProtocol | None = None,
    ) -> Collector:
        rules = DecodeRules(
            catalog,
            max_payload_bytes=settings.max_payload_bytes,
            max_age_s=settings.max_age_s,
            max_future_s=settings.max_future_s,
            hj212_datatime=settings.hj212_datatime,
            hj212_strict=settings.hj212_strict,
            max_readings_per_message=settings.max_readings_per_message,
        )
        return cls(
            CollectorConfig.from_settings(settings, url=url, protocol=protocol),
            catalog=catalog,
            data_dir=settings.data_dir,
            rules=rules,
            dead_letter_payload_bytes=settings.dead_letter_payload_bytes,
            alert_rules=AlertRules(
                silent_periods=settings.alert_silent_periods,
                dead_letter_rate=settings.alert_dead_letter_rate,
                lag_s=settings.alert_lag_s,
                queue_max=settings.queue_max_messages,
            ),
            poison_crashes=settings.poison_crashes,
            crash_on_topic=settings.crash_on_topic,
            network=lambda: catalog_for(settings),
            network_poll_s=settings.network_poll_s,
        )

    def _new_batch(self) -> _Batch:
        return _Batch(ReadingBatch(), DeadLetterBatch(self._payload_limit))

    # --- lifecycle --------------------------------------------------------------------------
    async def run(self) -> None:
        """Collect until :meth:`stop`; then flush, acknowledge, disconnect and return."""
        removed = self.lander.clean_temporaries()
        if removed:
            log.warning("removed %d half-written files from an earlier crash", removed)
        crashed = self.poison.open()
        if crashed:
            log.error("%s", crashed)
        self.stats.started_us = self._clock()
        writer = asyncio.create_task(self._writer(), name="collector-writer")
        ticker = asyncio.create_task(self._ticker(), name="collector-ticker")
        watcher = asyncio.create_task(self._network_watch(), name="collector-network")
        try:
            await self._connection_loop()
        finally:
            for task in (ticker, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._flush()
            await self._queue.put(None)
            await writer
            self._acks.detach()
            self.poison.close()

    async def _network_watch(self) -> None:
        """Pick network changes up without a restart: stations added, retired, moved.

        ``catalog_for`` answers from its cache until the file's mtime changes, so a poll
        costs one ``stat``. A broken file (a hand edit half-saved) keeps the network in use
        and is logged once per distinct error.
        """
        if self._network is None:
            return
        while True:
            await asyncio.sleep(self._network_poll_s)
            try:
                catalog = await asyncio.to_thread(self._network)
            except Exception as exc:  # any load failure keeps the network in use
                if str(exc) != self._network_error:
                    log.error("network file not reloaded, keeping the one in use: %s", exc)  # noqa: TRY400
                    self._network_error = str(exc)
                continue
            self._network_error = None
            if catalog is not self.catalog:
                self.use_catalog(catalog)

    def use_catalog(self, catalog: Catalog) -> None:
        """Decode the next message against ``catalog`` (between messages: one event loop)."""
        added = sorted(set(catalog.stations) - set(self.catalog.stations))
        retired = sorted(
            sid
            for sid, st in catalog.stations.items()
            if st.valid_to is not None
            and (sid not in self.catalog.stations or self.catalog.stations[sid].valid_to is None)
        )
        self.catalog = catalog
        self.rules = dataclasses.replace(self.rules, catalog=catalog)
        self.stats.catalog = catalog
        for sid in added:
            self.stats.stations.setdefault(sid, StationHealth(sid))
        log.warning(
            "network reloaded: %d stations (added %s; retired %s)",
            len(catalog.stations),
            ", ".join(added) or "none",
            ", ".join(retired) or "none",
        )

    def stop(self) -> None:
        """Ask :meth:`run` to finish (safe from signal handlers via loop.call_soon)."""
        self.stopping.set()
        if self._native_conn is not None:
            self._native_conn.wake()  # the native reader waits on its inbox alone

    def _client(self) -> aiomqtt.Client:
        cfg = self.config
        if cfg.endpoint.protocol == "v5":
            # persistent session: no clean start, an expiry, and a receive window large
            # enough that ack-after-durable batching is not throttled to a few messages
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = cfg.session_expiry_s
            props.ReceiveMaximum = cfg.receive_maximum
            client = aiomqtt_client(cfg.endpoint, clean_start=False, properties=props)
        else:
            client = aiomqtt_client(cfg.endpoint, clean_session=False)
        enable_manual_ack(client)
        return client

    @property
    def native(self) -> bool:
        """Whether this collector uses its own MQTT v5 transport (else paho via aiomqtt)."""
        return self.config.mqtt_client == "native" and self.config.endpoint.protocol == "v5"

    def _native_options(self) -> NativeOptions:
        cfg = self.config
        return NativeOptions(
            cfg.endpoint,
            session_expiry_s=cfg.session_expiry_s,
            receive_maximum=cfg.receive_maximum,
        )

    async def _connection_loop(self) -> None:
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while not self.stopping.is_set():
            try:
                if self.native:
                    conn = await NativeConnection.open(self._native_options())
                    backoff.reset()
                    await self._native_session(conn)
                    return
                async with self._client() as client:
                    self._acks.attach(client)
                    self.stats.connected = True
                    backoff.reset()
                    # a persistent session's backlog (up to Receive Maximum messages) arrives
                    # ahead of the SUBACK and paho parses all of it first: on a busy machine
                    # that outlasts the 10 s connect timeout, and a retry would start over
                    await client.subscribe(self.config.topic, qos=1, timeout=_SUBSCRIBE_TIMEOUT_S)
                    self.connected.set()
                    log.info("connected to %s", self.config.endpoint.url)
                    await self._consume(client)
                    # graceful stop: land and acknowledge what we hold before DISCONNECT
                    await self._flush()
                    await self._queue.join()
                    return
            except (aiomqtt.MqttError, MqttNativeError) as exc:
                self.connected.clear()
                self.stats.connected = False
                self._acks.detach()
                if self.stopping.is_set():
                    return
                self.stats.reconnects += 1
                sleep = backoff.next()
                log.warning("broker connection lost (%s); retrying in %.1f s", exc, sleep)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=sleep)
            finally:
                self.stats.connected = False

    async def _native_session(self, conn: NativeConnection) -> None:
        """One connection of the native transport, from CONNACK to a graceful stop."""
        self._native_conn = conn
        try:
            self._acks.attach(conn)
            self.stats.connected = True
            await conn.subscribe(self.config.topic, qos=1, timeout=_SUBSCRIBE_TIMEOUT_S)
            self.connected.set()
            log.info("connected to %s", self.config.endpoint.url)
            await self._consume_native(conn)
            await self._flush()
            await self._queue.join()
        except BaseException:
            conn.abort()
            raise
        finally:
            self._native_conn = None
        await conn.disconnect()

    async def _consume_native(self, conn: NativeConnection) -> None:
        """Feed the connection's inbox to :meth:`_handle_message` until :meth:`stop`.

        The transport fills ``inbox`` with everything one socket read held; this takes it
        in turns of ``_NATIVE_TURN`` messages and waits only when it is empty (one future,
        which :meth:`stop` also wakes: at a few messages per read, waiting is the cost).
        """
        inbox = conn.inbox
        handle = self._handle_message
        while not self.stopping.is_set():
            if not inbox:
                await conn.inbox_waiter()
                conn.raise_if_closed()
                continue
            for _ in range(min(len(inbox), _NATIVE_TURN)):
                p = inbox.popleft()
                if handle(p.topic, p.payload, p.qos, p.packet_id):
                    await self._flush()
            conn.taken()
            conn.raise_if_closed()
            if inbox:
                await asyncio.sleep(0)  # a long backlog: let acks and the writer run

    async def _consume(self, client: aiomqtt.Client) -> None:
        """Feed messages to :meth:`_handle` until :meth:`stop` (or the connection drops).

        aiomqtt's iterator costs a task and an ``asyncio.wait`` per message, more than
        decoding it. So while messages keep coming, take everything already in the
        client's queue directly, then sleep ``_BUSY_POLL_S`` while paho reads the next
        ones; only an empty queue goes back to the iterator, which also notices a lost
        connection.
        """
        stop_wait = asyncio.ensure_future(self.stopping.wait())
        queue = incoming_queue(client)
        messages = aiomqtt_messages(client)
        try:
            while not self.stopping.is_set():
                if queue.empty():
                    nxt = asyncio.ensure_future(anext(messages))
                    done, _ = await asyncio.wait(
                        {nxt, stop_wait}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if nxt not in done:
                        nxt.cancel()
                        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                            await nxt
                        return
                    if self._handle(nxt.result()):
                        await self._flush()
                    continue
                for _ in range(min(queue.qsize(), _BUSY_MAX)):
                    if self._handle(queue.get_nowait()):
                        await self._flush()
                await asyncio.sleep(_BUSY_POLL_S)
        finally:
            stop_wait.cancel()

    # --- per message -------------------------------------------------------------------------
    def _handle(self, message: aiomqtt.Message) -> bool:
        """Decode one aiomqtt message into the open batch; True when the batch is full."""
        payload = bytes(message.payload)  # aiomqtt 2.5 always hands over bytes
        return self._handle_message(message.topic.value, payload, message.qos, message.mid)

    def _handle_message(self, topic: str, payload: bytes, qos: int, mid: int | None) -> bool:
        """Decode one message into the open batch; True when the batch is full."""
        received = self._clock()
        batch = self._batch
        handle = self._acks.pending_mid(mid, qos)
        if handle is not None:
            batch.acks.append(handle)
        batch.received_us.append(received)
        self.stats.observe_received()
        key = hash((topic, payload))
        if key in self._seen:
            station = topic.split("/")[2] if topic.count("/") == 3 else None
            self.stats.observe_duplicate(station)
        else:
            before = len(batch.readings)
            decoded = self._decode(topic, payload, received, batch)
            if decoded.accepted:
                # only messages that landed readings: a repeated bad message is
                # dead-lettered each time it arrives, as operators expect to count it
                self._remember(key)
            self._account(decoded, received, batch, before)
        return (
            batch.messages >= self.config.batch_max_messages
            or len(batch.readings) >= self.config.batch_max_readings
            or batch.dead.nbytes >= self.config.batch_max_dead_bytes
        )

    def _decode(self, topic: str, payload: bytes, received: int, batch: _Batch) -> Decoded:
        """Decode under the poison journal: quarantine a repeat killer, record the rest."""
        digest = message_digest(topic, payload)
        if self.poison.is_poison(digest):
            return self._quarantine(topic, payload, received, batch, digest)
        before = len(batch.readings)
        self.poison.enter(digest, topic)
        try:
            if topic == self._crash_on_topic:
                os._exit(70)  # the test hook: die the way a segfault would, mid-decode
            return self.lander.decode(topic, payload, received, batch)
        except Exception as exc:  # the lander's decode never raises; belt and braces
            log.exception("decoding a message on %r failed", topic)
            batch.readings.truncate(before)
            decoded = decode_failure(_station_of(topic), "unknown", exc)
            batch.dead.append(received, topic, decoded.station, RejectReason.DECODE_ERROR,
                              None, decoded.rejections[0].detail, payload)  # fmt: skip
            return decoded
        finally:
            self.poison.leave(digest)

    def _quarantine(
        self, topic: str, payload: bytes, received: int, batch: _Batch, digest: bytes
    ) -> Decoded:
        station = _station_of(topic)
        detail = (
            f"the collector died {self.poison.crashes(digest)} times while decoding this "
            f"message (digest {digest.hex()}): quarantined unread"
        )
        log.error("poison message on %r dead-lettered unread: %s", topic, detail)
        # kept whole (up to the payload limit of a message), for the bug report
        batch.dead.append_message(
            received, topic, station, [(RejectReason.POISON, None, detail)], payload, whole=True
        )
        self.stats.poison_messages += 1
        return Decoded(station, "unknown").reject(RejectReason.POISON, detail)

    def _remember(self, key: int) -> None:
        seen = self._seen
        seen[key] = None
        if len(seen) > _DEDUP_KEYS:
            del seen[next(iter(seen))]

    def _account(self, decoded: Decoded, received: int, batch: _Batch, before: int) -> None:
        """The health statistics of one decoded message (the lander already batched it)."""
        stats = self.stats
        if decoded.status is not None:
            stats.observe_status(decoded.status.station, decoded.status.state, decoded.status.ts_us)
        if decoded.rejections:
            whole = decoded.rejected_whole
            first = True
            for rej in decoded.rejections:
                stats.observe_rejection(decoded.station, rej.reason.value, whole, first=first)
                first = False
        if decoded.kind != "status" and not decoded.rejected_whole:
            params = batch.readings.param[before:] if decoded.accepted else None
            stats.observe_message(
                decoded.station,
                received,
                decoded.accepted,
                decoded.ts_us,
                decoded.seq,
                decoded.period_s,
                params,
            )

    # --- batching and landing ----------------------------------------------------------------
    async def _ticker(self) -> None:
        age = self.config.batch_max_age_s
        while True:
            await asyncio.sleep(age / 4)
            if self._batch.messages and time.monotonic() - self._batch.opened >= age:
                await self._flush()

    async def _flush(self) -> None:
        batch = self._batch
        if not batch.messages:
            return
        self._batch = self._new_batch()
        self.stats.pending_acks += len(batch.acks)
        self.stats.queue_depth = self._queue.qsize() + 1
        await self._queue.put(batch)

    async def _writer(self) -> None:
        # import pyarrow (and the pandas it pulls in) while connecting, not when the first
        # batch of a backlog is due: about a second of CPU, most of it holding the GIL
        await asyncio.to_thread(_warm_up)
        while True:
            batch = await self._queue.get()
            try:
                if batch is None:
                    return
                await self._land(batch)
            finally:
                self._queue.task_done()
                self.stats.queue_depth = self._queue.qsize()

    async def _land(self, batch: _Batch) -> None:
        delay = 0.5
        stats = self.stats
        while True:
            try:
                started = time.perf_counter()
                files = await asyncio.to_thread(self.lander.write, batch)
                break
            except OSError as exc:  # disk full, permission: keep the data, retry, never ack
                log.error(  # noqa: TRY400 - an expected, retried condition: no traceback
                    "landing a batch failed (%s); retrying in %.1f s", exc, delay
                )
                stats.write_error = f"{type(exc).__name__}: {exc}"[:200]
            except Exception as exc:  # a bug of ours: alert and retry, never crash ingest
                log.exception("landing a batch failed unexpectedly; retrying in %.1f s", delay)
                stats.write_error = f"{type(exc).__name__}: {exc}"[:200]
            stats.write_failures += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        stats.write_failures = 0
        stats.write_error = None
        stats.isolated_rows = self.lander.isolated_rows
        self.stats.write_seconds.append(time.perf_counter() - started)
        self._acks.ack(batch.acks)
        self.stats.acks_sent = self._acks.sent
        self.stats.acks_skipped = self._acks.stale
        self.stats.pending_acks -= len(batch.acks)
        self.stats.batches_written += 1
        self.stats.files_written += files
        durable = self._clock()
        observe = self.stats.observe_latency
        for received in batch.received_us:
            observe((durable - received) / 1e6)


def _station_of(topic: str) -> str | None:
    parsed = parse_topic(topic)
    return parsed[0] if parsed else None


def aiomqtt_messages(client: aiomqtt.Client) -> aiomqtt.client.MessagesIterator:
    """The client's message iterator (one place to adapt if aiomqtt renames it)."""
    return client.messages


def _warm_up() -> None:
    """Load the landing code's imports (pyarrow, its compute and parquet modules, pandas)."""
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    ReadingBatch().to_arrow()
    DeadLetterBatch(0).to_arrow()
