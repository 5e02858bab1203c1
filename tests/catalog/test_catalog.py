"""Consistency of the shipped catalog, its error messages, and the loader's own checks.

The catalog is the single source of truth for ingest, QC, AQI and SQL: a wrong number here is
wrong everywhere. These tests pin the invariants the data must keep (ranges nest, codes are
unique, every number has a source) and the regulatory values copied from the standards
(HJ 633 breakpoints, IPCC AR6 GWP100), as tabulated in /work/shared/research/domain.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aircarbon.core.catalog import (
    DEFAULT_CATALOG_DIR,
    Catalog,
    ParamGroup,
    StationType,
    load_catalog,
)
from aircarbon.core.errors import (
    CatalogError,
    UnknownParameterError,
    UnknownStationError,
    UnknownUnitError,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


#: Groups whose values are concentrations / mixing ratios of a substance (non-negative in
#: nature, reported slightly negative by instruments near zero).
CONCENTRATION_GROUPS = {
    ParamGroup.CRITERIA,
    ParamGroup.GAS,
    ParamGroup.VOC,
    ParamGroup.PM_COMPONENT,
    ParamGroup.ELEMENT,
}


# --------------------------------------------------------------------------------------
# codes and ranges
# --------------------------------------------------------------------------------------


def test_hj212_codes_unique(catalog: Catalog) -> None:
    codes = Counter(p.hj212 for p in catalog.parameters.values() if p.hj212)
    assert not [c for c, n in codes.items() if n > 1]
    # the lookup is the inverse of the attribute
    for p in catalog.parameters.values():
        if p.hj212:
            assert catalog.parameter_by_hj212(p.hj212) is p
            assert catalog.hj212_param(p.hj212) is p


def test_spec_fixed_codes_exist_with_canonical_units(catalog: Catalog) -> None:
    """docs/contract.md §1.2 fixes these codes and their canonical units."""
    expected = {
        **dict.fromkeys(["so2", "no2", "o3", "pm10", "pm25"], "ug/m3"),
        "co": "mg/m3",
        "co2": "ppm",
        "ch4": "ppb",
        "n2o": "ppb",
        "ws": "m/s",
        "wd": "deg",
        "temp": "degC",
        "rh": "%",
        "pressure": "hPa",
        **dict.fromkeys(["so4", "no3", "nh4", "cl", "k", "na", "ca", "mg", "oc", "ec"], "ug/m3"),
        "gamma": "nGy/h",
        "benzene": "ppbv",
        "toluene": "ppbv",
        "isoprene": "ppbv",
        "mp_xylene": "ppbv",
    }
    for code, unit in expected.items():
        assert catalog.parameter(code).unit == unit, code


def test_hj212_codes_of_domain_table(catalog: Catalog) -> None:
    """domain.md §3.4 (HJ 212-2017 Appendix B)."""
    expected = {
        "pm25": "a34004",
        "pm10": "a34002",
        "o3": "a05024",
        "so2": "a21026",
        "no2": "a21004",
        "no": "a21003",
        "nox": "a21002",
        "co": "a21005",
        "co2": "a05001",
        "ch4": "a05002",
        "temp": "a01001",
        "rh": "a01002",
        "pressure": "a01006",
        "ws": "a01007",
        "wd": "a01008",
        "benzene": "a25002",
        "toluene": "a25003",
    }
    for code, hj in expected.items():
        assert catalog.parameter(code).hj212 == hj, code
    # pressure travels in kPa (Appendix B), everything else in its canonical unit
    assert catalog.parameter("pressure").hj212_unit == "kPa"


def test_ranges_nest(catalog: Catalog) -> None:
    """plausible ⊆ physical, both non-empty; the noise floor is a non-negative number."""
    for p in catalog.parameters.values():
        (plo, phi), (qlo, qhi) = p.physical, p.plausible
        assert plo < phi, p.code
        assert qlo < qhi, p.code
        assert plo <= qlo <= qhi <= phi, p.code
        assert p.noise >= 0, p.code


def test_concentration_lower_bounds(catalog: Catalog) -> None:
    """Concentrations: noise-level negatives land, large negatives do not.

    - The physical (reject) lower bound is at or below −noise: instruments report values
      around zero with ± noise, and such a value is normal data, never a dead letter.
    - It is not below −5 % of the physical upper bound (the instrument's full scale): a
      negative reading that large is a broken analyser, not noise.
    - Plausible ranges start at 0 (a negative concentration is always suspicious).

    (The brief suggested "not below −10·noise"; the data deliberately uses a uniform −50 µg/m³
    for the gas analysers, e.g. NO2 with noise 4 → −50 < −40, so the full-scale rule is
    the invariant the catalog actually follows.)
    """
    for p in catalog.parameters.values():
        if p.group not in CONCENTRATION_GROUPS:
            continue
        lo, hi = p.physical
        assert lo <= -p.noise, f"{p.code}: physical low {lo} rejects noise-level values"
        assert lo >= -0.05 * hi, f"{p.code}: physical low {lo} below −5 % of full scale {hi}"
        assert p.plausible[0] == 0.0, p.code


def test_ghg_ranges_contain_background(catalog: Catalog) -> None:
    """Mixing ratios are never negative; today's global background lies inside plausible."""
    background = {"co2": 420.0, "ch4": 1930.0, "n2o": 337.0}  # ppm, ppb, ppb (~2024-2026)
    for code, bg in background.items():
        p = catalog.parameter(code)
        assert p.physical[0] >= 0.0, code
        assert p.plausible[0] <= bg <= p.plausible[1], code


def test_meteorology_physical_limits(catalog: Catalog) -> None:
    """Physical limits of the quantities themselves (and of Earth's surface records)."""
    rh = catalog.parameter("rh")
    assert rh.physical[0] >= 0.0
    assert rh.physical[1] <= 105.0  # sensors overshoot saturation a little, never more
    assert rh.plausible[1] <= 100.0
    assert catalog.parameter("wd").physical == (0.0, 360.0)
    ws = catalog.parameter("ws")
    assert ws.physical[0] >= 0.0
    assert ws.physical[1] <= 120.0  # record gust 113 m/s
    temp = catalog.parameter("temp")
    assert temp.physical[0] >= -90.0  # record low −89.2 °C
    assert temp.physical[1] <= 60.0  # record high 56.7 °C
    pressure = catalog.parameter("pressure")
    assert pressure.physical[0] >= 300.0  # summit of Everest ≈ 330 hPa
    assert pressure.physical[1] <= 1100.0  # record high 1084 hPa
    assert pressure.plausible[0] <= 1013.25 <= pressure.plausible[1]
    for code in ("gamma", "blh", "sample_flow"):
        assert catalog.parameter(code).physical[0] >= 0.0, code


def test_plausible_covers_the_aqi_scale(catalog: Catalog) -> None:
    """A concentration the AQI scale can express is never flagged implausible by QC."""
    for std in catalog.aqi_standards.values():
        for column, bps in std.breakpoints.items():
            code = column.split("_")[0]
            assert catalog.parameter(code).plausible[1] >= bps[-1], (std.version, column)


def test_units_accepted_and_convertible(catalog: Catalog) -> None:
    for p in catalog.parameters.values():
        assert p.unit in p.accepted, p.code
        assert len(set(p.accepted)) == len(p.accepted), p.code
        for unit in (*p.accepted, *([p.hj212_unit] if p.hj212_unit else [])):
            conv = catalog.conversion(p.code, unit)
            assert conv.scale > 0, (p.code, unit)
        assert catalog.conversion(p.code, p.unit).is_identity, p.code


# --------------------------------------------------------------------------------------
# stations
# --------------------------------------------------------------------------------------


def test_twelve_stations_with_known_parameters(catalog: Catalog) -> None:
    assert len(catalog.stations) == 12
    for s in catalog.stations.values():
        assert s.params, s.id
        assert len(set(s.params)) == len(s.params), s.id
        for code in s.params:
            assert code in catalog.parameters, (s.id, code)


def test_station_ids_and_mns(catalog: Catalog) -> None:
    ids = [s.id for s in catalog.stations.values()]
    mns = [s.mn for s in catalog.stations.values()]
    assert len(set(mns)) == len(mns)
    for sid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", sid), sid  # contract.md §1.1
    for mn in mns:
        assert re.fullmatch(r"[A-Za-z0-9]{1,24}", mn), mn  # HJ 212 MN
    for mn, station in catalog.stations_by_mn().items():
        assert catalog.station_by_mn(mn) is station


def test_every_station_type_present(catalog: Catalog) -> None:
    present = {s.type for s in catalog.stations.values()}
    assert present == set(StationType)
    assert {t.value for t in StationType} == {
        "national",
        "voc",
        "ghg",
        "pm_component",
        "radiation",
        "ecological",
        "micro",
    }


def test_station_positions_near_network_center(catalog: Catalog) -> None:
    lat0, lon0 = catalog.network.center
    for s in catalog.stations.values():
        assert abs(s.lat - lat0) < 1.0, s.id
        assert abs(s.lon - lon0) < 1.0, s.id


def test_station_types_carry_their_instruments(catalog: Catalog) -> None:
    """A station of a type measures what the type is about."""
    by_type: dict[StationType, list[Any]] = {}
    for s in catalog.stations.values():
        by_type.setdefault(s.type, []).append(s)
    for s in by_type[StationType.VOC]:
        assert {"benzene", "toluene", "isoprene", "mp_xylene"} <= set(s.params)
    for s in by_type[StationType.GHG]:
        assert {"co2", "ch4"} <= set(s.params)
    for s in by_type[StationType.PM_COMPONENT]:
        assert {"so4", "no3", "nh4", "oc", "ec"} <= set(s.params)
    for s in by_type[StationType.RADIATION]:
        assert "gamma" in s.params
    for s in by_type[StationType.NATIONAL]:
        assert {"so2", "no2", "o3", "co", "pm10", "pm25"} <= set(s.params)


def test_stations_json_spec_keys(catalog: Catalog) -> None:
    records = catalog.stations_json()
    assert len(records) == 12
    for rec in records:
        assert {"id", "name", "type", "lat", "lon", "params", "mn"} <= rec.keys()


# --------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------


def _source_refs(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every (location, value) of a ``source`` / ``*_source`` key in a TOML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "sources":
                continue  # the definitions themselves
            if key == "source" or key.endswith("_source"):
                yield f"{where}.{key}", value
            else:
                yield from _source_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _source_refs(value, f"{where}[{i}]")


def test_every_source_key_resolves() -> None:
    data = DEFAULT_CATALOG_DIR
    with (data / "sources.toml").open("rb") as fh:
        sources = tomllib.load(fh)["sources"]
    refs: list[tuple[str, Any]] = []
    for path in sorted(data.glob("*.toml")):
        with path.open("rb") as fh:
            refs.extend(_source_refs(tomllib.load(fh), path.name))
    with (data / "voc_species.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for key, value in row.items():
                if key.endswith("_source"):
                    refs.append((f"voc_species.csv {row['code']}.{key}", value))
    assert len(refs) > 100  # every parameter, unit, flag, VOC row...
    unresolved = [(where, key) for where, key in refs if key not in sources]
    assert not unresolved


def test_parameter_sources_loaded(catalog: Catalog) -> None:
    for p in catalog.parameters.values():
        for key in (p.source, p.range_source, p.mir_source, p.koh_source, p.gwp_source):
            assert key is None or key in catalog.sources, (p.code, key)


# --------------------------------------------------------------------------------------
# VOC and GHG
# --------------------------------------------------------------------------------------

VOC_GROUPS = {"alkane", "alkene", "alkyne", "aromatic", "ovoc", "halocarbon"}


def test_voc_species_complete(catalog: Catalog) -> None:
    vocs = catalog.in_group(ParamGroup.VOC)
    assert len(vocs) >= 57  # the PAMS list has 57 species
    assert sum(p.pams for p in vocs) >= 50
    for p in vocs:
        assert p.mir is not None, p.code
        assert 0 < p.mir < 20, p.code
        assert p.koh is not None, p.code
        assert 1e-14 < p.koh < 1e-9, p.code  # cm³ molecule⁻¹ s⁻¹
        assert p.molar_mass is not None, p.code
        assert 16 < p.molar_mass < 300, p.code
        assert p.voc_group in VOC_GROUPS, p.code
        assert p.cas, p.code
        assert p.unit == "ppbv"
        assert "ug/m3" in p.accepted  # OFP needs mass concentrations


@pytest.mark.parametrize(
    ("code", "mir", "molar_mass"),
    [  # domain.md §4.2 (Carter 2010 MIR; m/p-xylene is the 50:50 mean)
        ("ethylene", 9.00, 28.05),
        ("propylene", 11.66, 42.08),
        ("isoprene", 10.61, 68.12),
        ("benzene", 0.72, 78.11),
        ("toluene", 4.00, 92.14),
        ("ethylbenzene", 3.04, 106.17),
        ("mp_xylene", 7.80, 106.17),
        ("o_xylene", 7.64, 106.17),
        ("formaldehyde", 9.46, 30.03),
        ("acetone", 0.36, 58.08),
    ],
)
def test_voc_mir_values(catalog: Catalog, code: str, mir: float, molar_mass: float) -> None:
    p = catalog.parameter(code)
    assert p.mir == pytest.approx(mir)
    assert p.molar_mass == pytest.approx(molar_mass)


def test_ghg_gwp100_ar6(catalog: Catalog) -> None:
    """IPCC AR6 WG1 Table 7.15 (domain.md §5); CH4 is the fossil value."""
    assert catalog.parameter("co2").gwp100 == 1.0
    assert catalog.parameter("ch4").gwp100 == pytest.approx(29.8)
    assert catalog.parameter("n2o").gwp100 == pytest.approx(273.0)
    for code in ("co2", "ch4", "n2o"):
        assert catalog.parameter(code).gwp_source == "ipcc_ar6_gwp"
    # only greenhouse gases carry a GWP
    for p in catalog.parameters.values():
        if p.group is not ParamGroup.GHG:
            assert p.gwp100 is None, p.code


# --------------------------------------------------------------------------------------
# AQI (HJ 633-2012 Table 1, HJ 633-2026 Table 3; domain.md §1.1, §1.2, §1.5)
# --------------------------------------------------------------------------------------

GAS_BREAKPOINTS = {
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800),
}
PM_BREAKPOINTS = {
    "2012": {
        "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
        "pm25_24h": (0, 35, 75, 115, 150, 250, 350, 500),
    },
    "2026": {
        "pm10_24h": (0, 50, 120, 250, 350, 420, 500, 600),
        "pm25_24h": (0, 35, 60, 115, 150, 250, 350, 500),
    },
}


@pytest.mark.parametrize("version", ["2012", "2026"])
def test_aqi_breakpoints_match_hj633(catalog: Catalog, version: str) -> None:
    std = catalog.aqi_standards[version]
    expected = {**GAS_BREAKPOINTS, **PM_BREAKPOINTS[version]}
    assert set(std.breakpoints) == set(expected)
    for column, bps in expected.items():
        assert std.breakpoints[column] == tuple(float(b) for b in bps), (version, column)
    assert catalog.iaqi_steps == (0, 50, 100, 150, 200, 300, 400, 500)


def test_aqi_pm_columns_changed_in_2026(catalog: Catalog) -> None:
    """The PM breakpoints at IAQI 100 tightened: PM2.5 75 → 60, PM10 150 → 120 µg/m³."""
    at_100 = catalog.iaqi_steps.index(100)
    old, new = catalog.aqi_standards["2012"], catalog.aqi_standards["2026"]
    assert old.breakpoints["pm25_24h"][at_100] == 75.0
    assert new.breakpoints["pm25_24h"][at_100] == 60.0
    assert old.breakpoints["pm10_24h"][at_100] == 150.0
    assert new.breakpoints["pm10_24h"][at_100] == 120.0
    # the gas columns are identical in both versions
    for column in GAS_BREAKPOINTS:
        assert old.breakpoints[column] == new.breakpoints[column], column


def test_aqi_special_rules(catalog: Catalog) -> None:
    old, new = catalog.aqi_standards["2012"], catalog.aqi_standards["2026"]
    assert old.above_top == {"so2_1h": {"fallback": "so2_24h"}, "o3_8h": {"fallback": "o3_1h"}}
    assert new.above_top == {"so2_1h": {"fixed": 200}, "o3_8h": {"fixed": 300}}
    # 2026 daily report dropped O3 daily max 1h; hourly report has 6 indicators
    assert "o3_1h_max" in old.reports["daily"]
    assert "o3_1h_max" not in new.reports["daily"]
    assert len(new.reports["hourly"]) == 6
    assert new.input_decimals["co"] == 1
    assert new.input_decimals["pm25"] == 0


def test_aqi_version_by_date(catalog: Catalog) -> None:
    assert catalog.aqi_standard_for(dt.date(2026, 2, 28)).version == "2012"
    assert catalog.aqi_standard_for(dt.date(2026, 3, 1)).version == "2026"
    assert catalog.aqi_standard_for(dt.date(2010, 1, 1)).version == "2012"


def test_aqi_categories(catalog: Catalog) -> None:
    assert [c.aqi_max for c in catalog.categories] == [50, 100, 150, 200, 300, 500]
    assert [c.color for c in catalog.categories] == [
        "#00E400",
        "#FFFF00",
        "#FF7E00",
        "#FF0000",
        "#99004C",
        "#7E0023",
    ]
    assert catalog.category_for(50).level == 1
    assert catalog.category_for(51).level == 2
    assert catalog.category_for(301).name_zh == "严重污染"


def test_flags(catalog: Catalog) -> None:
    assert set(catalog.flags) == set("NFMSDCTBP")
    valid = {f.letter for f in catalog.flags.values() if f.valid}
    assert valid == {"N", "T"}
    assert catalog.flags["T"].keep_marked


# --------------------------------------------------------------------------------------
# lookup errors name the offending value
# --------------------------------------------------------------------------------------


def test_unknown_parameter_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownParameterError, match="'unobtainium'") as info:
        catalog.parameter("unobtainium")
    assert info.value.code == "unobtainium"
    with pytest.raises(UnknownParameterError, match="HJ 212 code 'a99999'"):
        catalog.parameter_by_hj212("a99999")
    assert catalog.hj212_param("a99999") is None


def test_unknown_unit_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownUnitError, match="'furlongs'") as info:
        catalog.conversion("pm25", "furlongs")
    assert "'pm25'" in str(info.value)
    assert info.value.unit == "furlongs"
    assert info.value.param == "pm25"
    with pytest.raises(UnknownParameterError, match="'nope'"):
        catalog.conversion("nope", "ppm")


