"""TCP loggers → gateway (a real process) → Mosquitto → collector → raw store.

The gateway is killed with SIGKILL in the middle of the stream and started again; the
loggers behave as HJ 212 loggers do — one frame at a time, resent until answered, on a new
connection when the old one dies. Nothing may be lost, every good frame must be answered
(which, by the gateway's contract, means it was durable at the broker first), and no bad
frame may ever be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import polars as pl
import pytest

from ingest.embedded_broker import free_port
from ingest.hj212 import parse_packet
from tests.fixtures.brokers import MosquittoBroker
from tests.gateway.helpers import STATIONS, corrupt_crc, data_frame, wait_until
from tests.ingest.collector_helpers import make_collector, read_raw, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FRAMES_PER_LOGGER = 40
KILL_AFTER_ANSWERS = 70  # of 200: mid-stream
ANSWER_WAIT_S = 3.0  # a logger's retry interval (HJ 212 "timeout" of CN 1000), not a check


class GatewayProcess:
    def __init__(self, port: int, broker: MosquittoBroker, workdir: Path) -> None:
        self.port = port
        self.broker = broker
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._logs: list[IO[bytes]] = []

    def start(self) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "AIRCARBON_DATA_DIR": str(self.workdir / "data"),
            "AIRCARBON_LOG_LEVEL": "WARNING",
            "AIRCARBON_GATEWAY_HEALTH_PORT": "0",
        }
        env.pop("AIRCARBON_CONFIG", None)
        log = (self.workdir / f"gateway-{self.starts}.log").open("wb")
        self._logs.append(log)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aircarbon",
                "gateway",
                "hj212",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--broker",
                self.broker.url,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        try:
            if self.proc is None or self.proc.poll() is not None:
                return self.proc.returncode if self.proc else 0
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=60)
        finally:
            for log in self._logs:
                log.close()

    def log_text(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob("gateway-*.log"))
        )


class Progress:
    def __init__(self) -> None:
        self.answered: dict[str, str] = {}  # qn → station
        self.foreign_answers: list[str | None] = []


async def logger(
    station: str,
    port: int,
    progress: Progress,
    bad: list[bytes],
) -> None:
    """Send FRAMES_PER_LOGGER frames one at a time, each until answered; the bad frames on
    every new connection (they are never answered, so a logger keeps resending them)."""
    frames = [data_frame(station, n) for n in range(FRAMES_PER_LOGGER)]
    queue = list(frames)
    while queue:
        bad_left = list(bad)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)  # gateway down: try again
            continue
        try:
            while queue:
                if bad_left:  # before a good frame, in the same write
                    writer.write(bad_left.pop(0))
                frame = queue[0]
                writer.write(frame)
                await writer.drain()
                want = parse_packet(frame).qn
                assert want is not None
                data = await asyncio.wait_for(reader.read(4096), timeout=ANSWER_WAIT_S)
                if not data:
                    break  # connection gone: reconnect and resend
                answer = parse_packet(data)
                if answer.qn != want:
                    progress.foreign_answers.append(answer.qn)
                    continue
                assert (answer.cn, answer.st) == ("9014", "91")
                progress.answered[want] = station
                queue.pop(0)
        except (TimeoutError, ConnectionError, OSError):
            pass  # no answer in time, or the gateway died: resend on a new connection
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def wait_listening(port: int) -> None:
    async def ok() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    for _ in range(600):
        if await ok():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"gateway not listening on {port}")


async def test_kill_9_mid_stream_loses_nothing_and_answers_only_good_frames(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    gateway = GatewayProcess(free_port(), mosquitto, tmp_path)
    collector = make_collector(mosquitto.port, tmp_path / "collector")
    progress = Progress()
    bad_frames = {
        station: [
            corrupt_crc(data_frame(station, 1000)),
            data_frame(station, 1001, mn=f"STRANGER{i:016d}"),
        ]
        for i, station in enumerate(STATIONS)
    }
    bad_qns = {parse_packet(f).qn for fs in bad_frames.values() for f in fs[1:]} | {
        parse_packet(data_frame(s, 1000)).qn for s in STATIONS
    }
    try:
        async with running(collector):
            gateway.start()
            await wait_listening(gateway.port)
            loggers = [
                asyncio.create_task(logger(s, gateway.port, progress, bad_frames[s]))
                for s in STATIONS
            ]
            await wait_until(lambda: len(progress.answered) >= KILL_AFTER_ANSWERS, 120)
            gateway.kill()
            answered_before_kill = dict(progress.answered)
            await asyncio.sleep(0.5)  # loggers meet a dead port for a while
            gateway.start()
            await asyncio.wait_for(asyncio.gather(*loggers), timeout=240)
            assert gateway.stop() == 0, gateway.log_text()  # SIGTERM: a clean exit
            expected = {(station, n) for station in STATIONS for n in range(FRAMES_PER_LOGGER)}

            def landed() -> set[tuple[str, int]]:
                raw = read_raw(tmp_path / "collector")
                if raw.is_empty():
                    return set()
                pm = raw.filter(pl.col("param") == "pm25")
                return {(s, int(v)) for s, v in zip(pm["station"], pm["value"], strict=True)}

            # values n % 300 + 0.5 identify the minute n (< 300) of each station
            await wait_until(lambda: landed() >= expected, 120)
    finally:
        gateway.stop()
    assert KILL_AFTER_ANSWERS <= len(answered_before_kill) < len(expected)
    good_qns = {parse_packet(data_frame(s, n)).qn for s, n in expected}
    assert set(progress.answered) == good_qns  # every good frame answered
    assert not (set(progress.answered) & bad_qns)  # no bad frame ever answered
    assert progress.foreign_answers == []
    raw = read_raw(tmp_path / "collector")
    assert landed_all(raw, expected)
    assert set(raw["source"]) == {"hj212"}
    assert set(raw["station"]) == set(STATIONS)  # nothing of the stranger MN
    dead = pl.concat(
        [pl.read_parquet(f) for f in (tmp_path / "data" / "dead_letter").rglob("*.parquet")]
    )
    assert {"hj212_crc", "unknown_station"} <= set(dead["reason"])


def landed_all(raw: pl.DataFrame, expected: set[tuple[str, int]]) -> bool:
    """Every (station, minute) has its PM2.5 = n + 0.5 and its SO2 = 7."""
    pm = raw.filter(pl.col("param") == "pm25")
    so2 = raw.filter(pl.col("param") == "so2")
    got_pm = {(s, v) for s, v in zip(pm["station"], pm["value"], strict=True)}
    want_pm = {(s, n + 0.5) for s, n in expected}
    return (
        got_pm == want_pm
        and set(so2["value"]) == {7.0}
        and len(set(zip(so2["station"], so2["ts"], strict=True))) == len(expected)
    )
