"""Daily indicators: every formula against values computed by hand (arithmetic in comments).

Reference state of the catalog (units.toml): Vm = R·T/P = 8.314462618 × 298.15 / 101325
= 0.0244654 m³/mol = 24.4654 L/mol; N_A = 6.02214076e23 mol⁻¹.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import pytest

from aircarbon.core.catalog import Catalog, load_catalog
from aircarbon.core.contracts import DAILY, HOURLY, INDICATORS_DAILY
from transforms.indicators import (
    CITY,
    daily_indicators,
    mass_per_ppb,
    molecules_per_ppb,
    top_species,
)

DAY = dt.date(2026, 7, 14)  # local (Asia/Shanghai): hours end 2026-07-13T17:00Z … 07-14T16:00Z
FIRST_END = dt.datetime(2026, 7, 13, 17, tzinfo=dt.UTC)
VM = 8.314462618 * 298.15 / 101325.0 * 1000.0  # 24.4654 L/mol


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def hours(station: str, param: str, values: Sequence[float | None]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "station": [station] * n,
            "param": [param] * n,
            "ts": [FIRST_END + dt.timedelta(hours=i) for i in range(n)],
            "value": list(values),
            "n": [60 if v is not None else 0 for v in values],
            "minutes": [60.0 if v is not None else 0.0 for v in values],
            "valid": [v is not None for v in values],
        },
        schema=HOURLY,
    )


def days(rows: Sequence[tuple[str, str, float, int, bool]], date: dt.date = DAY) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station": [r[0] for r in rows],
            "param": [r[1] for r in rows],
            "date": [date] * len(rows),
            "value": [r[2] for r in rows],
            "n": [r[3] for r in rows],
            "valid": [r[4] for r in rows],
        },
        schema=DAILY,
    )


def get(out: pl.DataFrame, station: str, indicator: str) -> dict[str, object]:
    rows = out.filter((pl.col("station") == station) & (pl.col("indicator") == indicator))
    assert rows.height == 1, (station, indicator, rows)
    return rows.row(0, named=True)


def value(out: pl.DataFrame, station: str, indicator: str) -> float:
    v = get(out, station, indicator)["value"]
    assert isinstance(v, float)
    return v


EMPTY_H = pl.DataFrame(schema=HOURLY)


def test_reference_state_factors(catalog: Catalog) -> None:
    assert catalog.units.molar_volume_l == pytest.approx(24.4654, rel=1e-5)
    # toluene: 92.14 / 24.4654 = 3.76614 µg/m³ per ppb
    assert mass_per_ppb(catalog, "toluene") == pytest.approx(92.14 / VM)
    # 6.02214076e23 / (24.4654 L × 1000 cm³/L) × 1e-9 = 2.46149e10 molecules cm⁻³ per ppbv
    assert molecules_per_ppb(catalog) == pytest.approx(2.46149e10, rel=1e-5)


def test_schema_and_sort(catalog: Catalog) -> None:
    daily = days([("A", "pm25", 30.0, 24, True), ("A", "pm10", 60.0, 24, True)])
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    assert out.schema == INDICATORS_DAILY
    assert out.get_column("date").unique().to_list() == [DAY]


# --- co-pollutant ----------------------------------------------------------------------


def test_ratios_and_coexceedance_day(catalog: Catalog) -> None:
    daily = days(
        [
            ("A", "pm25", 66.0, 24, True),
            ("A", "pm10", 110.0, 24, True),
            ("A", "co", 1.2, 24, True),
            ("A", "o3_8h_max", 170.0, 17, True),
            ("B", "pm25", 66.0, 19, False),  # too few hours: kept, invalid
            ("B", "pm10", 100.0, 24, True),
        ]
    )
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    assert value(out, "A", "pm25_pm10_ratio") == pytest.approx(0.6)  # 66 / 110
    assert value(out, "A", "pm25_co_ratio") == pytest.approx(55.0)  # 66 / 1.2
    # 2026-07-14: GB 3095-2026 transition limits: PM2.5 66 > 60 and MDA8 170 > 160
    assert value(out, "A", "pm25_o3_coexceed_day") == 1.0
    row = get(out, "B", "pm25_pm10_ratio")
    assert row["value"] == pytest.approx(0.66)
    assert row["valid"] is False
    assert row["n"] == 19
    # before 2026-03-01 the PM2.5 limit is 75 (GB 3095-2012): 66 is no exceedance
    old = daily_indicators(
        EMPTY_H,
        daily.with_columns(pl.lit(dt.date(2025, 7, 14)).alias("date")),
        catalog,
        date=dt.date(2025, 7, 14),
    )
    assert value(old, "A", "pm25_o3_coexceed_day") == 0.0


def test_ox_and_coexceedance_hours(catalog: Catalog) -> None:
    # O3 100 µg/m³ and NO2 46.0055 µg/m³ (= 1 µmol/m³) every hour
    # Ox (O3-equivalent mass) = 100 + 46.0055 × 47.997/46.0055 = 147.997 µg/m³
    # Ox (ppb) = (100/47.997 + 46.0055/46.0055) × 24.4654 = (2.083463 + 1) × 24.4654 = 75.4376
    o3 = [100.0] * 24
    pm = [30.0] * 24
    # co-exceedance hours: PM2.5 > 60 in hours 0-5 (hour 5: 70, above 60 but below 75);
    # O3 > 200 in hours 3-8 → overlap 3, 4, 5 = 3 h under 2026 limits, 2 h under 2012
    for i in range(6):
        pm[i] = 80.0
    pm[5] = 70.0
    o3x = list(o3)
    for i in range(3, 9):
        o3x[i] = 210.0
    hourly = pl.concat(
        [
            hours("A", "o3", o3),
            hours("A", "no2", [46.0055] * 24),
            hours("B", "o3", o3x),
            hours("B", "pm25", pm),
            hours("C", "o3", o3[:19] + [None] * 5),  # 19 valid hours
            hours("C", "no2", [46.0055] * 24),
        ]
    )
    out = daily_indicators(hourly, pl.DataFrame(schema=DAILY), catalog, date=DAY)
    assert value(out, "A", "ox") == pytest.approx(147.997)
    assert value(out, "A", "ox_ppb") == pytest.approx((100 / 47.997 + 1.0) * VM)
    assert get(out, "A", "ox")["unit"] == "µg/m³"
    assert value(out, "B", "pm25_o3_coexceed_hours") == 3.0
    c = get(out, "C", "ox")
    assert c["n"] == 19
    assert c["valid"] is False  # < 20 valid paired hours (GB 3095 daily rule)
    shifted = hourly.with_columns(pl.col("ts") - dt.timedelta(days=365))
    old = daily_indicators(shifted, pl.DataFrame(schema=DAILY), catalog, date=dt.date(2025, 7, 14))
    assert value(old, "B", "pm25_o3_coexceed_hours") == 2.0


# --- PM components -----------------------------------------------------------------------


def test_sor_nor_shares_and_reconstruction(catalog: Catalog) -> None:
    # molar amounts (µmol/m³): SO4 9.606/96.06 = 0.1, SO2 6.4066/64.066 = 0.1 → SOR = 0.5
    #                         NO3 6.2004/62.004 = 0.1, NO2 18.4022/46.0055 = 0.4 → NOR = 0.2
    # reconstructed = 1.375×9.606 + 1.29×6.2004 + 1.6×3.15 + 1.0×1.0
    #               = 13.20825 + 7.998516 + 5.04 + 1.0 = 27.246766 µg/m³; /50 = 0.54493532
    s = "SY-WH-04"
    daily = days(
        [
            (s, "pm25", 50.0, 24, True),
            (s, "so4", 9.606, 24, True),
            (s, "so2", 6.4066, 24, True),
            (s, "no3", 6.2004, 24, True),
            (s, "no2", 18.4022, 24, True),
            (s, "nh4", 5.0, 24, True),
            (s, "k", 1.0, 24, True),
            (s, "oc", 3.15, 24, True),
            (s, "ec", 1.0, 24, True),
            (s, "cl", 2.0, 10, False),  # invalid optional term: left out of the sum
        ]
    )
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    assert value(out, s, "sor") == pytest.approx(0.5)
    assert value(out, s, "nor") == pytest.approx(0.2)
    assert value(out, s, "so4_share") == pytest.approx(9.606 / 50)
    assert value(out, s, "sna_share") == pytest.approx((9.606 + 6.2004 + 5.0) / 50)
    assert value(out, s, "no3_so4_ratio") == pytest.approx(6.2004 / 9.606)
    assert value(out, s, "k_share") == pytest.approx(0.02)
    assert value(out, s, "recon_pm25") == pytest.approx(27.246766)
    assert value(out, s, "recon_pm25_ratio") == pytest.approx(0.54493532)
    assert get(out, s, "recon_pm25")["valid"] is True


def test_soc_ec_tracer(catalog: Catalog) -> None:
    # EC = 1 every hour, OC = 2.0, 2.1, …, 4.3: hourly OC/EC ratios 2.0 … 4.3
    # (OC/EC)pri = 5th percentile, "lower": index floor(0.05 × 23) = 1 → 2.1
    # daily OC = 2 + 0.1 × 11.5 = 3.15, EC = 1 → POC = 2.1, SOC = 3.15 − 2.1 = 1.05,
    # SOC/OC = 1.05/3.15 = 0.333…
    s = "SY-WH-04"
    oc = [2.0 + 0.1 * i for i in range(24)]
    hourly = pl.concat([hours(s, "oc", oc), hours(s, "ec", [1.0] * 24)])
    daily = days([(s, "oc", 3.15, 24, True), (s, "ec", 1.0, 24, True)])
    out = daily_indicators(hourly, daily, catalog, date=DAY)
    assert value(out, s, "oc_ec_pri") == pytest.approx(2.1)
    assert value(out, s, "poc") == pytest.approx(2.1)
    assert value(out, s, "soc") == pytest.approx(1.05)
    assert value(out, s, "soc_share") == pytest.approx(1 / 3)
    assert get(out, s, "soc")["valid"] is True
    # 19 hourly pairs < min_ratio_hours (20): SOC kept, invalid
    few = pl.concat([hours(s, "oc", oc[:19]), hours(s, "ec", [1.0] * 19)])
    out = daily_indicators(few, daily, catalog, date=DAY)
    assert get(out, s, "soc")["valid"] is False


# --- VOCs --------------------------------------------------------------------------------


def test_ofp_and_oh_reactivity_three_species(catalog: Catalog) -> None:
    # toluene 2 ppbv, benzene 1 ppbv, ethylene 4 ppbv (catalog M, MIR, k_OH):
    # mass: toluene 2×92.14/24.465404 = 7.532269, benzene 78.11/24.465404 = 3.192672,
    #       ethylene 4×28.05/24.465404 = 4.586068 µg/m³
    # OFP:  4.00×7.532269 = 30.129076, 0.72×3.192672 = 2.298724, 9.00×4.586068 = 41.274610
    #       total 73.702409 µg/m³ O3
    # OHR (1 ppbv = 2.461494e10 cm⁻³): 5.63e-12×2×2.461494e10 = 0.277164,
    #       1.22e-12×2.461494e10 = 0.030030, 8.52e-12×4×2.461494e10 = 0.838877; total 1.146071 s⁻¹
    s = "SY-SL-05"
    daily = days(
        [
            (s, "toluene", 2.0, 24, True),
            (s, "benzene", 1.0, 24, True),
            (s, "ethylene", 4.0, 24, True),
        ]
    )
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    assert value(out, s, "ofp:toluene") == pytest.approx(4.00 * 2 * 92.14 / VM)
    assert value(out, s, "ofp:toluene") == pytest.approx(30.129076, rel=1e-6)
    assert value(out, s, "ofp_total") == pytest.approx(73.702409, rel=1e-6)
    assert value(out, s, "ofp_alkene") == pytest.approx(41.274610, rel=1e-6)
    assert value(out, s, "oh_reactivity_total") == pytest.approx(1.146071, rel=1e-5)
    assert value(out, s, "ohr:ethylene") == pytest.approx(0.838877, rel=1e-5)
    assert value(out, s, "tvoc") == pytest.approx(7.0)  # ppbv
    assert value(out, s, "tvoc_aromatic") == pytest.approx(3.0)
    assert value(out, s, "tvoc_mass") == pytest.approx(7.532269 + 3.192672 + 4.586068, rel=1e-6)
    assert value(out, s, "toluene_benzene_ratio") == pytest.approx(2.0)
    top = top_species(out, n=2).filter(pl.col("station") == s)
    assert top.get_column("species").to_list() == ["ethylene", "toluene"]


def test_voc_totals_need_enough_species(catalog: Catalog) -> None:
    s = "SY-SL-05"
    # 1 of 3 species invalid: 2/3 < 0.9 → totals kept, invalid; the sum uses the valid ones
    daily = days(
        [
            (s, "toluene", 2.0, 24, True),
            (s, "benzene", 1.0, 24, True),
            (s, "ethylene", 4.0, 12, False),
        ]
    )
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    row = get(out, s, "tvoc")
    assert row["value"] == pytest.approx(3.0)
    assert row["n"] == 2
    assert row["valid"] is False


# --- carbon -----------------------------------------------------------------------------


def test_ghg_excess_co2e_slope_and_mce(catalog: Catalog) -> None:
    # background (given): CO2 420 ppm, CH4 2000 ppb, N2O 337 ppb, CO 0.2 mg/m³ every hour
    # hour i = 1..24: ΔCO2 = i ppm, ΔCO = 15·i + 5 ppb, ΔCH4 = 100 ppb, ΔN2O = 1 ppb
    # CO ppb → mg/m³: × 28.010 / 24465.4
    s = "SY-SN-09"
    co_mg = 28.010 / (VM * 1000.0)
    d_co2 = [float(i) for i in range(1, 25)]
    d_co = [15.0 * x + 5.0 for x in d_co2]
    hourly = pl.concat(
        [
            hours(s, "co2", [420.0 + x for x in d_co2]),
            hours(s, "co", [0.2 + x * co_mg for x in d_co]),
            hours(s, "ch4", [2100.0] * 24),
            hours(s, "n2o", [338.0] * 24),
        ]
    )
    bg = pl.concat(
        [
            hours("bg", p, [v] * 24)
            for p, v in (("co2", 420.0), ("ch4", 2000.0), ("n2o", 337.0), ("co", 0.2))
        ]
    ).select("param", "ts", "value")
    out = daily_indicators(hourly, pl.DataFrame(schema=DAILY), catalog, date=DAY, background=bg)
    assert value(out, s, "co2_excess") == pytest.approx(12.5)  # mean of 1..24
    assert value(out, s, "ch4_excess") == pytest.approx(100.0)
    assert value(out, s, "co_excess") == pytest.approx(15 * 12.5 + 5)  # 192.5 ppb
    # OLS slope of ΔCO on ΔCO2 = 15 ppb/ppm, R² = 1 (exact line)
    assert value(out, s, "dco_dco2") == pytest.approx(15.0)
    assert value(out, s, "dco_dco2_r2") == pytest.approx(1.0)
    assert get(out, s, "dco_dco2")["n"] == 24
    # MCE = 12500 / (12500 + 192.5) = 0.98483356
    assert value(out, s, "mce") == pytest.approx(12500.0 / 12692.5)
    # CO2e (mg/m³, Vm = 24.465404): CO2 12.5 × 44.009/24.465404 × 1 = 22.485323
    #               CH4 100 × 16.043/24.465404 /1000 × 29.8 = 1.954112
    #               N2O 1 × 44.013/24.465404 /1000 × 273 = 0.491124
    #               total 24.930559
    assert value(out, s, "co2e_co2") == pytest.approx(12.5 * 44.009 / VM)
    assert value(out, s, "co2e_ch4") == pytest.approx(100 * 16.043 / VM / 1000 * 29.8)
    assert value(out, s, "co2e") == pytest.approx(22.485323 + 1.954112 + 0.491124, rel=1e-6)
    assert get(out, s, "co2e")["unit"] == "mg CO2e/m³"


def test_background_station_mode(catalog: Catalog) -> None:
    # SY-HS-12 is the catalog's background station: excess = station − HS-12, same hour
    hourly = pl.concat(
        [
            hours("SY-SN-09", "co2", [430.0] * 24),
            hours("SY-HS-12", "co2", [422.0] * 23 + [None]),
        ]
    )
    out = daily_indicators(hourly, pl.DataFrame(schema=DAILY), catalog, date=DAY)
    row = get(out, "SY-SN-09", "co2_excess")
    assert row["value"] == pytest.approx(8.0)
    assert row["n"] == 23  # the hour without a background value is not used
    assert out.filter(pl.col("station") == "SY-HS-12").is_empty()
    # percentile mode: 5th percentile of the station's own hours (a constant series: 0 excess)
    out = daily_indicators(
        hourly, pl.DataFrame(schema=DAILY), catalog, date=DAY, background="percentile"
    )
    assert value(out, "SY-SN-09", "co2_excess") == pytest.approx(0.0)


def test_city_rows(catalog: Catalog) -> None:
    daily = days(
        [
            ("A", "pm25", 30.0, 24, True),
            ("A", "pm10", 60.0, 24, True),  # 0.5
            ("B", "pm25", 35.0, 24, True),
            ("B", "pm10", 50.0, 24, True),  # 0.7
            ("C", "pm25", 40.0, 12, False),
            ("C", "pm10", 50.0, 24, True),  # invalid: not averaged
        ]
    )
    out = daily_indicators(EMPTY_H, daily, catalog, date=DAY)
    row = get(out, CITY, "pm25_pm10_ratio")
    assert row["value"] == pytest.approx(0.6)  # (0.5 + 0.7) / 2
    assert row["n"] == 2
    assert row["valid"] is False  # 2 of 3 reporting stations < 75 %
