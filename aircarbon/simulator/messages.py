"""From simulated values to the wire: the pure, broker-free generator API.

``iter_messages(config)`` yields every MQTT publication of a run in publication order, after
operations (calibration/maintenance windows) and faults; ``simulate_frame(config)`` returns
the clean values as a long Polars frame for tests and for transforms built without a broker.
Both are deterministic for a given configuration.

Per station the format is JSON on ``aircarbon/v1/{station}/readings`` or HJ 212-2017 on
``aircarbon/v1/{station}/hj212`` (``mixed``: national stations speak HJ 212, the others
JSON). Status messages are retained: ``online`` at the start, ``calibrating`` /
``maintenance`` during operations windows, ``offline`` / ``online`` around outages (what the
broker would publish as the station's will). ``seq`` counts a station's JSON messages from
1; it is assigned when a period is measured, so lost messages leave gaps.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from aircarbon.core.catalog import Catalog, StationType
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.engine import Block, Engine, Purpose, StationBlock
from aircarbon.simulator.faults import GroundTruth
from aircarbon.simulator.injection import (
    MessagePlan,
    apply_stream_faults,
    corrupt,
    inject_value_faults,
    plan_message_faults,
)
from aircarbon.simulator.operations import FLAG_LETTERS, Window, apply_windows, plan_windows
from aircarbon.simulator.stream import Out, SimMessage
from aircarbon.simulator.wire import (
    Hj212Encoder,
    format_ts,
    local_stamps,
    reading_payload,
    status_payload,
    topic,
)

if TYPE_CHECKING:
    import polars as pl

    from aircarbon.simulator.timebase import FloatArray

__all__ = ["SimMessage", "Simulation", "iter_messages", "simulate_frame"]


class Simulation:
    """One run: its message stream and the ground truth of what was injected.

    A ``Simulation`` is single-use for its stream (weather is stateful); ``frame()`` always
    recomputes from scratch and can be called at any time.
    """

    def __init__(self, config: SimulationConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.engine = Engine(config, catalog)
        self.catalog = self.engine.catalog
        self.truth = GroundTruth()
        self._order = itertools.count()
        self._seq = {st.id: 0 for st in self.engine.stations}
        self.formats: dict[str, str] = {}
        self._hj212: dict[str, Hj212Encoder] = {}
        for st, model in zip(self.engine.stations, self.engine.models, strict=True):
            fmt = config.format
            if fmt == "mixed":
                fmt = "hj212" if st.type == StationType.NATIONAL else "json"
            self.formats[st.id] = fmt
            if fmt == "hj212":
                self._hj212[st.id] = Hj212Encoder(st, self.catalog, model.params, model.decimals)
        ids = list(self.catalog.stations)
        self._impostor = {s: ids[(ids.index(s) + 1) % len(ids)] for s in self._seq}

    # -- public --------------------------------------------------------------------------------
    def messages(self) -> Iterator[SimMessage]:
        """Every message of the replay run, in publication order."""
        for env in self.stream(self.engine.blocks()):
            yield env.msg

    def stream(self, blocks: Iterable[Block]) -> Iterator[Out]:
        """Envelopes (publication time + message) of ``blocks``, in publication order.

        Messages held back by faults (late back-fills) are carried into later blocks and
        flushed at the end.
        """
        pending: list[Out] = self.initial_status()
        for block in blocks:
            pending.extend(self.envelopes(block))
            pending.sort(key=lambda e: (e.key, e.order))
            horizon = float(block.timeline.t_end[-1]) + 0.5 * block.timeline.step_s
            cut = next((i for i, e in enumerate(pending) if e.key > horizon), len(pending))
            ready, pending = pending[:cut], pending[cut:]
            yield from ready
        yield from pending

    def initial_status(self) -> list[Out]:
        """Every station announces itself online (retained) at the start of the run."""
        if not self.config.status:
            return []
        t0 = self.config.start_utc.timestamp()
        return [self._status(st.id, "online", t0) for st in self.engine.stations]

    def final_status(self, t: float) -> list[Out]:
        """Offline announcements when a real-time run stops."""
        if not self.config.status:
            return []
        return [self._status(st.id, "offline", t) for st in self.engine.stations]

    def frame(self) -> pl.DataFrame:
        """The clean values of the run (see :func:`simulate_frame`)."""
        return simulate_frame(self.config, self.catalog)

    # -- per block -----------------------------------------------------------------------------
    def envelopes(self, block: Block) -> list[Out]:
        """All envelopes of one block (unsorted): readings, statuses, after faults."""
        out: list[Out] = []
        for sb in block.stations:
            out.extend(self._station_envelopes(block, sb))
        return out

    def _status(self, station: str, state: str, key: float) -> Out:
        payload = status_payload(state, format_ts(key, self.config.tz))
        msg = SimMessage(topic(station, "status"), payload, retain=True)
        return Out(key, next(self._order), msg)

    def _station_envelopes(self, block: Block, sb: StationBlock) -> list[Out]:
        cfg, tl, engine = self.config, block.timeline, self.engine
        sid = sb.station.id
        values = sb.values.copy()
        windows, flags = operations(engine, block, sb, values)
        t_end = tl.t_end
        for w in (w for w in windows if w.opens):
            self.truth.add(
                w.kind,
                sid,
                _utc(float(t_end[w.start])),
                params=len(w.params),
                messages=w.end - w.start,
                until=_utc(float(t_end[w.end - 1])).isoformat(),
            )
        faults = cfg.faults
        rng = engine.rng(block.index, Purpose.FAULTS, sb.index)
        hj212 = sid in self._hj212
        plan = MessagePlan()
        if faults.enabled:
            model = engine.models[[m.station.id for m in engine.models].index(sid)]
            inject_value_faults(
                values, sb.params, model.decimals, t_end, tl.step_s,
                station=sid, config=faults, catalog=self.catalog, rng=rng, truth=self.truth,
            )  # fmt: skip
            plan = plan_message_faults(
                tl.n, sb.params, t_end,
                hj212=hj212, station=sid, config=faults, catalog=self.catalog, rng=rng,
                truth=self.truth,
            )  # fmt: skip
        if hj212:
            steps = self._encode_hj212(sb, values, flags, t_end, plan, rng)
        else:
            steps = self._encode_json(sb, values, flags, t_end, plan, rng)
        extra: list[Out] = []
        if cfg.status:
            for w in windows:
                if w.opens:
                    key = float(t_end[w.start]) - 0.5 * tl.step_s
                    extra.append(self._status(sid, w.state, key))
                if w.closes:
                    key = float(t_end[w.end - 1]) + 0.25 * tl.step_s
                    extra.append(self._status(sid, "online", key))
        if faults.enabled:

            def make(state: str, key: float) -> Out | None:
                return self._status(sid, state, key) if cfg.status else None

            envs = apply_stream_faults(
                steps, t_end, tl.step_s,
                station=sid, config=faults, rng=rng, truth=self.truth, status=make,
                next_order=lambda: next(self._order),
            )  # fmt: skip
        else:
            envs = [env for group in steps for env in group]
        envs.extend(extra)
        return envs

    def _encode_json(
        self,
        sb: StationBlock,
        values: FloatArray,
        flags: np.ndarray,
        t_end: FloatArray,
        plan: MessagePlan,
        rng: np.random.Generator,
    ) -> list[list[Out]]:
        cfg = self.config
        sid = sb.station.id
        cols = [j for j in range(len(sb.params)) if not np.isnan(values[:, j]).all()]
        codes = [sb.params[j] for j in cols]
        rows = values[:, cols].tolist()
        flagged = set(np.nonzero(flags[:, cols].any(axis=1))[0].tolist())
        times = t_end.tolist()
        the_topic = topic(sid, "readings")
        period = cfg.period_s
        steps: list[list[Out]] = []
        seq = self._seq[sid]
        for k, t in enumerate(times):
            seq += 1
            readings = dict(zip(codes, rows[k], strict=True))
            flag_map = None
            if k in flagged:
                row = flags[k, cols]
                flag_map = {codes[i]: FLAG_LETTERS[f] for i, f in enumerate(row.tolist()) if f}
            units = None
            if k in plan.units:
                j, unit, scale, offset = plan.units[k]
                code = sb.params[j]
                readings[code] = float(f"{(readings[code] - offset) / scale:.10g}")
                units = {code: unit}
            ts = format_ts(t + plan.skew_s.get(k, 0.0), cfg.tz)
            variant = plan.malformed.get(k)
            name = self._impostor[sid] if variant == "wrong_station" else sid
            payload = reading_payload(name, ts, period, seq, readings, units, flag_map)
            if variant is not None:
                payload = corrupt(payload, variant, rng)
            env = Out(t, next(self._order), SimMessage(the_topic, payload), k, t)
            steps.append([env])
        self._seq[sid] = seq
        return steps

    def _encode_hj212(
        self,
        sb: StationBlock,
        values: FloatArray,
        flags: np.ndarray,
        t_end: FloatArray,
        plan: MessagePlan,
        rng: np.random.Generator,
    ) -> list[list[Out]]:
        cfg = self.config
        sid = sb.station.id
        encoder = self._hj212[sid]
        letters = np.asarray(FLAG_LETTERS)[flags].tolist()
        rows = values.tolist()
        the_topic = topic(sid, "hj212")
        impostor_mn = self.catalog.station(self._impostor[sid]).mn
        steps: list[list[Out]] = []
        shifted = [t + plan.skew_s.get(k, 0.0) for k, t in enumerate(t_end.tolist())]
        starts = local_stamps([t - cfg.period_s for t in shifted], cfg.tz)
        sent = local_stamps(shifted, cfg.tz)
        for k, t in enumerate(t_end.tolist()):
            variant = plan.malformed.get(k)
            frames = encoder.packets(
                t + plan.skew_s.get(k, 0.0),
                cfg.period_s,
                rows[k],
                letters[k],
                cfg.tz,
                mn=impostor_mn if variant == "wrong_mn" else None,
                stamps=(starts[k], sent[k]),
            )
            if variant is not None:
                frames[0] = corrupt(frames[0], variant, rng)
            steps.append(
                [Out(t, next(self._order), SimMessage(the_topic, f), k, t) for f in frames]
            )
        return steps


def operations(
    engine: Engine, block: Block, sb: StationBlock, values: FloatArray
) -> tuple[list[Window], np.ndarray]:
    """Plan and apply the station's operations windows (edits ``values``; returns flags)."""
    if not engine.config.operations:
        return [], np.zeros(values.shape, dtype=np.int8)
    windows = plan_windows(
        block.timeline,
        sb.params,
        engine.catalog,
        lambda day: engine.rng(day, Purpose.OPERATIONS, sb.index),
    )
    rng = engine.rng(block.index, Purpose.CALIBRATION_GAS, sb.index)
    flags = apply_windows(values, windows, sb.params, engine.catalog, rng)
    return windows, flags


