"""The bulletin's one query layer: a read-only lake session → :class:`BulletinContext`.

Every number comes from the warehouse, through the SQL files beside this module (which reuse
the analyst macros: ``completeness``, ``ofp_ranking``, ``carbon_series``, ``events``,
``wind_sectors``/``cpf``, ``trend_daily``). The one value the lake does not hold is the
*city* AQI: :func:`transforms.city_aqi.city_aqi` computes it from the lake's daily values (HJ
663 city assessment: assessment stations' valid daily means, HJ 633 of the version in force),
the same function the forecast and the warnings use and the macro ``city_aqi_daily`` equals,
so the headline, the outlook's day 0 and an analyst's query read one number.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from aircarbon.bulletin.model import (
    BulletinContext,
    CarbonStation,
    CityDay,
    Event,
    Outlook,
    PmComponents,
    Reading,
    SectorStat,
    StationDay,
    Targets,
    Trend,
    VocStation,
)
from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import CatalogError, WarehouseError
from transforms.city_aqi import ASSESSMENT_TYPES  # re-exported: which stations assess the city

if TYPE_CHECKING:
    import duckdb

    from aircarbon.core.settings import Settings

__all__ = ["ASSESSMENT_TYPES", "build_context", "city_days", "load_targets", "query"]

_SQL_DIR: Final = Path(__file__).with_name("sql")
_READINGS: Final = Path(__file__).with_name("readings.toml")
_PM_COMPONENTS: Final = ("so4", "no3", "nh4", "oc", "ec", "cl", "k", "na", "ca", "mg")
_VOC_GROUPS: Final = ("alkane", "alkene", "alkyne", "aromatic", "ovoc", "halocarbon")
_DIURNAL: Final = ("pm25", "o3", "no2", "co2")
_OFP_TOP: Final = 10
_FORECAST_TABLES: Final = ("forecasts", "warnings", "forecast_skill")


@cache
def _sql(name: str) -> str:
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of ``sql/<name>.sql`` with named parameters, as dicts; DuckDB errors → ours."""
    import duckdb

    try:
        cur = con.execute(_sql(name), params)
        cols = [d[0] for d in cur.description or []]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise WarehouseError(f"bulletin query {name}: {first}") from exc


def _bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC interval (start, end] of a local day's hour ends, as naive UTC (for SQL)."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


# --------------------------------------------------------------------------------------
# data files
# --------------------------------------------------------------------------------------


def load_targets(catalog_dir: Path | None) -> dict[str, Any]:
    """``targets.toml`` of the catalog (shipped one when an override lacks it), sources checked."""
    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR

    directory = catalog_dir if catalog_dir and (catalog_dir / "targets.toml").is_file() else None
    directory = directory or DEFAULT_CATALOG_DIR
    doc = tomllib.loads((directory / "targets.toml").read_text(encoding="utf-8"))
    shared = tomllib.loads((directory / "sources.toml").read_text(encoding="utf-8"))["sources"]
    sources = {**shared, **doc.get("sources", {})}
    items = [*doc.get("air_limit", []), *doc.get("carbon_target", [])]
    items += [doc["annual_validity"], doc["good_days"]]
    for item in items:
        if item.get("source") not in sources:
            raise CatalogError(f"targets.toml: unknown source {item.get('source')!r}")
    doc["sources"] = sources
    return doc


@cache
def _readings() -> dict[str, list[tuple[float, float, str, str]]]:
    """``readings.toml``: indicator → ranges [lo, hi) with sentence key and source (checked)."""
    from aircarbon.core.catalog import load_catalog

    doc = tomllib.loads(_READINGS.read_text(encoding="utf-8"))
    known = {*load_catalog().sources, *doc.get("sources", {})}
    for r in doc["reading"]:
        if r["source"] not in known:
            raise CatalogError(f"readings.toml: unknown source {r['source']!r}")
    return {
        r["indicator"]: [
            (float(lo), float(hi), str(key), r["source"]) for lo, hi, key in r["ranges"]
        ]
        for r in doc["reading"]
    }


def read_ratio(indicator: str, value: float | None) -> Reading | None:
    """The reading of a valid ratio from ``readings.toml``; None when no range covers it."""
    if value is None:
        return None
    for lo, hi, key, source in _readings().get(indicator, []):
        if lo <= value < hi:
            return Reading(indicator, value, key, source)
    return None


