"""Reads the catalog's data files and checks them for consistency.

Every inconsistency (an unknown source key, a duplicate HJ 212 code, a station naming
an unknown parameter, a range outside physical limits) fails the load with a message
naming the file and the offending value: a wrong catalog must never start a pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aircarbon.core.catalog._catalog import Catalog
from aircarbon.core.catalog._model import (
    AqiCategory,
    AqiStandard,
    CoexceedanceLimits,
    DataFlag,
    EventRules,
    Fingerprint,
    Hj212LegacyCode,
    HJ212Version,
    IndicatorRules,
    Network,
    Parameter,
    ParamGroup,
    Station,
    StationType,
    Validity,
)
from aircarbon.core.catalog._units import UnitDef, UnitRegistry
from aircarbon.core.errors import CatalogError

__all__ = ["DEFAULT_CATALOG_DIR", "load_catalog"]

DEFAULT_CATALOG_DIR = Path(__file__).with_name("data")


def load_catalog(
    directory: Path | str | None = None, *, network_file: Path | str | None = None
) -> Catalog:
    """The catalog in ``directory`` (default: the shipped one), cached.

    The network (city, time zone, station sets and stations) comes from ``network_file``
    when given, else from the directory's own ``stations.toml`` (the Shenyang sample).
    Entry points go through :func:`aircarbon.core.catalog.catalog_for`, which picks the
    operator's network file from the settings; this stays for the shipped catalog.
    """
    base = _load_base(Path(directory) if directory is not None else DEFAULT_CATALOG_DIR)
    path = Path(network_file) if network_file is not None else base[1]
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CatalogError(f"network file missing: {path}") from None
    return _with_network(base, path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_base(directory: Path) -> tuple[Catalog, Path]:
    """The shipped part (parameters, units, standards) with the directory's sample network."""
    sample = directory / "stations.toml"
    return _load(directory, sample), sample


@lru_cache(maxsize=16)
def _with_network(base: tuple[Catalog, Path], path: Path, mtime_ns: int, size: int) -> Catalog:
    """``base`` with the network of ``path``; keyed by mtime and size so an edit reloads."""
    catalog, sample = base
    if path == sample:
        return catalog
    network, sets, stations = _load_stations(
        _toml(path), catalog.parameters, catalog.sources, where=path.name
    )
    return replace(catalog, network=network, station_sets=sets, stations=stations, _conversions={})


def _load(directory: Path, network_file: Path) -> Catalog:
    sources = _toml(directory / "sources.toml")["sources"]
    units = _load_units(_toml(directory / "units.toml"), sources)
    params = _load_parameters(directory, sources)
    stations_doc = _toml(network_file)
    network, sets, stations = _load_stations(stations_doc, params, sources)
    aqi_doc = _toml(directory / "aqi.toml")
    validity_doc = _toml(directory / "validity.toml")
    _need_source(aqi_doc.get("source"), "aqi.toml", sources)
    for cat in aqi_doc["category"]:
        _need_source(cat.get("source"), f"aqi.toml category {cat['level']}", sources)
    for name, section in validity_doc.items():
        if isinstance(section, dict):
            _need_source(section.get("source"), f"validity.toml [{name}]", sources)
    catalog = Catalog(
        parameters=params,
        stations=stations,
        network=network,
        units=units,
        flags=_load_flags(_toml(directory / "flags.toml"), sources),
        categories=tuple(
            AqiCategory(
                level=c["level"],
                aqi_max=c["aqi_max"],
                roman=c["roman"],
                name_zh=c["name_zh"],
                name_en=c["name_en"],
                color=c["color"],
            )
            for c in aqi_doc["category"]
        ),
        iaqi_steps=tuple(aqi_doc["iaqi_steps"]),
        aqi_standards=_load_aqi(aqi_doc, sources),
        primary_pollutant_above=int(aqi_doc["primary_pollutant_above"]),
        validity=_load_validity(validity_doc),
        sources=sources,
        indicators=_load_indicators(_toml(directory / "indicators.toml"), params, sources),
        station_sets=sets,
        hj212_2005=_load_hj212_2005(directory / "hj212_2005.toml", params, sources),
    )
    _check_units(catalog)
    _check_hj212_2005(catalog)
    return catalog


