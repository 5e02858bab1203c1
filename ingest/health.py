"""Live ingest health: per-station counters the collector updates per message.

Kept as plain numbers updated on the hot path (a dict lookup and a few additions per
message); the health server turns a snapshot into JSON, Prometheus metrics and the wall
page, and evaluates the alert rules only when asked.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aircarbon.core.catalog import Catalog

__all__ = ["LATENCY_BUCKETS_S", "Alert", "AlertRules", "IngestStats", "StationHealth"]

_US = 1_000_000
_WINDOW_S = 60

# Upper bounds (seconds) of the receive->durable latency histogram: the batch age is ~1 s by
# default, so the interesting range is tens of milliseconds to a few tens of seconds.
LATENCY_BUCKETS_S: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class Alert(NamedTuple):
    """One active alert of a station: ``rule`` is a stable code, ``message`` for humans.

    Rules: ``never_seen``, ``silent``, ``dead_letter_rate``, ``lag``, ``status``.
    """

    rule: str
    message: str


@dataclass
class StationHealth:
    """What an operator wants to know about one station, right now."""

    station: str
    state: str = "unknown"
    status_ts_us: int | None = None
    messages: int = 0
    readings: int = 0
    rejected_messages: int = 0
    # messages with at least one dead-letter row (whole or per reading): the dead-letter
    # rate's numerator, so that a message with ten refused readings counts once
    dead_messages: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0
    seq_gaps: int = 0
    last_seq: int | None = None
    last_seen_us: int | None = None
    last_ts_us: int | None = None
    lag_s: float | None = None
    period_s: int | None = None
    params_seen: set[str] = field(default_factory=set)
    # (second, messages, readings) buckets of the last minute
    window: deque[list[int]] = field(default_factory=lambda: deque(maxlen=_WINDOW_S + 1))

    def tick(self, now_s: int, readings: int) -> None:
        if self.window and self.window[-1][0] == now_s:
            bucket = self.window[-1]
            bucket[1] += 1
            bucket[2] += readings
        else:
            self.window.append([now_s, 1, readings])

    def per_minute(self, now_s: int) -> tuple[int, int]:
        lo = now_s - _WINDOW_S
        msgs = sum(b[1] for b in self.window if b[0] > lo)
        rds = sum(b[2] for b in self.window if b[0] > lo)
        return msgs, rds


@dataclass(frozen=True)
class AlertRules:
    """Thresholds for the operators' alerts (from settings)."""

    silent_periods: int = 3
    dead_letter_rate: float = 0.05
    lag_s: float = 600.0
    default_period_s: int = 60
    # Messages the collector may hold unacknowledged (settings.queue_max_messages, its MQTT v5
    # receive maximum): shown beside ``pending_acks``, a message count; 0 = unknown. It is not
    # an alert threshold: the ``queue_full`` rule compares batches with batches, see
    # IngestStats.queue_capacity.
    queue_max: int = 0


