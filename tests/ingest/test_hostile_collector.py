"""The collector against a real Mosquitto under hostile traffic (issue 14).

A message nested 1,000 levels deep, a message the process dies on (twice), a row the store
cannot take, floods of refused readings: the collector stays up, the message is dead-lettered
with its reason and acknowledged, and the good messages around it land.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ingest import raw_store
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

NESTED_STATION = "SY-XH-02"


def _nested(depth: int = 1000) -> bytes:
    head = json.dumps({"station": NESTED_STATION, "ts": "2026-11-24T10:01:00+08:00"})[:-1]
    return (head + ',"readings":{"pm25":' + "[" * depth + "]" * depth + "}}").encode()


def _publish(broker: Any, plan: list[tuple[str, bytes]]) -> None:
    paho_publish(
        broker.host,
        broker.port,
        len(plan),
        topic=lambda i: plan[i][0],
        payload=lambda i: plan[i][1],
    )


def _distinct(data_dir: Path) -> int:
    raw = read_raw(data_dir)
    return 0 if raw.is_empty() else raw.unique(["station", "param", "ts"]).height


async def test_nested_message_is_dead_lettered_and_ingest_goes_on(
    mosquitto: Any, tmp_path: Path
) -> None:
    hostile = [
        (f"aircarbon/v1/{NESTED_STATION}/readings", _nested()),
        (f"aircarbon/v1/{NESTED_STATION}/status", _nested()),
        ("aircarbon/v1/NOT-ONBOARDED/readings", _nested()),
    ]
    plan = [reading_message(i) for i in range(100)] + hostile
    plan += [reading_message(i) for i in range(100, 200)]
    collector = make_collector(mosquitto.port, tmp_path, client_id="nested")
    async with running(collector):
        await asyncio.to_thread(_publish, mosquitto, plan)
        await wait_for(lambda: collector.stats.messages_total >= len(plan))
        await wait_for(lambda: collector.stats.pending_acks == 0)
        snapshot = collector.stats.snapshot(time.time_ns() // 1000)
    assert _distinct(tmp_path) == 200 * len(PARAMS)
    dead = read_dead(tmp_path)
    assert dead["reason"].to_list() == ["decode_error"] * 3
    assert all(d.startswith("RecursionError") for d in dead["detail"].to_list())
    assert sorted(dead["topic"].to_list()) == sorted(t for t, _ in hostile)
    record = next(s for s in snapshot["stations"] if s["station"] == NESTED_STATION)
    assert record["dead_letters"] == {"decode_error": 2}  # counted per station on the page
    assert snapshot["dead_letters_total"] == {"decode_error": 3}

    # the same session again: the nested messages were acknowledged, nothing re-crashes
    again = make_collector(mosquitto.port, tmp_path, client_id="nested")
    later = [reading_message(i) for i in range(200, 250)]
    async with running(again):
        await asyncio.to_thread(_publish, mosquitto, later)
        await wait_for(lambda: _distinct(tmp_path) == 250 * len(PARAMS))
    assert read_dead(tmp_path).height == 3
    assert again.stats.dead_letters_total == {}


async def test_dead_letter_bytes_flush_a_batch(mosquitto: Any, tmp_path: Path) -> None:
    """Messages whose thousands of readings are all refused flush on their bytes, not age."""
    collector = make_collector(
        mosquitto.port, tmp_path, client_id="flood", batch_max_age_s=3600, batch_max_messages=10**6
    )
    collector.config = dataclasses.replace(collector.config, batch_max_dead_bytes=200_000)
    flood = json.loads(reading_message(0)[1])
    flood["readings"] = {f"x{i}": 1.0 for i in range(2000)}  # ~20 KB, 2,000 unknown params
    plan = [(reading_message(0)[0], json.dumps(flood).encode())] * 10
    async with running(collector):
        await asyncio.to_thread(_publish, mosquitto, plan)
        await wait_for(lambda: collector.stats.batches_written >= 10, limit_s=120)
    dead = read_dead(tmp_path)
    assert dead.height == 20_000
    assert dead["payload"].is_not_null().sum() == 10  # one payload per message


async def test_a_row_the_store_refuses_is_isolated_and_everything_is_acked(
    mosquitto: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write error that is not the disk's: its rows are dead-lettered, the rest lands."""
    real = raw_store.write_readings
    refused = "SY-HN-06"

    def picky(table: Any, raw_dir: Path, writer_id: str) -> list[Path]:
        if refused in table["station"].to_pylist():
            raise ValueError(f"the store refuses {refused}")  # e.g. an Arrow conversion error
        return real(table, raw_dir, writer_id)

    monkeypatch.setattr("ingest.lander.write_readings", picky)
    plan = [reading_message(i) for i in range(50)]
    collector = make_collector(mosquitto.port, tmp_path, client_id="picky")
    async with running(collector):
        await asyncio.to_thread(_publish, mosquitto, plan)
        await wait_for(lambda: collector.stats.messages_total >= len(plan))
        await wait_for(lambda: collector.stats.pending_acks == 0)
        assert collector.stats.write_failures == 0
    raw = read_raw(tmp_path)
    assert refused not in raw["station"].to_list()
    assert raw.height == 40 * len(PARAMS)
    dead = read_dead(tmp_path)
    assert set(dead["reason"].to_list()) == {"write_error"}
    assert dead.height == 10 * len(PARAMS)
    assert collector.stats.isolated_rows == 10 * len(PARAMS)
    # everything was acknowledged: a new session of the same client gets nothing again
    monkeypatch.setattr("ingest.lander.write_readings", real)
    again = make_collector(mosquitto.port, tmp_path, client_id="picky")
    async with running(again):
        await asyncio.to_thread(_publish, mosquitto, [reading_message(999)])
        await wait_for(lambda: again.stats.messages_total >= 1)
        await wait_for(lambda: again.stats.pending_acks == 0)
    assert again.stats.messages_total == 1


