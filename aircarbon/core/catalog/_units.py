"""Exact unit conversions into a parameter's canonical unit.

Conversions are reduced to one affine map ``canonical = value * scale + offset`` per
(parameter, unit) pair and cached, so the ingest hot path and vectorised transforms pay
a dictionary lookup, not a unit-algebra evaluation, per value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aircarbon.core.errors import UnknownUnitError

__all__ = ["Conversion", "UnitDef", "UnitRegistry"]

_MASS = "mass_concentration"
_MIXING = "mixing_ratio"


@dataclass(frozen=True, slots=True)
class UnitDef:
    """A unit as ``factor`` times its dimension's base unit, plus ``offset`` (affine scales)."""

    name: str
    dimension: str
    factor: float
    offset: float = 0.0


@dataclass(frozen=True, slots=True)
class Conversion:
    """``canonical = value * scale + offset``; the identity for the canonical unit."""

    scale: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset

    @property
    def is_identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0


IDENTITY = Conversion(1.0, 0.0)


class UnitRegistry:
    """Units, their aliases, and the molar volume of the reference state."""

    def __init__(
        self,
        units: Mapping[str, UnitDef],
        aliases: Mapping[str, str],
        molar_volume_l: float,
    ) -> None:
        self._units = dict(units)
        self._aliases = dict(aliases)
        self.molar_volume_l = molar_volume_l
        """Ideal-gas molar volume (L/mol) at the reference state: ppb -> µg/m³ is × M / Vm."""

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._units)

    def normalise(self, unit: str) -> str:
        """The canonical spelling of ``unit``; raises UnknownUnitError naming it."""
        name = unit.strip()
        name = self._aliases.get(name, name)
        if name not in self._units:
            raise UnknownUnitError(unit)
        return name

    def get(self, unit: str) -> UnitDef:
        return self._units[self.normalise(unit)]

    def conversion(
        self, from_unit: str, to_unit: str, *, molar_mass: float | None, param: str | None = None
    ) -> Conversion:
        """The affine map from ``from_unit`` to ``to_unit`` for a substance of ``molar_mass``."""
        try:
            src = self.get(from_unit)
        except UnknownUnitError as exc:
            raise UnknownUnitError(from_unit, param) from exc
        dst = self.get(to_unit)
        if src.dimension == dst.dimension:
            return Conversion(src.factor / dst.factor, (src.offset - dst.offset) / dst.factor)
        pair = (src.dimension, dst.dimension)
        if pair in {(_MIXING, _MASS), (_MASS, _MIXING)}:
            if molar_mass is None:
                raise UnknownUnitError(
                    from_unit, param, why="no molar mass to convert mixing ratio and mass"
                )
            # base units: ppb and µg/m³; µg/m³ = ppb × M / Vm at the reference state
            per_ppb = molar_mass / self.molar_volume_l
            ratio = per_ppb if src.dimension == _MIXING else 1.0 / per_ppb
            return Conversion(src.factor * ratio / dst.factor)
        raise UnknownUnitError(
            from_unit, param, why=f"{src.dimension} cannot convert to {dst.dimension} ({to_unit})"
        )
