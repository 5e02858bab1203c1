"""The collector's own MQTT v5 subscriber: an asyncio Protocol around the ``mqtt5`` codec.

Why it exists: draining a backlog through paho/aiomqtt costs ~100 µs of CPU per message
before the collector sees it — paho builds a ``Properties`` object (with its name tables)
for every v5 PUBLISH, reads each packet with three ``recv`` calls and one event-loop turn,
and aiomqtt wraps each in a ``Message`` and an ``asyncio.Queue`` hop. Here one loop turn
reads whatever the socket holds (up to 256 KiB, hundreds of messages) and parses the
whole buffer with ``mqtt5.read`` (Rust, ~0.5 µs per PUBLISH) into a plain ``deque``
that the collector drains.

It is deliberately small — a subscriber only, the one job of the collector:

* CONNECT with ``clean_start=False``, a session expiry and a Receive Maximum (what lets
  ack-after-durable batch thousands of messages), username/password and TLS as configured;
* SUBSCRIBE at QoS 1 (``$share/...`` filters are plain filters to the client);
* **no automatic acknowledgement**: :meth:`NativeConnection.ack` sends the PUBACK (PUBREC
  for QoS 2) only when the collector says the message is durable; acks of one loop turn go
  out in one write;
* keepalive: PINGREQ when nothing was sent for half the keepalive, and the connection is
  declared lost when no PINGRESP came back within the keepalive;
* any connection problem (refused CONNECT, refused SUBSCRIBE, server DISCONNECT, socket
  error, protocol error, keepalive timeout) surfaces as :class:`MqttNativeError`, on which
  the collector's reconnect loop backs off with jitter and connects again.

A PUBLISH the codec refuses (say a topic that is not UTF-8, or a payload flagged UTF-8 that
is not) must not wedge ingest by killing the connection on every re-delivery: its frame is
parsed by hand (:func:`parse_publish_frame`) and handed over like any other message, so the
decoder dead-letters it and it is acknowledged once that is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

import mqtt5

from ingest.mqtt_client import MqttEndpoint, tls_context

__all__ = [
    "Incoming",
    "MqttNativeError",
    "NativeConnection",
    "NativeOptions",
    "RawPublish",
    "frame_length",
    "parse_publish_frame",
]

log = logging.getLogger("aircarbon.mqtt")

_PUBLISH = 3
# a QoS 0 flood is the only traffic Receive Maximum does not bound: past this many messages
# not yet taken by the collector, stop reading the socket (TCP then pushes back on the broker)
_PAUSE_ABOVE = 50_000


class MqttNativeError(Exception):
    """The connection failed or was lost (the collector reconnects with backoff)."""


@dataclass(frozen=True, slots=True)
class RawPublish:
    """A PUBLISH the codec refused, parsed by hand (the decoder dead-letters it)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int | None


Incoming = mqtt5.PublishPacket | RawPublish


@dataclass(frozen=True, slots=True)
class NativeOptions:
    """What one connection needs: the endpoint (:mod:`ingest.mqtt_client`) and the session."""

    endpoint: MqttEndpoint
    session_expiry_s: int = 7 * 24 * 3600
    receive_maximum: int = 20_000
    connect_timeout_s: float = 10.0


def _varint(view: memoryview | bytes, pos: int) -> tuple[int, int] | None:
    """An MQTT variable byte integer at ``pos``: (value, bytes used), None if incomplete."""
    value, shift = 0, 0
    for used in range(1, 5):
        if pos + used > len(view):
            return None
        byte = view[pos + used - 1]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, used
        shift += 7
    raise ValueError("malformed variable byte integer")


def frame_length(view: memoryview | bytes, pos: int = 0) -> int | None:
    """The whole length of the packet starting at ``pos``, None while its header is incomplete."""
    found = _varint(view, pos + 1)
    if found is None:
        return None
    remaining, used = found
    return 1 + used + remaining


