"""The chain's sorted arrays (transforms/series_rows.py) and their helpers.

The chain sorts and de-duplicates the raw rows itself (one packed key per station group, the
deliveries of a reading side by side) instead of calling :func:`transforms.raw.deduplicate`:
these tests hold it to that function on re-delivered readings, check the fallbacks to the
frame path, the ordered thread map and the window extremes behind the spike screening.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import READINGS
from tests.transforms.frames import T0, readings
from tests.transforms.test_fast_paths import _scanned, hours, networks
from transforms.aggregate import hourly_means
from transforms.chain import clean_hours, ordered_map, qc_hours, small_pages
from transforms.qc_windows import _reach, _window_extreme
from transforms.raw import deduplicate
from transforms.series_rows import sort_raw, sort_rows

CATALOG = load_catalog()
KEYS = ["station", "param", "ts"]


def _redelivered(frame: pl.DataFrame, share: float, seed: int, shift_s: int = 5) -> pl.DataFrame:
    """Raw rows: ``frame``'s, plus a share of them delivered again later (half revised),
    appended at the end as a collector restart does (out of time order)."""
    raw = frame.drop("revisions")
    again = raw.sample(fraction=share, seed=seed).with_columns(
        pl.col("value") + (pl.int_range(pl.len()) % 2).cast(pl.Float64),
        pl.col("received_at") + pl.duration(seconds=shift_s),
    )
    return pl.concat([raw, again])


@settings(max_examples=40, deadline=None)
@given(networks(), st.floats(0, 1), st.integers(0, 99))
def test_sorted_rows_deduplicate_as_deduplicate_does(
    case: tuple[pl.DataFrame, pl.DataFrame], share: float, seed: int
) -> None:
    raw = _redelivered(case[0], share, seed)
    assume(raw.height > 0)  # an empty frame: None (the frame path)
    rows = sort_rows(raw)
    assert rows is not None
    expected = deduplicate(raw.lazy()).collect().sort(KEYS).select(READINGS.names()[:9])
    assert_frame_equal(rows.to_frame(), expected, check_exact=True)


@settings(max_examples=25, deadline=None)
@given(networks(max_minutes=200), hours(), st.floats(0, 0.5), st.integers(0, 99), st.integers(1, 3))
def test_chain_on_redelivered_rows_equals_deduplicate_then_qc(
    case: tuple[pl.DataFrame, pl.DataFrame],
    ends: list[dt.datetime],
    share: float,
    seed: int,
    group_size: int,
) -> None:
    """Groups, threads and the chain's own de-duplication change nothing: the same readings
    and hourly means as deduplicate() and qc_hours() over the whole network."""
    frame, status = case
    raw = _scanned(_redelivered(frame, share, seed), ends)
    assume(raw.height > 1)
    groups = list(clean_hours(raw, CATALOG, ends, status=status, group_size=group_size))
    clean = qc_hours(deduplicate(raw.lazy()), CATALOG, ends, status=status)
    assert_frame_equal(pl.concat([g.readings for g in groups]), clean, check_exact=True)
    hourly = pl.concat([g.hourly for g in groups])
    assert_frame_equal(hourly, hourly_means(clean, CATALOG), check_exact=True)


def test_a_tie_in_arrival_goes_to_the_later_delivery() -> None:
    first = readings([40.0, 41.0, 42.0]).drop("revisions")
    again = first.slice(1, 1).with_columns(pl.lit(99.0).alias("value"))  # same received_at
    rows = sort_rows(pl.concat([first, again]))
    assert rows is not None
    out = rows.to_frame()
    assert out["value"].to_list() == [40.0, 99.0, 42.0]
    assert out["revisions"].to_list() == [0, 1, 0]


def test_a_late_redelivery_is_sorted_back_into_its_series() -> None:
    """A re-delivered minute arrives after later minutes (its series out of time order):
    the group's rows come out in time order all the same."""
    first = readings([40.0, 41.0, 42.0, 43.0], station="A").drop("revisions")
    other = readings([1.0, 2.0], station="B", param="o3").drop("revisions")
    late = first.slice(0, 1).with_columns(pl.col("received_at") + pl.duration(minutes=9))
    raw = pl.concat([first, other, late])
    sorted_raw = sort_raw(raw, group_size=1)
    assert sorted_raw is not None
    assert sorted_raw.groups == 2
    a = sorted_raw.rows(0).to_frame()
    assert a["ts"].is_sorted()
    assert a.height == 4
    assert a["received_at"][0] == late["received_at"][0]
    assert sorted_raw.rows(1).to_frame()["station"].to_list() == ["B", "B"]


