"""Scale-out: 1, 2 and 3 collectors sharing one MQTT v5 subscription (``$share/bench/…``).

    uv run --frozen python -m benchmarks.scale [--messages N] [--publishers P] [--write]

For each N in 1, 2, 3: a private Mosquitto (started here, persistence off, unbounded queue),
N real collectors (:class:`ingest.collector.Collector` from default settings, each its own
process and data directory, as on N machines) register their persistent sessions in group
``bench`` and leave; the publishers queue the same backlog (6 readings per message, 12 catalog
stations); the collectors come back together and each is timed from its connect until its
share is durable (fsynced Parquet, acknowledged). Per collector: its messages / its own time;
total: all messages / (last durable − first connect); collector CPU µs/msg is the collectors'
CPU time (all threads) per message, the figure that carries to other machines. The ratio is
against 1 collector in the same run. The subject processes are those of ``benchmarks/ingest.py``
(same code path).

On one shared machine the broker, the publishers' backlog and N collectors compete for the same
cores, so the total can at most approach cores × one collector; what the numbers show is the
per-collector cost and that the split is even and complete, not a cluster's throughput.
``--write`` replaces the ``## Scale-out`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "benchmarks":
    sys.path[0] = str(ROOT)

from benchmarks._report import machine_line, markdown_table, publish, section  # noqa: E402
from benchmarks.ingest import (  # noqa: E402
    READINGS_PER_MESSAGE,
    CollectorSubject,
    Stream,
    mosquitto,
    parquet_rows,
)
from benchmarks.ingest import publish as publish_backlog  # noqa: E402

SECTION = "## Scale-out"
GROUP = "bench"


@dataclass
class Run:
    collectors: int
    messages: int
    seconds: float
    per_collector: list[tuple[int, float]]  # (messages, seconds) each
    complete: bool
    rss_mb: float
    broker_cpu_s: float
    cpu_s: float  # all collectors' CPU seconds together

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_s / self.messages * 1e6 if self.messages else 0.0

    @property
    def total_rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def mean_collector_rate(self) -> float:
        rates = [m / s for m, s in self.per_collector if s]
        return sum(rates) / len(rates) if rates else 0.0


def run(tmp: Path, n: int, messages: int, publishers: int) -> Run:
    with mosquitto(tmp / f"broker-{n}") as broker:
        subjects = [
            CollectorSubject(tmp, broker.port, f"scale{n}-{k}", share_group=GROUP) for k in range(n)
        ]
        for s in subjects:
            s.register()
        stream = Stream.create(messages)
        publish_backlog(broker.port, stream, parts=publishers, rate=0, times_dir=None)
        cpu0 = broker.cpu_s()
        for s in subjects:
            s.start(messages, live=False)
        docs = [s.report() for s in subjects]
        broker_cpu = broker.cpu_s() - cpu0
        rows = sum(parquet_rows(s.data_dir / "raw") for s in subjects)
        start = min(d["start"] for d in docs)
        end = max(d["end"] for d in docs)
        got = sum(d["readings"] for d in docs) // READINGS_PER_MESSAGE
        return Run(
            collectors=n,
            messages=got,
            seconds=end - start,
            per_collector=[
                (d["readings"] // READINGS_PER_MESSAGE, d["end"] - d["start"]) for d in docs
            ],
            complete=rows == messages * READINGS_PER_MESSAGE,
            rss_mb=max(
                max(d["rss_mb"], s.proc.rss_mb) for d, s in zip(docs, subjects, strict=True)
            ),
            broker_cpu_s=broker_cpu,
            cpu_s=sum(d["cpu_s"] for d in docs),
        )


def table(runs: list[Run]) -> str:
    base = runs[0].total_rate if runs else 0.0
    rows = []
    for r in runs:
        split = " / ".join(f"{m:,}" for m, _ in r.per_collector)
        each = " / ".join(f"{m / s:,.0f}" for m, s in r.per_collector if s)
        rows.append(
            [
                str(r.collectors),
                split,
                each,
                f"{r.total_rate:,.0f}",
                f"{r.total_rate * READINGS_PER_MESSAGE:,.0f}",
                f"{r.total_rate / base:.2f}x" if base else "—",
                f"{r.cpu_us_per_message:,.0f}",
                f"{r.rss_mb:,.0f}",
                f"{r.broker_cpu_s:.1f}",
                "yes" if r.complete else "NO",
            ]
        )
    head = [
        "collectors", "messages each", "msg/s each", "total msg/s", "total readings/s",
        "vs 1 collector", "collector CPU µs/msg", "peak RSS MB (each)", "broker CPU s",
        "complete",
    ]  # fmt: skip
    return markdown_table(head, "rlrrrrrrrl", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000, help="backlog per run")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--max-collectors", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"update '{SECTION}'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aircarbon-scale-") as name:
        tmp = Path(name)
        runs = [
            run(tmp, n, args.messages, args.publishers) for n in range(1, args.max_collectors + 1)
        ]
    text_table = table(runs)
    machine = machine_line(
        "paho-mqtt",
        "aiomqtt",
        "pyarrow",
        notes=[f"{os.cpu_count()} cores shared by broker, publishers and collectors"],
    )
    intro = (
        f"`uv run --frozen python -m benchmarks.scale --write` — a backlog of {args.messages:,} "
        f"messages ({READINGS_PER_MESSAGE} readings each) drained by 1…{args.max_collectors} "
        "collectors on one `$share/bench/aircarbon/v1/+/+` subscription of a local Mosquitto; "
        "each collector is its own process with its own data directory, timed from its connect "
        "until its share is fsynced and acknowledged; total = all messages / (last durable − "
        "first connect); CPU µs/msg is the collectors' CPU time per message. Broker, "
        "publishers and collectors share the machine's cores, so this "
        "shows the per-collector cost and an even, complete split — not a cluster's throughput "
        "(docs/scaling.md does the arithmetic to a national network)."
    )
    text = section(SECTION, intro, text_table, f"Measured on: {machine}.")
    publish(SECTION, text_table, machine, text, write=args.write)


if __name__ == "__main__":
    main()
