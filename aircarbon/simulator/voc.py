"""VOC species at a station: background, vehicle and coal profiles, OVOC production, plumes.

The species profiles live in ``data/voc_profiles.toml`` so that the mix can be tuned without
code. All species of a station are computed together as one (time x species) matrix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aircarbon.core.catalog import Catalog
from aircarbon.simulator import emissions as em
from aircarbon.simulator.chemistry import MOLAR_VOLUME_L, aged, oh_concentration
from aircarbon.simulator.noise import ou_matrix
from aircarbon.simulator.timebase import FloatArray, Timeline
from aircarbon.simulator.weather import Weather

__all__ = ["DEFAULT_VOC_FILE", "VocProfile", "VocProfiles"]

DEFAULT_VOC_FILE = Path(__file__).parent / "data" / "voc_profiles.toml"
_FIELDS = ("bg", "vehicle", "coal", "secondary", "biogenic")
#: Typical transport time from local sources to the analyser (OH ageing on the way).
_LOCAL_AGE_S = 1800.0


@dataclass(frozen=True, slots=True)
class VocProfile:
    """ppbv contributions of one species per unit of each activity."""

    bg: float = 0.0
    vehicle: float = 0.0
    coal: float = 0.0
    secondary: float = 0.0
    biogenic: float = 0.0


class VocProfiles:
    """The species table, with group defaults, and the matrix model over it."""

    def __init__(self, catalog: Catalog, path: Path | None = None) -> None:
        with (path or DEFAULT_VOC_FILE).open("rb") as fh:
            doc = tomllib.load(fh)
        self.catalog = catalog
        self._defaults: Mapping[str, Mapping[str, float]] = doc.get("defaults", {})
        self._species: Mapping[str, Mapping[str, float]] = doc.get("species", {})

    def profile(self, code: str) -> VocProfile:
        group = self.catalog.parameter(code).voc_group or ""
        raw = dict(self._defaults.get(group, {}))
        raw.update(self._species.get(code, {}))
        unknown = set(raw) - set(_FIELDS)
        if unknown:
            raise ValueError(f"voc_profiles.toml: {code}: unknown fields {sorted(unknown)}")
        return VocProfile(**{k: float(v) for k, v in raw.items()})

    def series(
        self,
        codes: Sequence[str],
        *,
        tl: Timeline,
        wx: Weather,
        traffic: FloatArray,
        heat: FloatArray,
        local: FloatArray,
        photo: FloatArray,
        plumes: Mapping[str, FloatArray],
        rng: np.random.Generator,
    ) -> dict[str, FloatArray]:
        """ppbv of each species of ``codes`` over the block (true values, no instrument noise)."""
        n, m = tl.n, len(codes)
        profiles = [self.profile(c) for c in codes]
        params = [self.catalog.parameter(c) for c in codes]

        def column(field: str) -> FloatArray:
            return np.array([getattr(p, field) for p in profiles])[None, :]

        koh = np.array([p.koh or 0.0 for p in params])[None, :]
        molar = np.array([p.molar_mass or 100.0 for p in params])[None, :]
        oh = oh_concentration(wx.sun, tl.winter)[:, None]
        survive = aged(1.0, oh * koh, _LOCAL_AGE_S) if m else np.ones((n, 0))
        long_lived = 1.0 + 0.4 * np.clip(tl.winter, 0.0, None)[:, None]
        bio = em.biogenic(wx.temp, wx.sun, em.leaf_on(tl))[:, None]
        vent = local[:, None]
        mix = (
            column("bg") * long_lived
            + (column("vehicle") * traffic[:, None] + column("coal") * heat[:, None])
            * vent
            * survive
            + column("secondary") * photo[:, None]
            + column("biogenic") * bio * np.sqrt(vent)
        )
        plume = np.zeros((n, m))
        for j, code in enumerate(codes):
            contrib = plumes.get(code)
            if contrib is not None:
                plume[:, j] = contrib
        mix = mix + plume * MOLAR_VOLUME_L / molar * survive
        mix = mix * np.exp(ou_matrix(rng, n, tl.step_s, 1200.0, np.full(m, 0.08)))
        return {code: mix[:, j] for j, code in enumerate(codes)}
