"""Three collectors on one MQTT v5 shared subscription split one stream: none lost, none twice.

This is the scale-out path of docs/scaling.md on real parts: a fixture Mosquitto (v5 shared
subscriptions, ``$share/<group>/aircarbon/v1/+/+``), three real collectors, each with its own
data directory as if on its own machine, and one paho publisher sending one deterministic stream.

What the design guarantees, and so what is asserted:

* **complete** — the union of the three raw stores holds every published reading;
* **at-least-once into the raw stores** — a message is acknowledged only once durable, so a
  collector that disconnects before acknowledging gets it again (from its own persistent
  session); the count of raw rows is therefore at least the readings published, and exceeds
  it only by messages re-delivered after a disconnect (``reconnects`` counts those occasions);
* **exactly-once after de-duplication** — ``transforms.raw.deduplicate``, which every reader
  applies, leaves one row per ``(station, param, ts)``: exactly the published readings.

In a run without disconnects Mosquitto hands each message of the group to exactly one member,
so the raw stores then hold every reading exactly once even before de-duplication.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.fixtures.brokers import paho_publish
from tests.ingest.collector_helpers import (
    PARAMS,
    make_collector,
    read_raw,
    reading_message,
    running,
    wait_for,
)
from transforms.raw import deduplicate

pytestmark = pytest.mark.integration

GROUP = "scale"
MESSAGES = 3000


def _published(n: int) -> pl.DataFrame:
    """The identities of everything the stream publishes, from the stream itself."""
    import json

    rows: list[tuple[str, str, str]] = []
    for i in range(n):
        doc = json.loads(reading_message(i)[1])
        rows.extend((doc["station"], param, doc["ts"]) for param in doc["readings"])
    frame = pl.DataFrame(rows, schema=["station", "param", "ts"], orient="row")
    return frame.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC", time_unit="us"))


async def test_three_collectors_split_one_stream(mosquitto: Any, tmp_path: Path) -> None:
    dirs = [tmp_path / f"collector-{k}" for k in range(3)]
    collectors = [
        make_collector(mosquitto.port, d, client_id=f"collector-{k}", share_group=GROUP)
        for k, d in enumerate(dirs)
    ]
    assert {c.config.topic for c in collectors} == {f"$share/{GROUP}/aircarbon/v1/+/+"}
    async with running(collectors[0]), running(collectors[1]), running(collectors[2]):
        await asyncio.to_thread(
            paho_publish,
            mosquitto.host,
            mosquitto.port,
            MESSAGES,
            topic=lambda i: reading_message(i)[0],
            payload=lambda i: reading_message(i)[1],
        )
        await wait_for(lambda: sum(c.stats.messages_total for c in collectors) >= MESSAGES)
        await wait_for(lambda: all(c.stats.pending_acks == 0 for c in collectors))

    per_collector = [c.stats.messages_total for c in collectors]
    assert all(n > 0 for n in per_collector), per_collector  # the broker used every member
    stores = [read_raw(d) for d in dirs]
    # each collector landed what it received: 6 readings per message, in its own store
    for store, received in zip(stores, per_collector, strict=True):
        assert store.height == received * len(PARAMS)
    union = pl.concat(stores)
    expected = _published(MESSAGES)
    assert expected.height == MESSAGES * len(PARAMS)
    keys = ["station", "param", "ts"]
    identities = union.select(keys).unique()
    # complete: the union is everything published, and nothing that was not
    assert identities.sort(keys).equals(expected.sort(keys))
    # at-least-once: extra rows only from re-delivery after a disconnect
    reconnects = sum(c.stats.reconnects for c in collectors)
    if reconnects == 0:
        assert union.height == expected.height  # each message went to exactly one member
    assert union.height >= expected.height
    # exactly-once after the readers' de-duplication
    clean = deduplicate(union.lazy()).collect()
    assert clean.height == expected.height
    assert clean.select(keys).unique().height == clean.height


def _collector_process(url: str, data_dir: Path, client_id: str) -> subprocess.Popen[bytes]:
    """``aircarbon collect`` in the group, as a process that can be killed with SIGKILL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update({"AIRCARBON_BATCH_MAX_AGE_S": "0.2", "AIRCARBON_LOG_LEVEL": "WARNING"})
    with (data_dir / "collector.log").open("ab") as err:
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "aircarbon", "collect", "--broker", url),
                *("--data-dir", str(data_dir), "--health-port", "0"),
                *("--client-id", client_id, "--share-group", GROUP),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


@pytest.mark.slow
async def test_a_killed_member_gets_its_share_again(mosquitto: Any, tmp_path: Path) -> None:
    """kill -9 one of three members mid-stream, restart it: complete, exactly once after dedup.

    The killed member's persistent session keeps what it had not acknowledged, and what the
    broker queued for it while it was down; on its return (same client id) it gets all of that
    again. So the union is complete, some readings may sit twice in the raw stores (written, not
    yet acknowledged at the kill), and de-duplication leaves exactly the published readings.
    """
    n = 6000
    dirs = [tmp_path / f"collector-{k}" for k in range(3)]
    inproc = [
        make_collector(mosquitto.port, d, client_id=f"collector-{k}", share_group=GROUP)
        for k, d in enumerate(dirs[:2])
    ]
    victim = _collector_process(mosquitto.url, dirs[2], "collector-2")
    try:
        async with running(inproc[0]), running(inproc[1]):
            # the victim's session must exist before the stream, or the group has two members
            await wait_for(lambda: "collector-2" in mosquitto.log_text(), 60)
            publishing = asyncio.create_task(
                asyncio.to_thread(
                    paho_publish,
                    mosquitto.host,
                    mosquitto.port,
                    n,
                    topic=lambda i: reading_message(i)[0],
                    payload=lambda i: reading_message(i)[1],
                    timeout=120,
                )
            )
            await wait_for(lambda: bool(list(dirs[2].rglob("*.parquet"))), 60)
            victim.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.wait, 10)
            victim = _collector_process(mosquitto.url, dirs[2], "collector-2")
            await publishing
            expected = _published(n)

            def landed() -> int:
                stores = [s for s in (read_raw(d) for d in dirs) if not s.is_empty()]
                return pl.concat(stores).select("station", "param", "ts").unique().height

            await wait_for(lambda: landed() >= expected.height, 90)
    finally:
        victim.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(victim.wait, 30)
    assert code == 0, (dirs[2] / "collector.log").read_text()
    union = pl.concat([read_raw(d) for d in dirs])
    keys = ["station", "param", "ts"]
    assert union.select(keys).unique().sort(keys).equals(expected.sort(keys))
    assert union.height >= expected.height  # at-least-once: re-deliveries land again
    clean = deduplicate(union.lazy()).collect()
    assert clean.height == expected.height
    # a re-delivered reading carries the same value: de-duplication is exact
    assert union.unique([*keys, "value"]).height == expected.height