# --- poison: a crash the boundary cannot catch ----------------------------------------------

POISON_TOPIC = "aircarbon/v1/SY-TY-01/crash-me"


def _start(url: str, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update(
        {
            "AIRCARBON_BATCH_MAX_AGE_S": "0.2",
            "AIRCARBON_LOG_LEVEL": "WARNING",
            "AIRCARBON_CRASH_ON_TOPIC": POISON_TOPIC,
            "AIRCARBON_MAX_AGE_S": str(30 * 86_400),
        }
    )
    with (data_dir / "collector.log").open("ab") as err:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "aircarbon", "collect", "--broker", url),
                *("--data-dir", str(data_dir), "--health-port", "0", "--client-id", "poison"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _suspects(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "collector" / "poison.suspects.json"
    doc = json.loads(path.read_text()) if path.exists() else {"suspects": {}}
    suspects: dict[str, Any] = doc["suspects"]
    return suspects


def _wait_landed(broker: Any, data_dir: Path, i: int, proc: subprocess.Popen[bytes]) -> None:
    """Publish good message ``i`` until its readings landed (the process must stay up)."""
    want = _distinct(data_dir) + len(PARAMS)
    deadline = time.monotonic() + 120
    while _distinct(data_dir) < want:
        assert proc.poll() is None, (data_dir / "collector.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "good message did not land"
        _publish(broker, [reading_message(i)])
        time.sleep(1.0)


def test_a_message_the_process_dies_on_twice_is_quarantined(mosquitto: Any, tmp_path: Path) -> None:
    poison = b'{"station":"SY-TY-01","this":"kills the decoder"}'
    proc = _start(mosquitto.url, tmp_path)
    try:
        _wait_landed(mosquitto, tmp_path, 0, proc)  # session and subscription exist
        _publish(mosquitto, [(POISON_TOPIC, poison)])
        assert proc.wait(timeout=120) == 70  # died mid-decode, as a segfault would
        assert _suspects(tmp_path) == {}  # a crash is counted by the next start

        proc = _start(mosquitto.url, tmp_path)  # counts crash 1; re-delivered: dies again
        assert proc.wait(timeout=120) == 70
        [(digest, entry)] = _suspects(tmp_path).items()
        assert entry == {"crashes": 1, "topic": POISON_TOPIC}

        proc = _start(mosquitto.url, tmp_path)  # crash 2: quarantined unread, acked, up
        _wait_landed(mosquitto, tmp_path, 1, proc)
        assert _suspects(tmp_path)[digest]["crashes"] == 2
        dead = read_dead(tmp_path)
        assert dead["reason"].to_list() == ["poison"]
        assert dead["topic"].to_list() == [POISON_TOPIC]
        assert dead["payload"].to_list() == [poison]  # kept whole for the bug report
        assert digest in dead["detail"][0]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0

        proc = _start(mosquitto.url, tmp_path)  # acknowledged: not delivered again
        _wait_landed(mosquitto, tmp_path, 2, proc)
        assert read_dead(tmp_path).height == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