# --------------------------------------------------------------------------------------
# city AQI
# --------------------------------------------------------------------------------------


def _aqi_params(catalog: Catalog) -> list[str]:
    """Every daily AQI input code of every HJ 633 version (the daily params to read)."""
    from transforms.aqi import input_codes

    return sorted({c for std in catalog.aqi_standards.values() for c in input_codes(std, "daily")})


def city_days(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    first: dt.date,
    last: dt.date,
    stations: list[str],
) -> dict[dt.date, CityDay]:
    """City AQI of every day in [first, last] with data (:func:`transforms.city_aqi.city_aqi`)."""
    import polars as pl

    from transforms.city_aqi import city_aqi

    params = _aqi_params(catalog)
    rows = query(con, "city_daily", d0=first, d1=last, stations=stations, params=params)
    schema = {"station": pl.String, "param": pl.String, "date": pl.Date}
    schema |= {"value": pl.Float64, "valid": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema)
    out: dict[dt.date, CityDay] = {}
    for r in city_aqi(frame, catalog, stations=stations).iter_rows(named=True):
        out[r["date"]] = CityDay(
            date=r["date"],
            aqi=r["aqi"],
            category=catalog.category_for(r["aqi"]),
            primary=tuple(r["primary_pollutants"]),
            concentrations={m["pollutant"]: m["value"] for m in r["means"]},
            stations=r["stations"],
            standard=r["standard"],
        )
    return out


# --------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------


def _indicators(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """station → indicator → value, valid rows only (invalid values are not reported)."""
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        if r["valid"] and r["value"] is not None:
            out.setdefault(r["station"], {})[r["indicator"]] = float(r["value"])
    return out


def _readings_of(values: Mapping[str, float], names: Iterable[str]) -> list[Reading]:
    found = (read_ratio(n, values.get(n)) for n in names)
    return [r for r in found if r is not None]


def _stations_section(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    day: dt.date,
    meta: Mapping[str, Mapping[str, Any]],
    ind: Mapping[str, Mapping[str, float]],
) -> list[StationDay]:
    """Every station with a daily AQI, then those that should have had one and fell short.

    A station measuring AQI pollutants, in service on the day, whose day missed the daily
    minimum for any of them is listed with its valid hours (19/24 h), even without an AQI:
    dropping it would make a network outage look like a smaller network.
    """
    complete = {r["station"]: r for r in query(con, "completeness_day", day=day)}
    pollutants = sorted(_aqi_pollutants(catalog, day))
    hours = {r["station"]: r for r in query(con, "aqi_hours_day", day=day, params=pollutants)}
    min_hours = catalog.validity.daily_min_hours
    rows = {r["station"]: r for r in query(con, "station_aqi", day=day)}
    expected = [
        s.id
        for s in catalog.stations.values()
        if s.active_on(day) and set(s.params) & set(pollutants) and (s.id in meta or not meta)
    ]
    order = [*rows, *sorted((set(hours) | set(expected)) - set(rows))]
    out: list[StationDay] = []
    for sid in order:
        r = rows.get(sid, {})
        m = meta.get(sid, {})
        c = complete.get(sid, {})
        h = hours.get(sid, {})
        aqi = r.get("aqi")
        # no hourly rows: nothing arrived (0 h) — unless a daily AQI came another way (import)
        valid = int(h["valid_hours"]) if h else (None if aqi is not None else 0)
        out.append(
            StationDay(
                station=sid,
                name_zh=str(m.get("name_zh", sid)),
                name_en=str(m.get("name_en", sid)),
                type=str(m.get("type", "")),
                aqi=aqi,
                category=catalog.category_for(aqi) if aqi is not None else None,
                primary=tuple(r.get("primary_pollutants") or ()),
                exceedances=tuple(r.get("exceedances") or ()),
                completeness=c.get("mean_completeness"),
                worst_param=c.get("worst_param"),
                worst_completeness=c.get("min_completeness"),
                ox=ind.get(sid, {}).get("ox"),
                coexceed_hours=ind.get(sid, {}).get("pm25_o3_coexceed_hours"),
                valid_hours=valid,
                expected_hours=int(h.get("expected_hours") or 24),
                short_param=h.get("short_param"),
                incomplete=valid is not None and valid < min_hours,
            )
        )
    return out


def _aqi_pollutants(catalog: Catalog, day: dt.date) -> set[str]:
    """Hourly codes of the pollutants of ``day``'s daily AQI (o3_8h_max → o3)."""
    from transforms.aqi import input_codes

    return {_hourly_code(c) for c in input_codes(catalog.aqi_standard_for(day), "daily")}


def _voc_section(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    meta: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, tuple[str, str]],
    ind: Mapping[str, Mapping[str, float]],
) -> list[VocStation]:
    out: list[VocStation] = []
    for sid, values in sorted(ind.items()):
        if sid == "city" or ("ofp_total" not in values and "tvoc" not in values):
            continue
        top = [
            (
                r["species"],
                names.get(r["species"], (r["species"], r["species"]))[0],
                names.get(r["species"], (r["species"], r["species"]))[1],
                r["voc_group"] or "",
                float(r["ofp_ug_m3"]),
                float(r["share"] or 0.0),
            )
            for r in query(con, "ofp_top", station=sid, day=day, top=_OFP_TOP)
        ]
        tvoc, ofp = values.get("tvoc"), values.get("ofp_total")
        groups: dict[str, tuple[float | None, float | None]] = {}
        for g in _VOC_GROUPS:
            vol, pot = values.get(f"tvoc_{g}"), values.get(f"ofp_{g}")
            if vol is None and pot is None:
                continue
            groups[g] = (
                vol / tvoc if vol is not None and tvoc else None,
                pot / ofp if pot is not None and ofp else None,
            )
        ratios = ("toluene_benzene_ratio", "xylene_ethylbenzene_ratio", "ipentane_npentane_ratio")
        out.append(
            VocStation(
                station=sid,
                name_zh=str(meta.get(sid, {}).get("name_zh", sid)),
                name_en=str(meta.get(sid, {}).get("name_en", sid)),
                tvoc_ppbv=tvoc,
                ofp_total_ug_m3=ofp,
                top=top,
                groups=groups,
                readings=_readings_of(values, ratios),
            )
        )
    return out


