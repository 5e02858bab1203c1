"""The simulation engine: weather, plumes and station models, block after block.

Generation runs in blocks (one local day in replay, a few minutes in real time) so that the
numpy work is vectorised over thousands of steps while state (synoptic weather, the boundary
layer, regional ozone) carries over from one block to the next. Every random stream is
derived from ``(seed, block, purpose, station)`` with :class:`numpy.random.SeedSequence`, so
a station's series does not depend on which other stations are simulated, and faults never
change the clean values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from aircarbon.core.catalog import Catalog, Station, load_catalog
from aircarbon.simulator import emissions as em
from aircarbon.simulator.chemistry import OzoneModel
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.model import StationModel
from aircarbon.simulator.sources import Source, load_sources, plume_per_unit, to_xy
from aircarbon.simulator.timebase import FloatArray, Timeline, make_timeline
from aircarbon.simulator.voc import VocProfiles
from aircarbon.simulator.weather import Weather, WeatherModel

__all__ = ["Block", "Engine", "Purpose", "StationBlock"]


class Purpose(IntEnum):
    """Independent random streams; adding a consumer to one never shifts another."""

    WEATHER = 0
    STATION = 1
    OPERATIONS = 2
    FAULTS = 3
    SITE = 4
    MET = 5
    CALIBRATION_GAS = 6


@dataclass(frozen=True, slots=True)
class StationBlock:
    """One station's clean reported values over a block (n x params, canonical units)."""

    station: Station
    index: int
    """Position of the station in the catalog (stable across station subsets)."""
    params: tuple[str, ...]
    values: FloatArray
    weather: Weather


@dataclass(frozen=True, slots=True)
class Block:
    index: int
    first_step: int
    timeline: Timeline
    stations: tuple[StationBlock, ...]


class Engine:
    """Generates clean station data for a :class:`SimulationConfig`."""

    def __init__(self, config: SimulationConfig, catalog: Catalog | None = None) -> None:
        self.config = config
        self.catalog = catalog or load_catalog()
        everyone = list(self.catalog.stations)
        wanted = config.stations if config.stations is not None else tuple(everyone)
        unknown = [s for s in wanted if s not in self.catalog.stations]
        if unknown:
            raise ValueError(f"unknown station(s): {', '.join(unknown)}")
        self.stations: tuple[Station, ...] = tuple(self.catalog.station(s) for s in wanted)
        self.station_index = {s: everyone.index(s) for s in wanted}
        lat, lon = self.catalog.network.center
        self.origin = (lat, lon)
        self.weather = WeatherModel(
            lat=lat, lon=lon, wind_dir=config.wind_dir, wind_speed=config.wind_speed
        )
        self.ozone = OzoneModel()
        self.sources: tuple[Source, ...] = load_sources(config.sources)
        self._release = [s.release_points(self.origin) for s in self.sources]
        voc = VocProfiles(self.catalog)
        self.models = [
            StationModel(
                st, self.catalog, voc, self.rng(0, Purpose.SITE, self.station_index[st.id])
            )
            for st in self.stations
        ]
        self._xy: dict[str, tuple[float, float]] = {}
        for st in self.stations:
            x, y = to_xy(st.lat, st.lon, self.origin)
            self._xy[st.id] = (float(x), float(y))

    def rng(self, block: int, purpose: Purpose, station: int = 0) -> np.random.Generator:
        """The random stream of ``purpose`` for ``station`` in ``block``."""
        seq = np.random.SeedSequence(
            entropy=self.config.seed, spawn_key=(block, int(purpose), station)
        )
        return np.random.Generator(np.random.PCG64(seq))

    @property
    def steps_per_block(self) -> int:
        """Replay blocks are one day long (at least one step)."""
        return max(1, round(86400.0 / self.config.step_s))

    def blocks(self, per: int | None = None) -> Iterator[Block]:
        """Every block of the configured run, in time order (``per`` steps each)."""
        total = self.config.n_steps
        per = per or self.steps_per_block
        for index, first in enumerate(range(0, total, per)):
            yield self.block(index, first, min(per, total - first))

    def block(self, index: int, first_step: int, n: int) -> Block:
        """Block ``index``: steps ``first_step .. first_step + n - 1``. Call in order."""
        cfg = self.config
        tl = make_timeline(cfg.start_utc, first_step, n, cfg.step_s, cfg.period_s, cfg.tz)
        city = self._city(tl, index)
        o3 = self.ozone.regional(tl, city)
        out: list[StationBlock] = []
        for model in self.models:
            st = model.station
            idx = self.station_index[st.id]
            wx = self.weather.at_station(city, tl, model.site, self.rng(index, Purpose.MET, idx))
            plumes = self._plumes(tl, st, wx)
            values = model.run(tl, wx, o3, plumes, self.rng(index, Purpose.STATION, idx))
            out.append(StationBlock(st, idx, model.params, values, wx))
        return Block(index, first_step, tl, tuple(out))

    def _city(self, tl: Timeline, index: int) -> Weather:
        """The city-scale weather of block ``index`` (subclasses may modify it)."""
        return self.weather.city(tl, self.rng(index, Purpose.WEATHER))

    def _plumes(self, tl: Timeline, station: Station, wx: Weather) -> dict[str, FloatArray]:
        """Source contributions at ``station`` in µg/m³ by parameter code."""
        total: dict[str, FloatArray] = {}
        heating_on = tl.heating_season()
        for source, (sx, sy, weight) in zip(self.sources, self._release, strict=True):
            per_unit = plume_per_unit(
                sx,
                sy,
                self._xy[station.id],
                wd=wx.wd,
                ws=wx.ws,
                blh=wx.blh,
                sun=wx.sun,
                height_m=source.height_m,
            )
            if not per_unit.any():
                continue
            activity = em.schedule_profile(source.schedule, tl)
            activity = activity * (1.0 + (source.heating_factor - 1.0) * heating_on)
            factor = per_unit * activity * weight * 1e6  # g/s x s/m3 -> µg/m³
            for code, rate in source.emissions.items():
                add = rate * factor
                total[code] = total[code] + add if code in total else add
        return total
