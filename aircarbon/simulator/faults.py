"""Injectable station faults and the ground truth of what was injected.

Real networks misbehave in a handful of recurring ways; the collector, QC and the benchmarks
must be tested against each of them with a known answer. Every fault the simulator injects is
recorded as a :class:`FaultEvent` (kind, station, period end ``ts``, detail) so that a test
can compare what the pipeline flagged or dead-lettered with what really happened.

Two layers, applied in this order per station and time block:

* value faults change what an instrument reports (``flatline``, ``spike``, ``drift``);
* message faults change what reaches the broker (``dropout``, ``duplicate``,
  ``out_of_order``, ``late``, ``clock_skew``, ``malformed``, ``wrong_units``).

Each rate is a probability per station message (one per period), so ``spike=0.001`` at
one-minute data is about 1.4 spikes per station-day. All rates are 0 unless a profile
(``demo``) or an explicit list enables them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "FAULT_KINDS",
    "OPERATION_KINDS",
    "FaultConfig",
    "FaultEvent",
    "GroundTruth",
]

FAULT_KINDS: tuple[str, ...] = (
    "flatline",
    "spike",
    "drift",
    "dropout",
    "duplicate",
    "out_of_order",
    "late",
    "clock_skew",
    "malformed",
    "wrong_units",
)
#: Normal operations recorded alongside the faults (their data carry flags M / C).
OPERATION_KINDS: tuple[str, ...] = ("maintenance", "calibration")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Per-message probabilities of each fault kind (0 = off)."""

    flatline: float = 0.0
    spike: float = 0.0
    drift: float = 0.0
    dropout: float = 0.0
    duplicate: float = 0.0
    out_of_order: float = 0.0
    late: float = 0.0
    clock_skew: float = 0.0
    malformed: float = 0.0
    wrong_units: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {f.name}={value} must be within [0, 1]")

    @classmethod
    def demo(cls) -> FaultConfig:
        """A realistic mix: a few of each per station and simulated week at 1-min data."""
        return cls(
            flatline=2e-4,
            spike=1e-3,
            drift=5e-5,
            dropout=2e-4,
            duplicate=2e-3,
            out_of_order=1e-3,
            late=1e-4,
            clock_skew=3e-4,
            malformed=1e-3,
            wrong_units=1e-3,
        )

    @classmethod
    def parse(cls, spec: str | None) -> FaultConfig:
        """``none``, ``demo``, or ``kind=rate,...`` (e.g. ``flatline=0.01,spike=0.002``).

        ``demo,spike=0.01`` starts from the demo mix and overrides one rate.
        """
        if spec is None or spec.strip().lower() in {"", "none", "off"}:
            return cls()
        values: dict[str, float] = {}
        for raw in spec.split(","):
            part = raw.strip()
            if not part:
                continue
            if part.lower() == "demo":
                values.update(cls.demo().rates())
                continue
            name, sep, rate = part.partition("=")
            name = name.strip().lower().replace("-", "_")
            if name not in FAULT_KINDS:
                known = ", ".join(FAULT_KINDS)
                raise ValueError(f"unknown fault {name!r} (known: none, demo, {known})")
            if not sep:
                raise ValueError(f"fault {name!r} needs a rate, e.g. {name}=0.001")
            try:
                values[name] = float(rate)
            except ValueError:
                raise ValueError(f"fault {name}: rate {rate!r} is not a number") from None
        return cls(**values)

    def rates(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @property
    def enabled(self) -> bool:
        return any(v > 0 for v in self.rates().values())

    def __str__(self) -> str:
        on = [f"{k}={v:g}" for k, v in self.rates().items() if v > 0]
        return ",".join(on) if on else "none"


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """One injected fault (or operations window): what, where, when (period end), details."""

    kind: str
    station: str
    ts: dt.datetime
    detail: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ts"] = self.ts.isoformat()
        out["detail"] = dict(self.detail)
        return out


class GroundTruth:
    """The list of injected faults and operations windows of one run, in injection order."""

    def __init__(self) -> None:
        self.events: list[FaultEvent] = []

    def add(self, kind: str, station: str, ts: dt.datetime, **detail: Any) -> None:
        self.events.append(FaultEvent(kind, station, ts, detail))

    def __iter__(self) -> Iterator[FaultEvent]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def faults(self) -> list[FaultEvent]:
        """The injected faults only (without maintenance/calibration windows)."""
        return [e for e in self.events if e.kind in FAULT_KINDS]

    def of_kind(self, kind: str) -> list[FaultEvent]:
        return [e for e in self.events if e.kind == kind]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            out[e.kind] = out.get(e.kind, 0) + 1
        return out

    def write_jsonl(self, path: Path | str, events: Iterable[FaultEvent] | None = None) -> int:
        """Write the events as JSON Lines; returns how many were written."""
        chosen = list(self.events if events is None else events)
        with Path(path).open("w", encoding="utf-8") as fh:
            for e in chosen:
                fh.write(json.dumps(e.to_json(), ensure_ascii=False, sort_keys=True) + "\n")
        return len(chosen)