def _pm_section(
    day_rows: list[dict[str, Any]],
    meta: Mapping[str, Mapping[str, Any]],
    ind: Mapping[str, Mapping[str, float]],
) -> list[PmComponents]:
    daily: dict[str, dict[str, float]] = {}
    for r in day_rows:
        if r["valid"] and r["value"] is not None:
            daily.setdefault(r["station"], {})[r["param"]] = float(r["value"])
    out: list[PmComponents] = []
    for sid, values in sorted(daily.items()):
        comp: dict[str, float] = {c: values[c] for c in _PM_COMPONENTS if c in values}
        if len(comp) < 3:
            continue
        pm25 = values.get("pm25")
        if pm25 is not None and pm25 > sum(comp.values()):
            comp["other"] = pm25 - sum(comp.values())
        vals = ind.get(sid, {})
        out.append(
            PmComponents(
                station=sid,
                name_zh=str(meta.get(sid, {}).get("name_zh", sid)),
                name_en=str(meta.get(sid, {}).get("name_en", sid)),
                pm25_ug_m3=pm25,
                composition=comp,
                sor=vals.get("sor"),
                nor=vals.get("nor"),
                soc_ug_m3=vals.get("soc"),
                soc_share=vals.get("soc_share"),
                readings=_readings_of(
                    vals, ("sor", "nor", "no3_so4_ratio", "oc_ec_ratio", "pm25_pm10_ratio")
                ),
            )
        )
    return out


def _carbon_section(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    meta: Mapping[str, Mapping[str, Any]],
    ind: Mapping[str, Mapping[str, float]],
) -> list[CarbonStation]:
    out: list[CarbonStation] = []
    for sid in sorted(s for s, v in ind.items() if s != "city" and "co2_mean" in v):
        rows = query(con, "carbon_day", station=sid, day=day)
        if not rows:
            continue
        r = rows[0]
        dco = r.get("dco_dco2")
        out.append(
            CarbonStation(
                station=sid,
                name_zh=str(meta.get(sid, {}).get("name_zh", sid)),
                name_en=str(meta.get(sid, {}).get("name_en", sid)),
                background=bool(meta.get(sid, {}).get("background", False)),
                co2_ppm=r.get("co2_mean"),
                ch4_ppb=r.get("ch4_mean"),
                n2o_ppb=r.get("n2o_mean"),
                co2_excess_ppm=r.get("co2_excess"),
                ch4_excess_ppb=r.get("ch4_excess"),
                dco_dco2=dco,
                co2e_mg_m3=r.get("co2e"),
                readings=[x for x in (read_ratio("dco_dco2", dco),) if x is not None],
            )
        )
    return out


