"""The collector's own health endpoint: ``/healthz``, ``/metrics``, ``/api/stations`` and ``/``.

It runs *inside* the collector's event loop (a uvicorn ``Server.serve()`` task next to the MQTT
and writer tasks) rather than in a thread or a second process, so reading
:class:`~ingest.health.IngestStats` needs no locks: the counters are only touched by
coroutines of the same loop, and every request sees a consistent snapshot. Everything is
computed when asked; the hot path of the collector only bumps counters.

Design choices worth knowing:

- ``/metrics`` is a plain route returning ``prometheus_client``'s exposition, not the library's
  ASGI app: mounted under Starlette that app answers ``/metrics`` with a 307 to ``/metrics/``,
  which some scrapers and probes do not follow.
- Each server has its *own* :class:`~prometheus_client.CollectorRegistry` with one custom
  collector reading the stats, so several collectors (e.g. in one test process) never collide
  in the global registry, and nothing is double-counted.
- uvicorn must not touch signals: the collector owns SIGTERM/SIGINT and stops this server
  itself (:meth:`HealthServer.shutdown` or cancelling :meth:`HealthServer.serve`).
- The socket is bound by us before uvicorn starts, so ``port=0`` yields a known free port and a
  port conflict raises :class:`~aircarbon.core.errors.AirCarbonError` instead of uvicorn's
  ``sys.exit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import socket
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from aircarbon.core.errors import AirCarbonError
from ingest.health import LATENCY_BUCKETS_S, IngestStats

__all__ = ["HealthServer", "IngestMetricsCollector", "evaluate_health"]

log = logging.getLogger(__name__)

_US = 1_000_000
PAGE_PATH = Path(__file__).with_name("health_page") / "index.html"
_INITIAL_MARK = "/*__INITIAL_DOCUMENT__*/null"
# Station alert rules that make /healthz answer 503. ``status`` (a station that *says* it is in
# maintenance or calibrating) is shown to operators but is not an ingest fault.
_FAULT_RULES = frozenset({"never_seen", "silent", "dead_letter_rate", "lag"})
_NO_STORE = {"Cache-Control": "no-store"}
_WARNINGS_TTL_S = 60.0
_GATEWAY_TTL_S = 5.0  # the HJ 212 gateway's /health, re-read at most this often


def _no_warnings() -> dict[str, Any]:
    """No reader given (tests, a page without a lake): an empty panel."""
    return {"issued_date": None, "warnings": []}


def _now_us() -> int:
    return time.time_ns() // 1000


def evaluate_health(stats: IngestStats, now_us: int, *, since_us: int) -> list[dict[str, Any]]:
    """Why the collector is degraded right now (empty list: healthy).

    Each reason is ``{"rule", "station", "message"}``; ``station`` is None for process-wide
    rules: ``broker_disconnected``, and ``queue_full`` (the writer queue holds
    ``stats.queue_capacity`` batches: landing to disk is behind, backpressure is on). A station
    never seen is only a fault once the process has been up longer than that station's silence
    limit (``since_us`` is the start of the process), so a freshly started collector is not
    degraded by stations that simply have not published yet.
    """
    reasons: list[dict[str, Any]] = []
    if not stats.connected:
        reasons.append(
            {"rule": "broker_disconnected", "station": None, "message": "broker disconnected"}
        )
    rules = stats.rules
    if stats.queue_full:
        reasons.append(
            {
                "rule": "queue_full",
                "station": None,
                "message": (
                    f"writer queue full ({stats.queue_depth}/{stats.queue_capacity} batches): "
                    "landing to disk is the bottleneck, backpressure on the broker"
                ),
            }
        )
    if stats.write_failures:
        reasons.append(
            {
                "rule": "write_failing",
                "station": None,
                "message": (
                    f"landing to disk failed {stats.write_failures} times in a row "
                    f"({stats.write_error}): nothing is acknowledged until it succeeds"
                ),
            }
        )
    uptime_s = (now_us - since_us) / _US
    for sid, h in sorted(stats.stations.items()):
        for alert in stats.alerts_for(h, now_us):
            if alert.rule not in _FAULT_RULES:
                continue
            if alert.rule == "never_seen":
                limit = (h.period_s or rules.default_period_s) * rules.silent_periods
                if uptime_s <= limit:
                    continue
            reasons.append(
                {"rule": alert.rule, "station": sid, "message": f"{sid}: {alert.message}"}
            )
    return reasons


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted, non-empty sequence."""
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[idx]


