"""The HJ 212 gateway against a real Mosquitto: what is published, answered, refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import polars as pl
import pytest

from ingest.hj212 import build_frame, parse_packet
from ingest.hj212_gateway import data_response, parse_listen
from tests.fixtures.brokers import MosquittoBroker
from tests.gateway.helpers import (
    Logger,
    config,
    corrupt_crc,
    data_frame,
    running_gateway,
    subscriber,
    wait_until,
)


def read_dead(data_dir: Path) -> pl.DataFrame:
    files = sorted((data_dir / "dead_letter").rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


async def test_answer_is_the_9014_of_the_frame_after_it_reached_the_broker(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    frame = data_frame("SY-TY-01", 1)
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(frame)
        answer = await logger.answer()
        await wait_until(lambda: len(got) == 1)
        await logger.close()
    assert got == [("aircarbon/v1/SY-TY-01/hj212", frame)]  # the bytes as the logger sent them
    sent = parse_packet(frame)
    assert (answer.st, answer.cn, answer.qn, answer.mn, answer.pw) == (
        "91",
        "9014",
        sent.qn,
        sent.mn,
        "123456",
    )
    assert answer.flag == 4  # 2017 version bits, neither A nor D
    assert gateway.stats.published == gateway.stats.answered == 1


async def test_frames_without_the_a_bit_are_published_not_answered(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    quiet = data_frame("SY-TY-01", 2, flag=4)
    asks = data_frame("SY-TY-01", 3, flag=5)
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(quiet, asks)
        # frames are handled in order: the first answer is the second frame's
        assert (await logger.answer()).qn == parse_packet(asks).qn
        await wait_until(lambda: len(got) == 2)
        await logger.close()
    assert [payload for _, payload in got] == [quiet, asks]


async def test_bad_frames_and_unknown_mn_are_never_answered_and_kept(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    good = data_frame("SY-XH-02", 4)
    bad_crc = corrupt_crc(data_frame("SY-XH-02", 5))
    stranger = data_frame("SY-XH-02", 6, mn="UNKNOWN0000000000000001")
    wrong_len = b"##0999" + data_frame("SY-XH-02", 7)[6:]
    http = b"GET / HTTP/1.1\r\nHost: 10.0.0.1:9212\r\n\r\n"
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(http, bad_crc, stranger, wrong_len, good)
        answer = await logger.answer()
        assert answer.qn == parse_packet(good).qn  # the only answer is the good frame's
        await wait_until(lambda: len(got) == 1)
        await logger.close()
        stats = gateway.stats
    assert got == [("aircarbon/v1/SY-XH-02/hj212", good)]
    assert stats.unanswered["hj212_crc"] == 1
    assert stats.unanswered["unknown_station"] == 1
    assert stats.unanswered["hj212_length"] + stats.unanswered["hj212_crc"] >= 2
    assert stats.garbage_bytes >= len(http) - 4
    dead = read_dead(tmp_path)  # flushed at stop
    reasons = set(dead["reason"])
    assert {"hj212_crc", "unknown_station", "hj212_framing"} <= reasons
    kept = dead.filter(pl.col("reason") == "hj212_crc")["payload"].to_list()
    assert kept == [bad_crc]
    assert all(t.startswith("tcp/hj212/127.0.0.1:") for t in dead["topic"])


async def test_many_frames_in_one_write_and_one_frame_in_many(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    frames = [data_frame("SY-XX-03", n) for n in range(20)]
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(*frames[:10])  # ten frames, one write
        stream = b"".join(frames[10:])
        for i in range(0, len(stream), 7):  # ten frames, seven bytes a write
            await logger.send(stream[i : i + 7])
        answers = await logger.answers(20)
        await wait_until(lambda: len(got) == 20)
        await logger.close()
    assert [a.qn for a in answers] == [parse_packet(f).qn for f in frames]
    assert [p for _, p in got] == frames


async def test_a_logger_without_crlf_is_answered(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    frame = data_frame("SY-HN-06", 8)[:-2]
    async with running_gateway(config(mosquitto.port), tmp_path) as gateway:
        logger = await Logger.connect(gateway.port)
        await logger.send(frame)  # nothing follows: the gateway stops waiting for CR LF
        assert (await logger.answer()).qn == parse_packet(frame).qn
        await logger.close()
        assert gateway.stats.quirks["SY-HN-06", "no_crlf"] == 1


async def test_quirky_logger_answered_unless_strict(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    segment = (
        "QN=20261125100000123;ST=22;CN=2011;PW=BF470F88957588DE902D1A52;"
        "MN=210102TY0100000000000001;Flag=7;CP=&&DataTime=20261125100000;a34004-Rtd=12&&"
    )
    frame = build_frame(segment)
    ok = data_frame("SY-TY-01", 9)
    async with running_gateway(config(mosquitto.port), tmp_path / "a") as gateway:
        logger = await Logger.connect(gateway.port)
        await logger.send(frame)
        answer = await logger.answer()
        assert (answer.qn, answer.pw, answer.flag) == (
            "20261125100000123",
            parse_packet(frame).pw,
            4,
        )
        await logger.close()
        assert gateway.stats.quirks["SY-TY-01", "pw_long"] == 1
    async with running_gateway(config(mosquitto.port, strict=True), tmp_path / "b") as gateway:
        logger = await Logger.connect(gateway.port)
        await logger.send(frame, ok)
        assert (await logger.answer()).qn == parse_packet(ok).qn
        await logger.close()
        assert gateway.stats.unanswered["hj212_field"] == 1


async def test_non_data_commands_are_counted_and_ignored(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    mn = "210102TY0100000000000001"
    time_request = build_frame(
        f"QN=20261125100000001;ST=22;CN=1013;PW=123456;MN={mn};Flag=5;CP=&&&&"
    )
    their_answer = build_frame(
        f"QN=20261125100000002;ST=91;CN=9014;PW=123456;MN={mn};Flag=4;CP=&&&&"
    )
    ok = data_frame("SY-TY-01", 10)
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(time_request, their_answer, ok)
        assert (await logger.answer()).qn == parse_packet(ok).qn
        await wait_until(lambda: len(got) == 1)
        await logger.close()
        assert dict(gateway.stats.ignored_cn) == {"1013": 1, "9014": 1}


async def test_broker_down_leaves_frames_unanswered_then_recovers(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    first, second = data_frame("SY-LD-08", 11), data_frame("SY-LD-08", 12)
    async with running_gateway(config(mosquitto.port, publish_timeout_s=2.0), tmp_path) as gateway:
        mosquitto.stop()
        await wait_until(lambda: not gateway.stats.broker_connected)
        logger = await Logger.connect(gateway.port)
        await logger.send(first)
        await wait_until(lambda: gateway.stats.unanswered["broker"] == 1)
        mosquitto.start()
        await wait_until(lambda: gateway.stats.broker_connected)
        await logger.send(first, second)  # the logger's own retry
        answers = await logger.answers(2)
        await logger.close()
    assert [a.qn for a in answers] == [parse_packet(first).qn, parse_packet(second).qn]


async def test_limits_connections_idle_and_rate(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    cfg = config(
        mosquitto.port, max_connections=2, idle_timeout_s=0.5, rate_frames_s=20.0, rate_burst=2
    )
    async with running_gateway(cfg, tmp_path) as gateway:
        a = await Logger.connect(gateway.port)
        b = await Logger.connect(gateway.port)
        await a.send(data_frame("SY-TY-01", 20))
        await a.answer()  # a is being served
        await b.send(data_frame("SY-XH-02", 20))
        await b.answer()
        c = await Logger.connect(gateway.port)
        assert await c.closed_by_peer()  # over the connection limit
        assert gateway.stats.connections_refused == 1
        frames = [data_frame("SY-TY-01", 21 + n) for n in range(6)]
        await a.send(*frames)  # over the burst: slowed down, never dropped
        assert [x.qn for x in await a.answers(6)] == [parse_packet(f).qn for f in frames]
        assert gateway.stats.rate_limited >= 1
        assert await b.closed_by_peer()  # idle for longer than 0.5 s
        assert gateway.stats.idle_closed >= 1
        for logger in (a, b, c):
            await logger.close()


async def test_health_endpoint_and_graceful_stop(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async with running_gateway(config(mosquitto.port), tmp_path) as gateway:
        logger = await Logger.connect(gateway.port)
        await logger.send(data_frame("SY-TY-01", 30))
        await logger.answer()
        assert gateway.health_port is not None
        doc = json.loads(await http_get(gateway.health_port, "/health"))
        metrics = await http_get(gateway.health_port, "/metrics")
        gateway.stop()
        assert await logger.closed_by_peer()  # SIGTERM closes connections
        await logger.close()
    assert doc["connected_loggers"] == 1
    assert doc["loggers_by_station"] == {"SY-TY-01": 1}
    assert doc["answered"] == 1
    assert doc["broker_connected"] is True
    assert "aircarbon_gateway_answered_total 1" in metrics
    assert "aircarbon_gateway_connected_loggers 1" in metrics


async def http_get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.decode()


def test_data_response_keeps_version_bits_and_qn() -> None:
    packet = parse_packet(data_frame("SY-TY-01", 1, flag=7))
    answer = parse_packet(data_response(packet), strict=True)
    assert (answer.qn, answer.flag, answer.cn, answer.st) == (packet.qn, 4, "9014", "91")
    old = parse_packet(build_frame("ST=22;CN=2011;MN=A1;Flag=1;CP=&&DataTime=20261125100000&&"))
    answer = parse_packet(data_response(old), strict=True)
    assert (answer.qn, answer.flag, answer.pw) == (None, 0, None)  # 2005 style: no QN, Flag 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.0.0.0:9212", ("0.0.0.0", 9212)), ("[::1]:80", ("::1", 80)), ("host:0", ("host", 0))],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9212", ":9212", "host:", "host:x", "host:70000"])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(text)


async def test_content_errors_are_the_collectors(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """Transport sound, CP wrong: answered (resending cannot fix it) and published, so the
    collector dead-letters the bad readings with the payload; a bad header is not answered."""
    mn = "210102TY0100000000000001"
    bad_cp = build_frame(
        f"QN=20261125100000001;ST=22;CN=2011;PW=123456;MN={mn};Flag=5;"
        "CP=&&DataTime=20261125100000;a34004-Rtd=1=2&&"
    )
    bad_header = build_frame(
        f"QN=20261125100000002;ST=99;CN=2011;PW=123456;MN={mn};Flag=5;"
        "CP=&&DataTime=20261125100000;a34004-Rtd=1&&"
    )
    ok = data_frame("SY-TY-01", 40)
    async with (
        subscriber(mosquitto.port) as (_, got),
        running_gateway(config(mosquitto.port), tmp_path) as gateway,
    ):
        logger = await Logger.connect(gateway.port)
        await logger.send(bad_header, bad_cp, ok)
        answers = await logger.answers(2)
        await wait_until(lambda: len(got) == 2)
        await logger.close()
        assert gateway.stats.unanswered["hj212_field"] == 1
    assert [a.qn for a in answers] == ["20261125100000001", parse_packet(ok).qn]
    assert [p for _, p in got] == [bad_cp, ok]