def _events_section(
    con: duckdb.DuckDBPyConnection, day: dt.date, tz: str, meta: Mapping[str, Mapping[str, Any]]
) -> list[Event]:
    zone = ZoneInfo(tz)
    out: list[Event] = []
    for r in query(con, "events_day", day=day):
        sid = r["station"]
        out.append(
            Event(
                event_id=r["event_id"],
                station=sid,
                name_zh=str(meta.get(sid, {}).get("name_zh", sid)),
                name_en=str(meta.get(sid, {}).get("name_en", sid)),
                start_local=r["start_ts"].astimezone(zone),
                end_local=r["end_ts"].astimezone(zone),
                hours=int(r["hours"] or 0),
                anchor=r["anchor"] or "",
                anchor_unit=r["anchor_unit"] or "",
                anchor_excess_mean=r["anchor_excess_mean"],
                copollutants=tuple(r["copollutants"] or ()),
                sector=r["sector"],
                source_class=r["source_class"],
            )
        )
    return out


def _hourly_code(pollutant: str) -> str:
    """AQI pollutant name → hourly param (``o3_8h`` → ``o3``)."""
    return pollutant.split("_", 1)[0] if pollutant.startswith("o3") else pollutant


def _rose(
    con: duckdb.DuckDBPyConnection,
    city: CityDay | None,
    day_rows: list[dict[str, Any]],
    stations: list[str],
    bounds: tuple[dt.datetime, dt.datetime],
    cpf_pct: float,
) -> tuple[str | None, str | None, float | None, list[SectorStat]]:
    """Sectors of the day's peak of the city's primary pollutant (PM2.5 when none)."""
    param = _hourly_code(city.primary[0]) if city and city.primary else "pm25"
    daily_param = "o3_8h_max" if param == "o3" else param
    best = [
        r for r in day_rows if r["param"] == daily_param and r["valid"] and r["station"] in stations
    ]
    if not best:
        return None, param, None, []
    top = max(best, key=lambda r: float(r["value"]))
    t0, t1 = (b.replace(tzinfo=None) for b in bounds)
    rows = query(
        con, "wind_sectors", station=top["station"], param=param, t0=t0, t1=t1, pct=cpf_pct
    )
    sectors = [SectorStat(r["sector"], int(r["hours"]), float(r["mean"]), r["cpf"]) for r in rows]
    return top["station"], param, float(top["value"]), sectors


def _diurnal(
    con: duckdb.DuckDBPyConnection,
    bounds: tuple[dt.datetime, dt.datetime],
    assessment: list[str],
    ghg_sites: list[str],
    tz: str,
) -> dict[str, list[tuple[int, float]]]:
    """Local hour (1..24, hour END) → city-mean value, for PM2.5, O3, NO2 (and CO2)."""
    t0, t1 = (b.replace(tzinfo=None) for b in bounds)
    zone = ZoneInfo(tz)
    out: dict[str, list[tuple[int, float]]] = {}
    plan = (([p for p in _DIURNAL if p != "co2"], assessment), (["co2"], ghg_sites))
    for params, sites in plan:
        if not sites:
            continue
        for r in query(con, "diurnal", t0=t0, t1=t1, params=params, stations=sites):
            ts = r["ts"].replace(tzinfo=dt.UTC) if r["ts"].tzinfo is None else r["ts"]
            local = ts.astimezone(zone)
            hour = local.hour or 24
            out.setdefault(r["param"], []).append((hour, float(r["value"])))
    return out