def _utc(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


def iter_messages(
    config: SimulationConfig, *, truth: GroundTruth | None = None, catalog: Catalog | None = None
) -> Iterator[SimMessage]:
    """Every message of a run, in publication order, without a broker.

    Pass a :class:`GroundTruth` to collect the injected faults (filled as the iterator runs).
    """
    sim = Simulation(config, catalog)
    if truth is not None:
        sim.truth = truth
    return sim.messages()


def simulate_frame(config: SimulationConfig, catalog: Catalog | None = None) -> pl.DataFrame:
    """The run's clean values: ``station, param, ts`` (UTC, period end), ``value``, ``flag``.

    Values are exactly what a fault-free station reports (instrument noise included,
    rounded, canonical units); during calibration windows ``value`` is still the ambient
    value, while the messages carry zero/span gas, and ``flag`` says ``C`` or ``M``.
    """
    import polars as pl

    engine = Engine(config, catalog)
    parts: list[pl.DataFrame] = []
    flag_names = dict(enumerate(FLAG_LETTERS))
    for block in engine.blocks():
        n = block.timeline.n
        ts = (block.timeline.t_end * 1e6).round().astype(np.int64)
        for sb in block.stations:
            reported = sb.values.copy()
            _, flags = operations(engine, block, sb, reported)
            p = len(sb.params)
            value = sb.values.reshape(-1)
            keep = ~np.isnan(value)
            part = pl.DataFrame(
                {
                    "param": np.tile(np.arange(p, dtype=np.int32), n)[keep],
                    "ts": np.repeat(ts, p)[keep],
                    "value": value[keep],
                    "flag": flags.reshape(-1)[keep],
                }
            )
            parts.append(
                part.select(
                    pl.lit(sb.station.id).alias("station"),
                    pl.col("param").replace_strict(
                        dict(enumerate(sb.params)), return_dtype=pl.String
                    ),
                    "ts",
                    "value",
                    pl.col("flag").replace_strict(flag_names, return_dtype=pl.String),
                )
            )
    schema = {
        "station": pl.String, "param": pl.String, "ts": pl.Int64, "value": pl.Float64,
        "flag": pl.String,
    }  # fmt: skip
    frame = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
