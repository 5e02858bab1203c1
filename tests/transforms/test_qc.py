"""QC on crafted series: each reason fires where it should, and QC never drops a row."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import READINGS
from tests.transforms.frames import T0, readings
from transforms.qc import apply_qc

CATALOG = load_catalog()


def _reasons(frame: pl.DataFrame) -> dict[int, list[str]]:
    return {i: q for i, q in enumerate(frame["qc"].to_list()) if q}


def _smooth(n: int, base: float = 40.0) -> list[float]:
    # a gently varying series: ±(i mod 7) µg/m³ around base, never stuck, never jumping
    return [base + (i % 7) - 3 + 0.1 * (i % 3) for i in range(n)]


def test_clean_series_passes() -> None:
    out = apply_qc(readings(_smooth(120)), CATALOG)
    assert out.schema == READINGS
    assert out["valid"].all()


def test_station_flag_and_t_letter() -> None:
    flags = ["N"] * 10
    flags[3] = "M"
    flags[4] = "C"
    flags[5] = "T"  # over the upper limit: kept, marked by its flag, still valid
    out = apply_qc(readings(_smooth(10), flags=flags), CATALOG)
    assert _reasons(out) == {3: ["station_flag"], 4: ["station_flag"]}


def test_negative_beyond_noise_but_not_within() -> None:
    values = [2.0 + 0.5 * (i % 3) for i in range(30)]  # a clean-air series near zero
    values[10] = -4.0  # pm25 noise is 5 µg/m³: within noise, fine
    values[20] = -30.0  # beyond noise
    out = apply_qc(readings(values), CATALOG)
    assert "negative" in _reasons(out)[20]
    assert 10 not in _reasons(out)


def test_negative_temperature_is_weather_not_an_error() -> None:
    out = apply_qc(readings([-20.0 + 0.1 * (i % 5) for i in range(60)], param="temp"), CATALOG)
    assert out["valid"].all()


def test_range_above_plausible() -> None:
    values = _smooth(30)
    values[15] = 1500.0  # pm25 plausible max 1000
    out = apply_qc(readings(values), CATALOG)
    assert "range" in _reasons(out)[15]


def test_single_spike_flagged_and_neighbour_not_blamed() -> None:
    values = _smooth(60)
    values[30] = 400.0
    out = _reasons(apply_qc(readings(values), CATALOG))
    assert "spike" in out[30]
    assert 31 not in out  # the return to normal is not a rate-of-change error


def test_level_shift_is_rate_of_change_once() -> None:
    values = _smooth(60) + [v + 600.0 for v in _smooth(60)]
    out = _reasons(apply_qc(readings(values), CATALOG))
    assert out == {60: ["rate_of_change"]}


def test_flatline_after_an_hour() -> None:
    values = _smooth(30) + [33.3] * 70 + _smooth(30)
    out = _reasons(apply_qc(readings(values), CATALOG))
    flat = [i for i, r in out.items() if "flatline" in r]
    assert flat == list(range(30, 100))


def test_short_repeat_is_not_a_flatline() -> None:
    values = _smooth(30) + [33.3] * 20 + _smooth(30)
    assert not _reasons(apply_qc(readings(values), CATALOG))


def test_pm25_above_pm10_flags_both() -> None:
    pm25 = readings([50.0, 80.0, 50.0], param="pm25")
    pm10 = readings([90.0, 60.0, 90.0], param="pm10")  # 80 > 60 + 5 noise at the 2nd minute
    out = apply_qc(pl.concat([pm25, pm10]), CATALOG).sort("param", "ts")
    bad = out.filter(pl.col("qc").list.contains("pm25_gt_pm10"))
    assert sorted(bad["param"].to_list()) == ["pm10", "pm25"]
    assert bad["ts"].unique().to_list() == [T0 + dt.timedelta(minutes=2)]


def test_maintenance_window_from_status() -> None:
    status = pl.DataFrame(
        {
            "station": ["SY-TY-01", "SY-TY-01"],
            "state": ["maintenance", "online"],
            "ts": [T0 + dt.timedelta(minutes=10), T0 + dt.timedelta(minutes=20)],
            "received_at": [T0, T0],
        },
        schema_overrides={
            "ts": pl.Datetime("us", "UTC"),
            "received_at": pl.Datetime("us", "UTC"),
        },
    )
    out = _reasons(apply_qc(readings(_smooth(30)), CATALOG, status=status))
    # readings ending at minutes 10..19 fall in the window (index = minute - 1)
    assert sorted(out) == list(range(9, 19))
    assert all(r == ["maintenance"] for r in out.values())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-100, 2000, allow_nan=False), st.none()), min_size=1, max_size=80),
    st.sampled_from(["pm25", "o3", "co2", "temp", "toluene"]),
)
def test_qc_never_drops_a_row(values: list[float | None], param: str) -> None:
    frame = readings(values, param=param)
    out = apply_qc(frame, CATALOG)
    assert out.height == frame.height
    assert out.select(pl.col("valid") == (pl.col("qc").list.len() == 0)).to_series().all()