@pytest.mark.parametrize(
    "damage",
    [
        pl.col("station").first().cast(pl.String).alias("x"),  # (no damage: control)
        pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("station").alias("station"),
        pl.when(pl.int_range(pl.len()) == 0).then(float("inf")).otherwise("value").alias("value"),
    ],
    ids=["control", "null-station", "infinite-value"],
)
def test_frames_the_arrays_cannot_hold_take_the_frame_path(damage: pl.Expr) -> None:
    frame = pl.concat([readings([40.0 + i for i in range(90)], station=s) for s in "AB"])
    raw = frame.drop("revisions").with_columns(damage)
    if "x" in raw.columns:
        raw = raw.drop("x")
        assert sort_rows(raw) is not None
    else:
        assert sort_rows(raw) is None
    ends = [T0 + dt.timedelta(hours=1)]
    groups = list(clean_hours(raw, CATALOG, ends, group_size=1))
    # a row without a station belongs to no group: the chain leaves it out
    clean = qc_hours(deduplicate(raw.drop_nulls("station").lazy()), CATALOG, ends)
    assert_frame_equal(pl.concat([g.readings for g in groups]), clean, check_exact=True)


def test_ordered_map_keeps_order_and_runs_ahead_only_as_far_as_its_workers() -> None:
    taken: list[int] = []
    running = threading.Semaphore(0)

    def items() -> Iterator[int]:
        for i in range(8):
            taken.append(i)
            yield i

    def slow(i: int) -> int:
        running.release()
        time.sleep(0.01 * (8 - i))  # later items finish first
        return i * i

    out = ordered_map(slow, items(), workers=2)
    assert next(out) == 0
    assert len(taken) <= 3  # two in flight, one being handed back
    assert list(out) == [i * i for i in range(1, 8)]


def test_ordered_map_raises_what_a_worker_raised() -> None:
    def boom(i: int) -> int:
        if i == 2:
            raise ValueError("bad group")
        return i

    with pytest.raises(ValueError, match="bad group"):
        list(ordered_map(boom, range(5), workers=2))


def test_small_pages_restores_numpy_setting() -> None:
    _set_madvise_hugepage = importlib.import_module("numpy._core.multiarray")._set_madvise_hugepage
    before = _set_madvise_hugepage(True)
    try:
        with small_pages():
            assert _set_madvise_hugepage(False) is False
        assert _set_madvise_hugepage(True) is True
    finally:
        _set_madvise_hugepage(before)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=60),
    st.integers(0, 9),
)
def test_reach_bounds_every_window_median(values: list[float | None], half: int) -> None:
    """The spike screen's premise: a value's reach is its largest distance to any value
    within ``half`` rows, so it bounds its distance to the median of any window around it."""
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    reach = _reach(array, half)
    for i, v in enumerate(array):
        lo, hi = max(0, i - half), min(array.size, i + half + 1)
        near = array[lo:hi][~np.isnan(array[lo:hi])]
        if np.isnan(v):
            assert np.isnan(reach[i])
            continue
        assert reach[i] == np.max(np.abs(near - v))
        for a in range(lo, i + 1):  # every window around i, cut anywhere
            for b in range(i + 1, hi + 1):
                part = array[a:b][~np.isnan(array[a:b])]
                assert abs(v - np.median(part)) <= reach[i]


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.integers(1, 20))
def test_window_extreme_is_the_windowed_max(values: list[float], width: int) -> None:
    array = np.array(values)
    assume(width <= array.size)
    expected = [max(values[i : i + width]) for i in range(array.size - width + 1)]
    assert _window_extreme(array, width, np.fmax).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.floats(-1e7, 1e7, allow_nan=False),
                st.floats(-1e-3, 1e-3, allow_nan=False),  # where rounding to 2**-60 matters
                st.sampled_from([0.1, 0.2, 0.3, 40.0, 1e7, -1e7, 2.0**-61, 3 * 2.0**-61]),
            ),
            min_size=1,
            max_size=70,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_exact_sums_of_segments_are_polars_int128_sums(segments: list[list[float | None]]) -> None:
    """The numpy split sum is bit for bit the Int128 sum of the frame path."""
    from transforms.aggregate import _exact_sum
    from transforms.hourly_sorted import _exact_sums

    values = [v for seg in segments for v in seg]
    starts = np.cumsum([0] + [len(seg) for seg in segments[:-1]])
    frame = pl.DataFrame(
        {"g": [i for i, seg in enumerate(segments) for _ in seg], "v": values},
        schema={"g": pl.Int64, "v": pl.Float64},
    )
    expected = frame.group_by("g").agg(_exact_sum(pl.col("v"))).sort("g")["v"].to_numpy()
    array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    got = _exact_sums(array, starts)
    assert got.tobytes() == expected.tobytes()


