"""The physics shows where it should: photochemistry, boundary layer, seasons, plumes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from aircarbon.core.catalog import Catalog
from aircarbon.simulator.config import SimulationConfig
from aircarbon.simulator.messages import simulate_frame
from aircarbon.simulator.sources import load_sources, to_xy


def _diurnal(frame: pl.DataFrame, station: str, param: str) -> np.ndarray:
    local = frame.filter(station=station, param=param).with_columns(
        hour=pl.col("ts").dt.convert_time_zone("Asia/Shanghai").dt.hour()
    )
    means = local.group_by("hour").agg(pl.col("value").mean()).sort("hour")
    assert means.height == 24
    return means["value"].to_numpy()


@pytest.fixture(scope="module")
def summer() -> pl.DataFrame:
    config = SimulationConfig(
        seed=21,
        start=dt.date(2026, 7, 6),
        days=7,
        stations=("SY-TY-01", "SY-SN-09"),
        operations=False,
    )
    return simulate_frame(config)


def test_ozone_peaks_mid_afternoon_and_no2_at_rush_hours(summer: pl.DataFrame) -> None:
    o3 = _diurnal(summer, "SY-TY-01", "o3")
    no2 = _diurnal(summer, "SY-TY-01", "no2")
    assert 13 <= int(o3.argmax()) <= 17
    # morning rush, or the evening rush as the boundary layer collapses after sunset
    assert int(no2.argmax()) in {6, 7, 8, 9, 17, 18, 19, 20, 21, 22}
    assert np.corrcoef(o3, no2)[0, 1] < -0.3
    assert o3.max() > 2.5 * o3.min()


def test_night_co2_builds_up_under_a_shallow_boundary_layer(summer: pl.DataFrame) -> None:
    co2 = _diurnal(summer, "SY-SN-09", "co2")
    blh = _diurnal(summer, "SY-SN-09", "blh")
    assert co2[3:6].mean() > co2[13:17].mean() + 5.0
    assert blh[3:6].mean() < 350.0
    assert 800.0 <= blh[13:17].mean() <= 1900.0


def test_heating_season_raises_combustion_pollutants() -> None:
    stations = ("SY-SN-09",)
    winter = simulate_frame(
        SimulationConfig(seed=4, start=dt.date(2026, 12, 7), days=3, stations=stations)
    )
    summer = simulate_frame(
        SimulationConfig(seed=4, start=dt.date(2026, 7, 7), days=3, stations=stations)
    )

    def mean(frame: pl.DataFrame, param: str) -> float:
        return float(frame.filter(param=param, flag="N")["value"].mean())  # type: ignore[arg-type]

    for param in ("pm25", "so2", "co"):
        assert mean(winter, param) > 1.2 * mean(summer, param), param
    assert mean(winter, "co2") > mean(summer, "co2") + 5.0
    assert mean(winter, "temp") < 0.0 < mean(summer, "temp") - 15.0


def test_backgrounds_and_super_site_chemistry() -> None:
    frame = simulate_frame(
        SimulationConfig(seed=8, days=1, stations=("SY-HS-12", "SY-WH-04", "SY-YN-10"))
    )
    means = dict(frame.filter(flag="N").group_by("param").agg(pl.col("value").mean()).iter_rows())
    assert 1950.0 < means["ch4"] < 2150.0
    assert 336.0 < means["n2o"] < 342.0
    assert 70.0 < means["gamma"] < 95.0
    assert means["no3"] > means["so4"]  # winter: nitrate share above sulphate
    assert means["pm25"] > means["so4"] + means["no3"] + means["nh4"] + means["oc"] + means["ec"]
    assert means["si"] > means["pb"] > means["cd"]


def _bearing(source_latlon: tuple[float, float], lat: float, lon: float) -> float:
    """Direction the wind must blow FROM to carry the source's plume to (lat, lon)."""
    x, y = to_xy(lat, lon, source_latlon)
    return (float(np.degrees(np.arctan2(x, y))) + 180.0) % 360.0


