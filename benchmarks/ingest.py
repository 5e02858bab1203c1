"""Ingest throughput: the collector into durable Parquet, next to baselines and a peer, same run.

    uv run python benchmarks/ingest.py [--messages N] [--rates 2000,5000,10000]
                                       [--seconds T] [--quick] [--write]

Every subject is a separate process on the same machine as its own Mosquitto (started here on
a free port, persistence off, unbounded queue) and the paho publishers:

* ``mosquitto_sub`` — C, QoS 1, persistent session, prints each message to /dev/null;
* ``aiomqtt + json.loads`` — a bare aiomqtt 2.5 loop with the collector's MQTT v5 connection
  (persistent session, Receive Maximum 20,000; paho's automatic PUBACK on arrival) that only
  parses each payload;
* ``collector`` — :class:`ingest.collector.Collector` built from default settings (decode with
  time/catalog checks, de-duplication, health counters, dead letters), QoS 1 acknowledged only
  after the readings sit in fsynced, renamed Parquet files. The health HTTP server is not
  started (it costs nothing until scraped). Its MQTT transport is its own
  (``ingest.mqtt_native``, the default);
* ``collector (paho)`` — the same collector on paho via aiomqtt (``mqtt_client = "paho"``,
  its transport before), drain mode only: the before/after of the transport in one run;
* ``Node-RED`` — the low-code peer, installed from the npm registry into ``--nodered-dir``
  (outside the repository; skipped with a one-line note without npm), running the flow a user
  would draw: ``mqtt in`` (QoS 1, MQTT v5, persistent session) → ``json`` → ``file`` (one
  line per message), written here as its flows.json; timed from its "Connected to broker"
  log line until the file holds every message. Drain mode and the kill -9 check only.

Modes:

* **drain** — the subject connects once (registers its persistent session) and leaves; the
  publishers queue N messages (6 readings each, 12 catalog stations, timestamps within the
  last day); the subject comes back and is timed from its connect until the last message is
  received (baselines) or durable (collector);
* **live** — the subject is connected; publishers pace R msg/s for T seconds, recording each
  message's publish time; latency is publish→received (baselines) or publish→durable (the
  moment the batch holding it was renamed and fsynced — collector);
* **shared** — two collectors on ``$share/bench/…`` drain the same backlog (the broker
  round-robins it between their sessions while they are away);
* **kill9** — the collector and Node-RED each receive a paced QoS 1 stream, are killed with
  SIGKILL once about a third is stored and started again at once; what reached the store is
  counted against what was published (lost, duplicated).

Peak RSS is the subject's ``ru_maxrss`` from ``wait4``. ``--write`` replaces the ``## Ingest``
section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's directory comes first on sys.path and `ingest` would be this
# module rather than the package: put the project root there instead
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path[0] = str(ROOT)

from benchmarks._report import (  # noqa: E402
    DOC,
    cpu_seconds,
    machine_line,
    markdown_table,
    peak_mb,
    section,
)
from benchmarks._report import publish as publish_report  # noqa: E402

if TYPE_CHECKING:
    import paho.mqtt.client as paho

    from ingest.mqtt_client import MqttEndpoint

SECTION = "## Ingest"
TOPIC = "aircarbon/v1/+/+"
READINGS_PER_MESSAGE = 6
RECEIVE_MAXIMUM = 20_000  # the collector's default (settings.queue_max_messages)
TIMEOUT_S = 120.0

# --------------------------------------------------------------------------------------
# the message stream (shared by publishers and by whoever maps ids back to publish times)
# --------------------------------------------------------------------------------------


def _stations() -> list[tuple[str, tuple[tuple[str, float, float], ...]]]:
    """Each catalog station with its first 6 parameters and their plausible ranges."""
    from aircarbon.core.catalog import load_catalog

    catalog = load_catalog()
    out = []
    for sid in sorted(catalog.stations):
        params = catalog.stations[sid].params[:READINGS_PER_MESSAGE]
        out.append((sid, tuple((p, *catalog.parameter(p).plausible) for p in params)))
    return out


@dataclass(frozen=True)
class Stream:
    """Message ``i``: station ``i % S``, per-station ``seq = i // S``, ts spread over a day."""

    stations: list[tuple[str, tuple[tuple[str, float, float], ...]]]
    total: int
    start_us: int

    @classmethod
    def create(cls, total: int, start_us: int | None = None) -> Stream:
        stations = _stations()
        if start_us is None:
            start_us = time.time_ns() // 1000 - 86_400 * 1_000_000 + 60 * 1_000_000
        return cls(stations, total, start_us)

    @property
    def step_us(self) -> int:
        rounds = max(1, -(-self.total // len(self.stations)))
        return min(60_000_000, 86_400_000_000 // rounds)

    def message(self, i: int) -> tuple[str, bytes]:
        sid, params = self.stations[i % len(self.stations)]
        seq = i // len(self.stations)
        ts = dt.datetime.fromtimestamp((self.start_us + seq * self.step_us) / 1e6, dt.UTC)
        local = ts.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
        readings = {
            p: round(lo + (hi - lo) * ((i * 7 + k * 13) % 100) / 400, 2)
            for k, (p, lo, hi) in enumerate(params)
        }
        body = {"station": sid, "ts": local, "period_s": 60, "seq": seq, "readings": readings}
        return f"aircarbon/v1/{sid}/readings", json.dumps(body).encode()

    def ident(self, station: str, seq: int) -> int:
        return seq * len(self.stations) + self.index[station]

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {sid: k for k, (sid, _) in enumerate(self.stations)}


# --------------------------------------------------------------------------------------
# subjects and publishers (each runs as its own process: `ingest.py _role ...`)
# --------------------------------------------------------------------------------------


def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak RSS of a process since its exec (``ru_maxrss`` would include the pre-exec fork)."""
    return peak_mb(pid, default=0.0)


def _ready(args: argparse.Namespace) -> None:
    """Tell the orchestrator we are connected and subscribed."""
    if args.out:
        Path(args.out + ".ready").touch()


def load_client(port: int, client_id: str) -> tuple[paho.Client, MqttEndpoint]:
    """A load generator's paho client (v3.1.1, clean session, anonymous), not connected.

    Built like every AirCarbon publisher (``ingest.mqtt_client``: ``endpoint`` for the
    broker URL, ``paho_client`` for the client), so a change there reaches the load
    generators too; what they measure (their own publish loop) is theirs. Not the bare
    aiomqtt baseline: that one stays a bare aiomqtt loop on purpose.
    """
    from aircarbon.core.settings import load_settings
    from ingest.mqtt_client import endpoint, paho_client

    url = f"mqtt://127.0.0.1:{port}"
    ep = endpoint(load_settings({}), url=url, client_id=client_id, protocol="v311")
    assert ep is not None  # a URL was given
    return paho_client(ep, clean=True), ep


def role_publish(args: argparse.Namespace) -> None:
    """Publish messages ``i ≡ part (mod parts)``, paced at ``rate`` msg/s (0 = flat out).

    Single-threaded: without paho's network thread, ``publish()`` writes straight to the
    socket and ``loop(0)`` reads the PUBACKs, about 4x faster than ``loop_start()`` plus a
    publishing thread fighting it for the GIL. In-flight messages are bounded (see the
    paho stall in research/stack.md).
    """
    stream = Stream.create(args.total, args.start_us)
    ids = list(range(args.part, args.total, args.parts))
    messages = [stream.message(i) for i in ids]
    state = {"connected": False, "acked": 0}
    client, ep = load_client(args.port, f"bench-pub-{args.part}-{os.getpid()}")
    client.max_inflight_messages_set(args.window)

    def on_connect(*_a: Any) -> None:
        state["connected"] = True

    def on_publish(*_a: Any) -> None:
        state["acked"] += 1

    client.on_connect = on_connect
    client.on_publish = on_publish
    client.connect(ep.host, ep.port, keepalive=ep.keepalive_s)
    deadline = time.monotonic() + 10
    while not state["connected"]:
        client.loop(0.05)
        if time.monotonic() > deadline:
            raise SystemExit("publisher could not connect")
    sent = array.array("d")
    started = time.perf_counter()
    wall0 = time.time() - started  # wall clock = wall0 + perf_counter(), monotonic in between
    interval = args.parts / args.rate if args.rate else 0.0
    for j, (topic, payload) in enumerate(messages):
        if interval:
            ahead = started + j * interval - time.perf_counter()
            if ahead > 0.001:
                client.loop(0)  # read PUBACKs while we wait
                time.sleep(max(0.0, started + j * interval - time.perf_counter()))
        while j - state["acked"] >= args.window:
            client.loop(0.01)
        sent.append(wall0 + time.perf_counter())
        client.publish(topic, payload, qos=1)
        if j % 64 == 0:
            client.loop(0)
    deadline = time.monotonic() + TIMEOUT_S
    while state["acked"] < len(ids):
        client.loop(0.01)
        if time.monotonic() > deadline:
            raise SystemExit(f"only {state['acked']} of {len(ids)} publishes acknowledged")
    elapsed = time.perf_counter() - started
    client.disconnect()
    if args.times:
        with Path(args.times).open("wb") as fh:
            array.array("q", ids).tofile(fh)
            sent.tofile(fh)
    print(json.dumps({"messages": len(ids), "seconds": elapsed}))


def _v5_connect_kwargs(client_id: str) -> dict[str, Any]:
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    return {
        "identifier": client_id,
        "protocol": aiomqtt.ProtocolVersion.V5,
        "clean_start": False,
        "properties": props,
    }


def role_aiomqtt(args: argparse.Namespace) -> None:
    """The bare loop: aiomqtt's iterator and ``json.loads``, nothing else."""
    import asyncio

    import aiomqtt

    async def main() -> dict[str, Any]:
        recv: list[tuple[str, int, float]] = []
        count = 0
        cpu0 = cpu_seconds()
        started = time.time()
        last = started
        async with aiomqtt.Client(
            "127.0.0.1", args.port, **_v5_connect_kwargs(args.client_id)
        ) as c:
            await c.subscribe(TOPIC, qos=1)
            _ready(args)
            if args.expect:
                async for message in c.messages:
                    doc = json.loads(message.payload)  # type: ignore[arg-type]
                    count += 1
                    if args.live:
                        recv.append((doc["station"], doc["seq"], time.time()))
                    if count >= args.expect:
                        break
                last = time.time()
        cpu = cpu_seconds() - cpu0
        return {"start": started, "end": last, "messages": count, "recv": recv, "cpu_s": cpu}

    result = asyncio.run(main())
    result["rss_mb"] = vm_hwm_mb()
    Path(args.out).write_text(json.dumps(result))


def role_collector(args: argparse.Namespace) -> None:
    """The collector from default settings; reports when each batch became durable."""
    import asyncio
    import logging

    from aircarbon.core.catalog import load_catalog
    from aircarbon.core.settings import load_settings
    from ingest.collector import Collector

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(
        broker_url=f"mqtt://127.0.0.1:{args.port}",
        data_dir=Path(args.data_dir),
        client_id=args.client_id,
        share_group=args.share_group,
        mqtt_client=args.mqtt_client,
    )

    class Bench(Collector):
        """Records, after each landing, when it became durable and what it held."""

        durable_readings = 0
        last_durable = 0.0
        landed: list[tuple[float, list[str], list[int | None]]] = []  # noqa: RUF012

        async def _land(self, batch: Any) -> None:
            await super()._land(batch)
            now = time.time()
            self.durable_readings += len(batch.readings)
            self.last_durable = now
            if args.live:
                self.landed.append((now, batch.readings.station, batch.readings.seq))

    async def main() -> dict[str, Any]:
        collector = Bench.from_settings(settings, load_catalog())
        assert isinstance(collector, Bench)
        peak_unacked = 0
        cpu0 = cpu_seconds()
        started = time.time()
        task = asyncio.create_task(collector.run())
        await asyncio.wait_for(collector.connected.wait(), 60)
        _ready(args)
        expect = args.expect * READINGS_PER_MESSAGE
        idle_since = time.monotonic()
        seen = -1
        while args.expect:
            await asyncio.sleep(0.02)
            unacked = collector.stats.pending_acks + len(collector._batch.acks)
            peak_unacked = max(peak_unacked, unacked)
            if collector.durable_readings >= expect:
                break
            if collector.stats.messages_total != seen:
                seen, idle_since = collector.stats.messages_total, time.monotonic()
            elif seen > 0 and time.monotonic() - idle_since > args.idle_s:
                break  # shared subscription: our share has arrived and landed
            if time.time() - started > TIMEOUT_S:
                break
        collector.stop()
        await task
        stats = collector.stats
        return {
            "cpu_s": cpu_seconds() - cpu0,
            "start": started,
            "end": collector.last_durable or time.time(),
            "messages": stats.messages_total,
            "readings": collector.durable_readings,
            "dead_letters": sum(stats.dead_letters_total.values()),
            "duplicates": stats.duplicates_total,
            "batches": stats.batches_written,
            "files": stats.files_written,
            "write_s_median": statistics.median(stats.write_seconds) if stats.write_seconds else 0,
            "peak_unacked": peak_unacked,
            "landed": [
                (t, sorted({(s, q) for s, q in zip(st, sq, strict=True)}))
                for t, st, sq in collector.landed
            ],
        }

    if args.profile:
        import cProfile

        with cProfile.Profile() as prof:
            result = asyncio.run(main())
        prof.dump_stats(args.profile)
    else:
        result = asyncio.run(main())
    result["rss_mb"] = vm_hwm_mb()
    Path(args.out).write_text(json.dumps(result))


# --------------------------------------------------------------------------------------
# orchestration
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str:
    for candidate in (f"/usr/sbin/{name}", f"/usr/bin/{name}", name):
        found = shutil.which(candidate)
        if found:
            return found
    raise SystemExit(f"{name} not found: apt-get install mosquitto mosquitto-clients")


@dataclass
class Broker:
    port: int
    pid: int

    def cpu_s(self) -> float:
        """CPU seconds the broker has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def mosquitto(workdir: Path) -> Iterator[Broker]:
    """A private Mosquitto: persistence off, unbounded queue, large v3 in-flight window."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence false",
        "max_queued_messages 0",  # a benchmark backlog must not be dropped at 1,000
        # v3.1.1 clients (mosquitto_sub, the publishers): as large as the v5 Receive Maximum
        f"max_inflight_messages {RECEIVE_MAXIMUM}",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
    ]
    if os.geteuid() == 0:
        lines.insert(0, "user root")
    conf.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [find_binary("mosquitto"), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("mosquitto did not start") from None
            time.sleep(0.05)
    try:
        yield Broker(port, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def _self(role: str, *extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), role, *extra]


@dataclass
class Proc:
    """A subject process; ``wait`` reaps it with ``wait4`` to get its peak RSS."""

    popen: subprocess.Popen[bytes]
    rss_mb: float = 0.0
    cpu_s: float = 0.0
    returncode: int | None = None

    def __post_init__(self) -> None:
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while self.returncode is None:
            self.rss_mb = max(self.rss_mb, vm_hwm_mb(self.popen.pid))
            time.sleep(0.01)

    def wait(self, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s = usage.ru_utime + usage.ru_stime
                self.popen.returncode = self.returncode
                return
            if time.monotonic() > deadline:
                self.popen.kill()
                timeout, deadline = 5, time.monotonic() + 5
            time.sleep(0.005)


def spawn(cmd: list[str], stdout: Any = subprocess.DEVNULL) -> Proc:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return Proc(subprocess.Popen(cmd, stdout=stdout, stderr=None, env=env, cwd=ROOT))


def publish(port: int, stream: Stream, *, parts: int, rate: float, times_dir: Path | None) -> float:
    """Run ``parts`` publisher processes to completion; returns the wall time taken."""
    procs = []
    started = time.time()
    for part in range(parts):
        extra = [
            f"--port={port}",
            f"--total={stream.total}",
            f"--start-us={stream.start_us}",
            f"--part={part}",
            f"--parts={parts}",
            f"--rate={rate}",
        ]
        if times_dir is not None:
            extra.append(f"--times={times_dir / f'pub-{part}.bin'}")
        procs.append(spawn(_self("_publish", *extra)))
    for p in procs:
        p.wait()
        if p.returncode:
            raise SystemExit(f"publisher failed with {p.returncode}")
    return time.time() - started


def read_publish_times(times_dir: Path, total: int) -> array.array[float]:
    out = array.array("d", [0.0]) * total
    for path in sorted(times_dir.glob("pub-*.bin")):
        raw = path.read_bytes()
        n = len(raw) // 16
        ids = array.array("q")
        ids.frombytes(raw[: n * 8])
        sent = array.array("d")
        sent.frombytes(raw[n * 8 :])
        for i, t in zip(ids, sent, strict=True):
            out[i] = t
    return out


def percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    values = sorted(values)
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


@dataclass
class Result:
    mode: str
    subject: str
    messages: int
    seconds: float
    rss_mb: float
    p50_s: float | None = None
    p99_s: float | None = None
    complete: bool = True
    note: str = ""
    cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_us(self) -> float:
        """Subject CPU per message (user + system, all threads), µs."""
        return self.cpu_s / self.messages * 1e6 if self.messages else 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


# --- subjects, from the orchestrator's side -----------------------------------------------


class Subject:
    name = ""

    def __init__(self, tmp: Path, port: int, client_id: str) -> None:
        self.tmp, self.port, self.client_id = tmp, port, client_id

    def register(self) -> None:
        """Connect once (persistent session + subscription), then leave."""

    def start(self, expect: int, *, live: bool) -> None:
        raise NotImplementedError

    def wait_ready(self) -> None:
        time.sleep(0.5)

    def finish(self, stream: Stream, sent: array.array[float] | None, mode: str) -> Result:
        raise NotImplementedError


class MosquittoSub(Subject):
    name = "mosquitto_sub"

    def _cmd(self, *extra: str) -> list[str]:
        return [
            find_binary("mosquitto_sub"),
            "-h", "127.0.0.1", "-p", str(self.port),
            "-q", "1", "-c", "-i", self.client_id, "-t", TOPIC,
            *extra,
        ]  # fmt: skip

    def register(self) -> None:
        subprocess.run(self._cmd("-E"), check=True, timeout=10)

    def start(self, expect: int, *, live: bool) -> None:
        self.expect, self.live = expect, live
        self.out = (self.tmp / f"{self.client_id}.out").open("wb")
        fmt = ["-F", "%U %p"] if live else []
        self.started = time.time()
        self.proc = spawn(self._cmd("-C", str(expect), *fmt), stdout=self.out)

    def finish(self, stream: Stream, sent: array.array[float] | None, mode: str) -> Result:
        self.proc.wait()
        end = time.time()
        self.out.close()
        lines = (self.tmp / f"{self.client_id}.out").read_bytes().splitlines()
        lat: list[float] = []
        if self.live and sent is not None:
            for line in lines:
                stamp, _, payload = line.partition(b" ")
                doc = json.loads(payload)
                lat.append(float(stamp) - sent[stream.ident(doc["station"], doc["seq"])])
        start = self.started if not self.live else min(sent) if sent else self.started
        if self.live:
            end = max(float(line.partition(b" ")[0]) for line in lines) if lines else end
        p50, p99 = percentiles(lat) if lat else (None, None)
        return Result(
            mode, self.name, len(lines), end - start, self.proc.rss_mb, p50, p99,
            complete=len(lines) == self.expect, cpu_s=self.proc.cpu_s,
        )  # fmt: skip


class PySubject(Subject):
    role = ""

    def _run(self, expect: int, live: bool, *extra: str) -> Proc:
        self.out = self.tmp / f"{self.client_id}-{time.monotonic_ns()}.json"
        return spawn(
            _self(
                self.role,
                f"--port={self.port}",
                f"--client-id={self.client_id}",
                f"--expect={expect}",
                f"--out={self.out}",
                *(["--live"] if live else []),
                *extra,
            )
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        ready = Path(f"{self.out}.ready")
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def register(self) -> None:
        proc = self._run(0, False)
        proc.wait()
        if proc.returncode:
            raise SystemExit(f"{self.name}: registering failed ({proc.returncode})")

    def start(self, expect: int, *, live: bool) -> None:
        self.expect, self.live = expect, live
        self.proc = self._run(expect, live)

    def report(self) -> dict[str, Any]:
        self.proc.wait()
        if self.proc.returncode:
            raise SystemExit(f"{self.name} failed ({self.proc.returncode})")
        doc: dict[str, Any] = json.loads(self.out.read_text())
        return doc


class BareAiomqtt(PySubject):
    name = "aiomqtt + json.loads"
    role = "_aiomqtt"

    def finish(self, stream: Stream, sent: array.array[float] | None, mode: str) -> Result:
        doc = self.report()
        lat = []
        start = doc["start"]
        if self.live and sent is not None:
            lat = [t - sent[stream.ident(s, q)] for s, q, t in doc["recv"]]
            start = min(sent)
        p50, p99 = percentiles(lat) if lat else (None, None)
        rss = max(doc["rss_mb"], self.proc.rss_mb)
        return Result(
            mode, self.name, doc["messages"], doc["end"] - start, rss, p50, p99,
            complete=doc["messages"] == self.expect, cpu_s=doc["cpu_s"],
        )  # fmt: skip


class CollectorSubject(PySubject):
    name = "collector"
    mqtt_client = "native"
    role = "_collector"

    def __init__(self, tmp: Path, port: int, client_id: str, share_group: str | None = None):
        super().__init__(tmp, port, client_id)
        self.share_group = share_group
        self.data_dir = tmp / f"data-{client_id}"
        self.profile: str | None = None

    def _run(self, expect: int, live: bool, *extra: str) -> Proc:
        opts = [f"--data-dir={self.data_dir}", f"--mqtt-client={self.mqtt_client}"]
        if self.share_group:
            opts.append(f"--share-group={self.share_group}")
        if self.profile and expect:
            opts.append(f"--profile={self.profile}")
        return super()._run(expect, live, *opts, *extra)

    def finish(self, stream: Stream, sent: array.array[float] | None, mode: str) -> Result:
        doc = self.report()
        lat: list[float] = []
        start = doc["start"]
        if self.live and sent is not None:
            for t, ids in doc["landed"]:
                lat.extend(t - sent[stream.ident(s, q)] for s, q in ids)
            start = min(sent)
        p50, p99 = percentiles(lat) if lat else (None, None)
        rows = parquet_rows(self.data_dir / "raw")
        extra = {k: doc[k] for k in ("batches", "files", "write_s_median", "peak_unacked")}
        extra["parquet_rows"] = rows
        note = ""
        if doc["dead_letters"] or doc["duplicates"]:
            note = f"{doc['dead_letters']} dead letters, {doc['duplicates']} duplicates"
        return Result(
            mode, self.name, doc["readings"] // READINGS_PER_MESSAGE, doc["end"] - start,
            max(doc["rss_mb"], self.proc.rss_mb), p50, p99,
            complete=rows == self.expect * READINGS_PER_MESSAGE, note=note, extra=extra,
            cpu_s=doc["cpu_s"],
        )  # fmt: skip


def parquet_rows(raw_dir: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in raw_dir.rglob("*.parquet"))


# --------------------------------------------------------------------------------------
# Node-RED: the low-code peer, with its typical flow (mqtt in → json → file)
# --------------------------------------------------------------------------------------

NODE_RED_SPEC = "node-red@4"
NODE_RED_DIR = Path(tempfile.gettempdir()) / "aircarbon-bench-nodered"


def ensure_node_red(prefix: Path) -> Path | None:
    """``red.js`` of a Node-RED installed from the npm registry under ``prefix`` (outside the
    repository), installing it when missing; None (with a one-line note) without npm."""
    red = prefix / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        print("# Node-RED: skipped (node/npm not available)", file=sys.stderr)
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"# Node-RED: npm install {NODE_RED_SPEC} into {prefix}", file=sys.stderr, flush=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(prefix), NODE_RED_SPEC, "--no-audit", "--no-fund"],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    if done.returncode or not red.exists():
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"# Node-RED: skipped (npm install failed: {last})", file=sys.stderr)
        return None
    return red


def node_red_version(red: Path) -> str:
    doc = json.loads((red.parent / "package.json").read_text())
    return f"Node-RED {doc['version']} (node {platform_node()})"


def platform_node() -> str:
    node = shutil.which("node")
    if not node:
        return "?"
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().lstrip("v")


class NodeRed(Subject):
    """Node-RED with the flow a user would draw: ``mqtt in`` (QoS 1, MQTT v5, persistent
    session) → ``json`` → ``file`` (append, one line per message). MQTT.js acknowledges each
    message on arrival; the file node appends through a write stream."""

    name = "Node-RED"
    red: Path | None = None

    def __init__(self, tmp: Path, port: int, client_id: str) -> None:
        super().__init__(tmp, port, client_id)
        self.user_dir = tmp / f"nodered-{client_id}"
        self.user_dir.mkdir(parents=True, exist_ok=True)
        self.out_file = self.user_dir / "out.jsonl"
        self.log_file = self.user_dir / "node-red.log"
        (self.user_dir / "flows.json").write_text(json.dumps(self.flows(), indent=1))
        self.connected_at: float | None = None
        self._log_pos = 0
        self._lines = 0
        self._read_pos = 0

    def flows(self) -> list[dict[str, Any]]:
        broker = {
            "id": "bench-broker", "type": "mqtt-broker", "name": "bench",
            "broker": "127.0.0.1", "port": str(self.port), "clientid": self.client_id,
            "autoConnect": True, "usetls": False, "protocolVersion": "5", "keepalive": "60",
            "cleansession": False, "autoUnsubscribe": False, "sessionExpiry": "3600",
            "birthTopic": "", "closeTopic": "", "willTopic": "",
        }  # fmt: skip
        return [
            {"id": "bench-tab", "type": "tab", "label": "ingest"},
            broker,
            {
                "id": "bench-in", "type": "mqtt in", "z": "bench-tab", "topic": TOPIC,
                "qos": "1", "datatype": "utf8", "broker": "bench-broker", "nl": False,
                "rap": True, "rh": 0, "inputs": 0, "x": 120, "y": 80, "wires": [["bench-json"]],
            },
            {
                "id": "bench-json", "type": "json", "z": "bench-tab", "property": "payload",
                "action": "obj", "pretty": False, "x": 300, "y": 80, "wires": [["bench-file"]],
            },
            {
                "id": "bench-file", "type": "file", "z": "bench-tab",
                "filename": str(self.out_file), "filenameType": "str", "appendNewline": True,
                "createDir": True, "overwriteFile": "false", "encoding": "none",
                "x": 480, "y": 80, "wires": [[]],
            },
        ]  # fmt: skip

    def _spawn(self) -> Proc:
        assert self.red is not None
        node = shutil.which("node") or "node"
        self._log_pos = self.log_file.stat().st_size if self.log_file.exists() else 0
        self.connected_at = None
        log = self.log_file.open("ab")
        cmd = [node, str(self.red), "--userDir", str(self.user_dir), "--port",
               str(free_port()), "flows.json"]  # fmt: skip
        return Proc(subprocess.Popen(cmd, stdout=log, stderr=log, cwd=self.user_dir))

    def _wait_connected(self, proc: Proc, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log_file.open("rb") as fh:
                fh.seek(self._log_pos)
                if b"Connected to broker" in fh.read():
                    self.connected_at = time.time()
                    return self.connected_at
            if proc.popen.poll() is not None:
                break
            time.sleep(0.01)
        raise SystemExit(f"Node-RED did not connect; see {self.log_file}")

    def _stop(self, proc: Proc) -> None:
        proc.popen.send_signal(signal.SIGTERM)
        proc.wait(30)

    def register(self) -> None:
        proc = self._spawn()
        self._wait_connected(proc)
        time.sleep(1.0)  # its SUBSCRIBE follows the CONNACK
        self._stop(proc)

    def count_lines(self) -> int:
        """Lines in the output file so far (read incrementally)."""
        if not self.out_file.exists():
            return self._lines
        with self.out_file.open("rb") as fh:
            fh.seek(self._read_pos)
            chunk = fh.read()
        self._read_pos += len(chunk)
        self._lines += chunk.count(b"\n")
        return self._lines

    def start(self, expect: int, *, live: bool) -> None:
        self.expect, self.live = expect, live
        self.proc = self._spawn()
        self._wait_connected(self.proc)
        self.cpu0 = _proc_cpu_s(self.proc.popen.pid)

    def finish(self, stream: Stream, sent: array.array[float] | None, mode: str) -> Result:
        deadline = time.monotonic() + TIMEOUT_S
        last, since = -1, time.monotonic()
        end = time.time()
        while True:
            n = self.count_lines()
            if n != last:
                last, since, end = n, time.monotonic(), time.time()
            if n >= self.expect or time.monotonic() > deadline or time.monotonic() - since > 10:
                break
            time.sleep(0.005)
        cpu = _proc_cpu_s(self.proc.popen.pid) - self.cpu0
        self._stop(self.proc)
        assert self.connected_at is not None
        return Result(
            mode, self.name, n, end - self.connected_at, self.proc.rss_mb,
            complete=n == self.expect, cpu_s=cpu,
        )  # fmt: skip


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CollectorPaho(CollectorSubject):
    """The collector on its former transport (paho via aiomqtt, ``mqtt_client = "paho"``)."""

    name = "collector (paho)"
    mqtt_client = "paho"


SUBJECTS: dict[str, type[Subject]] = {
    "mosquitto_sub": MosquittoSub,
    "aiomqtt": BareAiomqtt,
    "collector": CollectorSubject,
    "collector-paho": CollectorPaho,
    "node-red": NodeRed,
}


def run_drain(tmp: Path, kind: str, messages: int, publishers: int, profile: str | None) -> Result:
    with mosquitto(tmp / f"broker-drain-{kind}") as broker:
        subject = SUBJECTS[kind](tmp, broker.port, f"bench-{kind}-drain")
        if isinstance(subject, CollectorSubject):
            subject.profile = profile
        subject.register()
        stream = Stream.create(messages)
        took = publish(broker.port, stream, parts=publishers, rate=0, times_dir=None)
        cpu0 = broker.cpu_s()
        subject.start(messages, live=False)
        result = subject.finish(stream, None, "drain")
        result.broker_cpu_s = broker.cpu_s() - cpu0
        result.extra["publish_rate"] = messages / took
        return result


def run_live(tmp: Path, kind: str, rate: int, seconds: float) -> Result:
    total = int(rate * seconds)
    with mosquitto(tmp / f"broker-live-{kind}-{rate}") as broker:
        subject = SUBJECTS[kind](tmp, broker.port, f"bench-{kind}-live-{rate}")
        subject.register()
        subject.start(total, live=True)
        subject.wait_ready()
        stream = Stream.create(total)
        times = tmp / f"times-{kind}-{rate}"
        times.mkdir()
        parts = max(1, -(-rate // 5000))
        took = publish(broker.port, stream, parts=parts, rate=rate, times_dir=times)
        sent = read_publish_times(times, total)
        result = subject.finish(stream, sent, f"live {rate:,}/s")
        result.extra["publish_rate"] = total / took
        return result


def run_shared(tmp: Path, messages: int, publishers: int) -> Result:
    with mosquitto(tmp / "broker-shared") as broker:
        port = broker.port
        subjects = [
            CollectorSubject(tmp, port, f"bench-shared-{k}", share_group="bench") for k in range(2)
        ]
        for s in subjects:
            s.register()
        stream = Stream.create(messages)
        publish(port, stream, parts=publishers, rate=0, times_dir=None)
        cpu0 = broker.cpu_s()
        for s in subjects:
            s.start(messages, live=False)
        docs = [s.report() for s in subjects]
        broker_cpu = broker.cpu_s() - cpu0
        start = min(d["start"] for d in docs)
        end = max(d["end"] for d in docs)
        readings = sum(d["readings"] for d in docs)
        rows = sum(parquet_rows(s.data_dir / "raw") for s in subjects)
        split = "/".join(str(d["messages"]) for d in docs)
        return Result(
            "shared ×2", "2 collectors", readings // READINGS_PER_MESSAGE, end - start,
            max(max(d["rss_mb"], s.proc.rss_mb) for d, s in zip(docs, subjects, strict=True)),
            complete=rows == messages * READINGS_PER_MESSAGE,
            note=f"split {split}; RSS per collector", cpu_s=sum(d["cpu_s"] for d in docs),
            broker_cpu_s=broker_cpu,
        )  # fmt: skip


@dataclass
class KillResult:
    subject: str
    published: int
    stored: int
    duplicates: int
    killed_at: int
    torn: int = 0

    @property
    def lost(self) -> int:
        return self.published - self.stored


def _stored_node_red(subject: NodeRed, stream: Stream) -> tuple[int, int, int]:
    """(unique messages, duplicate lines, torn lines) in Node-RED's output file."""
    seen: set[int] = set()
    lines = torn = 0
    for line in subject.out_file.read_bytes().splitlines():
        try:
            doc = json.loads(line)
            ident = stream.ident(doc["station"], doc["seq"])
        except (ValueError, KeyError):
            torn += 1  # a line cut by the kill
            continue
        lines += 1
        seen.add(ident)
    return len(seen), lines - len(seen), torn


def _stored_collector(subject: CollectorSubject, stream: Stream) -> tuple[int, int, int]:
    import pyarrow.parquet as pq

    seen: set[int] = set()
    rows = 0
    for f in (subject.data_dir / "raw").rglob("*.parquet"):
        table = pq.read_table(f, columns=["station", "seq"])
        for st, sq in zip(table["station"].to_pylist(), table["seq"].to_pylist(), strict=True):
            rows += 1
            seen.add(stream.ident(st, sq))
    return len(seen), rows // READINGS_PER_MESSAGE - len(seen), 0


def run_kill9(tmp: Path, kind: str, total: int, rate: int) -> KillResult:
    """Publish ``total`` QoS 1 messages at ``rate``; kill -9 the subject once about a third is
    stored, start it again at once, and count what reached its store."""
    with mosquitto(tmp / f"broker-kill-{kind}") as broker:
        stream = Stream.create(total)
        publisher = threading.Thread(
            target=publish, args=(broker.port, stream),
            kwargs={"parts": 1, "rate": rate, "times_dir": None}, daemon=True,
        )  # fmt: skip
        if kind == "node-red":
            nr = NodeRed(tmp, broker.port, "bench-nodered-kill")
            proc = nr._spawn()
            nr._wait_connected(proc)
            time.sleep(1.0)  # its SUBSCRIBE follows the CONNACK
            publisher.start()
            while nr.count_lines() < total // 3 and publisher.is_alive():
                time.sleep(0.005)
            killed_at = nr.count_lines()
            os.kill(proc.popen.pid, signal.SIGKILL)
            proc.wait()
            proc = nr._spawn()
            nr._wait_connected(proc)
            publisher.join()
            last, since = -1, time.monotonic()
            while time.monotonic() - since < 5 and nr.count_lines() < total:
                if nr.count_lines() != last:
                    last, since = nr.count_lines(), time.monotonic()
                time.sleep(0.05)
            nr._stop(proc)
            stored, dups, torn = _stored_node_red(nr, stream)
            return KillResult(nr.name, total, stored, dups, killed_at, torn)
        col = CollectorSubject(tmp, broker.port, "bench-collector-kill")
        col.register()
        col.proc = col._run(total, False)
        col.wait_ready()
        publisher.start()
        raw = col.data_dir / "raw"
        while publisher.is_alive():
            if raw.exists() and parquet_rows(raw) >= total // 3 * READINGS_PER_MESSAGE:
                break
            time.sleep(0.05)
        killed_at = parquet_rows(raw) // READINGS_PER_MESSAGE if raw.exists() else 0
        os.kill(col.proc.popen.pid, signal.SIGKILL)
        col.proc.wait()
        col.proc = col._run(total, False)  # exits once the rest has landed and 3 s passed idle
        publisher.join()
        col.proc.wait()
        stored, dups, torn = _stored_collector(col, stream)
        return KillResult(col.name, total, stored, dups, killed_at, torn)


def kill_table(results: list[KillResult]) -> str:
    head = ["subject", "published", "stored", "lost", "duplicates", "stored when killed"]
    rows = [
        [r.subject, f"{r.published:,}", f"{r.stored:,}", f"{r.lost:,}", f"{r.duplicates:,}",
         f"{r.killed_at:,}" + (f" ({r.torn} torn lines)" if r.torn else "")]
        for r in results
    ]  # fmt: skip
    return markdown_table(head, "lrrrrr", rows)


# --- report ---------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v * 1000:,.0f}"


def table(results: list[Result]) -> str:
    head = [
        "mode", "subject", "msg/s", "readings/s", "vs aiomqtt", "p50 ms", "p99 ms",
        "peak RSS MB", "CPU µs/msg", "notes",
    ]  # fmt: skip
    cells: list[list[str]] = []
    base = {r.mode: r.rate for r in results if r.subject.startswith("aiomqtt")}
    base["shared ×2"] = next(
        (r.rate for r in results if r.subject == "collector" and r.mode == "drain"), 0
    )
    for r in results:
        ref = base.get(r.mode)
        ratio = f"{r.rate / ref:.2f}x" if ref else "—"
        if r.mode == "shared ×2" and ref:
            ratio = f"{r.rate / ref:.2f}x one collector"
        readings = (
            f"{r.rate * READINGS_PER_MESSAGE:,.0f}"
            if r.subject.startswith(("collector", "2 collectors"))
            else "—"
        )
        notes = [r.note] if r.note else []
        if not r.complete:
            notes.append("INCOMPLETE")
        rss, cpu = f"{r.rss_mb:,.0f}", f"{r.cpu_us:,.0f}"
        cells.append([r.mode, r.subject, f"{r.rate:,.0f}", readings, ratio, _ms(r.p50_s),
                      _ms(r.p99_s), rss, cpu, "; ".join(notes)])  # fmt: skip
    return markdown_table(head, "llrrrrrrrl", cells)


def machine() -> str:
    version = subprocess.run(
        [find_binary("mosquitto"), "-h"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    notes = [version]
    if NodeRed.red is not None:
        notes.append(node_red_version(NodeRed.red))
    return machine_line("aiomqtt", "paho-mqtt", "mqtt5", "msgspec", "pyarrow", notes=notes)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        return subject_main(sys.argv[1], sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=150_000, help="drain backlog size")
    parser.add_argument("--rates", default="2000,5000,10000", help="live rates, msg/s")
    parser.add_argument("--seconds", type=float, default=8.0, help="live duration per rate")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes (drain)")
    parser.add_argument(
        "--subjects", default="mosquitto_sub,aiomqtt,collector,collector-paho,node-red"
    )
    parser.add_argument("--modes", default="drain,live,shared,kill9")
    parser.add_argument("--kill-messages", type=int, default=30_000, help="kill -9 check size")
    parser.add_argument("--kill-rate", type=int, default=5_000, help="kill -9 check, msg/s")
    parser.add_argument(
        "--nodered-dir", type=Path, default=NODE_RED_DIR, help="npm prefix holding Node-RED"
    )
    parser.add_argument("--profile", help="cProfile the drain collector into this file")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20k drain, 3 s live")
    parser.add_argument("--write", action="store_true", help=f"update '{SECTION}' in {DOC}")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.seconds, args.rates = 20_000, 3.0, "2000,10000"
    kinds = args.subjects.split(",")
    modes = args.modes.split(",")
    if "node-red" in kinds:
        NodeRed.red = ensure_node_red(args.nodered_dir)
        if NodeRed.red is None:
            kinds.remove("node-red")
    results: list[Result] = []
    kills: list[KillResult] = []
    with tempfile.TemporaryDirectory(prefix="aircarbon-bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        if "drain" in modes:
            for kind in kinds:
                results.append(run_drain(tmp, kind, args.messages, args.publishers, args.profile))
                _progress(results[-1])
        if "live" in modes:
            for rate in (int(r) for r in args.rates.split(",")):
                for kind in (k for k in kinds if k not in {"node-red", "collector-paho"}):
                    results.append(run_live(tmp, kind, rate, args.seconds))
                    _progress(results[-1])
        if "shared" in modes and "collector" in kinds:
            results.append(run_shared(tmp, args.messages, args.publishers))
            _progress(results[-1])
        if "kill9" in modes:
            for kind in (k for k in kinds if k in {"collector", "node-red"}):
                kills.append(run_kill9(tmp, kind, args.kill_messages, args.kill_rate))
                print(f"# kill -9: {kills[-1]}", file=sys.stderr, flush=True)
    text = table(results)
    if kills:
        text += (
            f"\n\n**kill -9 mid-run** ({args.kill_messages:,} messages at QoS 1, "
            f"{args.kill_rate:,} msg/s; the subject is killed once about a third is stored and "
            "started again at once; *stored* counts distinct messages in its store):\n\n"
            + kill_table(kills)
        )
    facts = machine()
    publish_report(SECTION, text, facts, doc_section(text, facts, args), write=args.write)
    return None


def _progress(r: Result) -> None:
    extra = " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.extra.items()
    )
    print(
        f"# {r.mode:>14} {r.subject:<22} {r.messages:>7} msgs {r.seconds:6.2f} s "
        f"{r.rate:8,.0f} msg/s p50 {_ms(r.p50_s)} p99 {_ms(r.p99_s)} ms "
        f"rss {r.rss_mb:.0f} MB cpu {r.cpu_us:.0f} us/msg "
        f"broker {r.broker_cpu_s / max(r.messages, 1) * 1e6:.0f} us/msg "
        f"complete={r.complete} {r.note} {extra}",
        file=sys.stderr,
        flush=True,
    )


def subject_main(role: str, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"ingest.py {role}")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", default="bench")
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--data-dir")
    parser.add_argument("--share-group")
    parser.add_argument("--mqtt-client", default="native")
    parser.add_argument("--profile")
    parser.add_argument("--idle-s", type=float, default=3.0)
    # publisher
    parser.add_argument("--total", type=int, default=0)
    parser.add_argument("--start-us", type=int)
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--times")
    args = parser.parse_args(argv)
    {"_publish": role_publish, "_aiomqtt": role_aiomqtt, "_collector": role_collector}[role](args)


def doc_section(text: str, facts: str, args: argparse.Namespace) -> str:
    return section(
        SECTION,
        "`uv run python benchmarks/ingest.py --write` — messages of 6 readings at QoS 1 through\n"
        "a private Mosquitto, each subject a separate process on the same 2 cores as the broker\n"
        "and the paho publishers. **drain**: a backlog of "
        f"{args.messages:,} messages queued for the subject's\n"
        "persistent session while it was away, timed from its connect until the last message\n"
        "is received (baselines), durable: fsynced, renamed Parquet, then PUBACK (collector), or\n"
        "in Node-RED's output file (its typical flow: mqtt in → json → file, installed from npm).\n"
        "*collector (paho)* is the same collector on its former transport (paho via aiomqtt,\n"
        '`mqtt_client = "paho"`), for the before/after in one run.\n'
        f"**live**: publishers pace the rate for {args.seconds:g} s; latency is publish→received\n"
        "(baselines) or publish→durable (collector, whose batches close at 5,000 messages or\n"
        "1 s). **shared ×2**: two collectors on `$share/bench/…` drain the same backlog. Ratios\n"
        "compare with the bare aiomqtt loop of the same mode in the same run. *CPU µs/msg* is\n"
        "the subject's own CPU time (all threads) over the timed window per message: on a\n"
        "shared machine it moves much less than the rates, which follow whatever else runs.",
        text,
        f"Measured on: {facts}.",
        "Where the collector's µs per message go (cProfile of its event-loop thread over a\n"
        "60,000-message drain, both transports profiled back to back on the same loaded machine,\n"
        "load average ~8; cProfile inflates Python-heavy code 2–3×, so compare the rows, not the\n"
        "totals with the CPU column above):\n\n"
        "| µs per message (profiled) | paho via aiomqtt (before) | own transport (now) |\n"
        "|---|---:|---:|\n"
        "| MQTT read path: socket reads, PUBLISH parsing, properties | 145 | 4 |\n"
        "| — of which paho `Properties` (constructor + `clear`) | 58 | — |\n"
        "| — of which `mqtt5.read` (Rust; 0.5 µs unprofiled) | — | 1.8 |\n"
        "| — `recv` calls per message | 4 | 1 per ~700 messages |\n"
        "| event-loop turns (epoll) per message | 1 | 1 per ~330 messages |\n"
        "| aiomqtt `Message` + `asyncio.Queue` hop | 30 | — |\n"
        "| collector: decode, de-duplication, poison journal, health counters | 80 | 85 |\n"
        "| — of which `decode_json` | 35 | 41 |\n"
        "| main thread in all | 309 | 115 |\n\n"
        "- **The transport was the floor, and is gone.** paho built a `Properties` object (its\n"
        "  name tables afresh) for every v5 PUBLISH, read each packet with several `recv` calls\n"
        "  and an event-loop turn, and aiomqtt wrapped it in a `Message` and a queue hop. The\n"
        "  collector's own transport (`ingest/mqtt_native.py`: an asyncio Protocol around the\n"
        "  Rust `mqtt5` codec) parses everything one socket read holds (up to 256 KiB, about\n"
        "  1,000 messages) in one loop turn into a deque that the collector drains; PUBACKs go\n"
        "  out only after the batch is durable, all acks of a turn in one write. The kill -9,\n"
        "  broker-restart, hostile-traffic, poison, shared-subscription and TLS/ACL tests pass on\n"
        '  it; paho stays selectable (`mqtt_client = "paho"`) and serves MQTT v3.1.1 (the\n'
        "  embedded broker).\n"
        "- **What is left is the collector's own work**: decoding and per-message accounting in\n"
        "  the event-loop thread, and landing (`to_arrow`, zstd Parquet, fsync) in the writer\n"
        "  thread, which on a loaded machine becomes the bound: the reader then waits on the\n"
        "  bounded batch queue (backpressure) while Receive Maximum holds the broker back.\n"
        "- **Node-RED** acknowledges each message as MQTT.js receives it, before the file node\n"
        "  has written it: a kill -9 loses whatever is acknowledged but still in the flow when it\n"
        "  lands. At 5,000 msg/s that window is short and a run may lose none; smoke runs on\n"
        "  2026-12-04 lost 7 of 15,000 and 6 of 30,000. The collector acknowledges only durable\n"
        "  batches: a kill costs duplicates (up to a batch; readers de-duplicate), never loss.\n"
        "- **Load.** On a machine shared with other work the rates follow that work (the bare\n"
        "  aiomqtt loop drains at 9–10k msg/s on a quiet machine, half that under a load average\n"
        "  of 10–15, and shared ×2 then measures contention more than sharing); the CPU column\n"
        "  moves much less.\n"
        "- **Mosquitto 2.0.11** honours the v5 client's Receive Maximum over its own\n"
        "  `max_inflight_messages`: with that set to 100, a collector (Receive Maximum 20,000)\n"
        "  still held 5,000+ messages unacknowledged at once (`peak_unacked` in the script's log\n"
        "  lines). `max_inflight_messages` bounds v3 clients (`mosquitto_sub`, the publishers).\n",
    )


if __name__ == "__main__":
    main()
