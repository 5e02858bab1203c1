"""The one-sort hour windows flag every hour exactly as the repeated windows do.

:func:`transforms.chain.qc_hours` QCs each row once and works out per window only what the
window's cut changes (:mod:`transforms.qc_windows`); :func:`transforms.chain.qc_hours_repeated`
repeats the context rows once per window that sees them (the window a series key). Random
series with gaps, spikes, flat runs, nulls, hourly and minute data, over one to four hours,
with small and large Hampel windows, must give the same frame bit for bit; and the fast path
must actually have run (not its fallback).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import load_catalog
from tests.transforms.frames import T0
from transforms import qc_windows
from transforms.chain import QC_CONTEXT, qc_hours, qc_hours_repeated
from transforms.qc import QcConfig
from transforms.qc_windows import qc_hour_windows

CATALOG = load_catalog()
PARAMS = ["pm25", "pm10", "o3", "wd", "temp", "co2", "so4", "nosuch"]
_HOUR = dt.timedelta(hours=1)
_SCHEMA = pl.Schema(
    {
        "station": pl.String(),
        "param": pl.String(),
        "ts": pl.Datetime("us", "UTC"),
        "value": pl.Float64(),
        "flag": pl.String(),
        "period_s": pl.Int32(),
        "source": pl.String(),
        "received_at": pl.Datetime("us", "UTC"),
        "revisions": pl.UInt32(),
    }
)

# levels with repeats (flat runs), spikes, out-of-range and negative values, nulls
values = st.one_of(
    st.sampled_from([40.0, 40.0, 40.0, 41.0, 42.5, 0.0, -0.0]),
    st.floats(-50, 1500, allow_nan=False),
    st.none(),
)


@st.composite
def series_rows(draw: st.DrawFn, station: str, param: str) -> list[tuple[object, ...]]:
    """One series: minute, five-minute or hourly readings from 90 min before the first hour
    to past the last, some minutes missing, runs of one value, a few wild values."""
    step = draw(st.sampled_from([1, 1, 1, 5, 60]))
    period = draw(st.sampled_from([60, 60, step * 60, 0]))
    start = draw(st.integers(-100, 30))
    n = draw(st.integers(0, 330 // step))
    rows: list[tuple[object, ...]] = []
    i = 0
    while i < n:
        if draw(st.integers(0, 9)) == 0:  # a gap
            i += draw(st.integers(1, 40))
            continue
        repeat = draw(st.sampled_from([1, 1, 1, 3, 20]))  # a run of one value
        value = draw(values)
        flag = draw(st.sampled_from("NNNNNMT"))
        for _ in range(repeat):
            ts = T0 + dt.timedelta(minutes=start + i * step)
            rows.append((station, param, ts, value, flag, period, "json", ts, 0))
            i += 1
    return rows


@st.composite
def networks(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, list[dt.datetime]]:
    rows: list[tuple[object, ...]] = []
    stations = [f"S{i}" for i in range(draw(st.integers(1, 3)))]
    for station in stations:
        for param in draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=4, unique=True)):
            rows += draw(series_rows(station, param))
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    first = T0 + _HOUR * draw(st.integers(0, 1))
    ends = [first + _HOUR * (k + 1) for k in range(draw(st.integers(1, 4)))]
    at = T0 + dt.timedelta(minutes=draw(st.integers(-60, 240)))
    status = pl.DataFrame(
        {
            "station": [stations[0], stations[0]],
            "state": ["maintenance", "online"],
            "ts": [at, at + dt.timedelta(minutes=20)],
            "received_at": [T0, T0],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")},
    )
    seed = draw(st.integers(0, 99))
    return frame.sample(fraction=1.0, shuffle=True, seed=seed), status, ends


configs = st.builds(
    QcConfig,
    spike_window=st.sampled_from([15, 15, 5, 7, 9]),
    spike_k=st.sampled_from([4.0, 1.0]),
    spike_floor_noise=st.sampled_from([5.0, 0.0]),
    spike_floor_span=st.sampled_from([0.02, 0.0]),
    flatline_minutes=st.sampled_from([60.0, 10.0]),
)


def _check(
    case: tuple[pl.DataFrame, pl.DataFrame | None, list[dt.datetime]], cfg: QcConfig
) -> None:
    frame, status, ends = case
    fast = qc_hour_windows(
        frame,
        CATALOG,
        first_start=ends[0] - _HOUR,
        hours=len(ends),
        context=QC_CONTEXT,
        status=status,
        config=cfg,
    )
    slow = qc_hours_repeated(frame, CATALOG, ends, status=status, config=cfg)
    if fast is None:  # only when fewer than two rows, or no row of the hours, are in view
        first_start = ends[0] - _HOUR
        in_view = frame.filter(pl.col("ts") > first_start - QC_CONTEXT, pl.col("ts") <= ends[-1])
        assert in_view.height < 2 or in_view.filter(pl.col("ts") > first_start).is_empty()
        return
    assert_frame_equal(fast, slow, check_exact=True)
    assert_frame_equal(qc_hours(frame, CATALOG, ends, status=status, config=cfg), slow)


@settings(max_examples=150, deadline=None)
@given(networks(), configs)
def test_one_sort_windows_equal_the_repeated_windows(
    case: tuple[pl.DataFrame, pl.DataFrame, list[dt.datetime]], cfg: QcConfig
) -> None:
    _check(case, cfg)


@settings(max_examples=40, deadline=None)
@given(networks(), configs)
def test_one_sort_windows_in_small_chunks(
    case: tuple[pl.DataFrame, pl.DataFrame, list[dt.datetime]],
    cfg: QcConfig,
) -> None:
    """The explicit medians and MADs are worked out in chunks: chunks of one or two rows
    (rather than tens of thousands) give the same flags."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(qc_windows, "_CHUNK", 1)
        _check(case, cfg)


def test_a_spike_in_the_context_is_seen_as_the_window_sees_it() -> None:
    """The step of an hour's first value is measured from the last context value that is not
    a spike *in this hour's window*: the context row's own hour (whose window ends right after
    it) may judge it differently. Spikes on the last minutes of an hour, and a step after."""
    base = [40.0 + 0.5 * (i % 3) for i in range(150)]
    base[57:60] = [400.0, 380.0, 390.0]  # the last minutes of the first hour
    base[60] = 200.0  # the next hour's first value
    rows = [
        ("S", "pm25", T0 + dt.timedelta(minutes=i + 1), v, "N", 60, "json", T0, 0)
        for i, v in enumerate(base)
    ]
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    ends = [T0 + _HOUR, T0 + 2 * _HOUR]
    _check((frame, None, ends), QcConfig())
    _check((frame, None, ends), QcConfig(spike_window=5))