def _toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CatalogError(f"catalog file missing: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog file {path.name}: {exc}") from exc


def _need_source(key: str | None, where: str, sources: Mapping[str, str]) -> str:
    if not key or key not in sources:
        raise CatalogError(f"{where}: source {key!r} is not defined in sources.toml")
    return key


def _load_units(doc: dict[str, Any], sources: Mapping[str, str]) -> UnitRegistry:
    ref = doc["reference_state"]
    _need_source(ref["source"], "units.toml reference_state", sources)
    molar_volume_l = ref["gas_constant"] * ref["temperature_k"] / ref["pressure_pa"] * 1000.0
    dims = doc["dimensions"]
    units: dict[str, UnitDef] = {}
    for name, spec in doc["units"].items():
        if spec["dimension"] not in dims:
            raise CatalogError(f"units.toml: unit {name!r} has unknown dimension")
        _need_source(spec.get("source"), f"units.toml unit {name!r}", sources)
        units[name] = UnitDef(
            name, spec["dimension"], float(spec["factor"]), spec.get("offset", 0.0)
        )
    for alias, target in doc["aliases"].items():
        if target not in units:
            raise CatalogError(f"units.toml: alias {alias!r} points to unknown unit {target!r}")
    return UnitRegistry(units, doc["aliases"], molar_volume_l)


