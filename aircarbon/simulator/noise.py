"""Coloured noise: Ornstein-Uhlenbeck processes, the building block of every random walk here.

Weather and emissions wander but return to a climatology: an OU process is the simplest
stochastic model with that property, and its exact discretisation
``x[k+1] = a x[k] + sigma sqrt(1 - a^2) e[k]`` with ``a = exp(-dt / tau)`` does not depend on
the step, so one-minute replay and sub-second real-time runs share the same statistics.
"""

from __future__ import annotations

import math

import numpy as np

from aircarbon.simulator.timebase import FloatArray

__all__ = ["ou", "ou_matrix"]


def ou(
    rng: np.random.Generator, n: int, dt: float, tau: float, sigma: float, x0: float | None = None
) -> FloatArray:
    """A scalar OU path of ``n`` steps (mean 0, stationary std ``sigma``, time scale ``tau``).

    ``x0`` continues a path from a previous block; None starts from the stationary law.
    """
    a = math.exp(-dt / tau)
    b = sigma * math.sqrt(max(0.0, 1.0 - a * a))
    eps = rng.standard_normal(n).tolist()
    prev = sigma * float(rng.standard_normal()) if x0 is None else x0
    out = [0.0] * n
    for k in range(n):
        prev = a * prev + b * eps[k]
        out[k] = prev
    return np.asarray(out, dtype=np.float64)


def ou_matrix(
    rng: np.random.Generator, n: int, dt: float, tau: float, sigma: FloatArray
) -> FloatArray:
    """``n`` x ``m`` independent OU paths (one column per series), stationary start.

    Loops over time with a vector over columns: m series cost little more than one.
    """
    m = int(sigma.shape[0])
    a = math.exp(-dt / tau)
    b = math.sqrt(max(0.0, 1.0 - a * a))
    if a < 1e-6:  # decorrelated within a step: plain white noise
        white: FloatArray = rng.standard_normal((n, m)) * sigma
        return white
    eps = rng.standard_normal((n, m))
    out = np.empty((n, m), dtype=np.float64)
    prev = rng.standard_normal(m)
    for k in range(n):
        prev = a * prev + b * eps[k]
        out[k] = prev
    out *= sigma
    return out
