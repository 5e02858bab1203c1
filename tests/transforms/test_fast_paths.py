"""The fast paths give what the straightforward transforms gave, and chunking changes nothing."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import load_catalog
from tests.transforms.frames import T0, readings
from tests.transforms.reference import (
    apply_qc_reference,
    deduplicate_reference,
    hourly_means_reference,
    qc_per_hour_reference,
)
from transforms.aggregate import daily_stats, hourly_means, moving_averages
from transforms.aqi import aqi_daily, aqi_hourly
from transforms.batch import process_partitions
from transforms.chain import QC_CONTEXT, clean_hours, qc_hours
from transforms.qc import apply_qc
from transforms.raw import deduplicate

CATALOG = load_catalog()
KEYS = ["station", "param", "ts"]
PARAMS = ["pm25", "pm10", "o3", "wd", "temp", "co2", "so4"]

# a value: mostly a level with small noise (runs of repeats included), sometimes wild
values = st.one_of(
    st.none(),
    st.sampled_from([40.0, 41.0, 42.5]),
    st.floats(-50, 1500, allow_nan=False),
)


@st.composite
def networks(draw: st.DrawFn, max_minutes: int = 70) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = []
    stations = [f"S{i}" for i in range(draw(st.integers(1, 3)))]
    for station in stations:
        for param in draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=4, unique=True)):
            series = draw(st.lists(values, min_size=0, max_size=max_minutes))
            flags = draw(st.lists(st.sampled_from("NNNNMT"), min_size=len(series),
                                  max_size=len(series)))  # fmt: skip
            frame = readings(series, param=param, station=station)
            kept = [f for v, f in zip(series, flags, strict=True) if v is not None]
            frames.append(frame.with_columns(pl.Series("flag", kept, dtype=pl.String)))
    start = draw(st.integers(0, max_minutes - 10))
    status = pl.DataFrame(
        {
            "station": [stations[0], stations[0]],
            "state": ["maintenance", "online"],
            "ts": [T0 + dt.timedelta(minutes=start), T0 + dt.timedelta(minutes=start + 15)],
            "received_at": [T0, T0],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC"), "received_at": pl.Datetime("us", "UTC")},
    )
    network = pl.concat(frames)
    return network.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 99))), status


@settings(max_examples=60, deadline=None)
@given(networks())
def test_apply_qc_equals_the_reference(case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, status = case
    fast = apply_qc(frame, CATALOG, status=status)
    slow = apply_qc_reference(frame, CATALOG, status=status).sort(KEYS)
    assert_frame_equal(fast, slow, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(networks(), st.floats(0, 1), st.integers(0, 99))
def test_deduplicate_equals_the_reference(
    case: tuple[pl.DataFrame, pl.DataFrame], share: float, seed: int
) -> None:
    frame = case[0].drop("revisions")
    again = frame.sample(fraction=share, seed=seed).with_columns(
        pl.col("value") + (pl.int_range(pl.len()) % 2).cast(pl.Float64),  # half revised
        pl.col("received_at") + pl.duration(seconds=5),
    )
    raw = pl.concat([frame, again]).lazy()
    fast = deduplicate(raw).collect().sort(KEYS)
    slow = deduplicate_reference(raw).collect().sort(KEYS)
    assert_frame_equal(fast, slow, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(networks())
def test_hourly_means_equal_the_reference(case: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    clean = apply_qc(case[0], CATALOG)
    fast = hourly_means(clean, CATALOG)
    slow = hourly_means_reference(clean, CATALOG)
    # the plain mean is now a grouped mean rather than a branch of when/then: the same
    # values, summed by a different kernel (at most an ulp or so apart)
    assert_frame_equal(fast, slow, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


@st.composite
def hours(draw: st.DrawFn) -> list[dt.datetime]:
    """One to three consecutive hour ends over the networks' first 200 minutes."""
    first = T0 + dt.timedelta(hours=draw(st.integers(1, 2)))
    return [first + dt.timedelta(hours=i) for i in range(draw(st.integers(1, 3)))]


def _scanned(frame: pl.DataFrame, ends: list[dt.datetime]) -> pl.DataFrame:
    """What the hourly step's raw scan gives for the hours: their context half-hour on."""
    start = ends[0] - dt.timedelta(hours=1) - QC_CONTEXT
    return frame.filter((pl.col("ts") > start) & (pl.col("ts") <= ends[-1]))


@settings(max_examples=40, deadline=None)
@given(networks(max_minutes=200), hours())
def test_windowed_qc_equals_the_reference(
    case: tuple[pl.DataFrame, pl.DataFrame], ends: list[dt.datetime]
) -> None:
    """Each hour QC'd on its own window: the window as a series key (one sort, no copies of
    the station ids) flags exactly what the station-id suffixes of the old hourly step did."""
    frame, status = case
    frame = _scanned(frame, ends)
    fast = qc_hours(frame, CATALOG, ends, status=status)
    slow = qc_per_hour_reference(frame.lazy(), CATALOG, status.lazy(), ends, QC_CONTEXT)
    assert_frame_equal(fast, slow, check_exact=True)


@settings(max_examples=15, deadline=None)
@given(networks(max_minutes=200), hours(), st.integers(1, 3))
def test_chunked_chain_equals_the_whole(
    case: tuple[pl.DataFrame, pl.DataFrame], ends: list[dt.datetime], group_size: int
) -> None:
    frame, status = case
    raw = _scanned(frame, ends).drop("revisions")
    raw = raw.with_columns(pl.lit(1, dtype=pl.Int64).alias("seq"))
    assume(raw.height > 0)
    groups = list(clean_hours(raw, CATALOG, ends, status=status, group_size=group_size))
    clean = qc_hours(deduplicate(raw.lazy()), CATALOG, ends, status=status)
    assert_frame_equal(pl.concat([g.readings for g in groups]), clean, check_exact=True)
    hourly = hourly_means(clean, CATALOG)
    assert_frame_equal(pl.concat([g.hourly for g in groups]), hourly, check_exact=True)
    seen: list[pl.DataFrame] = []
    out = process_partitions(
        raw.lazy(), CATALOG, ends=ends, status=status, on_readings=seen.append,
        group_size=group_size,
    )  # fmt: skip
    assert_frame_equal(pl.concat(seen), clean, check_exact=True)
    hourly_all = pl.concat([hourly, moving_averages(hourly, CATALOG)]).sort(KEYS)
    daily = daily_stats(hourly_all, CATALOG)
    assert_frame_equal(out.hourly, hourly_all, check_exact=True)
    assert_frame_equal(out.daily, daily, check_exact=True)
    assert_frame_equal(out.aqi_hourly, aqi_hourly(hourly_all, CATALOG), check_exact=True)
    assert_frame_equal(out.aqi_daily, aqi_daily(daily, CATALOG), check_exact=True)
    assert out.readings == clean.height
