"""Builders of small, exact frames for transform tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from aircarbon.core.contracts import HOURLY

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 local


def readings(
    values: Sequence[float | None],
    *,
    param: str = "pm25",
    station: str = "SY-TY-01",
    start: dt.datetime = T0,
    step: dt.timedelta = dt.timedelta(minutes=1),
    flags: Sequence[str] | None = None,
    period_s: int = 60,
) -> pl.DataFrame:
    """De-duplicated readings (the input of apply_qc); ``ts`` ends each period."""
    rows = [(start + step * (i + 1), v) for i, v in enumerate(values) if v is not None]
    n = len(rows)
    return pl.DataFrame(
        {
            "station": [station] * n,
            "param": [param] * n,
            "ts": [t for t, _ in rows],
            "value": [float(v) for _, v in rows],
            "flag": list(flags) if flags is not None else ["N"] * n,
            "period_s": [period_s] * n,
            "source": ["json"] * n,
            "received_at": [t for t, _ in rows],
            "revisions": [0] * n,
        },
        schema={
            "station": pl.String,
            "param": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "flag": pl.String,
            "period_s": pl.Int32,
            "source": pl.String,
            "received_at": pl.Datetime("us", "UTC"),
            "revisions": pl.UInt32,
        },
    )


def hourly(
    values: Sequence[float | None],
    *,
    param: str = "o3",
    station: str = "SY-TY-01",
    first_end: dt.datetime = T0 + dt.timedelta(hours=1),
) -> pl.DataFrame:
    """Hourly means ending at first_end, first_end+1h, …; None = an invalid hour."""
    n = len(values)
    return pl.DataFrame(
        {
            "station": [station] * n,
            "param": [param] * n,
            "ts": [first_end + dt.timedelta(hours=i) for i in range(n)],
            "value": list(values),
            "n": [60 if v is not None else 0 for v in values],
            "minutes": [60.0 if v is not None else 0.0 for v in values],
            "valid": [v is not None for v in values],
        },
        schema=HOURLY,
    )
