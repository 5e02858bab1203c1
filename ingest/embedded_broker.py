"""An MQTT broker inside the Python process, for ``aircarbon demo`` and for tests.

Production runs Mosquitto (see ``docker/mosquitto/``). The demo must run on a machine with nothing
but Python, so it embeds amqtt's broker instead. amqtt 0.12 has two behaviours that shape this
wrapper:

* It queues QoS 1 messages for an offline persistent session (``clean_session=False``) **only when
  that session is not anonymous**. With amqtt's default ``allow_anonymous: True`` every session is
  anonymous and a collector that reconnects after an outage gets nothing of what was published
  while it was away. So this broker refuses anonymous connections: **every client must send a
  username** (any username is accepted, the password is ignored). The demo's collector and
  simulator do; a test client that forgets gets CONNACK "not authorised".
* amqtt keeps sessions in memory only. Its own SQL persistence plugin
  (``amqtt.contrib.persistence.SessionDBPlugin``) is not usable for a collector's backlog: it
  rewrites a JSON list per queued message in concurrent transactions, so updates are lost (10 of
  500 queued QoS 1 messages survived a restart when we measured it), it never removes delivered
  messages (they come back after every later restart), and it records each session twice. So
  ``persistence_path`` enables :class:`SnapshotPersistencePlugin` instead: Mosquitto's model, a
  snapshot of the persistent sessions (subscriptions and queued messages) and of the retained
  messages written to one SQLite file on shutdown and every ``autosave_interval`` seconds while
  something changed, reloaded on start. Delivery across a restart is at-least-once (a message
  delivered after the last snapshot comes again after a crash); a crash loses at most the last
  ``autosave_interval`` seconds of queued messages, as with Mosquitto's ``autosave_interval``.

amqtt also delivers messages it queued for an offline session with the RETAIN flag set; consumers
must not read meaning into that flag on data topics.

Use it as an async context manager inside an event loop::

    async with EmbeddedBroker() as broker:
        print(broker.url)  # mqtt://127.0.0.1:PORT

or, from synchronous code (the CLI), in a background thread::

    handle = start_in_thread()
    try:
        ...
    finally:
        handle.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker, RetainedApplicationMessage
from amqtt.errors import BrokerError
from amqtt.plugins.base import BasePlugin

__all__ = ["BrokerThread", "EmbeddedBroker", "SnapshotPersistencePlugin", "start_in_thread"]

logger = logging.getLogger(__name__)

_AUTH_PLUGIN = "amqtt.plugins.authentication.AnonymousAuthPlugin"
_PERSISTENCE_PLUGIN = f"{__name__}.SnapshotPersistencePlugin"
# A free port chosen up front can be taken by another process before amqtt binds it; retry with a
# fresh one a few times rather than reaching into amqtt's private server list for the bound port.
_BIND_ATTEMPTS = 5


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


_SCHEMA = """
create table if not exists sessions (client_id text primary key);
create table if not exists subscriptions (client_id text, topic_filter text, qos integer);
create table if not exists queued (client_id text, position integer, topic text, payload blob,
                                   qos integer);
create table if not exists retained (topic text primary key, payload blob, qos integer);
"""


@dataclass
class _Snapshot:
    """Everything a restarted broker needs: rows for the four tables of ``_SCHEMA``."""

    sessions: list[tuple[str]]
    subscriptions: list[tuple[str, str, int]]
    queued: list[tuple[str, int, str, bytes, int]]
    retained: list[tuple[str, bytes, int]]


def _peek(queue: asyncio.Queue[Any]) -> list[Any]:
    """The items of an unbounded queue, left in place (no ``await``, so nothing interleaves)."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    for item in items:
        queue.put_nowait(item)
    return items


def _write_snapshot(path: Path, snapshot: _Snapshot) -> None:
    """Replace the file's contents with ``snapshot`` in one transaction (runs in a thread)."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.executescript(_SCHEMA)
        for table in ("sessions", "subscriptions", "queued", "retained"):
            con.execute(f"delete from {table}")  # fixed names, not user input
        con.executemany("insert into sessions values (?)", snapshot.sessions)
        con.executemany("insert into subscriptions values (?, ?, ?)", snapshot.subscriptions)
        con.executemany("insert into queued values (?, ?, ?, ?, ?)", snapshot.queued)
        con.executemany("insert into retained values (?, ?, ?)", snapshot.retained)


def _read_snapshot(path: Path) -> _Snapshot:
    """Load the last snapshot (empty when the file is new)."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        con.executescript(_SCHEMA)
        return _Snapshot(
            sessions=con.execute("select client_id from sessions").fetchall(),
            subscriptions=con.execute("select * from subscriptions").fetchall(),
            queued=con.execute("select * from queued order by client_id, position").fetchall(),
            retained=con.execute("select * from retained").fetchall(),
        )