def test_unknown_station_error(catalog: Catalog) -> None:
    with pytest.raises(UnknownStationError, match="'SY-XX-99'") as info:
        catalog.station("SY-XX-99")
    assert info.value.station == "SY-XX-99"
    with pytest.raises(UnknownStationError, match="HJ 212 MN '000000'"):
        catalog.station_by_mn("000000")


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog(DEFAULT_CATALOG_DIR)


# --------------------------------------------------------------------------------------
# a broken catalog fails to load, naming what is wrong
# --------------------------------------------------------------------------------------


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


Corruption = Callable[[Path], None]

CORRUPTIONS: dict[str, tuple[Corruption, str]] = {
    # NO2 takes SO2's HJ 212 code
    "duplicate_hj212": (
        lambda d: _replace(d / "parameters.toml", 'hj212 = "a21004"', 'hj212 = "a21026"'),
        r"HJ 212 code 'a21026' used by both 'so2' and 'no2'",
    ),
    "unknown_source_parameter": (
        lambda d: _replace(
            d / "parameters.toml", 'range_source = "hj653_2021"', 'range_source = "nowhere_2099"'
        ),
        r"'pm25'.*'nowhere_2099'",
    ),
    "unknown_source_voc": (
        lambda d: _replace(d / "voc_species.csv", "0.28,carter2010_mir", "0.28,made_up_mir"),
        r"'ethane'.*'made_up_mir'",
    ),
    "unknown_source_unit": (
        lambda d: _replace(
            d / "units.toml",
            'factor = 1000.0, source = "si_prefix"',
            'factor = 1000.0, source = "imperial"',
        ),
        r"'mg/m3'.*'imperial'",
    ),
    "unknown_source_flag": (
        lambda d: _replace(
            d / "flags.toml",
            'name_zh = "校准", source = "hj212_2017"',
            'name_zh = "校准", source = "rumour"',
        ),
        r"'C'.*'rumour'",
    ),
    "unknown_source_validity": (
        lambda d: _replace(d / "validity.toml", 'source = "hj663_2013"', 'source = "hj663_1999"'),
        r"o3_8h_max.*'hj663_1999'",
    ),
    "unknown_source_aqi_category": (
        lambda d: _replace(
            d / "aqi.toml",
            'color = "#7E0023"\nsource = "hj633_2012"',
            'color = "#7E0023"\nsource = "hj633_1990"',
        ),
        r"category 6.*'hj633_1990'",
    ),
    "station_unknown_param": (
        lambda d: _replace(
            d / "stations.toml", 'params = ["@micro"]', 'params = ["@micro", "unobtainium"]'
        ),
        r"'SY-JS-11'.*unknown parameter 'unobtainium'",
    ),
    "station_unknown_set": (
        lambda d: _replace(d / "stations.toml", 'params = ["@micro"]', 'params = ["@nano"]'),
        r"'SY-JS-11'.*unknown parameter set '@nano'",
    ),
    "set_unknown_param": (
        lambda d: _replace(d / "stations.toml", '"blh"]', '"blh", "ozone"]'),
        r"unknown parameter 'ozone'",
    ),
    "duplicate_mn": (
        lambda d: _replace(
            d / "stations.toml",
            'mn = "210104XH0200000000000002"',
            'mn = "210102TY0100000000000001"',
        ),
        r"'SY-XH-02'.*MN '210102TY0100000000000001' used twice",
    ),
    "duplicate_station": (
        lambda d: _replace(d / "stations.toml", 'id = "SY-XH-02"', 'id = "SY-TY-01"'),
        r"'SY-TY-01'.*defined twice",
    ),
    "duplicate_parameter": (
        lambda d: _replace(d / "parameters.toml", 'code = "no"\n', 'code = "no2"\n'),
        r"parameter code 'no2' defined twice",
    ),
    "plausible_outside_physical": (
        lambda d: _replace(
            d / "parameters.toml", "plausible = [0.0, 1000.0]", "plausible = [0.0, 30000.0]"
        ),
        r"'pm25'.*plausible range lies outside the physical range",
    ),
    "empty_range": (
        lambda d: _replace(
            d / "parameters.toml", "physical = [0.0, 105.0]", "physical = [105.0, 0.0]"
        ),
        r"'rh' physical.*empty",
    ),
    "canonical_unit_not_accepted": (
        lambda d: _replace(d / "parameters.toml", 'accepted = ["deg"]', 'accepted = ["m/s"]'),
        r"'wd'",
    ),
    "accepted_unit_unconvertible": (
        lambda d: _replace(
            d / "parameters.toml", 'accepted = ["m/s", "km/h"]', 'accepted = ["m/s", "km/h", "hPa"]'
        ),
        r"'ws'.*'hPa'",
    ),
    "alias_to_unknown_unit": (
        lambda d: _replace(d / "units.toml", '"℃" = "degC"', '"℃" = "celsius"'),
        r"'℃'.*'celsius'",
    ),
    "descending_breakpoints": (
        lambda d: _replace(
            d / "aqi.toml", "pm25_24h = [0, 35, 60, 115", "pm25_24h = [0, 60, 35, 115"
        ),
        r"standard 2026.*'pm25_24h'",
    ),
    "report_unknown_column": (
        lambda d: _replace(
            d / "aqi.toml",
            'pm25 = "pm25_24h"\n\n[standard.2026',
            'pm25 = "pm25_1h"\n\n[standard.2026',
        ),
        r"standard 2026 report hourly: 'pm25' -> unknown 'pm25_1h'",
    ),
    "missing_file": (
        lambda d: (d / "flags.toml").unlink(),
        r"flags\.toml",
    ),
    "toml_syntax": (
        lambda d: _replace(d / "stations.toml", "[network]", "[network"),
        r"stations\.toml",
    ),
}


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, target)
    return target


def test_catalog_copy_loads(catalog_copy: Path) -> None:
    """The untouched copy loads: each corruption below is the only thing wrong."""
    copy = load_catalog(catalog_copy)
    assert copy is not load_catalog()
    assert set(copy.parameters) == set(load_catalog().parameters)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_broken_catalog_fails_naming_it(catalog_copy: Path, name: str) -> None:
    corrupt, message = CORRUPTIONS[name]
    corrupt(catalog_copy)
    with pytest.raises(CatalogError, match=message):
        load_catalog(catalog_copy)
