"""Normal station operations: daily zero/span checks and maintenance visits.

They are not faults, but the collector and QC must handle them: data taken during a
calibration carry flag ``C`` (and show the zero and span gas, not the air), data during a
maintenance visit carry ``M``, and the station announces both on its status topic. Windows
are drawn per local day from the station's own operations stream, so enabling faults never
moves them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from aircarbon.core.catalog import Catalog, ParamGroup
from aircarbon.simulator.timebase import FloatArray, Timeline

__all__ = ["FLAG_C", "FLAG_LETTERS", "FLAG_M", "FLAG_N", "Window", "apply_windows", "plan_windows"]

FLAG_N, FLAG_M, FLAG_C = 0, 1, 2
FLAG_LETTERS = ("N", "M", "C")

#: Span-gas concentrations of a typical zero/span check, canonical units.
_SPAN = {
    "so2": 1048.0,  # 400 ppb
    "no2": 752.0,
    "no": 490.0,
    "nox": 752.0,
    "o3": 785.0,
    "co": 20.0,
    "co2": 450.0,
    "ch4": 2500.0,
    "n2o": 360.0,
}
_VOC_STANDARD_PPB = 4.0

_P_CALIBRATION = 0.35  # per station-day: automatic zero/span check of the gas analysers
_P_GC_CALIBRATION = 0.15  # per station-day: VOC GC standard run
_P_MAINTENANCE = 0.06  # per station-day: technician visit


@dataclass(frozen=True, slots=True)
class Window:
    """Steps ``start <= k < end`` of a block during which ``params`` carry ``flag``."""

    kind: str
    start: int
    end: int
    flag: int
    params: tuple[int, ...]
    """Column indices of the affected parameters."""
    opens: bool = True
    """The window starts within this block (announce it)."""
    closes: bool = True
    """The window ends within this block (announce the return to online)."""

    @property
    def state(self) -> str:
        """The station status announced during the window."""
        return "maintenance" if self.kind == "maintenance" else "calibrating"


def _steps_between(
    tl: Timeline, day: int, start_h: float, end_h: float
) -> tuple[int, int, bool, bool]:
    """Block steps of ``day`` between two local hours, and whether both ends are inside."""
    sel = np.nonzero((tl.local_day == day) & (tl.local_hour >= start_h) & (tl.local_hour < end_h))[
        0
    ]
    if sel.size == 0:
        return 0, 0, False, False
    lo, hi = int(sel[0]), int(sel[-1]) + 1
    step_h = tl.step_s / 3600.0
    opens = bool(tl.local_hour[lo] - step_h < start_h)
    closes = bool(tl.local_hour[hi - 1] + step_h >= end_h)
    return lo, hi, opens, closes


def plan_windows(
    tl: Timeline,
    params: tuple[str, ...],
    catalog: Catalog,
    rng_for_day: Callable[[int], np.random.Generator],
) -> list[Window]:
    """The block's calibration and maintenance windows for one station.

    Drawn per local day from ``rng_for_day(day)`` so that a day has the same windows
    however the run is cut into blocks (a replay day or real-time minutes).
    """
    gases = tuple(j for j, p in enumerate(params) if p in _SPAN)
    vocs = tuple(j for j, p in enumerate(params) if catalog.parameter(p).group == ParamGroup.VOC)
    every = tuple(range(len(params)))
    windows: list[Window] = []
    for day in np.unique(tl.local_day).tolist():
        rng = rng_for_day(int(day))
        draws = rng.random(3)
        start_cal = float(rng.uniform(0.5, 5.0))
        len_cal = float(rng.uniform(20.0, 40.0)) / 60.0
        start_gc = float(rng.uniform(22.0, 23.0))
        start_mnt = float(rng.uniform(9.0, 15.0))
        len_mnt = float(rng.uniform(1.0, 3.0))
        plans = [
            (draws[0] < _P_CALIBRATION and gases, "calibration", start_cal, len_cal, FLAG_C, gases),
            (draws[1] < _P_GC_CALIBRATION and vocs, "calibration", start_gc, 1.0, FLAG_C, vocs),
            (draws[2] < _P_MAINTENANCE, "maintenance", start_mnt, len_mnt, FLAG_M, every),
        ]
        for wanted, kind, start_h, hours, flag, cols in plans:
            if not wanted:
                continue
            lo, hi, opens, closes = _steps_between(tl, day, start_h, start_h + hours)
            if hi > lo:
                windows.append(Window(kind, lo, hi, flag, cols, opens, closes))
    windows.sort(key=lambda w: w.start)
    return windows


def apply_windows(
    values: FloatArray,
    windows: list[Window],
    params: tuple[str, ...],
    catalog: Catalog,
    rng: np.random.Generator,
) -> NDArray[np.int8]:
    """Flag the windows' data (returns the flag matrix) and put zero/span gas into ``values``."""
    flags = np.zeros(values.shape, dtype=np.int8)
    for w in windows:
        cols = list(w.params)
        flags[w.start : w.end, cols] = w.flag
        if w.kind != "calibration":
            continue
        half = w.start + max(1, (w.end - w.start) // 2)
        for j in cols:
            code = params[j]
            param = catalog.parameter(code)
            span = _SPAN.get(code, _VOC_STANDARD_PPB)
            n_zero, n_span = half - w.start, w.end - half
            zero = rng.normal(0.0, 0.3 * param.noise, n_zero)
            if code in {"co2", "ch4", "n2o"}:  # GHG analysers check against a near-ambient tank
                zero = span * 0.9 + rng.normal(0.0, 0.3 * param.noise, n_zero)
            spans = span * (1.0 + rng.normal(0.0, 0.005, n_span))
            decimals = 3 if param.group == ParamGroup.VOC or code == "co" else 1
            values[w.start : half, j] = np.round(zero, decimals)
            values[half : w.end, j] = np.round(spans, decimals)
    return flags
