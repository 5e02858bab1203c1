"""The HJ 212 TCP gateway: frames/s on one core against the collector's msg/s, same run.

    uv run python benchmarks/gateway.py [--frames N] [--connections C] [--held 1000]
                                        [--quick] [--write]

One private Mosquitto (persistence off, unbounded queue), then, each a separate process:

* **gateway** — ``aircarbon gateway hj212`` with default settings except the per-connection
  rate limit (raised: the load generator is not a real logger) and the connection limit.
  C logger connections (asyncio, in this process) each write frames of 6 readings with the
  A bit set, 10 at a time, and read the 10 CN=9014 answers — each answer sent only after
  the broker's PUBACK. Timed from the first write to the last answer. *per core* is frames
  per CPU-second of the gateway process (user + system, from ``/proc``), which is what
  "on one core" means on a shared 2-core machine where wall rates follow the neighbours.
* **collector** — the collector of ``benchmarks/ingest.py`` (default settings, QoS 1 acked
  after fsynced Parquet) drains exactly the messages the gateway published, queued for its
  persistent session: the baseline. The ratio is gateway per-core ÷ collector per-core;
  the target is ≥ 2 (the gateway must never be the bottleneck).
* **held** — ``--held`` connections opened at once, each sends one frame and waits for its
  answer, all kept open; the gateway's own health endpoint must count them all.

``--write`` replaces the ``## Gateway`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path[0] = str(ROOT)

from benchmarks._report import machine_line, markdown_table, publish, section  # noqa: E402
from benchmarks.ingest import (  # noqa: E402
    READINGS_PER_MESSAGE,
    CollectorSubject,
    free_port,
    mosquitto,
)

SECTION = "## Gateway"
WINDOW = 10  # frames a logger writes before reading their answers
PARAMS: tuple[tuple[str, float], ...] = (
    ("a34004", 35.0),
    ("a34002", 61.0),
    ("a05024", 88.0),
    ("a21004", 41.5),
    ("a21026", 9.0),
    ("a21005", 0.8),
)
assert len(PARAMS) == READINGS_PER_MESSAGE


def frames_for(total: int) -> list[bytes]:
    """``total`` distinct minute frames spread over the national stations (6 readings)."""
    from aircarbon.core.catalog import load_catalog
    from ingest.hj212 import build_data_segment, build_frame

    catalog = load_catalog()
    mns = [s.mn for s in catalog.stations.values() if s.type.value == "national"]
    start = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    start -= dt.timedelta(hours=23)
    out = []
    for i in range(total):
        minute, which = divmod(i, len(mns))
        when = start + dt.timedelta(seconds=minute)
        qn = f"{when:%Y%m%d%H%M%S}{which:03d}"
        items = [(code, {"Avg": f"{v + i % 7}", "Flag": "N"}) for code, v in PARAMS]
        segment = build_data_segment(
            qn=qn,
            st="22",
            cn="2051",
            pw="123456",
            mn=mns[which],
            flag=5,
            datatime=f"{when:%Y%m%d%H%M%S}",
            items=items,
        )
        out.append(build_frame(segment))
    return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_gateway(tmp: Path, broker_port: int, port: int, health: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRCARBON_DATA_DIR": str(tmp / "gateway-data"),
        "AIRCARBON_LOG_LEVEL": "WARNING",
        "AIRCARBON_GATEWAY_RATE_FRAMES_S": "1000000",
        "AIRCARBON_GATEWAY_RATE_BURST": "1000000",
        "AIRCARBON_GATEWAY_MAX_CONNECTIONS": "5000",
        "AIRCARBON_GATEWAY_HEALTH_PORT": str(health),
    }
    env.pop("AIRCARBON_CONFIG", None)
    cmd = [sys.executable, "-m", "aircarbon", "gateway", "hj212"]
    cmd += ["--listen", f"127.0.0.1:{port}", "--broker", f"mqtt://127.0.0.1:{broker_port}"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=(tmp / "gateway.log").open("wb"))


async def wait_port(port: int, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"gateway not listening on {port}") from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return


async def read_answers(reader: asyncio.StreamReader, n: int) -> None:
    """Read until ``n`` answers (one CR LF each) arrived."""
    seen = 0
    while seen < n:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("gateway closed the connection")
        seen += data.count(b"\r\n")


async def logger(port: int, frames: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(0, len(frames), WINDOW):
        part = frames[i : i + WINDOW]
        writer.write(b"".join(part))
        await writer.drain()
        await read_answers(reader, len(part))
    writer.close()


async def load(port: int, frames: list[bytes], connections: int) -> None:
    shares = [frames[i::connections] for i in range(connections)]
    await asyncio.gather(*(logger(port, share) for share in shares if share))


async def held(port: int, health: int, frames: list[bytes]) -> dict[str, Any]:
    """Open one connection per frame, send it, await its answer, keep all open."""
    opened: list[asyncio.StreamWriter] = []

    async def one(frame: bytes) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened.append(writer)
        writer.write(frame)
        await writer.drain()
        await read_answers(reader, 1)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(f) for f in frames))
    took = time.perf_counter() - t0
    doc = json.loads(await http_get(health, "/health"))
    for writer in opened:
        writer.close()
    return {"seconds": took, "health": doc}


async def http_get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data.partition(b"\r\n\r\n")[2].decode()


def run(args: argparse.Namespace, tmp: Path) -> tuple[list[list[str]], dict[str, Any]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    frames = frames_for(args.frames)
    facts: dict[str, Any] = {}
    with mosquitto(tmp / "broker") as broker:
        collector = CollectorSubject(tmp, broker.port, "bench-gateway-collector")
        collector.register()
        port, health = free_port(), free_port()
        gateway = start_gateway(tmp, broker.port, port, health)
        try:
            asyncio.run(wait_port(port))
            time.sleep(1.0)  # MQTT connected
            cpu0, t0 = cpu_s(gateway.pid), time.perf_counter()
            asyncio.run(load(port, frames, args.connections))
            wall, cpu = time.perf_counter() - t0, cpu_s(gateway.pid) - cpu0
            gw_rss = rss_mb(gateway.pid)
            # the collector drains what the gateway published (queued for its session)
            collector.start(args.frames, live=False)
            doc = collector.report()
            held_frames = frames_for(args.held)
            held_doc = asyncio.run(held(port, health, held_frames))
            held_rss = rss_mb(gateway.pid)
            gateway.send_signal(signal.SIGTERM)
            code = gateway.wait(60)
        finally:
            if gateway.poll() is None:
                gateway.kill()
    messages = doc["readings"] // READINGS_PER_MESSAGE
    c_wall = doc["end"] - doc["start"]
    g_core = args.frames / cpu
    c_core = messages / doc["cpu_s"]
    rows = [
        [
            f"gateway, {args.connections} loggers",
            f"{args.frames:,}",
            f"{args.frames / wall:,.0f}",
            f"{cpu / args.frames * 1e6:,.0f}",
            f"{g_core:,.0f}",
            f"{g_core / c_core:.2f}x",
            f"{gw_rss:,.0f}",
        ],
        [
            "collector (drain of the same messages)",
            f"{messages:,}",
            f"{messages / c_wall:,.0f}",
            f"{doc['cpu_s'] / messages * 1e6:,.0f}",
            f"{c_core:,.0f}",
            "1.00x",
            f"{max(doc['rss_mb'], collector.proc.rss_mb):,.0f}",
        ],
        [
            f"gateway, {args.held:,} connections held",
            f"{args.held:,}",
            f"{args.held / held_doc['seconds']:,.0f}",
            "—",
            "—",
            "—",
            f"{held_rss:,.0f}",
        ],
    ]
    facts.update(
        gateway_exit=code,
        held_connected=held_doc["health"]["connected_loggers"],
        held_answered=held_doc["health"]["answered"],
        published=held_doc["health"]["published"],
        collector_complete=messages == args.frames,
    )
    return rows, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30_000)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--held", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="5,000 frames (smoke run)")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.frames = 5_000
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        rows, facts = run(args, Path(tmp))
    table = markdown_table(
        [
            "subject",
            "frames / msgs",
            "wall /s",
            "CPU µs each",
            "per core /s",
            "vs collector",
            "RSS MB",
        ],
        "lrrrrrr",
        rows,
    )
    print(json.dumps(facts))
    machine = machine_line("aiomqtt", "paho-mqtt")
    held_line = (
        f"Held: {facts['held_connected']:,} loggers connected at once (the gateway's /health), "
        f"{facts['held_answered'] - args.frames:,} of {args.held:,} answered; "
        f"gateway exit code after SIGTERM: {facts['gateway_exit']}; "
        f"collector landed every message: {facts['collector_complete']}."
    )
    intro = (
        "`uv run python benchmarks/gateway.py --write` — HJ 212 frames of 6 readings from "
        f"{args.connections} logger connections (10 frames written, then their 10 CN=9014 "
        "answers read; each answer only after the broker's PUBACK) through `aircarbon gateway "
        "hj212` into a private Mosquitto; then the collector drains exactly those messages from "
        "its persistent session. *per core* = frames (messages) per CPU-second of that process "
        "alone: the figure that says whether the gateway can be the bottleneck on one core. "
        "Everything (broker, gateway, collector, load generator) shares the same 2 cores."
    )
    text = section(SECTION, intro, table, held_line, f"Measured on: {machine}.")
    publish(SECTION, table, machine, text, write=args.write)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
