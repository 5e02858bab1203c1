"""Point and line sources (``data/sources.toml``) and what their plumes add at a station.

The plume term is a ground-level Gaussian plume: concentration per unit emission
``exp(-y²/2σy²) exp(-H²/2σz²) / (π u σy σz)`` where ``x`` and ``y`` are the downwind and
crosswind distances of the station from the source, ``σy = x tan σθ`` with an angular spread
σθ of 15-20° (wider in light, meandering wind), ``σz`` from urban dispersion curves (smaller
at night, larger under convection), capped by the boundary-layer height, and ``u`` the wind
speed. It is large only when the wind blows from the source towards the station, decays with
distance and varies inversely with wind speed: the signatures source apportionment looks for.
A line source (a road) is a row of point sources 250 m apart.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from aircarbon.simulator.timebase import FloatArray

__all__ = ["DEFAULT_SOURCES_FILE", "Source", "load_sources", "plume_per_unit", "to_xy"]

DEFAULT_SOURCES_FILE = Path(__file__).parent / "data" / "sources.toml"
SCHEDULES = ("continuous", "traffic", "workday")
_SEGMENT_M = 250.0


def to_xy(lat: float | FloatArray, lon: float | FloatArray, origin: tuple[float, float]) -> Any:
    """Local east/north metres from ``origin`` (an equirectangular map, fine over a city)."""
    lat0, lon0 = origin
    x = (np.asarray(lon) - lon0) * 111320.0 * math.cos(math.radians(lat0))
    y = (np.asarray(lat) - lat0) * 110540.0
    return x, y


@dataclass(frozen=True, slots=True)
class Source:
    """One emitter: where it is, how high it releases, when it runs, what it emits."""

    id: str
    name: str
    kind: str
    points: tuple[tuple[float, float], ...]
    """(lat, lon): one for a point source, the polyline vertices for a line source."""
    height_m: float
    schedule: str
    heating_factor: float
    emissions: Mapping[str, float]
    """g/s (point) or g/s per km (line), by parameter code."""

    def release_points(self, origin: tuple[float, float]) -> tuple[FloatArray, FloatArray, float]:
        """East/north coordinates of the (sub-)sources and the weight of each (km or 1)."""
        lats = np.array([p[0] for p in self.points])
        lons = np.array([p[1] for p in self.points])
        x, y = to_xy(lats, lons, origin)
        if self.kind == "point":
            return np.asarray(x[:1], float), np.asarray(y[:1], float), 1.0
        xs: list[float] = []
        ys: list[float] = []
        for i in range(len(self.points) - 1):
            length = math.hypot(x[i + 1] - x[i], y[i + 1] - y[i])
            k = max(1, round(length / _SEGMENT_M))
            f = (np.arange(k) + 0.5) / k
            xs.extend((x[i] + f * (x[i + 1] - x[i])).tolist())
            ys.extend((y[i] + f * (y[i + 1] - y[i])).tolist())
        return np.asarray(xs), np.asarray(ys), _SEGMENT_M / 1000.0


def _parse(raw: Mapping[str, Any], where: str) -> Source:
    kind = raw.get("kind", "point")
    if kind == "point":
        points: tuple[tuple[float, float], ...] = ((float(raw["lat"]), float(raw["lon"])),)
    elif kind == "line":
        points = tuple((float(p[0]), float(p[1])) for p in raw["points"])
        if len(points) < 2:
            raise ValueError(f"{where}: a line source needs at least two points")
    else:
        raise ValueError(f"{where}: kind must be point or line, not {kind!r}")
    schedule = raw.get("schedule", "continuous")
    if schedule not in SCHEDULES:
        raise ValueError(f"{where}: schedule must be one of {', '.join(SCHEDULES)}")
    return Source(
        id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        kind=kind,
        points=points,
        height_m=float(raw.get("height_m", 10.0)),
        schedule=schedule,
        heating_factor=float(raw.get("heating_factor", 1.0)),
        emissions={str(k): float(v) for k, v in raw.get("emissions", {}).items()},
    )


@lru_cache(maxsize=8)
def _load(path: Path) -> tuple[Source, ...]:
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    return tuple(_parse(raw, f"{path}: source {i}") for i, raw in enumerate(doc.get("source", [])))


def load_sources(ids: Sequence[str] | None = None, path: Path | None = None) -> tuple[Source, ...]:
    """The sources of ``path`` (default: the shipped file), optionally only ``ids``."""
    every = _load(path or DEFAULT_SOURCES_FILE)
    if ids is None:
        return every
    known = {s.id: s for s in every}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(known[i] for i in ids)


def plume_per_unit(
    src_x: FloatArray,
    src_y: FloatArray,
    station_xy: tuple[float, float],
    *,
    wd: FloatArray,
    ws: FloatArray,
    blh: FloatArray,
    sun: FloatArray,
    height_m: float,
) -> FloatArray:
    """Ground-level concentration at the station per unit emission of each release point.

    Returns s/m³ summed over the release points (multiply by g/s to get g/m³), one value per
    time step. ``wd`` is the direction the wind blows FROM, degrees.
    """
    to = np.deg2rad(wd + 180.0)[:, None]  # direction the plume travels
    ux, uy = np.sin(to), np.cos(to)
    rx = station_xy[0] - src_x[None, :]
    ry = station_xy[1] - src_y[None, :]
    x = rx * ux + ry * uy  # downwind distance
    y = rx * uy - ry * ux  # crosswind distance
    u = np.maximum(ws, 0.5)[:, None]
    sigma_theta = np.deg2rad(np.clip(15.0 + 5.0 / u, 15.0, 22.0))
    xd = np.maximum(x, 50.0)
    sigma_y = xd * np.tan(sigma_theta)
    stability = (0.55 + 0.9 * np.clip(sun, 0.0, 1.0))[:, None]
    sigma_z = np.minimum(0.14 * xd / np.sqrt(1.0 + 0.0003 * xd) * stability, blh[:, None])
    conc = (
        np.exp(-0.5 * (y / sigma_y) ** 2)
        * np.exp(-0.5 * (height_m / sigma_z) ** 2)
        / (math.pi * u * sigma_y * sigma_z)
    )
    conc = np.where(x > 0.0, conc, 0.0)
    out: FloatArray = conc.sum(axis=1)
    return out
