"""What one simulation run is: seed, time span, stations, wire format, faults, overrides.

A single frozen object so that a run is reproducible from its configuration alone: the same
``SimulationConfig`` (and the same catalog) always yields the same messages, byte for byte.
Only real-time mode (``rate`` set, started by the publisher with ``start`` = now) depends on
the wall clock, and only through ``start``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from aircarbon.simulator.faults import FaultConfig

__all__ = ["DEFAULT_START", "WIRE_FORMATS", "SimulationConfig", "WireFormat"]

#: A Monday late in November: the heating season is on, so winter chemistry shows at once.
DEFAULT_START = dt.date(2026, 11, 23)

WireFormat = Literal["json", "hj212", "mixed"]
WIRE_FORMATS: tuple[WireFormat, ...] = ("json", "hj212", "mixed")


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """One simulation run.

    ``start`` is a local calendar date (the run starts at local midnight) or an aware
    datetime. Each station sends one message per ``step_s`` seconds (``period_s``, or
    ``1 / rate`` in real-time mode); ``period_s`` is the averaging period written in the
    messages. ``steps`` (if set) overrides ``days``.
    """

    seed: int = 0
    start: dt.date | dt.datetime = DEFAULT_START
    days: float = 1.0
    period_s: int = 60
    steps: int | None = None
    rate: float | None = None
    stations: tuple[str, ...] | None = None
    format: WireFormat = "json"
    faults: FaultConfig = field(default_factory=FaultConfig)
    operations: bool = True
    """Maintenance and calibration windows (flags M/C, status messages)."""
    status: bool = True
    """Publish retained station status messages (online at start, state changes)."""
    wind_dir: float | None = None
    """Steady wind direction (degrees the wind blows FROM) for every station; None: weather."""
    wind_speed: float | None = None
    """Steady wind speed (m/s); None: weather."""
    sources: tuple[str, ...] | None = None
    """Point/line sources to include (ids of sources.toml); None: all of them."""
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.period_s < 0:
            raise ValueError("period_s must be >= 0")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be > 0 messages per second per station")
        if self.rate is None and self.period_s == 0:
            raise ValueError("period_s must be > 0 in replay mode")
        if self.format not in WIRE_FORMATS:
            raise ValueError(f"format must be one of {', '.join(WIRE_FORMATS)}")
        if self.days <= 0 and self.steps is None:
            raise ValueError("days must be > 0")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def step_s(self) -> float:
        """Seconds between two messages of one station."""
        return 1.0 / self.rate if self.rate is not None else float(self.period_s)

    @property
    def start_utc(self) -> dt.datetime:
        """The start of the first period, as an aware UTC datetime."""
        start = self.start
        if isinstance(start, dt.datetime):
            if start.tzinfo is None:
                start = start.replace(tzinfo=self.tz)
            return start.astimezone(dt.UTC)
        local = dt.datetime.combine(start, dt.time(0, 0), tzinfo=self.tz)
        return local.astimezone(dt.UTC)

    @property
    def n_steps(self) -> int:
        """Messages per station in the run (before faults)."""
        if self.steps is not None:
            return self.steps
        return max(1, round(self.days * 86400.0 / self.step_s))