def _targets(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    day: dt.date,
    year_days: Mapping[dt.date, CityDay],
    ghg_sites: list[str],
) -> Targets:
    doc = load_targets(settings.catalog_dir)
    ytd = [c for d, c in year_days.items() if d.year == day.year and d <= day and c.aqi is not None]
    good_max = int(doc["good_days"]["aqi_max"])
    annual: dict[str, tuple[float, int, float | None, float | None]] = {}
    for param in ("pm25", "pm10", "no2"):
        values = [c.concentrations[param] for c in ytd if param in c.concentrations]
        if not values:
            continue
        limits = {
            lim["stage"]: float(lim["value"])
            for lim in doc["air_limit"]
            if lim["param"] == param and lim["averaging"] == "annual"
        }
        annual[param] = (
            sum(values) / len(values),
            len(values),
            limits.get("transition"),
            limits.get("final"),
        )
    trends: list[Trend] = []
    if ghg_sites:
        start = day - dt.timedelta(days=365)
        hist = query(con, "carbon_history", d0=start, d1=day)
        for param in ("co2", "ch4"):
            series = [r for r in hist if r["param"] == param]
            if not series:
                continue
            tr = query(con, "trend", param=param, d0=start, d1=day)
            t = tr[0] if tr else {}
            trends.append(
                Trend(
                    param=param,
                    days=len(series),
                    slope_per_year=t.get("slope_per_year") if len(series) >= 3 else None,
                    p_value=t.get("p_value"),
                    first=float(series[0]["value"]),
                    last=float(series[-1]["value"]),
                )
            )
    return Targets(
        year=day.year,
        ytd_days=len(ytd),
        good_days=sum(1 for c in ytd if c.aqi is not None and c.aqi <= good_max),
        annual=annual,
        min_days=int(doc["annual_validity"]["min_days"]),
        carbon_targets=list(doc.get("carbon_target", [])),
        trends=trends,
        sources=dict(doc["sources"]),
    )


def _outlook(con: duckdb.DuckDBPyConnection, day: dt.date, today: CityDay | None) -> Outlook | None:
    """The forecast issued on ``day``, if the 0008 tables exist and have it (else None).

    ``today`` (the observed city AQI) is the outlook's day 0.
    """
    cols: dict[str, set[str]] = {}
    for r in query(con, "relation_columns", tables=list(_FORECAST_TABLES)):
        cols.setdefault(r["table_name"], set()).add(r["column_name"])
    need = {"issued_date", "issued_at", "station", "param", "date", "lead_hours", "value"}
    need |= {"lower", "upper", "category", "category_zh", "method", "model_version"}
    if not need <= cols.get("forecasts", set()):
        return None
    days = query(con, "forecast_city", day=day)
    warn_need = {"issued_date", "station", "kind", "level", "start_date", "end_date", "max_aqi"}
    warnings = []
    if warn_need | {"reason", "reason_zh"} <= cols.get("warnings", set()):
        warnings = query(con, "forecast_warnings", day=day)
    skill: list[tuple[str, int, float, float]] = []
    day1: float | None = None
    skill_cols = {"param", "lead_hours", "rmse", "persistence_rmse"}
    if skill_cols <= cols.get("forecast_skill", set()):
        skill = [
            (r["param"], int(r["lead_hours"]), float(r["rmse"]), float(r["persistence_rmse"]))
            for r in query(con, "forecast_skill")
            if r["rmse"] is not None and r["persistence_rmse"] is not None
        ]
        if "skill" in cols["forecast_skill"]:
            rows = query(con, "forecast_aqi_skill")
            day1 = float(rows[0]["skill"]) if rows else None
    if not days and not warnings:
        return None
    first = days[0] if days else {}
    return Outlook(
        days=days,
        warnings=warnings,
        skill=skill,
        method=first.get("method"),
        model_version=first.get("model_version"),
        day1_skill=day1,
        today=today,
    )


# --------------------------------------------------------------------------------------
# the context
# --------------------------------------------------------------------------------------