def _latency_histogram(stats: IngestStats) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` buckets and the sum for the durable-latency histogram.

    Uses the cumulative counts of :meth:`IngestStats.observe_latency`. If the collector only
    appends to ``stats.latencies_s`` (and never called ``observe_latency``), the recent window
    is used instead: better than an empty histogram, though it can go down as the window
    slides.
    """
    if stats.latency_count:
        per_bucket = list(stats.latency_buckets)
        count, total = stats.latency_count, stats.latency_sum
    else:
        window = list(stats.latencies_s)
        per_bucket = [0] * len(LATENCY_BUCKETS_S)
        for value in window:
            for i, bound in enumerate(LATENCY_BUCKETS_S):
                if value <= bound:
                    per_bucket[i] += 1
                    break
        count, total = len(window), math.fsum(window)
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip(LATENCY_BUCKETS_S, per_bucket, strict=True):
        running += n
        buckets.append((repr(float(bound)), float(running)))
    buckets.append(("+Inf", float(count)))
    return buckets, total


class IngestMetricsCollector:
    """A ``prometheus_client`` custom collector that reads :class:`IngestStats` at scrape time.

    Nothing is mirrored into client-library metric objects: the stats are the single source of
    truth and a scrape costs one pass over the stations.
    """

    def __init__(
        self, stats: IngestStats, clock: Callable[[], int], *, since_us: Callable[[], int]
    ) -> None:
        self.stats = stats
        self.clock = clock
        self.since_us = since_us

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the registry must not run a scrape at registration time."""
        return []

    def collect(self) -> Iterable[Metric]:
        """One family per metric, built from the stats as they are right now."""
        stats = self.stats
        now_us = self.clock()

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, value=value)

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, value=value)

        yield counter(
            "aircarbon_ingest_messages", "Messages received (all topics).", stats.messages_total
        )
        yield counter(
            "aircarbon_ingest_readings", "Readings accepted for landing.", stats.readings_total
        )
        dead = CounterMetricFamily(
            "aircarbon_ingest_dead_letters", "Dead letters by reason code.", labels=["reason"]
        )
        for reason, n in sorted(stats.dead_letters_total.items()):
            dead.add_metric([reason], n)
        yield dead
        yield counter(
            "aircarbon_ingest_duplicates", "Duplicate readings dropped.", stats.duplicates_total
        )
        yield counter(
            "aircarbon_ingest_batches_written", "Batches made durable.", stats.batches_written
        )
        yield gauge(
            "aircarbon_ingest_write_failures",
            "Consecutive failed attempts at landing the current batch (0: healthy).",
            stats.write_failures,
        )
        yield counter(
            "aircarbon_ingest_isolated_rows",
            "Rows the stores refused, isolated to the dead-letter store (write_error).",
            stats.isolated_rows,
        )
        yield counter(
            "aircarbon_ingest_files_written", "Parquet files landed.", stats.files_written
        )
        yield counter("aircarbon_ingest_acks_sent", "MQTT acks sent.", stats.acks_sent)
        yield counter("aircarbon_ingest_acks_skipped", "MQTT acks skipped.", stats.acks_skipped)
        yield counter(
            "aircarbon_ingest_reconnects", "Reconnections to the broker.", stats.reconnects
        )
        yield gauge(
            "aircarbon_ingest_connected", "1 while connected to the broker.", int(stats.connected)
        )
        yield gauge(
            "aircarbon_ingest_pending_acks",
            "Messages received but not yet acknowledged (not durable yet).",
            stats.pending_acks,
        )
        if stats.rules.queue_max:
            yield gauge(
                "aircarbon_ingest_pending_acks_limit",
                "Messages the collector may hold unacknowledged (settings.queue_max_messages).",
                stats.rules.queue_max,
            )
        yield gauge(
            "aircarbon_ingest_queue_depth",
            "Batches waiting for the writer; >= capacity: disk-bound, backpressure on.",
            stats.queue_depth,
        )
        if stats.queue_capacity:
            yield gauge(
                "aircarbon_ingest_queue_capacity",
                "Batches the writer queue holds (CollectorConfig.queue_batches).",
                stats.queue_capacity,
            )
        if stats.started_us is not None:
            yield gauge(
                "aircarbon_ingest_start_time_seconds",
                "When the collector started (Unix time).",
                stats.started_us / _US,
            )
        buckets, total = _latency_histogram(stats)
        yield HistogramMetricFamily(
            "aircarbon_ingest_durable_latency_seconds",
            "Seconds from receiving a message to its readings being durable.",
            buckets=buckets,
            sum_value=total,
        )

        reasons = evaluate_health(stats, now_us, since_us=self.since_us())
        yield gauge("aircarbon_ingest_healthy", "1 when /healthz answers 200.", int(not reasons))
        yield from self._station_families(now_us, reasons)

    def _station_families(self, now_us: int, reasons: list[dict[str, Any]]) -> Iterable[Metric]:
        stats = self.stats
        label = ["station"]
        fams: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "messages": CounterMetricFamily(
                "aircarbon_station_messages", "Messages from the station.", labels=label
            ),
            "readings": CounterMetricFamily(
                "aircarbon_station_readings", "Readings accepted from the station.", labels=label
            ),
            "duplicates": CounterMetricFamily(
                "aircarbon_station_duplicates", "Duplicate readings.", labels=label
            ),
            "late": CounterMetricFamily(
                "aircarbon_station_late", "Messages older than one already seen.", labels=label
            ),
            "seq_gaps": CounterMetricFamily(
                "aircarbon_station_seq_gaps", "Sequence numbers skipped.", labels=label
            ),
            "last_seen": GaugeMetricFamily(
                "aircarbon_station_last_seen_timestamp_seconds",
                "When the station's last message arrived (Unix time).",
                labels=label,
            ),
            "lag": GaugeMetricFamily(
                "aircarbon_station_lag_seconds",
                "Receive time minus reading time of the last message.",
                labels=label,
            ),
            "missing": GaugeMetricFamily(
                "aircarbon_station_params_missing",
                "Catalog parameters of the station not received yet.",
                labels=label,
            ),
        }
        dead = CounterMetricFamily(
            "aircarbon_station_dead_letters",
            "Dead letters of the station by reason code.",
            labels=["station", "reason"],
        )
        info = GaugeMetricFamily(
            "aircarbon_station_info",
            "Catalog facts about the station (always 1).",
            labels=["station", "name_en", "name_zh", "type"],
        )
        state = GaugeMetricFamily(
            "aircarbon_station_state",
            "The state the station reported on its status topic (1 for the current one).",
            labels=["station", "state"],
        )
        alerts = GaugeMetricFamily(
            "aircarbon_alerts",
            "Active alerts (1 each); station is empty for process-wide rules.",
            labels=["rule", "station"],
        )
        for fault in reasons:
            if fault["station"] is None:
                alerts.add_metric([fault["rule"], ""], 1)
        catalog = stats.catalog.stations
        for sid, h in sorted(stats.stations.items()):
            fams["messages"].add_metric([sid], h.messages)
            fams["readings"].add_metric([sid], h.readings)
            fams["duplicates"].add_metric([sid], h.duplicates)
            fams["late"].add_metric([sid], h.late)
            fams["seq_gaps"].add_metric([sid], h.seq_gaps)
            if h.last_seen_us is not None:
                fams["last_seen"].add_metric([sid], h.last_seen_us / _US)
            if h.lag_s is not None:
                fams["lag"].add_metric([sid], h.lag_s)
            expected = set(catalog[sid].params) if sid in catalog else set()
            fams["missing"].add_metric([sid], len(expected - h.params_seen))
            for reason, n in sorted(h.dead_letters.items()):
                dead.add_metric([sid, reason], n)
            if sid in catalog:
                st = catalog[sid]
                info.add_metric([sid, st.name_en, st.name_zh, str(st.type)], 1)
            state.add_metric([sid, h.state], 1)
            for alert in stats.alerts_for(h, now_us):
                alerts.add_metric([alert.rule, sid], 1)
        yield from fams.values()
        yield dead
        yield info
        yield state
        yield alerts


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn that leaves signals alone and tells us when it listens.

    uvicorn 0.29+ wraps ``serve()`` in ``capture_signals()`` (older versions called
    ``install_signal_handlers()``); both are neutralised so the collector's own SIGTERM/SIGINT
    handling stays in charge.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:
        """Pre-0.29 uvicorn hook; kept so an older uvicorn also leaves signals alone."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


class HealthServer:
    """Serves the live health of one collector process (see the module docstring).

    Usage inside the collector::

        server = HealthServer(stats, host=settings.health_host, port=settings.health_port)
        task = asyncio.create_task(server.serve())
        await server.started.wait()        # server.port is the bound port now
        ...
        await server.shutdown()            # or task.cancel()
    """

    def __init__(
        self,
        stats: IngestStats,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], int] | None = None,
        warnings_reader: Callable[[], dict[str, Any]] | None = None,
        gateway_url: str | None = None,
    ) -> None:
        self.stats = stats
        # the HJ 212 gateway's health endpoint (http://host:port), shown on the page
        self.gateway_url = gateway_url.rstrip("/") if gateway_url else None
        self._gateway: tuple[float, dict[str, Any]] | None = None
        # the latest forecast issue's warnings, cached: see warnings(). The command passes
        # a reader of its own lake (warehouse.forecast_warnings with the collector's
        # settings), so ingest needs no import of the lake or the forecast
        self._warnings_reader = warnings_reader or _no_warnings
        self._warnings: tuple[float, dict[str, Any]] | None = None
        self.host = host
        self.port = port
        self.clock: Callable[[], int] = clock or _now_us
        self.started = asyncio.Event()
        self._created_us = self.clock()
        self._server: _EmbeddedUvicorn | None = None
        self._stopped = asyncio.Event()
        self._stopped.set()
        self._page: str | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(IngestMetricsCollector(stats, self.clock, since_us=self._since_us))

    # --- views ----------------------------------------------------------------------------
    def _since_us(self) -> int:
        return self.stats.started_us or self._created_us

    def health(self, now_us: int | None = None) -> list[dict[str, Any]]:
        """The reasons the collector is degraded (empty: healthy)."""
        now = self.clock() if now_us is None else now_us
        return evaluate_health(self.stats, now, since_us=self._since_us())

    def document(self) -> dict[str, Any]:
        """``/api/stations``: the stats snapshot plus what the page and ``status`` need.

        Added to :meth:`IngestStats.snapshot`: the overall ``status`` and its ``reasons`` (the
        same as ``/healthz``), the alert ``rules`` in force, recent durable-latency quantiles,
        the network's name, and each station's catalog names and type.
        """
        now_us = self.clock()
        stats = self.stats
        doc = stats.snapshot(now_us)
        reasons = self.health(now_us)
        rules = stats.rules
        catalog = stats.catalog
        # catalog order (how operators number their stations), unknown stations last
        rank = {sid: i for i, sid in enumerate(catalog.stations)}
        doc["stations"].sort(key=lambda r: (rank.get(r["station"], len(rank)), r["station"]))
        for record in doc["stations"]:
            sid = record["station"]
            st = catalog.stations.get(sid)
            health = stats.stations.get(sid)
            record["alert_rules"] = (
                [a.rule for a in stats.alerts_for(health, now_us)] if health else []
            )
            record["name_zh"] = st.name_zh if st else None
            record["name_en"] = st.name_en if st else None
            record["type"] = str(st.type) if st else None
            record["params_expected"] = len(st.params) if st else 0
        window = sorted(stats.latencies_s)
        doc.update(
            {
                "status": "degraded" if reasons else "ok",
                "reasons": reasons,
                "rules": {
                    "silent_periods": rules.silent_periods,
                    "dead_letter_rate": rules.dead_letter_rate,
                    "lag_s": rules.lag_s,
                    "default_period_s": rules.default_period_s,
                    "queue_capacity": stats.queue_capacity,
                    "pending_acks_limit": rules.queue_max,
                },
                "started": self._since_us() / _US,
                "latency_s": {
                    "count": len(window),
                    "p50": _quantile(window, 0.5) if window else None,
                    "p95": _quantile(window, 0.95) if window else None,
                    "max": window[-1] if window else None,
                },
                "network": {
                    "city": catalog.network.city,
                    "name_zh": catalog.network.name_zh,
                    "name_en": catalog.network.name_en,
                },
            }
        )
        return doc

    def warnings(self) -> dict[str, Any]:
        """``/api/warnings``: the latest forecast warnings, re-read at most once a minute."""
        now = time.monotonic()
        if self._warnings is None or now - self._warnings[0] > _WARNINGS_TTL_S:
            try:
                doc = self._warnings_reader()
            except AirCarbonError as exc:  # a lake problem must not take the page down
                doc = {"issued_date": None, "warnings": [], "error": str(exc)}
            self._warnings = (now, doc)
        return self._warnings[1]

    def gateway(self) -> dict[str, Any]:
        """``/api/gateway``: the HJ 212 gateway's own ``/health`` (loggers, frames/s,
        unanswered, quirks per station), cached; ``{"configured": false}`` without one."""
        if self.gateway_url is None:
            return {"configured": False}
        now = time.monotonic()
        if self._gateway is None or now - self._gateway[0] > _GATEWAY_TTL_S:
            import urllib.request

            try:
                url = f"{self.gateway_url}/health"
                with urllib.request.urlopen(url, timeout=3) as resp:
                    doc: dict[str, Any] = json.loads(resp.read())
            except (OSError, ValueError) as exc:  # a gateway down must not take the page down
                doc = {"error": f"gateway not answering: {exc}"}
            doc["configured"] = True
            self._gateway = (now, doc)
        return self._gateway[1]

    def page(self) -> str:
        """The wall page with the current document inlined, so the first paint needs no fetch."""
        if self._page is None:
            self._page = PAGE_PATH.read_text(encoding="utf-8")
        initial = json.dumps(self.document(), ensure_ascii=False, allow_nan=False)
        # inside <script>: never let the data close the element or open a comment
        initial = initial.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return self._page.replace(_INITIAL_MARK, initial, 1)

    # --- HTTP -----------------------------------------------------------------------------
    def app(self) -> Starlette:
        """The ASGI app (also usable on its own, e.g. with ``starlette.testclient``)."""

        async def index(_: Request) -> Response:
            return HTMLResponse(self.page(), headers=_NO_STORE)

        async def healthz(_: Request) -> Response:
            reasons = self.health()
            body = {"status": "degraded" if reasons else "ok", "reasons": reasons}
            return JSONResponse(body, status_code=503 if reasons else 200, headers=_NO_STORE)

        async def metrics(request: Request) -> Response:
            encoder, content_type = choose_encoder(request.headers.get("accept", ""))
            return Response(
                encoder(self.registry), headers={"Content-Type": content_type, **_NO_STORE}
            )

        async def stations(_: Request) -> Response:
            return JSONResponse(self.document(), headers=_NO_STORE)

        async def warnings(_: Request) -> Response:
            doc = await asyncio.to_thread(self.warnings)
            return JSONResponse(doc, headers=_NO_STORE)

        async def gateway(_: Request) -> Response:
            doc = await asyncio.to_thread(self.gateway)
            return JSONResponse(doc, headers=_NO_STORE)

        return Starlette(
            routes=[
                Route("/", index),
                Route("/healthz", healthz),
                Route("/metrics", metrics),
                Route("/api/stations", stations),
                Route("/api/warnings", warnings),
                Route("/api/gateway", gateway),
            ]
        )

    # --- lifecycle ------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            msg = f"health server cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            raise AirCarbonError(msg) from exc
        return sock

    async def serve(self) -> None:
        """Serve until :meth:`shutdown` or cancellation, in the current event loop."""
        if self._server is not None:
            raise RuntimeError("HealthServer.serve() is already running")
        sock = self._bind()
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app(),
            log_level="warning",
            access_log=False,
            log_config=None,  # never reconfigure the collector's logging
            lifespan="off",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        server = _EmbeddedUvicorn(config, on_started=self.started.set)
        self._server = server
        self._stopped.clear()
        try:
            await server.serve(sockets=[sock])
        except asyncio.CancelledError:
            # cancelled mid-flight: stop listening and drop connections now, without awaiting
            server.should_exit = server.force_exit = True
            for listener in getattr(server, "servers", []):
                listener.close()
            for connection in list(server.server_state.connections):
                connection.shutdown()
            raise
        finally:
            sock.close()
            self._server = None
            self.started.clear()
            self._stopped.set()
        log.debug("health server on %s:%d stopped", self.host, self.port)

    async def shutdown(self) -> None:
        """Ask a running :meth:`serve` to finish its open requests and return; then wait."""
        server = self._server
        if server is None:
            return
        server.should_exit = True
        await self._stopped.wait()
