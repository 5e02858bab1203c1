"""Applying the faults of a :class:`~.faults.FaultConfig` to one station's block.

Value faults edit the reported value matrix; message faults are planned per step before
encoding (clock skew, unit overrides, malformed payloads) or applied to the encoded envelopes
(dropouts, late back-fills, duplicates, swaps). Every injection appends a
:class:`~.faults.FaultEvent` to the run's :class:`~.faults.GroundTruth`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from aircarbon.core.catalog import Catalog
from aircarbon.simulator.faults import FaultConfig, GroundTruth
from aircarbon.simulator.stream import Out
from aircarbon.simulator.timebase import FloatArray

__all__ = [
    "FUTURE_LIMIT_S",
    "MessagePlan",
    "apply_stream_faults",
    "corrupt",
    "inject_value_faults",
    "plan_message_faults",
]

#: The collector's default tolerance for timestamps in the future (settings.max_future_s).
FUTURE_LIMIT_S = 300.0
_INVALID_UNITS = ("ppm", "ppb", "m/s", "degC", "nGy/h")
JSON_MALFORMED = ("truncated", "garbage", "wrong_station")
HJ212_MALFORMED = ("truncated", "garbage", "bad_crc", "bad_length", "wrong_mn")


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def _starts(rng: np.random.Generator, n: int, rate: float) -> list[int]:
    if rate <= 0.0 or n == 0:
        return []
    return np.nonzero(rng.random(n) < rate)[0].tolist()


# --------------------------------------------------------------------------------------------
# value faults
# --------------------------------------------------------------------------------------------


def inject_value_faults(
    values: FloatArray,
    params: tuple[str, ...],
    decimals: list[int],
    t_end: FloatArray,
    step_s: float,
    *,
    station: str,
    config: FaultConfig,
    catalog: Catalog,
    rng: np.random.Generator,
    truth: GroundTruth,
) -> None:
    """Flat-lines, spikes and drifts, in place on the reported ``values`` (n x params)."""
    n, p = values.shape
    measured = [j for j in range(p) if not np.isnan(values[:, j]).all()]
    if not measured:
        return
    numeric = [j for j in measured if params[j] != "wd"] or measured
    hour = max(1, round(3600.0 / step_s))

    for k in _starts(rng, n, config.flatline):
        j = int(rng.choice(measured))
        end = min(n, k + hour)
        stuck = float(values[k, j])
        values[k:end, j] = stuck
        truth.add(
            "flatline", station, _utc(t_end[k]),
            param=params[j], value=stuck, messages=end - k, until=_utc(t_end[end - 1]).isoformat(),
        )  # fmt: skip

    for k in _starts(rng, n, config.spike):
        j = int(rng.choice(numeric))
        param = catalog.parameter(params[j])
        before = float(values[k, j])
        jump = max(abs(before), 10.0 * param.noise, 1.0) * float(rng.uniform(3.0, 8.0))
        spiked = round(before + jump, decimals[j])
        values[k, j] = spiked
        truth.add("spike", station, _utc(t_end[k]), param=params[j], value=spiked, true=before)

    for k in _starts(rng, n, config.drift):
        j = int(rng.choice(numeric))
        param = catalog.parameter(params[j])
        length = max(2, round(float(rng.uniform(6.0, 24.0)) * hour))
        end = min(n, k + length)
        level = max(float(np.nanmean(np.abs(values[:, j]))), 10.0 * param.noise)
        total = level * float(rng.uniform(0.2, 0.5)) * float(rng.choice([-1.0, 1.0]))
        ramp = np.linspace(0.0, total * (end - k) / length, end - k)
        values[k:end, j] = np.round(values[k:end, j] + ramp, decimals[j])
        truth.add(
            "drift", station, _utc(t_end[k]),
            param=params[j], offset_per_hour=total / length * hour, messages=end - k,
            until=_utc(t_end[end - 1]).isoformat(),
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# message faults planned before encoding
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MessagePlan:
    """Per-step encoding changes: time shift, a unit override, a malformation."""

    skew_s: dict[int, float] = field(default_factory=dict)
    units: dict[int, tuple[int, str, float, float]] = field(default_factory=dict)
    """step -> (column, unit, scale, offset): send ``(v - offset) / scale`` in ``unit``."""
    malformed: dict[int, str] = field(default_factory=dict)


def _unit_choice(
    params: tuple[str, ...], catalog: Catalog, rng: np.random.Generator, valid: bool
) -> tuple[int, str, float, float] | None:
    candidates: list[tuple[int, str, float, float]] = []
    for j, code in enumerate(params):
        param = catalog.parameter(code)
        if valid:
            for unit in param.accepted:
                if catalog.units.normalise(unit) == param.unit:
                    continue
                conv = catalog.conversion(code, unit)
                candidates.append((j, unit, conv.scale, conv.offset))
        else:
            for unit in _INVALID_UNITS:
                if unit not in param.accepted:
                    candidates.append((j, unit, 1.0, 0.0))
                    break
    if not valid:  # prefer the classic mistake: PM2.5 "in ppm"
        classic = [c for c in candidates if params[c[0]] in {"pm25", "pm10"}]
        candidates = classic or candidates
    if not candidates:
        return None
    return candidates[int(rng.integers(len(candidates)))]


def plan_message_faults(
    n: int,
    params: tuple[str, ...],
    t_end: FloatArray,
    *,
    hj212: bool,
    station: str,
    config: FaultConfig,
    catalog: Catalog,
    rng: np.random.Generator,
    truth: GroundTruth,
) -> MessagePlan:
    """Decide clock skews, unit overrides and malformed payloads for a station's block."""
    plan = MessagePlan()
    for k in _starts(rng, n, config.clock_skew):
        run = int(rng.integers(1, 31))
        if rng.random() < 0.3:
            shift = float(rng.uniform(FUTURE_LIMIT_S + 300.0, 3600.0))
        else:
            shift = float(rng.uniform(60.0, 1800.0)) * float(rng.choice([-1.0, 1.0]))
        shift = float(round(shift))
        steps = range(k, min(n, k + run))
        for i in steps:
            plan.skew_s.setdefault(i, shift)
        truth.add(
            "clock_skew", station, _utc(t_end[k]),
            shift_s=shift, messages=len(steps), beyond_future_limit=shift > FUTURE_LIMIT_S,
        )  # fmt: skip

    if not hj212:  # HJ 212 has no unit field: a wrong unit there is undetectable by design
        for k in _starts(rng, n, config.wrong_units):
            valid = bool(rng.random() < 0.5)
            choice = _unit_choice(params, catalog, rng, valid)
            if choice is None:
                continue
            plan.units[k] = choice
            truth.add(
                "wrong_units", station, _utc(t_end[k]),
                param=params[choice[0]], unit=choice[1], valid=valid,
            )  # fmt: skip

    kinds = HJ212_MALFORMED if hj212 else JSON_MALFORMED
    for k in _starts(rng, n, config.malformed):
        kind = kinds[int(rng.integers(len(kinds)))]
        plan.malformed[k] = kind
        truth.add("malformed", station, _utc(t_end[k]), variant=kind)
    return plan