def build_context(
    con: duckdb.DuckDBPyConnection, settings: Settings, catalog: Catalog, day: dt.date
) -> BulletinContext:
    """Everything the bulletin of local ``day`` shows, from one read-only lake session."""
    from warehouse.load import current_snapshot

    tz = settings.timezone
    meta = {r["station"]: r for r in query(con, "stations")}
    names = {p.code: (p.name_zh, p.name_en) for p in catalog.parameters.values()}
    from transforms.city_aqi import assessment_stations

    assessment = [s for s in assessment_stations(catalog) if s in meta or not meta]
    first = min(day.replace(month=1, day=1), _last_year(day))
    cities = city_days(con, catalog, first, day, assessment)
    city = cities.get(day)
    month = [c for d, c in cities.items() if d.year == day.year and d.month == day.month]
    ind_rows = query(con, "indicators_day", day=day)
    ind = _indicators(ind_rows)
    day_rows = query(con, "daily_day", day=day)
    stations = _stations_section(con, catalog, day, meta, ind)
    counts: dict[int, int] = {}
    for s in stations:
        if s.category is not None:
            counts[s.category.level] = counts.get(s.category.level, 0) + 1
    distribution = [(c, counts.get(c.level, 0)) for c in catalog.categories]
    bounds = _bounds(day, tz)
    ghg_sites = [s for s, v in ind.items() if s != "city" and "co2_mean" in v]
    ghg_sites = [s for s in ghg_sites if not meta.get(s, {}).get("background", False)]
    rose_station, rose_param, rose_value, rose = _rose(
        con, city, day_rows, assessment, bounds, catalog.indicators.cpf_percentile / 100
    )
    t0, t1 = (b.replace(tzinfo=None) for b in bounds)
    lim = catalog.indicators.coexceedance_for(day)
    city_ind = ind.get("city", {})
    return BulletinContext(
        day=day,
        city_zh=catalog.network.name_zh,
        city_en=catalog.network.name_en,
        timezone=tz,
        snapshot=current_snapshot(con),
        revised=_revised(con, day),
        standard=catalog.aqi_standard_for(day).name,
        categories=tuple(catalog.categories),
        city=city,
        yesterday=cities.get(day - dt.timedelta(days=1)),
        last_year=cities.get(_last_year(day)),
        month=month,
        assessment_stations=[
            s for s in assessment if s in {x.station for x in stations if x.aqi is not None}
        ],
        distribution=distribution,
        stations=stations,
        city_ox=city_ind.get("ox"),
        city_coexceed_hours=city_ind.get("pm25_o3_coexceed_hours"),
        coexceed_stations=[
            s.station for s in stations if s.coexceed_hours is not None and s.coexceed_hours > 0
        ],
        coexceed_limits=(lim.pm25_24h, lim.o3_1h, lim.o3_8h),
        voc=_voc_section(con, day, meta, names, ind),
        pm=_pm_section(day_rows, meta, ind),
        carbon=_carbon_section(con, day, meta, ind),
        rose_station=rose_station,
        rose_param=rose_param,
        rose_value=rose_value,
        rose=rose,
        events=_events_section(con, day, tz, meta),
        min_hours=catalog.validity.daily_min_hours,
        low_completeness=sum(
            1
            for s in stations
            if s.completeness is not None and s.completeness < catalog.validity.daily_min_hours / 24
        ),
        validation=query(con, "validation_day", day_text=day.isoformat(), t0=t0, t1=t1),
        dead_letters=[
            (r["reason"], int(r["messages"]))
            for r in query(con, "dead_letter_day", t0=_utc_day(day), t1=_utc_day(day, 1))
        ],
        targets=_targets(con, settings, day, cities, ghg_sites),
        outlook=_outlook(con, day, city),
        diurnal=_diurnal(con, bounds, assessment, ghg_sites, tz),
        names=names,
        station_names={k: (str(v["name_zh"]), str(v["name_en"])) for k, v in meta.items()},
        method_values=_method_values(catalog),
    )


def _revised(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    """Whether the day's ``daily`` partition was loaded more than once (``load_log``)."""
    row = con.execute(
        "SELECT count(*) FROM load_log WHERE table_name = 'daily' AND partition = ?",
        [f"date={day.isoformat()}"],
    ).fetchone()
    return row is not None and int(row[0]) > 1


def _method_values(catalog: Catalog) -> dict[str, str]:
    """The coefficients the methods section and the validity notes quote, from the catalog."""
    rules = catalog.indicators
    gwp = {p.code: p.gwp100 for p in catalog.parameters.values() if p.gwp100 is not None}
    return {
        "min_hours": str(catalog.validity.daily_min_hours),
        "soc_days": str(rules.soc_window_days),
        "soc_pct": f"{100 * rules.soc_ratio_quantile:g}",
        "cpf_pct": f"{rules.cpf_percentile:g}",
        "reg_hours": str(rules.regression_min_hours),
        "reg_r2": f"{rules.regression_min_r2:g}",
        "gwp_ch4": f"{gwp.get('ch4', float('nan')):g}",
        "gwp_n2o": f"{gwp.get('n2o', float('nan')):g}",
    }


def _utc_day(day: dt.date, offset: int = 0) -> dt.datetime:
    """00:00 UTC of ``day`` + ``offset`` days (dead letters are partitioned by UTC day)."""
    return dt.datetime.combine(day + dt.timedelta(days=offset), dt.time(0), tzinfo=dt.UTC)


def _last_year(day: dt.date) -> dt.date:
    """The same calendar day a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)
