"""Source tracing: sectors, CPF, co-emission events (hand-computed) and the simulator plume."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.core.contracts import EMISSION_EVENTS, HOURLY
from transforms.sources import (
    bivariate_stats,
    classify,
    cpf,
    emission_events,
    sector_index,
    sector_stats,
)

T0 = dt.datetime(2026, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def series(station: str, param: str, values: Sequence[float | None]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "station": [station] * n,
            "param": [param] * n,
            "ts": [T0 + dt.timedelta(hours=i + 1) for i in range(n)],
            "value": list(values),
            "n": [60] * n,
            "minutes": [60.0] * n,
            "valid": [v is not None for v in values],
        },
        schema=HOURLY,
    )


def test_sector_index_boundaries() -> None:
    wd = pl.Series("wd", [0.0, 11.24, 11.25, 146.0, 146.25, 180.0, 348.7, 348.75, 359.9])
    got = pl.select(sector_index(pl.lit(wd))).to_series().to_list()
    # 22.5° sectors centred on 0 (N), 22.5 (NNE), …: [−11.25, 11.25) is N
    assert got == [0, 0, 1, 6, 7, 8, 15, 0, 0]


def wind_field() -> pl.DataFrame:
    """38 hours: 10 from N (values 11…20), 10 from E (1…10), 10 from S (all 1),
    5 from W (all 100), 3 calm (ws 0.2, value 1000: excluded)."""
    wd = [0.0] * 10 + [90.0] * 10 + [180.0] * 10 + [270.0] * 5 + [45.0] * 3
    ws = [3.0] * 35 + [0.2] * 3
    value = [11.0 + i for i in range(10)] + [1.0 + i for i in range(10)] + [1.0] * 10
    value += [100.0] * 5 + [1000.0] * 3
    return pl.concat([series("X", "so2", value), series("X", "wd", wd), series("X", "ws", ws)])


def test_cpf_constructed_wind_field(catalog: Catalog) -> None:
    # the 35 non-calm values sorted: 1 ×11 (idx 0-10), 2…9 (11-18), 10 (19), 11…20 (20-29),
    # 100 ×5 (30-34); 75th percentile (linear): idx 0.75 × 34 = 25.5 → (16 + 17)/2 = 16.5
    # N: values > 16.5 are 17, 18, 19, 20 → CPF = 4/10 = 0.4; E, S: 0/10; W: 5/5 = 1 but
    # n = 5 < 10 → invalid; calm hours excluded; empty sectors: n = 0, CPF null, invalid
    out = cpf(wind_field(), param="so2", catalog=catalog)
    assert out.height == 16
    by = {r["sector_name"]: r for r in out.iter_rows(named=True)}
    assert by["N"]["threshold"] == pytest.approx(16.5)
    assert (by["N"]["n"], by["N"]["m"], by["N"]["cpf"], by["N"]["valid"]) == (10, 4, 0.4, True)
    assert (by["E"]["cpf"], by["S"]["cpf"]) == (0.0, 0.0)
    assert (by["W"]["n"], by["W"]["cpf"], by["W"]["valid"]) == (5, 1.0, False)
    assert (by["NE"]["n"], by["NE"]["cpf"], by["NE"]["valid"]) == (0, None, False)


def test_sector_and_bivariate_stats(catalog: Catalog) -> None:
    stats = sector_stats(wind_field(), param="so2", catalog=catalog)
    by = {r["sector_name"]: r for r in stats.iter_rows(named=True)}
    assert by["N"]["n"] == 10
    assert by["N"]["mean"] == pytest.approx(15.5)  # (11 + 20) / 2
    assert by["calm"]["n"] == 3
    assert by["calm"]["sector"] is None
    biv = bivariate_stats(wind_field(), param="so2", catalog=catalog)
    row = biv.filter(pl.col("sector_name") == "W").row(0, named=True)
    assert (row["ws_lo"], row["ws_hi"], row["n"], row["mean"]) == (3.0, 4.0, 5, 100.0)
    assert biv.get_column("n").sum() == 35  # calm hours dropped


def test_classify_fingerprints(catalog: Catalog) -> None:
    fps = catalog.indicators.fingerprints
    # ΔCO/ΔCO2 15 ppb/ppm in coal [5, 40]; SO2/NO2 2 in coal [0.3, 20] → coal 2/2 = 1.0;
    # vehicle: dco_dco2 in [5, 50] but so2_no2 2 ∉ [0, 0.2] → 0.5 < 0.6
    assert classify({"dco_dco2": 15.0, "so2_no2": 2.0}, fps, min_score=0.6, min_metrics=2) == (
        "coal_combustion",
        1.0,
        2,
    )
    # solvent: T/B 17 ∈ [3, 1000], aromatic share 0.8 ∈ [0.5, 1], alkene 0.02 ∈ [0, 0.1]
    got = classify(
        {"toluene_benzene": 17.0, "aromatic_share": 0.8, "alkene_share": 0.02},
        fps,
        min_score=0.6,
        min_metrics=2,
    )
    assert got == ("industrial_solvent", 1.0, 3)
    assert classify({"dco_dco2": 15.0}, fps, min_score=0.6, min_metrics=2) == (
        "unclassified",
        None,
        0,
    )


def test_co_emission_event_constructed(catalog: Catalog) -> None:
    # 48 flat hours (CO2 420 ppm, CO 0.3 mg/m³, SO2 8, NO2 20 µg/m³), then a 4-hour plume:
    # ΔCO2 +20 ppm, ΔCO +300 ppb (= 300 × 28.010/24465.4 mg/m³), ΔSO2 +10, ΔNO2 +5;
    # later a 2-hour bump (shorter than min_duration_hours = 3: no event).
    # Background: 5th percentile of the trailing 72 h = the flat level (index 0.05·(n−1) < 3)
    # Ratios of summed excesses: ΔCO/ΔCO2 = 4×300 / 4×20 = 15 ppb/ppm; ΔSO2/ΔNO2 = 40/20 = 2
    # → coal_combustion (see test_classify_fingerprints); wind from 10° → sector N
    co_mg = 28.010 / (8.314462618 * 298.15 / 101325.0 * 1e6)
    n = 70
    plume = set(range(48, 52))
    bump = {60, 61}
    co2 = [420.0 + (20.0 if i in plume | bump else 0.0) for i in range(n)]
    co = [0.3 + (300.0 * co_mg if i in plume | bump else 0.0) for i in range(n)]
    so2 = [8.0 + (10.0 if i in plume | bump else 0.0) for i in range(n)]
    no2 = [20.0 + (5.0 if i in plume | bump else 0.0) for i in range(n)]
    hourly = pl.concat(
        [
            series("G", "co2", co2),
            series("G", "co", co),
            series("G", "so2", so2),
            series("G", "no2", no2),
            series("G", "wd", [10.0] * n),
            series("G", "ws", [3.0] * n),
        ]
    )
    ev = emission_events(hourly, catalog)
    assert ev.schema == EMISSION_EVENTS
    assert ev.height == 1
    e = ev.row(0, named=True)
    assert e["start_ts"] == T0 + dt.timedelta(hours=48)  # first event hour ends at +49 h
    assert e["end_ts"] == T0 + dt.timedelta(hours=52)
    assert e["hours"] == 4
    assert e["anchor"] == "co2"
    assert e["anchor_excess_mean"] == pytest.approx(20.0)
    assert sorted(e["copollutants"]) == ["co", "so2"]  # NO2 +5 < 15 µg/m³ threshold
    assert e["dco_dco2"] == pytest.approx(15.0)
    assert e["so2_no2"] == pytest.approx(2.0)
    assert e["sector"] == "N"
    assert e["sector_share"] == 1.0
    assert e["wd_mean"] == pytest.approx(10.0)
    assert e["source_class"] == "coal_combustion"
    assert e["event_id"] == "G/20260703T0000Z"

    # stations are independent: a second station with the same plume but no CO2 analyser
    # has no anchor (no events), and a third with it has the same event under its own name
    no_co2 = hourly.filter(pl.col("param") != "co2").with_columns(station=pl.lit("H"))
    twin = hourly.with_columns(station=pl.lit("I"))
    both = emission_events(pl.concat([twin, hourly, no_co2]), catalog)
    assert both["station"].to_list() == ["G", "I"]
    assert (
        both.drop("station", "event_id").rows() == ev.vstack(ev).drop("station", "event_id").rows()
    )


# --- end to end on the simulator -------------------------------------------------------------
# sources.toml: the petrochemical complex is 3.5 km SE of the VOC station SY-SL-05 (bearing
# from the station ≈ 146°). Day 1: wind from the NW (326°) — SY-SL-05 is upwind of the plant;
# day 2: wind from the SE (146°) — the plume reaches SY-SL-05. SY-SL-05 has no CO2 analyser
# (catalog), so its events are anchored on total VOC; the plume's fingerprint is alkene-rich,
# acetylene-free with toluene/benzene ≈ 1.1 (sources.toml emission rates) → petrochemical.


def _simulated_hourly(catalog: Catalog) -> pl.DataFrame:
    from aircarbon.simulator import SimulationConfig, simulate_frame
    from transforms.aggregate import hourly_means

    stations = ("SY-SL-05", "SY-XX-03", "SY-SN-09")
    frames = []
    for i, wd in enumerate((326.0, 146.0)):
        cfg = SimulationConfig(
            seed=7,
            start=dt.date(2026, 7, 13) + dt.timedelta(days=i),
            days=1,
            stations=stations,
            wind_dir=wd,
            wind_speed=2.5,
            sources=("petrochemical",),
            operations=False,
            status=False,
        )
        frames.append(simulate_frame(cfg, catalog))
    raw = pl.concat(frames).with_columns(
        (pl.col("flag") == "N").alias("valid"), pl.lit(60, pl.Int32).alias("period_s")
    )
    return hourly_means(raw, catalog)


def test_simulated_petrochemical_plume_found_downwind_only(catalog: Catalog) -> None:
    hourly = _simulated_hourly(catalog)
    ev = emission_events(hourly, catalog)
    switch = dt.datetime(2026, 7, 13, 16, tzinfo=dt.UTC)  # local midnight: the wind turns SE
    at_voc = ev.filter(pl.col("station") == "SY-SL-05")
    assert at_voc.height >= 1
    for e in at_voc.iter_rows(named=True):
        assert e["start_ts"] >= switch  # nothing while SY-SL-05 was upwind (NW wind, day 1)
        assert e["anchor"] == "tvoc"
        assert e["sector"] in {"SE", "SSE"}  # the plant's bearing, 146° from the station
        assert e["source_class"] == "petrochemical"
        assert e["alkene_share"] > 0.25
        assert e["toluene_benzene"] < 2.0
    assert at_voc.get_column("hours").sum() >= 12
    # SY-XX-03 lies upwind of the plant in the SE wind (and has no CO2/VOC anchor);
    # SY-SN-09 (CO2 station, 5.9 km N of the plant) is not on the SE plume line: no petrochemical
    assert ev.filter(pl.col("station") == "SY-XX-03").is_empty()
    assert ev.filter(
        (pl.col("station") == "SY-SN-09") & (pl.col("source_class") == "petrochemical")
    ).is_empty()
    # CPF of total alkenes at SY-SL-05 points to the SE: the plume sector has CPF 1
    cpf_voc = cpf(
        hourly.filter(pl.col("param").is_in(["propylene", "ws", "wd"])),
        param="propylene",
        catalog=catalog,
        station="SY-SL-05",
    )
    best = cpf_voc.filter(pl.col("valid")).sort("cpf", descending=True).row(0, named=True)
    assert best["sector_name"] in {"SE", "SSE"}