def parse_publish_frame(frame: memoryview | bytes) -> RawPublish:
    """A complete PUBLISH frame parsed without validation (topic bytes decoded leniently)."""
    frame = bytes(frame)
    flags = frame[0] & 0x0F
    qos = (flags >> 1) & 0x03
    found = _varint(frame, 1)
    if found is None:
        raise ValueError("truncated PUBLISH")
    pos = 1 + found[1]
    if pos + 2 > len(frame):
        raise ValueError("truncated PUBLISH topic length")
    topic_len = int.from_bytes(frame[pos : pos + 2], "big")
    pos += 2
    topic = frame[pos : pos + topic_len].decode("utf-8", "replace")
    pos += topic_len
    packet_id = None
    if qos:
        if pos + 2 > len(frame):
            raise ValueError("truncated PUBLISH packet id")
        packet_id = int.from_bytes(frame[pos : pos + 2], "big")
        pos += 2
    props = _varint(frame, pos)
    if props is None:
        raise ValueError("truncated PUBLISH properties")
    pos += props[1] + props[0]
    if pos > len(frame):
        raise ValueError("truncated PUBLISH properties")
    return RawPublish(topic, frame[pos:], qos, packet_id)


class NativeConnection(asyncio.Protocol):
    """One MQTT v5 connection: received PUBLISHes wait in :attr:`inbox` for the collector.

    Use :meth:`open` (connects and waits for CONNACK), then :meth:`subscribe`; take
    messages from ``inbox`` (await :meth:`inbox_waiter` when it is empty), :meth:`ack` them once
    durable, and :meth:`disconnect` at the end.
    """

    def __init__(self, options: NativeOptions) -> None:
        self.options = options
        self.inbox: deque[Incoming] = deque()
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._rest = b""
        self._out: list[bytes] = []
        self._flush_handle: asyncio.Handle | None = None
        self._connack: asyncio.Future[mqtt5.ConnAckPacket] = self._loop.create_future()
        self._subacks: dict[int, asyncio.Future[mqtt5.SubAckPacket]] = {}
        self._next_id = 0
        self._waiter: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._error: MqttNativeError | None = None
        self._paused = False
        self._keepalive = options.endpoint.keepalive_s
        self._last_sent = self._loop.time()
        self._ping_sent: float | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self.session_present = False

    # --- opening and closing -------------------------------------------------------------
    @classmethod
    async def open(cls, options: NativeOptions) -> NativeConnection:
        """Connect, send CONNECT and wait for a successful CONNACK (or raise)."""
        conn = cls(options)
        loop = asyncio.get_running_loop()
        ep = options.endpoint
        context = tls_context(ep)  # per connection: certificates renewed on disk are read
        try:
            async with asyncio.timeout(options.connect_timeout_s):
                await loop.create_connection(
                    lambda: conn,
                    ep.host,
                    ep.port,
                    ssl=context,
                    server_hostname=ep.host if context else None,
                )
                connack = await asyncio.shield(conn._connack)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            conn.abort()
            raise MqttNativeError(f"cannot connect to {ep.host}:{ep.port}: {exc}") from exc
        except MqttNativeError:
            conn.abort()
            raise
        conn.session_present = connack.session_present
        if connack.server_keep_alive is not None:
            conn._keepalive = connack.server_keep_alive
        conn._schedule_tick()
        return conn

    def abort(self) -> None:
        """Drop the connection at once (no DISCONNECT: the broker keeps the session)."""
        if self._transport is not None:
            self._transport.abort()

    async def disconnect(self) -> None:
        """Send DISCONNECT (after any pending acks) and wait until the socket is closed.

        The broker closes the connection once it has read the DISCONNECT, and so every PUBACK
        written before it. Waiting for that close, instead of closing at once, means the same
        client id reconnecting right after cannot take the session over before those acks are
        read and get acknowledged messages again (seen in tests/ingest/test_mqtt_native.py: 2
        full runs in 5). A broker that has not closed within 2 s is closed on.
        """
        if self._transport is None or self._transport.is_closing():
            return
        self._flush_out()
        self._transport.write(mqtt5.DisconnectPacket().write())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await asyncio.shield(self.closed)
        if self._transport is not None:
            self._transport.close()
        with contextlib.suppress(MqttNativeError, TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.shield(self.closed)

    # --- requests --------------------------------------------------------------------------
    async def subscribe(self, topic: str, *, qos: int = 1, timeout: float = 120.0) -> int:  # noqa: ASYNC109 - aiomqtt's signature
        """Subscribe and wait for the SUBACK; the granted QoS, or raise when refused."""
        self._next_id = self._next_id % 65_535 + 1
        packet_id = self._next_id
        fut: asyncio.Future[mqtt5.SubAckPacket] = self._loop.create_future()
        self._subacks[packet_id] = fut
        topic_filter = mqtt5.TopicFilter(topic, max_qos=mqtt5.QoS(qos))
        self._write(mqtt5.SubscribePacket(packet_id, [topic_filter]).write())
        try:
            async with asyncio.timeout(timeout):
                suback = await fut  # connection_lost fails it with the connection's error
        except TimeoutError as exc:
            raise MqttNativeError(f"no SUBACK for {topic!r} within {timeout:g} s") from exc
        finally:
            self._subacks.pop(packet_id, None)
        code = suback.reason_codes[0]
        if code.value >= 0x80:
            raise MqttNativeError(f"subscription to {topic!r} refused: {code.name}")
        return int(code.value)

    def ack(self, packet_id: int, qos: int) -> None:
        """Acknowledge a durable message (PUBACK, or PUBREC for QoS 2); batched per loop turn."""
        if self._transport is None or self._transport.is_closing():
            return
        if qos == 1:
            self._out.append(mqtt5.PubAckPacket(packet_id).write())
        elif qos == 2:
            self._out.append(mqtt5.PubRecPacket(packet_id).write())
        else:
            return
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush_out)

    # --- taking messages -------------------------------------------------------------------
    def raise_if_closed(self) -> None:
        if self.closed.done():
            raise self._error or MqttNativeError("connection closed")

    def inbox_waiter(self) -> asyncio.Future[None]:
        """A future done when the inbox has messages or the connection is closed."""
        fut: asyncio.Future[None] = self._loop.create_future()
        if self.inbox or self.closed.done():
            fut.set_result(None)
        else:
            self._waiter = fut
        return fut

    def wake(self) -> None:
        """Wake whoever waits on :meth:`inbox_waiter` (the collector is stopping)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def taken(self) -> None:
        """The collector took messages: resume reading if a QoS 0 flood had paused it."""
        if self._paused and len(self.inbox) < _PAUSE_ABOVE // 2 and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    # --- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        opts = self.options
        ep = opts.endpoint
        connect = mqtt5.ConnectPacket(
            ep.client_id,
            username=ep.username,
            password=ep.password.encode() if ep.password is not None else None,
            clean_start=False,
            keep_alive=ep.keepalive_s,
            session_expiry_interval=opts.session_expiry_s,
            receive_max=opts.receive_maximum,
        )
        self._write(connect.write())

    def data_received(self, data: bytes) -> None:
        if self._rest:
            data = self._rest + data
        view = memoryview(data)
        end = len(data)
        off = 0
        read = mqtt5.read
        inbox = self.inbox
        publish = mqtt5.PublishPacket
        try:
            while off < end:
                try:
                    packet, n = read(view[off:])
                except IndexError:  # "Not enough bytes": wait for the rest of the frame
                    length = frame_length(view, off)
                    if length is None or off + length > end:
                        break
                    n = self._refused(view[off : off + length], "incomplete")
                    off += n
                    continue
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:
                    # ValueError for a malformed packet; pyo3's PanicException (a
                    # BaseException) when mqtt5 0.8 meets a topic that is not UTF-8
                    length = frame_length(view, off)
                    if length is None or off + length > end:
                        break  # judged once the whole frame is here
                    off += self._refused(view[off : off + length], f"{type(exc).__name__}: {exc}")
                    continue
                off += n
                if type(packet) is publish:
                    inbox.append(packet)
                else:
                    self._control(packet)
        except MqttNativeError as exc:
            self._fail(exc)
            return
        except ValueError as exc:  # a frame header no MQTT peer sends
            self._fail(MqttNativeError(f"protocol error from the broker: {exc}"))
            return
        self._rest = data[off:] if off < end else b""
        if self._ping_sent is not None:
            self._ping_sent = self._loop.time()  # the broker is talking: alive
        if inbox:
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)
            if len(inbox) > _PAUSE_ABOVE and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()

    def _refused(self, frame: memoryview, why: str) -> int:
        """A complete frame the codec refused: a PUBLISH goes on (to be dead-lettered)."""
        if frame[0] >> 4 != _PUBLISH:
            raise MqttNativeError(f"malformed packet from the broker ({why})")
        try:
            raw = parse_publish_frame(frame)
        except ValueError as exc:
            raise MqttNativeError(f"malformed PUBLISH from the broker ({exc})") from exc
        log.warning("a PUBLISH on %r the MQTT codec refused (%s): passed on as is", raw.topic, why)
        self.inbox.append(raw)
        return len(frame)

    def _control(self, packet: mqtt5.Packet) -> None:
        if isinstance(packet, mqtt5.ConnAckPacket):
            if self._connack.done():
                raise MqttNativeError("a second CONNACK")
            if packet.reason_code != mqtt5.ConnAckReasonCode.SUCCESS:
                exc = MqttNativeError(f"connection refused: {packet.reason_code.name}")
                self._connack.set_exception(exc)
                self._connack.exception()  # retrieved: no "never retrieved" warning
                raise exc
            self._connack.set_result(packet)
        elif isinstance(packet, mqtt5.SubAckPacket):
            fut = self._subacks.get(packet.packet_id)
            if fut is not None and not fut.done():
                fut.set_result(packet)
        elif isinstance(packet, mqtt5.PingRespPacket):
            self._ping_sent = None
        elif isinstance(packet, mqtt5.PubRelPacket):  # QoS 2, after our PUBREC
            self._write(mqtt5.PubCompPacket(packet.packet_id).write())
        elif isinstance(packet, mqtt5.DisconnectPacket):
            reason = packet.reason_str or packet.reason_code.name
            raise MqttNativeError(f"the broker disconnected: {reason}")
        elif isinstance(packet, mqtt5.UnsubAckPacket | mqtt5.PubAckPacket | mqtt5.PubCompPacket):
            pass  # answers to requests we do not make
        else:
            raise MqttNativeError(f"unexpected {type(packet).__name__} from the broker")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._ticker is not None:
            self._ticker.cancel()
        if self._error is None:
            detail = f": {exc}" if exc else ""
            self._error = MqttNativeError(f"connection lost{detail}")
        err = self._error
        if not self._connack.done():
            self._connack.set_exception(err)
            self._connack.exception()
        for fut in self._subacks.values():
            if not fut.done():
                fut.set_exception(err)
                fut.exception()
        if not self.closed.done():
            self.closed.set_result(None)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: MqttNativeError) -> None:
        log.debug("closing the connection: %s", exc)
        if self._error is None:
            self._error = exc
        if not self._connack.done():
            self._connack.set_exception(exc)
            self._connack.exception()
        self.abort()

    # --- writing and keepalive -------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)
            self._last_sent = self._loop.time()

    def _flush_out(self) -> None:
        self._flush_handle = None
        if self._out:
            out, self._out = self._out, []
            self._write(b"".join(out))

    def _schedule_tick(self) -> None:
        if self._keepalive > 0 and self._transport is not None:
            self._ticker = self._loop.call_later(self._keepalive / 2, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        if self._ping_sent is not None and not self._paused:
            if now - self._ping_sent > self._keepalive:
                self._fail(MqttNativeError(f"no PINGRESP within {self._keepalive} s"))
                return
        elif now - self._last_sent >= self._keepalive / 2:
            self._write(mqtt5.PingReqPacket().write())
            self._ping_sent = now
        self._schedule_tick()