def _range(value: Any, where: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not lo < hi:
        raise CatalogError(f"{where}: range [{lo}, {hi}] is empty")
    return lo, hi


def _load_parameters(directory: Path, sources: Mapping[str, str]) -> dict[str, Parameter]:
    params: dict[str, Parameter] = {}
    for row in _toml(directory / "parameters.toml")["parameter"]:
        code = row["code"]
        where = f"parameters.toml {code!r}"
        physical = _range(row["physical"], f"{where} physical")
        plausible = _range(row["plausible"], f"{where} plausible")
        if not (physical[0] <= plausible[0] and plausible[1] <= physical[1]):
            raise CatalogError(f"{where}: plausible range lies outside the physical range")
        for key in ("source", "range_source", "gwp_source", "hj212_source"):
            if key in row:
                _need_source(row[key], f"{where} {key}", sources)
        _add(
            params,
            Parameter(
                code=code,
                name_zh=row["name_zh"],
                name_en=row["name_en"],
                group=ParamGroup(row["group"]),
                unit=row["unit"],
                accepted=tuple(row["accepted"]),
                physical=physical,
                plausible=plausible,
                noise=float(row["noise"]),
                source=row["source"],
                range_source=row["range_source"],
                hj212=row.get("hj212"),
                hj212_unit=row.get("hj212_unit"),
                molar_mass=row.get("molar_mass"),
                gwp100=row.get("gwp100"),
                gwp_source=row.get("gwp_source"),
            ),
        )
    with (directory / "voc_species.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["code"]
            where = f"voc_species.csv {code!r}"
            _need_source(row["mir_source"], f"{where} mir_source", sources)
            _need_source(row["koh_source"], f"{where} koh_source", sources)
            _add(
                params,
                Parameter(
                    code=code,
                    name_zh=row["name_zh"],
                    name_en=row["name_en"],
                    group=ParamGroup.VOC,
                    unit="ppbv",
                    accepted=("ppbv", "ppb", "pptv", "ppt", "ug/m3"),
                    physical=(-1.0, 100000.0),
                    plausible=(0.0, 1000.0),
                    noise=0.01,
                    source=row["mir_source"],
                    range_source="engineering_choice",
                    hj212=row["hj212"] or None,
                    molar_mass=float(row["molar_mass"]),
                    cas=row["cas"],
                    voc_group=row["voc_group"],
                    pams=row["pams"] == "true",
                    mir=float(row["mir"]),
                    mir_source=row["mir_source"],
                    koh=float(row["koh"]),
                    koh_source=row["koh_source"],
                ),
            )
    seen: dict[str, str] = {}
    for p in params.values():
        if p.hj212:
            if p.hj212 in seen:
                raise CatalogError(
                    f"HJ 212 code {p.hj212!r} used by both {seen[p.hj212]!r} and {p.code!r}"
                )
            seen[p.hj212] = p.code
    return params


def _add(params: dict[str, Parameter], p: Parameter) -> None:
    if p.code in params:
        raise CatalogError(f"parameter code {p.code!r} defined twice")
    params[p.code] = p


def _load_stations(
    doc: dict[str, Any],
    params: Mapping[str, Parameter],
    sources: Mapping[str, str],
    *,
    where: str = "stations.toml",
) -> tuple[Network, dict[str, tuple[str, ...]], dict[str, Station]]:
    """The network document: ``[network]``, ``[sets]`` and ``[[station]]`` (any file name).

    The shipped sample cites a source for its placements; an operator's own network need
    not (its stations are its own), but a cited source must exist.
    """
    net = doc.get("network")
    if not isinstance(net, dict):
        raise CatalogError(f"{where}: no [network] table")
    if "source" in net:
        _need_source(net["source"], f"{where} network", sources)
    try:
        network = Network(
            city=str(net["city"]),
            name_zh=str(net.get("name_zh", net["city"])),
            name_en=str(net.get("name_en", net["city"])),
            timezone=check_timezone(str(net["timezone"]), f"{where} network"),
            center=(0.0, 0.0),  # replaced below when the file names none
        )
    except KeyError as exc:
        raise CatalogError(f"{where} network: missing key {exc.args[0]!r}") from None
    pams = tuple(p.code for p in params.values() if p.pams)
    raw_sets: dict[str, list[str]] = doc.get("sets", {})

    def expand(items: list[str], at: str, depth: int = 0) -> list[str]:
        out: list[str] = []
        for item in items:
            if item == "@voc_pams":
                out.extend(pams)
            elif item.startswith("@"):
                name = item[1:]
                if name not in raw_sets or depth > 4:
                    raise CatalogError(f"{at}: unknown parameter set {item!r}")
                out.extend(expand(raw_sets[name], at, depth + 1))
            elif item not in params:
                raise CatalogError(f"{at}: unknown parameter {item!r}")
            else:
                out.append(item)
        return list(dict.fromkeys(out))

    sets = {name: tuple(expand(items, f"{where} set {name!r}")) for name, items in raw_sets.items()}
    stations: dict[str, Station] = {}
    mns: dict[str, str] = {}
    codes: dict[str, str] = {}
    for row in doc.get("station", []):
        sid = str(row.get("id", ""))
        at = f"{where} station {sid!r}"
        if not sid:
            raise CatalogError(f"{where}: a [[station]] has no id")
        if sid in stations:
            raise CatalogError(f"{at}: defined twice")
        missing = [k for k in ("type", "lat", "lon", "mn", "params") if k not in row]
        if missing:
            raise CatalogError(f"{at}: missing {', '.join(missing)}")
        mn = str(row["mn"])
        if mn in mns:
            raise CatalogError(f"{at}: HJ 212 MN {mn!r} used twice (also {mns[mn]!r})")
        mns[mn] = sid
        code = row.get("national_code") or None
        if code is not None:
            code = str(code)
            if code in codes:
                raise CatalogError(f"{at}: national code {code!r} already used by {codes[code]!r}")
            codes[code] = sid
        try:
            kind = StationType(row["type"])
        except ValueError:
            raise CatalogError(
                f"{at}: unknown station type {row['type']!r} "
                f"(one of {', '.join(t.value for t in StationType)})"
            ) from None
        lat, lon = _lat_lon((row["lat"], row["lon"]), at)
        valid_from = _date(row.get("valid_from"), f"{at} valid_from")
        valid_to = _date(row.get("valid_to"), f"{at} valid_to")
        if valid_from is not None and valid_to is not None and valid_to < valid_from:
            raise CatalogError(f"{at}: valid_to {valid_to} is before valid_from {valid_from}")
        stations[sid] = Station(
            id=sid,
            name_zh=str(row.get("name_zh") or row.get("name_en") or sid),
            name_en=str(row.get("name_en") or sid),
            type=kind,
            lat=lat,
            lon=lon,
            mn=mn,
            params=tuple(expand(list(row["params"]), at)),
            instruments=tuple(row.get("instruments", ())),
            district=str(row.get("district", "")),
            timezone=check_timezone(str(row.get("timezone", network.timezone)), at),
            background=bool(row.get("background", False)),
            hj212_version=_hj212_version(row.get("hj212_version", "auto"), at),
            national_code=code,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    if "center" in net:
        center = _lat_lon(net["center"], f"{where} network center")
    elif stations:  # a new network without a centre: the middle of its stations
        center = (
            sum(s.lat for s in stations.values()) / len(stations),
            sum(s.lon for s in stations.values()) / len(stations),
        )
    else:
        center = (0.0, 0.0)
    return replace(network, center=center), sets, stations


def check_timezone(value: str, where: str) -> str:
    """``value`` if it names an IANA zone; else a one-line CatalogError naming ``where``."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder
        raise CatalogError(
            f"{where}: unknown time zone {value!r} (an IANA name such as 'Asia/Shanghai')"
        ) from None
    return value


def _lat_lon(value: Any, where: str) -> tuple[float, float]:
    """A (lat, lon) pair inside the globe; names ``where`` otherwise."""
    try:
        lat, lon = (float(v) for v in value)
    except (TypeError, ValueError):
        raise CatalogError(f"{where}: coordinates {value!r} are not two numbers") from None
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):  # NaN fails both
        raise CatalogError(f"{where}: coordinates ({lat}, {lon}) outside lat ±90, lon ±180")
    return lat, lon


def _date(value: Any, where: str) -> dt.date | None:
    """A TOML date or an ISO ``YYYY-MM-DD`` string (None when absent)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        raise CatalogError(f"{where}: {value!r} is a timestamp, not a date")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CatalogError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


_HJ212_VERSIONS: dict[str, HJ212Version] = {"2005": "2005", "2017": "2017", "auto": "auto"}


def _hj212_version(value: Any, where: str) -> HJ212Version:
    version = _HJ212_VERSIONS.get(str(value))
    if version is None:
        raise CatalogError(f"{where}: hj212_version {value!r} is not '2005', '2017' or 'auto'")
    return version


def _load_hj212_2005(
    path: Path, params: Mapping[str, Parameter], sources: Mapping[str, str]
) -> dict[str, Hj212LegacyCode]:
    """The HJ/T 212-2005 code table; optional, so a custom catalog may leave it out."""
    if not path.exists():
        return {}
    codes: dict[str, Hj212LegacyCode] = {}
    for row in _toml(path).get("code", []):
        code = str(row["code"])
        where = f"hj212_2005.toml code {code!r}"
        if code in codes:
            raise CatalogError(f"{where}: defined twice")
        if not (0 < len(code) <= 16 and code.isalnum()):
            raise CatalogError(f"{where}: not 1-16 letters/digits")
        param = row.get("param") or None
        if param is not None and param not in params:
            raise CatalogError(f"{where}: unknown parameter {param!r}")
        hj2017 = row.get("hj212_2017") or None
        if param is not None and hj2017 != params[param].hj212:
            raise CatalogError(
                f"{where}: maps to {param!r} whose HJ 212-2017 code is "
                f"{params[param].hj212!r}, not {hj2017!r}"
            )
        codes[code] = Hj212LegacyCode(
            code=code,
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            hj212_2017=hj2017,
            param=param,
            unit=row["unit"],
            source=_need_source(row.get("source"), where, sources),
            note=row.get("note", ""),
        )
    return codes


def _check_hj212_2005(catalog: Catalog) -> None:
    """A 2005 code that lands as a parameter must travel in one of that parameter's units."""
    for entry in catalog.hj212_2005.values():
        if entry.param is None:
            continue
        try:
            catalog.conversion(entry.param, entry.unit)
        except CatalogError as exc:
            raise CatalogError(f"hj212_2005.toml code {entry.code!r}: {exc}") from exc


def _load_flags(doc: dict[str, Any], sources: Mapping[str, str]) -> dict[str, DataFlag]:
    flags: dict[str, DataFlag] = {}
    for letter, spec in doc["flags"].items():
        _need_source(spec["source"], f"flags.toml {letter!r}", sources)
        flags[letter] = DataFlag(
            letter=letter,
            valid=bool(spec["valid"]),
            name_en=spec["name_en"],
            name_zh=spec["name_zh"],
            keep_marked=bool(spec.get("keep_marked", False)),
        )
    return flags


def _load_aqi(doc: dict[str, Any], sources: Mapping[str, str]) -> dict[str, AqiStandard]:
    out: dict[str, AqiStandard] = {}
    steps = doc["iaqi_steps"]
    for version, spec in doc["standard"].items():
        where = f"aqi.toml standard {version}"
        _need_source(spec["source"], where, sources)
        bps = {k: tuple(float(x) for x in v) for k, v in spec["breakpoints"].items()}
        for key, bp in bps.items():
            if len(bp) > len(steps) or list(bp) != sorted(bp):
                raise CatalogError(
                    f"{where}: breakpoints {key!r} must ascend, ≤ {len(steps)} steps"
                )
        for report, mapping in spec["reports"].items():
            for inp, column in mapping.items():
                if column not in bps:
                    raise CatalogError(f"{where} report {report}: {inp!r} -> unknown {column!r}")
        until = spec.get("effective_until")
        out[version] = AqiStandard(
            version=version,
            name=spec["name"],
            effective_from=dt.date.fromisoformat(spec["effective_from"]),
            effective_until=dt.date.fromisoformat(until) if until else None,
            breakpoints=bps,
            above_top=dict(spec.get("above_top", {})),
            reports={k: dict(v) for k, v in spec["reports"].items()},
            input_decimals=dict(spec.get("input_decimals", {})),
            exceedance_pollutant_above=spec.get("exceedance_pollutant_above"),
            source=spec["source"],
        )
    return out


def _load_validity(doc: dict[str, Any]) -> Validity:
    return Validity(
        hourly_min_minutes=doc["hourly"]["min_minutes"],
        hourly_params=tuple(doc["hourly"]["params"]),
        daily_min_hours=doc["daily"]["min_hours"],
        daily_params=tuple(doc["daily"]["params"]),
        o3_8h_window_hours=doc["o3_8h"]["window_hours"],
        o3_8h_min_hours=doc["o3_8h"]["min_hours"],
        o3_8h_max_first_end_hour=doc["o3_8h_max"]["first_window_end_hour"],
        o3_8h_max_last_end_hour=doc["o3_8h_max"]["last_window_end_hour"],
        o3_8h_max_min_windows=doc["o3_8h_max"]["min_windows"],
        o3_8h_max_valid_if_exceeds=float(doc["o3_8h_max"]["valid_if_exceeds"]),
        annual_min_days=doc["annual"]["min_days"],
        annual_min_days_per_month=doc["annual"]["min_days_per_month"],
        annual_min_days_february=doc["annual"]["min_days_february"],
        sources=tuple(sorted({v["source"] for v in doc.values() if isinstance(v, dict)})),
    )


def _check_units(catalog: Catalog) -> None:
    """Every accepted unit of every parameter must convert into its canonical unit."""
    for p in catalog.parameters.values():
        if p.unit not in p.accepted:
            raise CatalogError(f"parameter {p.code!r}: canonical unit {p.unit!r} not in accepted")
        for unit in (*p.accepted, *([p.hj212_unit] if p.hj212_unit else [])):
            try:
                catalog.conversion(p.code, unit)
            except CatalogError as exc:
                raise CatalogError(f"parameter {p.code!r}: {exc}") from exc


def _load_indicators(
    doc: dict[str, Any], params: Mapping[str, Parameter], sources: Mapping[str, str]
) -> IndicatorRules:
    """``indicators.toml``: every block cites a source; limits ascend; codes are known."""
    where = "indicators.toml"
    for name, section in doc.items():
        if isinstance(section, dict):
            _need_source(section.get("source"), f"{where} [{name}]", sources)
        elif isinstance(section, list):
            for i, item in enumerate(section):
                _need_source(item.get("source"), f"{where} [[{name}]] {i}", sources)
    limits = tuple(
        CoexceedanceLimits(
            effective_from=dt.date.fromisoformat(row["effective_from"]),
            pm25_24h=float(row["pm25_24h"]),
            o3_1h=float(row["o3_1h"]),
            o3_8h=float(row["o3_8h"]),
            source=row["source"],
        )
        for row in doc["coexceedance"]
    )
    if [lim.effective_from for lim in limits] != sorted(lim.effective_from for lim in limits):
        raise CatalogError(f"{where}: [[coexceedance]] must be in effective_from order")
    recon = doc["reconstruction"]
    factors = {str(k): float(v) for k, v in recon["factors"].items()}
    unknown = [c for c in (*factors, *recon["required"]) if c not in params]
    if unknown:
        raise CatalogError(f"{where} [reconstruction]: unknown parameter(s) {unknown}")
    ev = doc["events"]
    fingerprints = []
    meta = {"class", "name_en", "source"}
    for row in doc["fingerprint"]:
        ranges = {
            k: _range(v, f"{where} fingerprint {row['class']} {k}")
            for k, v in row.items()
            if k not in meta
        }
        fingerprints.append(Fingerprint(row["class"], row["name_en"], ranges, row["source"]))
    soc, ghg, wind, cpf = doc["soc"], doc["ghg"], doc["wind"], doc["cpf"]
    quantiles = (soc["ratio_quantile"], ghg["background_quantile"], ev["background_quantile"])
    if not all(0.0 <= q <= 1.0 for q in quantiles):
        raise CatalogError(f"{where}: quantiles must lie in [0, 1]")
    return IndicatorRules(
        avogadro=float(doc["constants"]["avogadro"]),
        coexceedance=limits,
        city_min_station_fraction=float(doc["city"]["min_station_fraction"]),
        voc_min_species_fraction=float(doc["voc"]["min_species_fraction"]),
        voc_top_n=int(doc["voc"]["top_n"]),
        reconstruction_factors=factors,
        reconstruction_required=tuple(recon["required"]),
        soc_ratio_quantile=float(soc["ratio_quantile"]),
        soc_window_days=int(soc["window_days"]),
        soc_min_ratio_hours=int(soc["min_ratio_hours"]),
        ghg_background_quantile=float(ghg["background_quantile"]),
        ghg_background_window_days=int(ghg["background_window_days"]),
        regression_min_hours=int(ghg["regression_min_hours"]),
        regression_min_r2=float(ghg["regression_min_r2"]),
        mce_min_dco2_ppm=float(ghg["mce_min_dco2_ppm"]),
        sectors=int(wind["sectors"]),
        calm_ws=float(wind["calm_ws"]),
        cpf_percentile=float(cpf["percentile"]),
        cpf_min_hours=int(cpf["min_hours"]),
        events=EventRules(
            background_quantile=float(ev["background_quantile"]),
            background_window_hours=int(ev["background_window_hours"]),
            background_min_hours=int(ev["background_min_hours"]),
            anchors=tuple(ev["anchors"]),
            min_copollutants=int(ev["min_copollutants"]),
            min_duration_hours=int(ev["min_duration_hours"]),
            merge_gap_hours=int(ev["merge_gap_hours"]),
            min_class_score=float(ev["min_class_score"]),
            min_class_metrics=int(ev["min_class_metrics"]),
            thresholds={str(k): float(v) for k, v in ev["thresholds"].items()},
        ),
        fingerprints=tuple(fingerprints),
    )