def test_hourly_means_of_sorted_rows_with_wind_hourly_data_and_nulls() -> None:
    """Wind (the frame path), hourly values (60-minute coverage) and a valid row without a
    value, next to minute data: the same table as hourly_means over the readings."""
    minute = readings([40.0 + (i % 7) * 0.1 for i in range(120)], station="A")
    wind = readings([350.0, 10.0, 20.0] * 40, station="A", param="wd")
    hourly = readings(
        [12.0, 13.5, 11.0], station="B", param="so2", step=dt.timedelta(hours=1), period_s=3600
    )
    raw = pl.concat([minute, wind, hourly]).drop("revisions")
    raw = raw.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise("value").alias("value")
    )
    ends = [T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)]
    groups = list(clean_hours(raw, CATALOG, ends, group_size=1))
    clean = pl.concat([g.readings for g in groups])
    assert_frame_equal(
        pl.concat([g.hourly for g in groups]), hourly_means(clean, CATALOG), check_exact=True
    )


def test_null_flags_and_sources_travel_through_the_arrays() -> None:
    """A flag or source may be null (a null flag is not a valid one): the chain's 16-bit
    categories count their codes without the nulls and put the nulls back on output."""
    frame = pl.concat([readings([40.0 + i for i in range(90)], station=s) for s in "AB"])
    row = pl.int_range(pl.len())
    raw = frame.drop("revisions").with_columns(
        pl.when(row % 7 == 0).then(None).otherwise("flag").alias("flag"),
        pl.when(row % 5 == 0).then(None).otherwise("source").alias("source"),
    )
    ends = [T0 + dt.timedelta(hours=1)]
    groups = list(clean_hours(raw, CATALOG, ends, group_size=1))
    clean = qc_hours(deduplicate(raw.lazy()), CATALOG, ends)
    out = pl.concat([g.readings for g in groups])
    assert_frame_equal(out, clean, check_exact=True)
    assert out["flag"].null_count() > 0
    assert out["source"].null_count() > 0


def test_keys_too_wide_to_pack_leave_the_frame_to_the_frame_path() -> None:
    """40 series over 8,000 years do not pack into 64 bits: the chain's read frame must still
    be whole for the frame path (sort_raw consumes columns only once it knows it can)."""
    frame = pl.concat(
        [
            readings([40.0 + i for i in range(70)], station=f"S{s}", param=p)
            for s in range(8)
            for p in ("pm25", "pm10", "o3", "no2", "so2")
        ]
    ).drop("revisions")
    late = frame.slice(0, 1).with_columns(
        pl.lit(dt.datetime(9999, 1, 1, tzinfo=dt.UTC)).cast(pl.Datetime("us", "UTC")).alias("ts")
    )
    raw = pl.concat([frame, late])
    assert sort_raw(raw.clone(), consume=True) is None
    ends = [T0 + dt.timedelta(hours=1)]
    groups = list(clean_hours(raw, CATALOG, ends, group_size=3))
    clean = qc_hours(deduplicate(raw.lazy()), CATALOG, ends)
    assert_frame_equal(pl.concat([g.readings for g in groups]), clean, check_exact=True)