def corrupt(payload: bytes, variant: str, rng: np.random.Generator) -> bytes:
    """Damage an encoded payload (the variants that need no re-encoding)."""
    if variant == "truncated":
        cut = int(rng.integers(1, max(2, len(payload) - 1)))
        return payload[:cut]
    if variant == "garbage":
        return b"\xff\xfe" + rng.bytes(int(rng.integers(8, 64)))
    if variant == "bad_crc":
        crc = int(payload[-6:-2], 16)
        wrong = (crc + int(rng.integers(1, 0xFFFF))) % 0x10000
        return payload[:-6] + b"%04X" % wrong + b"\r\n"
    if variant == "bad_length":
        length = int(payload[2:6])
        wrong = length + int(rng.choice([-3, -1, 1, 2]))
        return b"##%04d" % wrong + payload[6:]
    return payload


# --------------------------------------------------------------------------------------------
# stream faults on encoded envelopes
# --------------------------------------------------------------------------------------------


def apply_stream_faults(
    steps: list[list[Out]],
    t_end: FloatArray,
    step_s: float,
    *,
    station: str,
    config: FaultConfig,
    rng: np.random.Generator,
    truth: GroundTruth,
    status: Callable[[str, float], Out | None],
    next_order: Callable[[], int],
) -> list[Out]:
    """Drop, delay, duplicate and swap a station's messages; returns the envelopes to send.

    ``steps[k]`` holds the envelopes of step ``k`` (several for a split HJ 212 upload);
    ``status(state, key)`` makes a status envelope (or None when statuses are off).
    """
    n = len(steps)
    touched = np.zeros(n, dtype=bool)
    extra: list[Out] = []
    minute = 60.0 / step_s

    for k in _starts(rng, n, config.dropout):
        if touched[k]:
            continue
        length = max(1, round(float(rng.uniform(10.0, 120.0)) * minute))
        end = min(n, k + length)
        end = k + int(np.argmax(touched[k:end])) if touched[k:end].any() else end
        for i in range(k, end):
            steps[i] = []
        touched[k:end] = True
        truth.add(
            "dropout", station, _utc(t_end[k]),
            messages=end - k, until=_utc(t_end[end - 1]).isoformat(),
        )  # fmt: skip
        for state, key in (
            ("offline", t_end[k] - 0.5 * step_s),
            ("online", t_end[end - 1] + step_s),
        ):
            env = status(state, float(key))
            if env is not None:
                extra.append(env)

    for k in _starts(rng, n, config.late):
        if touched[k]:
            continue
        length = max(1, round(float(rng.uniform(5.0, 60.0)) * minute))
        end = min(n, k + length)
        end = k + int(np.argmax(touched[k:end])) if touched[k:end].any() else end
        release = float(t_end[end - 1]) + float(rng.uniform(900.0, 3.0 * 3600.0))
        for i, envs in enumerate(steps[k:end]):
            for env in envs:
                env.key = release + i * 1e-3
                env.order = next_order()
        touched[k:end] = True
        truth.add(
            "late", station, _utc(t_end[k]),
            messages=end - k, delay_s=round(release - float(t_end[k]), 3),
            released=_utc(release).isoformat(),
        )  # fmt: skip
        for state, key in (("offline", t_end[k] - 0.5 * step_s), ("online", release - 1e-3)):
            env = status(state, float(key))
            if env is not None:
                extra.append(env)

    for k in _starts(rng, n, config.duplicate):
        if not steps[k]:
            continue
        env = steps[k][0]
        again = Out(
            env.key + float(rng.uniform(0.5, 0.8 * step_s)), next_order(), env.msg, k, env.t_end
        )
        extra.append(again)
        truth.add("duplicate", station, _utc(t_end[k]), topic=env.msg.topic)

    for k in _starts(rng, n - 1, config.out_of_order):
        if touched[k] or touched[k + 1] or not steps[k] or not steps[k + 1]:
            continue
        a, b = steps[k][0], steps[k + 1][0]
        a.key, b.key = b.key, a.key
        a.order, b.order = b.order, a.order
        touched[k : k + 2] = True
        truth.add(
            "out_of_order", station, _utc(t_end[k]), swapped_with=_utc(t_end[k + 1]).isoformat()
        )

    out = [env for envs in steps for env in envs]
    out.extend(extra)
    return out
