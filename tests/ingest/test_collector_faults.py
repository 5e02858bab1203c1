"""The collector under faults: kill -9, broker restarts, hostile payloads, shared load."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.brokers import paho_publish
from tests.ingest.collector_helpers import (
    PARAMS,
    make_collector,
    read_dead,
    read_raw,
    reading_message,
    running,
    wait_for,
)

pytestmark = pytest.mark.integration


def _distinct_readings(data_dir: Path) -> int:
    raw = read_raw(data_dir)
    return 0 if raw.is_empty() else raw.unique(["station", "param", "ts"]).height


def _start_collector(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    log = data_dir / "collector.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update({"AIRCARBON_BATCH_MAX_AGE_S": "0.2", "AIRCARBON_LOG_LEVEL": "WARNING"})
    with log.open("ab") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "aircarbon", "collect", "--broker", url),
                *("--data-dir", str(data_dir), "--health-port", "0", "--client-id", "crash-test"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _wait_handles_sigterm(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until the collector catches SIGTERM (its handler is set once it has started).

    A SIGTERM sent while the interpreter is still importing kills it with -15, which says
    nothing about the collector's shutdown: on a loaded machine the last restart of the kill
    loop may not have got that far when the stream is already complete.
    """
    status = Path(f"/proc/{proc.pid}/status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        caught = next(
            (int(line.split()[1], 16) for line in status.read_text().splitlines()
             if line.startswith("SigCgt:")),
            0,
        )  # fmt: skip
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing(mosquitto: Any, tmp_path: Path) -> None:
    n = 20_000
    rng = random.Random(212)
    proc = _start_collector(mosquitto.url, tmp_path)
    # the first start registers the persistent session and subscription: wait until a probe
    # message has landed (a fixed sleep is not enough on a loaded machine)
    probe_topic, probe_payload = reading_message(n)
    deadline = time.monotonic() + 120
    while _distinct_readings(tmp_path) < len(PARAMS) and time.monotonic() < deadline:
        paho_publish(
            mosquitto.host,
            mosquitto.port,
            1,
            topic=lambda _: probe_topic,
            payload=lambda _: probe_payload,
            client_id="probe",
        )
        time.sleep(1.0)
    pool = ThreadPoolExecutor(max_workers=1)
    fut = pool.submit(
        paho_publish,
        mosquitto.host,
        mosquitto.port,
        n,
        topic=lambda i: reading_message(i)[0],
        payload=lambda i: reading_message(i)[1],
        timeout=240,
    )
    kills = 0
    try:
        while not fut.done() or kills < 3:
            time.sleep(rng.uniform(0.3, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
            proc = _start_collector(mosquitto.url, tmp_path)
            time.sleep(rng.uniform(0.5, 1.5))
        fut.result()
        deadline = time.monotonic() + 120
        expected = (n + 1) * len(PARAMS)  # the stream and the probe
        while _distinct_readings(tmp_path) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        _wait_handles_sigterm(proc)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        pool.shutdown()
    assert code == 0, (tmp_path / "collector.log").read_text()
    raw = read_raw(tmp_path)
    distinct = raw.unique(["station", "param", "ts"])
    assert kills >= 3
    assert distinct.height == (n + 1) * len(PARAMS)
    # duplicates from re-delivery carry the same value: de-duplication is exact
    assert raw.unique(["station", "param", "ts", "value"]).height == distinct.height


async def test_broker_restart_mid_stream_loses_nothing(mosquitto: Any, tmp_path: Path) -> None:
    collector = make_collector(mosquitto.port, tmp_path)
    half = 4000
    async with running(collector):
        await asyncio.to_thread(
            paho_publish,
            mosquitto.host,
            mosquitto.port,
            half,
            topic=lambda i: reading_message(i)[0],
            payload=lambda i: reading_message(i)[1],
        )
        await asyncio.to_thread(mosquitto.restart)
        await wait_for(collector.connected.is_set, 30)
        await asyncio.to_thread(
            paho_publish,
            mosquitto.host,
            mosquitto.port,
            half,
            topic=lambda i: reading_message(half + i)[0],
            payload=lambda i: reading_message(half + i)[1],
            client_id="test-publisher-2",
        )
        await wait_for(lambda: _distinct_readings(tmp_path) >= 2 * half * len(PARAMS), 60)
    assert _distinct_readings(tmp_path) == 2 * half * len(PARAMS)
    assert collector.stats.reconnects >= 1


HOSTILE: list[tuple[str, bytes, str]] = [
    ("aircarbon/v1/SY-TY-01/readings", b"{not json", "malformed_json"),
    ("aircarbon/v1/SY-TY-01/readings", b"\xff\xfe\x00garbage", "bad_encoding"),
    ("aircarbon/v1/SY-TY-01/readings", b'{"station":"SY-TY-01"}', "bad_schema"),
    (
        "aircarbon/v1/SY-TY-01/readings",
        b'{"station":"SY-XH-02","ts":"2026-11-24T10:00:00+08:00","readings":{"pm25":1}}',
        "topic_mismatch",
    ),
    (
        "aircarbon/v1/NOPE-99/readings",
        b'{"station":"NOPE-99","ts":"2026-11-24T10:00:00+08:00","readings":{"pm25":1}}',
        "unknown_station",
    ),
    (
        "aircarbon/v1/SY-TY-01/readings",
        b'{"station":"SY-TY-01","ts":"2099-01-01T00:00:00+08:00","readings":{"pm25":1}}',
        "ts_future",
    ),
    (
        "aircarbon/v1/SY-TY-01/readings",
        b'{"station":"SY-TY-01","ts":"yesterday","readings":{"pm25":1}}',
        "bad_timestamp",
    ),
    ("aircarbon/v1/SY-TY-01/readings", b"{" + b" " * 70_000 + b"}", "oversized"),
    ("aircarbon/v1/SY-TY-01/hj212", b"##0010QN=1;ST=22;1234\r\n", "hj212_length"),
    ("aircarbon/v1/SY-TY-01/nonsense", b"{}", "bad_topic"),
    ("aircarbon/v1/SY-TY-01/status", b'{"state":"exploded"}', "bad_status"),
]


async def test_hostile_flood_dead_lettered_good_readings_land(
    mosquitto: Any, tmp_path: Path
) -> None:
    collector = make_collector(mosquitto.port, tmp_path)
    collector.rules = type(collector.rules)(collector.catalog, check_time=True)
    good = 2000
    plan: list[tuple[str, bytes]] = []
    expected_reasons: list[str] = []
    for i in range(good):
        plan.append(reading_message(i))
        if i % 20 == 0:
            topic, payload, reason = HOSTILE[(i // 20) % len(HOSTILE)]
            plan.append((topic, payload))
            expected_reasons.append(reason)
    # a partly valid message: two good readings and two bad ones
    partial = json.loads(reading_message(good)[1])
    partial["readings"] = {"pm25": 12.0, "o3": 40.0, "pm10": "high", "xyz": 1.0}
    plan.append((reading_message(good)[0], json.dumps(partial).encode()))
    async with running(collector):
        await asyncio.to_thread(
            paho_publish,
            mosquitto.host,
            mosquitto.port,
            len(plan),
            topic=lambda i: plan[i][0],
            payload=lambda i: plan[i][1],
        )
        await wait_for(lambda: collector.stats.messages_total >= len(plan))
        health = collector.stats.snapshot(time.time_ns() // 1000)
    raw = read_raw(tmp_path)
    assert raw.unique(["station", "param", "ts"]).height == good * len(PARAMS) + 2
    dead = read_dead(tmp_path)
    whole = dead.filter(dead["param"].is_null())
    assert sorted(whole["reason"].to_list()) == sorted(expected_reasons)
    per_reading = dead.filter(dead["param"].is_not_null())
    assert sorted(per_reading["reason"].to_list()) == ["non_numeric", "unknown_param"]
    assert health["connected"] is True
    assert dead.filter(dead["reason"] == "oversized")["payload"].map_elements(len).max() <= 4096


async def test_two_collectors_share_one_subscription(mosquitto: Any, tmp_path: Path) -> None:
    a = make_collector(mosquitto.port, tmp_path, client_id="collector-a", share_group="g")
    b = make_collector(mosquitto.port, tmp_path, client_id="collector-b", share_group="g")
    n = 6000
    async with running(a), running(b):
        await asyncio.to_thread(
            paho_publish,
            mosquitto.host,
            mosquitto.port,
            n,
            topic=lambda i: reading_message(i)[0],
            payload=lambda i: reading_message(i)[1],
        )
        await wait_for(lambda: a.stats.messages_total + b.stats.messages_total >= n)
    raw = read_raw(tmp_path)
    assert raw.height == n * len(PARAMS)  # nothing twice
    assert raw.unique(["station", "param", "ts"]).height == n * len(PARAMS)
    assert a.stats.messages_total > 0
    assert b.stats.messages_total > 0
