"""Unit conversions against hand-computed values (arithmetic in the comments).

Reference state (GB 3095-2026 §3.14, units.toml): T = 298.15 K, P = 101 325 Pa,
R = 8.314462618 J/(mol·K), so the molar volume is

    Vm = R·T/P = 8.314462618 × 298.15 / 101325 m³/mol
       = 2478.9570295567 / 101325 m³/mol
       = 0.0244654037 m³/mol = 24.4654037 L/mol

and a mixing ratio X [ppb] of a gas of molar mass M [g/mol] is X × M / Vm µg/m³
(1 ppb = 1e-9 mol/mol; 1 m³ = 1000 L holds 1000/Vm mol; × 1e-9 × M g = 1e6 × … µg).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aircarbon.core.catalog import Catalog, Parameter, ParamGroup, load_catalog
from aircarbon.core.errors import UnknownUnitError

CATALOG = load_catalog()
VM = 8.314462618 * 298.15 / 101325 * 1000  # L/mol, = 24.46540369658722


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return CATALOG


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


def test_molar_volume(catalog: Catalog) -> None:
    # 8.314462618 × 298.15 = 2478.9570295567; / 101325 × 1000 = 24.4654037 L/mol
    assert close(catalog.units.molar_volume_l, VM)
    assert catalog.units.molar_volume_l == pytest.approx(24.4654037, abs=1e-7)


def test_no2_ppb_to_ugm3(catalog: Catalog) -> None:
    # 1 ppb × 46.0055 g/mol / 24.4654037 L/mol = 1.88043086 µg/m³
    value = catalog.to_canonical("no2", 1.0, "ppb")
    assert close(value, 46.0055 / VM)
    assert value == pytest.approx(1.88043086, abs=1e-8)


def test_so2_ppb_to_ugm3(catalog: Catalog) -> None:
    # 100 ppb × 64.066 / 24.4654037 = 6406.6 / 24.4654037 = 261.863654 µg/m³
    value = catalog.to_canonical("so2", 100.0, "ppb")
    assert close(value, 100 * 64.066 / VM)
    assert value == pytest.approx(261.863654, abs=1e-6)


def test_no2_ppm_to_ugm3(catalog: Catalog) -> None:
    # 1 ppm = 1000 ppb → 1000 × 1.88043086 = 1880.43086 µg/m³
    assert catalog.to_canonical("no2", 1.0, "ppm") == pytest.approx(1880.43086, abs=1e-5)


def test_co_ppm_to_mgm3(catalog: Catalog) -> None:
    # CO canonical mg/m³. 1 ppm = 1000 ppb → 1000 × 28.010 / 24.4654037 µg/m³
    #   = 1144.88199 µg/m³ = 1.14488199 mg/m³  (= 28.010 / 24.4654: ppm → mg/m³ same factor)
    value = catalog.to_canonical("co", 1.0, "ppm")
    assert close(value, 28.010 / VM)
    assert value == pytest.approx(1.14488199, abs=1e-8)


def test_co_ugm3_to_mgm3(catalog: Catalog) -> None:
    # 1000 µg/m³ = 1 mg/m³ (SI prefix, no molar mass involved)
    assert catalog.to_canonical("co", 1000.0, "ug/m3") == 1.0
    assert catalog.to_canonical("co", 1.0, "mg/m3") == 1.0
    assert catalog.to_canonical("co", 1.0, None) == 1.0


def test_co2_ppm_ppb(catalog: Catalog) -> None:
    # CO2 canonical ppm: 1000 ppb = 1 ppm; and the registry converts back 1 ppm = 1000 ppb
    assert catalog.to_canonical("co2", 1000.0, "ppb") == 1.0
    assert catalog.to_canonical("co2", 1.0, "ppmv") == 1.0
    back = catalog.units.conversion("ppm", "ppb", molar_mass=44.009)
    assert back.apply(1.0) == 1000.0


def test_co2_mgm3_to_ppm(catalog: Catalog) -> None:
    # 1 mg/m³ = 1000 µg/m³ → 1000 × Vm / M ppb = 1000 × 24.4654037 / 44.009 ppb
    #   = 555.918 ppb = 0.555918 ppm
    assert catalog.to_canonical("co2", 1.0, "mg/m3") == pytest.approx(VM / 44.009, rel=1e-12)


def test_ch4_ppm_to_ppb(catalog: Catalog) -> None:
    # CH4 canonical ppb: 1 ppm = 1000 ppb
    assert catalog.to_canonical("ch4", 1.0, "ppm") == 1000.0
    assert catalog.to_canonical("ch4", 1.0, "ppbv") == 1.0


def test_pressure_kpa_to_hpa(catalog: Catalog) -> None:
    # 101.3 kPa × 10 hPa/kPa = 1013 hPa (HJ 212 sends kPa)
    assert catalog.to_canonical("pressure", 101.3, "kPa") == pytest.approx(1013.0, abs=1e-9)
    # 101325 Pa × 0.01 = 1013.25 hPa; 1 mbar = 1 hPa
    assert catalog.to_canonical("pressure", 101325.0, "Pa") == pytest.approx(1013.25)
    assert catalog.to_canonical("pressure", 1000.0, "mbar") == 1000.0


def test_temperature_kelvin_to_celsius(catalog: Catalog) -> None:
    # 300 K − 273.15 = 26.85 °C ; 273.15 K = 0 °C
    assert catalog.to_canonical("temp", 300.0, "K") == pytest.approx(26.85, abs=1e-9)
    assert catalog.to_canonical("temp", 273.15, "K") == pytest.approx(0.0, abs=1e-12)
    conv = catalog.conversion("temp", "K")
    assert conv.scale == 1.0
    assert conv.offset == -273.15


def test_wind_kmh_to_ms(catalog: Catalog) -> None:
    # 36 km/h = 36 000 m / 3600 s = 10 m/s
    assert catalog.to_canonical("ws", 36.0, "km/h") == pytest.approx(10.0, rel=1e-12)
    # 3.6 km/h = 1 m/s
    assert catalog.to_canonical("ws", 3.6, "km/h") == pytest.approx(1.0, rel=1e-12)


def test_toluene_ugm3_to_ppbv(catalog: Catalog) -> None:
    # canonical ppbv: 1 µg/m³ × Vm / M = 24.4654037 / 92.14 = 0.265524242 ppbv
    value = catalog.to_canonical("toluene", 1.0, "ug/m3")
    assert close(value, VM / 92.14)
    assert value == pytest.approx(0.265524242, abs=1e-9)
    # 1000 pptv = 1 ppbv
    assert catalog.to_canonical("toluene", 1000.0, "pptv") == 1.0


def test_pm_components_and_elements(catalog: Catalog) -> None:
    # 1500 ng/m³ = 1.5 µg/m³ (sulphate canonical µg/m³); 1.5 µg/m³ = 1500 ng/m³ (lead, ng/m³)
    assert catalog.to_canonical("so4", 1500.0, "ng/m3") == pytest.approx(1.5)
    assert catalog.to_canonical("pb", 1.5, "ug/m3") == pytest.approx(1500.0)
    # 0.1 µGy/h = 100 nGy/h
    assert catalog.to_canonical("gamma", 0.1, "uGy/h") == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("param", "unit"),
    [
        ("pm25", "\u00b5g/m\u00b3"),  # MICRO SIGN, superscript 3
        ("pm25", "\u03bcg/m\u00b3"),  # GREEK SMALL LETTER MU
        ("pm25", "\u00b5g/m3"),
        ("pm25", "\u03bcg/m3"),
        ("pm25", "ug/m\u00b3"),
        ("pm25", " ug/m3 "),  # stray whitespace
        ("temp", "\u00b0C"),  # DEGREE SIGN + C
        ("temp", "\u2103"),  # DEGREE CELSIUS (one character)
        ("wd", "\u00b0"),
        ("wd", "degrees"),
    ],
)
def test_aliases_are_identity(catalog: Catalog, param: str, unit: str) -> None:
    assert catalog.conversion(param, unit).is_identity
    assert catalog.to_canonical(param, 12.5, unit) == 12.5


def test_micro_sign_and_mu_are_different_characters() -> None:
    """Both spellings devices send must be covered, not one of them twice."""
    micro_sign, greek_mu = "\u00b5g/m\u00b3", "\u03bcg/m\u00b3"
    assert micro_sign.encode() != greek_mu.encode()
    assert CATALOG.units.normalise(micro_sign) == CATALOG.units.normalise(greek_mu) == "ug/m3"


def test_alias_of_other_unit_converts(catalog: Catalog) -> None:
    # "mg/m³" (superscript) → mg/m3: 1 mg/m³ = 1000 µg/m³ for PM2.5
    assert catalog.to_canonical("pm25", 1.0, "mg/m\u00b3") == 1000.0


def test_unit_outside_accepted_list_names_both(catalog: Catalog) -> None:
    # ppm is a known unit, and PM has no molar mass — but above all it is not accepted
    with pytest.raises(UnknownUnitError) as info:
        catalog.conversion("pm25", "ppm")
    message = str(info.value)
    assert "'ppm'" in message
    assert "'pm25'" in message
    assert "ug/m3" in message  # tells the operator what would be accepted
    # convertible in principle (a molar mass exists) but still not accepted for the instrument
    with pytest.raises(UnknownUnitError, match=r"'ppm'.*'so4'"):
        catalog.conversion("so4", "ppm")


def test_unknown_unit_names_both(catalog: Catalog) -> None:
    with pytest.raises(UnknownUnitError, match=r"'parsecs'.*'no2'"):
        catalog.to_canonical("no2", 1.0, "parsecs")


def test_registry_refuses_dimension_mismatch(catalog: Catalog) -> None:
    with pytest.raises(UnknownUnitError, match="cannot convert"):
        catalog.units.conversion("hPa", "ug/m3", molar_mass=46.0)
    with pytest.raises(UnknownUnitError, match="no molar mass"):
        catalog.units.conversion("ppb", "ug/m3", molar_mass=None)


def test_conversions_are_cached(catalog: Catalog) -> None:
    assert catalog.conversion("no2", "ppb") is catalog.conversion("no2", "ppb")


# --------------------------------------------------------------------------------------
# property: ppb → µg/m³ → ppb is the identity for every gas with a molar mass
# --------------------------------------------------------------------------------------

GASES: list[Parameter] = [
    p
    for p in CATALOG.parameters.values()
    if p.molar_mass is not None
    and p.group in {ParamGroup.CRITERIA, ParamGroup.GAS, ParamGroup.GHG, ParamGroup.VOC}
]


def test_gas_list_is_complete() -> None:
    codes = {p.code for p in GASES}
    assert {"so2", "no2", "o3", "co", "no", "nox", "co2", "ch4", "n2o", "toluene"} <= codes


@given(
    param=st.sampled_from(GASES),
    ppb=st.floats(min_value=-1e3, max_value=1e9, allow_nan=False, allow_subnormal=False),
)
def test_round_trip_ppb_ugm3(param: Parameter, ppb: float) -> None:
    units = CATALOG.units
    assert param.molar_mass is not None
    forward = units.conversion("ppb", "ug/m3", molar_mass=param.molar_mass)
    back = units.conversion("ug/m3", "ppb", molar_mass=param.molar_mass)
    ug = forward.apply(ppb)
    assert math.isclose(ug, ppb * param.molar_mass / VM, rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(back.apply(ug), ppb, rel_tol=1e-9, abs_tol=1e-300)


@given(
    param=st.sampled_from(GASES),
    value=st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_subnormal=False),
    data=st.data(),
)
def test_round_trip_any_accepted_unit(param: Parameter, value: float, data: st.DataObject) -> None:
    """Every accepted unit → canonical, and the inverse map back, is the identity."""
    unit = data.draw(st.sampled_from(param.accepted))
    conv = CATALOG.conversion(param.code, unit)
    canonical = conv.apply(value)
    assert math.isclose((canonical - conv.offset) / conv.scale, value, rel_tol=1e-9, abs_tol=1e-12)