def _means(
    wind_dir: float, stations: tuple[str, ...], sources: tuple[str, ...]
) -> dict[str, float]:
    config = SimulationConfig(
        seed=5,
        days=1,
        stations=stations,
        wind_dir=wind_dir,
        sources=sources,
        operations=False,
    )
    frame = simulate_frame(config)
    rows = frame.group_by("station", "param").agg(pl.col("value").mean()).iter_rows()
    return {f"{s}:{p}": v for s, p, v in rows}


def test_petrochemical_plume_only_downwind(catalog: Catalog) -> None:
    plant = load_sources(["petrochemical"])[0].points[0]
    voc_station = catalog.station("SY-SL-05")
    towards = _bearing(plant, voc_station.lat, voc_station.lon)
    away = (towards + 180.0) % 360.0
    stations = ("SY-SL-05", "SY-XX-03")
    plume, clean = _means(towards, stations, ("petrochemical",)), _means(towards, stations, ())
    opposite, opposite_clean = (
        _means(away, stations, ("petrochemical",)),
        _means(away, stations, ()),
    )
    for species in ("propylene", "ethylene", "benzene", "toluene", "styrene"):
        key = f"SY-SL-05:{species}"
        assert plume[key] > 1.4 * clean[key], species
        assert opposite[key] == pytest.approx(opposite_clean[key], rel=0.02), species
    assert plume["SY-SL-05:propylene"] > 3.0 * clean["SY-SL-05:propylene"]
    # SY-XX-03 is on the upwind side of the plant for that wind: nothing of the plume
    for param in ("co", "no2", "so2", "pm25"):
        key = f"SY-XX-03:{param}"
        assert plume[key] == pytest.approx(clean[key], rel=1e-3), param


def test_petrochemical_co2_reaches_the_ghg_station_downwind(catalog: Catalog) -> None:
    plant = load_sources(["petrochemical"])[0].points[0]
    ghg = catalog.station("SY-SN-09")
    towards = _bearing(plant, ghg.lat, ghg.lon)
    stations = ("SY-SN-09",)
    plume, clean = _means(towards, stations, ("petrochemical",)), _means(towards, stations, ())
    away = (towards + 180.0) % 360.0
    opposite, opposite_clean = (
        _means(away, stations, ("petrochemical",)),
        _means(away, stations, ()),
    )
    assert plume["SY-SN-09:co2"] > clean["SY-SN-09:co2"] + 5.0
    assert opposite["SY-SN-09:co2"] == pytest.approx(opposite_clean["SY-SN-09:co2"], abs=0.2)


def test_power_plant_plume_has_combustion_signature(catalog: Catalog) -> None:
    plant = load_sources(["coal_power"])[0].points[0]
    ghg = catalog.station("SY-SN-09")
    towards = _bearing(plant, ghg.lat, ghg.lon)
    plume, clean = (_means(towards, ("SY-SN-09",), s) for s in (("coal_power",), ()))
    d_co2 = plume["SY-SN-09:co2"] - clean["SY-SN-09:co2"]
    d_co_ppb = (plume["SY-SN-09:co"] - clean["SY-SN-09:co"]) * 1000.0 * 24.465 / 28.01
    assert d_co2 > 3.0
    assert 8.0 < d_co_ppb / d_co2 < 25.0  # ΔCO/ΔCO2 of a coal plant, ppb/ppm


def test_vehicle_and_solvent_voc_ratios() -> None:
    sources = {s.id: s for s in load_sources()}
    hw = sources["highway"].emissions
    tb_vehicle = (hw["toluene"] / 92.14) / (hw["benzene"] / 78.11)
    assert 1.5 < tb_vehicle < 3.0
    assert hw["i_pentane"] > hw["n_pentane"]
    sol = sources["solvent"].emissions
    assert (sol["toluene"] / 92.14) / (sol["benzene"] / 78.11) > 5.0