class SnapshotPersistencePlugin(BasePlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt broker plugin: persistent sessions and retained messages survive a restart.

    See the module docstring for why this replaces amqtt's ``SessionDBPlugin``. It only reads
    public broker state (``BrokerContext.sessions``, ``subscriptions``, ``retained_messages`` and
    each session's queue) and writes it whole, so the file is always one consistent snapshot.
    """

    @dataclass
    class Config:
        """Plugin options (the amqtt ``plugins`` mapping's value for this class)."""

        path: str
        """SQLite file holding the snapshot."""
        autosave_interval: float = 1.0
        """Seconds between snapshots while something changed (0 = only on shutdown)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._path = Path(self.config.path)
        self._dirty = False
        self._autosave: asyncio.Task[None] | None = None

    def _take_snapshot(self) -> _Snapshot:
        context = self.context
        sessions = [s for s in context.sessions if s.clean_session is False and not s.is_anonymous]
        ids = {s.client_id for s in sessions}
        return _Snapshot(
            sessions=[(s.client_id,) for s in sessions],
            subscriptions=[
                (s.client_id, topic_filter, qos)
                for topic_filter, entries in context.subscriptions.items()
                for s, qos in entries
                if s.client_id in ids
            ],
            queued=[
                (s.client_id, position, m.topic, bytes(m.data), m.qos or 0)
                for s in sessions
                for position, m in enumerate(_peek(s.retained_messages))
            ],
            retained=[
                (topic, bytes(m.data), m.qos or 0) for topic, m in context.retained_messages.items()
            ],
        )

    async def _save(self) -> None:
        self._dirty = False
        snapshot = self._take_snapshot()
        await asyncio.to_thread(_write_snapshot, self._path, snapshot)

    async def _autosave_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._dirty:
                await self._save()

    async def on_broker_post_start(self) -> None:
        """Restore the last snapshot, then start the autosave task."""
        snapshot = await asyncio.to_thread(_read_snapshot, self._path)
        context = self.context
        for (client_id,) in snapshot.sessions:
            await context.add_subscription(client_id, None, None)  # creates an offline session
            context.get_session(client_id).clean_session = False
        for client_id, topic_filter, qos in snapshot.subscriptions:
            await context.add_subscription(client_id, topic_filter, qos)
        for client_id, _, topic, payload, qos in snapshot.queued:
            context.get_session(client_id).retained_messages.put_nowait(
                RetainedApplicationMessage(None, topic, payload, qos)
            )
        for topic, payload, qos in snapshot.retained:
            context.retained_messages[topic] = RetainedApplicationMessage(None, topic, payload, qos)
        logger.info(
            "restored %d persistent sessions and %d queued messages from %s",
            len(snapshot.sessions),
            len(snapshot.queued),
            self._path,
        )
        if self.config.autosave_interval > 0:
            self._autosave = asyncio.create_task(
                self._autosave_loop(self.config.autosave_interval), name="amqtt-autosave"
            )

    async def on_broker_pre_shutdown(self) -> None:
        """Stop autosaving and write the final snapshot while the sessions still exist."""
        if self._autosave is not None:
            self._autosave.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._autosave
            self._autosave = None
        await self._save()

    async def on_broker_client_connected(self, client_id: str, client_session: Any) -> None:
        """A reconnect drains the session's queue: the snapshot must follow."""
        self._dirty = True

    async def on_broker_client_subscribed(self, client_id: str, topic: str, qos: int) -> None:
        """Record new subscriptions of persistent sessions."""
        self._dirty = True

    async def on_broker_client_unsubscribed(self, client_id: str, topic: str) -> None:
        """Forget removed subscriptions."""
        self._dirty = True

    async def on_broker_retained_message(
        self, *, client_id: str | None, retained_message: Any
    ) -> None:
        """A message was queued for an offline session, or a retained message changed."""
        self._dirty = True


def broker_config(
    *,
    host: str,
    port: int,
    persistence_path: Path | None = None,
    autosave_interval: float = 1.0,
) -> dict[str, Any]:
    """Build the amqtt ``BrokerConfig`` dictionary (plugin option keys use underscores).

    The plugin list replaces amqtt's defaults, so the ``$SYS`` publisher and the per-packet
    loggers (noisy, and slow at thousands of messages a second) are left out on purpose.
    """
    plugins: dict[str, Any] = {
        # allow_anonymous=False: a session with a username is authenticated and, crucially, is
        # not marked anonymous, so amqtt queues QoS 1 messages for it while it is offline.
        _AUTH_PLUGIN: {"allow_anonymous": False},
    }
    if persistence_path is not None:
        plugins[_PERSISTENCE_PLUGIN] = {
            "path": str(persistence_path),
            "autosave_interval": autosave_interval,
        }
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": plugins,
    }


class EmbeddedBroker:
    """amqtt's broker on ``host:port``; an async context manager that starts and stops it.

    ``port=0`` picks a free port; read the chosen one from :attr:`port` or :attr:`url` once
    started. ``stop()`` then ``start()`` restarts it on the same port (with ``persistence_path``,
    with the same sessions). Clients must connect with a username (see the module docstring).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        persistence_path: Path | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self.persistence_path = persistence_path
        self._broker: Any = None  # amqtt ships no type hints

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (known once it has been started)."""
        if self._port is None:
            msg = "the embedded broker has not been started"
            raise RuntimeError(msg)
        return self._port

    @property
    def url(self) -> str:
        """``mqtt://host:port``, the form ``AIRCARBON_BROKER_URL`` takes."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether :meth:`start` has succeeded and :meth:`stop` has not been called since."""
        return self._broker is not None

    async def start(self) -> None:
        """Bind the listener and start serving; raises :class:`OSError` if the port is taken."""
        if self._broker is not None:
            return
        if self.persistence_path is not None:
            self.persistence_path.parent.mkdir(parents=True, exist_ok=True)
        # A restarted broker comes back on the port it had, so clients' URLs stay valid.
        fixed_port = self._port or self._requested_port
        attempts = 1 if fixed_port else _BIND_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = fixed_port or free_port(self.host)
            broker = Broker(
                broker_config(host=self.host, port=port, persistence_path=self.persistence_path)
            )
            try:
                await broker.start()
            except BrokerError as exc:
                in_use = isinstance(exc.__cause__, OSError) and (
                    exc.__cause__.errno == errno.EADDRINUSE
                )
                if not in_use:
                    raise
                if attempt == attempts:
                    msg = f"cannot bind the embedded MQTT broker to {self.host}:{port}"
                    raise OSError(errno.EADDRINUSE, msg) from exc
                logger.debug("port %d taken before amqtt bound it; retrying", port)
                continue
            self._broker = broker
            self._port = port
            logger.info("embedded MQTT broker listening on %s", self.url)
            return

    async def stop(self) -> None:
        """Shut the broker down (idempotent). Persisted sessions stay in ``persistence_path``."""
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@dataclass
class BrokerThread:
    """An :class:`EmbeddedBroker` served by its own event loop in a daemon thread.

    For synchronous callers (the CLI's ``demo``), which cannot ``await``. Use
    :func:`start_in_thread` to make one; :meth:`stop` shuts the broker down and joins the thread.
    Also a context manager.
    """

    broker: EmbeddedBroker
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopped: asyncio.Event = field(repr=False)

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return self.broker.url

    @property
    def port(self) -> int:
        """The port the broker listens on."""
        return self.broker.port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker and wait up to ``timeout`` seconds for its thread (idempotent)."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    persistence_path: Path | None = None,
    timeout: float = 10.0,
) -> BrokerThread:
    """Start an :class:`EmbeddedBroker` in a background thread and return once it listens.

    Raises whatever the broker raised on start-up (e.g. :class:`OSError` for a taken port), or
    :class:`TimeoutError` if it is not listening within ``timeout`` seconds.
    """
    broker = EmbeddedBroker(host=host, port=port, persistence_path=persistence_path)
    ready = threading.Event()
    started: dict[str, Any] = {}

    async def serve() -> None:
        stopped = asyncio.Event()
        started["loop"] = asyncio.get_running_loop()
        started["stopped"] = stopped
        try:
            await broker.start()
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            started["error"] = exc
            ready.set()
            return
        ready.set()
        try:
            await stopped.wait()
        finally:
            await broker.stop()

    def run() -> None:
        asyncio.run(serve())

    thread = threading.Thread(target=run, name="aircarbon-embedded-broker", daemon=True)
    thread.start()
    if not ready.wait(timeout):
        with contextlib.suppress(KeyError, RuntimeError):  # ask a slow start to give up
            started["loop"].call_soon_threadsafe(started["stopped"].set)
        msg = f"the embedded MQTT broker did not start within {timeout} s"
        raise TimeoutError(msg)
    if "error" in started:
        thread.join(timeout)
        raise started["error"]
    return BrokerThread(
        broker=broker, _loop=started["loop"], _thread=thread, _stopped=started["stopped"]
    )