class IngestStats:
    """Counters of one collector process, shared by its tasks (single event loop)."""

    def __init__(self, catalog: Catalog, rules: AlertRules | None = None) -> None:
        self.catalog = catalog
        self.rules = rules or AlertRules()
        self.stations: dict[str, StationHealth] = {
            sid: StationHealth(sid) for sid in catalog.stations
        }
        self.messages_total = 0
        self.readings_total = 0
        self.duplicates_total = 0
        self.dead_letters_total: Counter[str] = Counter()
        self.batches_written = 0
        self.files_written = 0
        self.acks_sent = 0
        self.acks_skipped = 0
        self.reconnects = 0
        self.connected = False
        # messages received but not acknowledged yet: held by the collector, not yet durable
        self.pending_acks = 0
        # batches waiting for the writer (one batch = up to batch_max_messages messages); the
        # collector counts a batch it is blocked putting, so depth > capacity means the reader
        # is stopped by backpressure
        self.queue_depth = 0
        # capacity of the writer queue in batches (CollectorConfig.queue_batches), set once by
        # the collector; 0 = unknown, and the queue_full rule stays off
        self.queue_capacity = 0
        self.started_us: int | None = None
        self.latencies_s: deque[float] = deque(maxlen=10_000)
        self.write_seconds: deque[float] = deque(maxlen=1_000)
        # cumulative receive->durable histogram (Prometheus buckets must never go down,
        # which a sliding window like `latencies_s` cannot promise); see observe_latency()
        self.latency_buckets: list[int] = [0] * len(LATENCY_BUCKETS_S)
        self.latency_count = 0
        self.latency_sum = 0.0
        # writer faults: consecutive failed attempts at landing the current batch (0 = healthy)
        # and the last error, one line; rows isolated to the dead-letter store as write_error
        self.write_failures = 0
        self.write_error: str | None = None
        self.isolated_rows = 0
        # messages quarantined unread as `poison` (in flight at repeated collector crashes)
        self.poison_messages = 0

    def station(self, sid: str) -> StationHealth:
        health = self.stations.get(sid)
        if health is None:
            health = self.stations[sid] = StationHealth(sid)
        return health

    def observe_message(
        self,
        station: str | None,
        received_us: int,
        accepted: int,
        ts_us: int | None,
        seq: int | None,
        period_s: int | None,
        params: list[str] | None = None,
    ) -> None:
        self.readings_total += accepted
        if station is None or station not in self.stations:
            return
        h = self.stations[station]
        h.messages += 1
        h.readings += accepted
        h.last_seen_us = received_us
        h.tick(received_us // _US, accepted)
        if period_s is not None:
            h.period_s = period_s
        if ts_us is not None:
            h.lag_s = (received_us - ts_us) / _US
            if h.last_ts_us is not None and ts_us < h.last_ts_us:
                h.late += 1
            else:
                h.last_ts_us = ts_us
        if seq is not None:
            if h.last_seq is not None:
                if seq > h.last_seq + 1:
                    h.seq_gaps += seq - h.last_seq - 1
                elif seq <= h.last_seq:
                    h.late += 0  # already counted by ts; a seq restart is normal on reboot
            if h.last_seq is None or seq > h.last_seq:
                h.last_seq = seq
        if params:
            h.params_seen.update(params)

    def observe_received(self) -> None:
        """Every message counts, whatever becomes of it (landed, dead-lettered, duplicate)."""
        self.messages_total += 1

    def observe_duplicate(self, station: str | None) -> None:
        self.duplicates_total += 1
        if station in self.stations:
            self.stations[station].duplicates += 1

    def observe_rejection(
        self, station: str | None, reason: str, whole: bool, *, first: bool = True
    ) -> None:
        """One dead-letter row; ``first`` marks the first row of its message (rate numerator)."""
        self.dead_letters_total[reason] += 1
        if station in self.stations:
            h = self.stations[station]
            h.dead_letters[reason] += 1
            if whole:
                h.rejected_messages += 1
            if first:
                h.dead_messages += 1

    def observe_status(self, station: str, state: str, ts_us: int | None) -> None:
        h = self.station(station)
        h.state = state
        h.status_ts_us = ts_us

    def observe_latency(self, seconds: float) -> None:
        """Record one receive->durable latency: the recent window and the cumulative histogram."""
        self.latencies_s.append(seconds)
        self.latency_count += 1
        self.latency_sum += seconds
        i = bisect_left(LATENCY_BUCKETS_S, seconds)  # the first bound >= seconds
        if i < len(LATENCY_BUCKETS_S):
            self.latency_buckets[i] += 1

    # --- views ----------------------------------------------------------------------------
    @property
    def queue_full(self) -> bool:
        """The writer queue is full: landing to disk is the bottleneck, and the collector has
        stopped taking messages (backpressure: the broker holds them meanwhile)."""
        return bool(self.queue_capacity) and self.queue_depth >= self.queue_capacity

    def retired(self, station: str, now_us: int) -> bool:
        """Whether ``station`` was retired (network file ``valid_to``) before ``now_us``."""
        end = self.catalog.retired_after_us.get(station)
        return end is not None and now_us > end

    def station_alerts(self, h: StationHealth, now_us: int) -> list[str]:
        return [alert.message for alert in self.alerts_for(h, now_us)]

    def alerts_for(self, h: StationHealth, now_us: int) -> list[Alert]:
        """The station's active alerts with their rule codes (for /healthz and metrics)."""
        alerts: list[Alert] = []
        if self.retired(h.station, now_us):  # past its valid_to: silence is expected
            return alerts
        period = h.period_s or self.rules.default_period_s
        silent_limit = max(period, 1) * self.rules.silent_periods
        if h.last_seen_us is None:
            alerts.append(Alert("never_seen", "never seen"))
        elif (now_us - h.last_seen_us) / _US > silent_limit:
            alerts.append(Alert("silent", f"silent for {(now_us - h.last_seen_us) / _US:.0f} s"))
        total = h.messages + h.rejected_messages
        rate = min(h.dead_messages / total, 1.0) if total else 0.0  # messages, not rows
        if rate > self.rules.dead_letter_rate:
            alerts.append(Alert("dead_letter_rate", f"dead-letter rate {rate:.0%}"))
        if h.lag_s is not None and h.lag_s > self.rules.lag_s:
            alerts.append(Alert("lag", f"lag {h.lag_s:.0f} s"))
        if h.state in {"offline", "maintenance", "calibrating"}:
            alerts.append(Alert("status", f"status {h.state}"))
        return alerts

    def snapshot(self, now_us: int) -> dict[str, Any]:
        """The `/api/stations` document: one record per station plus process totals."""
        now_s = now_us // _US
        records = []
        for sid, h in sorted(self.stations.items()):
            if self.retired(sid, now_us):  # retired stations leave the page (not "silent")
                continue
            expected = (
                set(self.catalog.stations[sid].params) if sid in self.catalog.stations else set()
            )
            alerts = self.station_alerts(h, now_us)
            msgs_min, rds_min = h.per_minute(now_s)
            state = h.state
            if h.last_seen_us is None or any(a.startswith("silent") for a in alerts):
                health = "silent"
            elif alerts:
                health = "degraded"
            else:
                health = "ok"
            records.append(
                {
                    "station": sid,
                    "state": state,
                    "health": health,
                    "alerts": alerts,
                    "last_seen": h.last_seen_us / _US if h.last_seen_us else None,
                    "last_ts": h.last_ts_us / _US if h.last_ts_us else None,
                    "messages": h.messages,
                    "readings": h.readings,
                    "messages_per_min": msgs_min,
                    "readings_per_min": rds_min,
                    "seq_gaps": h.seq_gaps,
                    "late": h.late,
                    "duplicates": h.duplicates,
                    "dead_letters": dict(h.dead_letters),
                    "lag_s": h.lag_s,
                    "params_missing": sorted(expected - h.params_seen)
                    if h.messages
                    else sorted(expected),
                }
            )
        return {
            "now": now_us / _US,
            "connected": self.connected,
            "messages_total": self.messages_total,
            "readings_total": self.readings_total,
            "duplicates_total": self.duplicates_total,
            "dead_letters_total": dict(self.dead_letters_total),
            "pending_acks": self.pending_acks,
            "pending_acks_limit": self.rules.queue_max,
            "queue_depth": self.queue_depth,
            "queue_capacity": self.queue_capacity,
            "batches_written": self.batches_written,
            "write_failures": self.write_failures,
            "write_error": self.write_error,
            "isolated_rows": self.isolated_rows,
            "poison_messages": self.poison_messages,
            "reconnects": self.reconnects,
            "stations": records,
        }
