"""Daily co-pollutant, PM-component, VOC and carbon indicators: the ``indicators_daily``
table (docs/contract.md §4.3, §4.4).

:func:`daily_indicators` turns one local day of the ``hourly`` and ``daily`` tables into the
long ``indicators_daily`` shape ``(station, date, indicator, value, unit, n, valid)``, with
city-wide rows under the station ``city``. Every coefficient comes from the catalog
(molar masses, MIR, k_OH, GWP100, the reference-state molar volume, the GB 3095 validity
minimums) or from ``indicators.toml`` (co-exceedance limits, reconstruction factors, SOC and
background quantiles, regression rules), each with a cited source; docs/indicators.md lists
every indicator with its formula, unit and validity rule.

An indicator whose inputs exist but do not meet its rule is kept with ``valid = false`` and
its ``n`` (and its value when one can be computed): never silently dropped or filled. An
indicator whose inputs are not measured at a station at all has no row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from aircarbon.core.catalog import Catalog, ParamGroup
from aircarbon.core.contracts import INDICATORS_DAILY
from transforms.aggregate import local_date

__all__ = [
    "CITY",
    "UNITS",
    "BackgroundMode",
    "daily_indicators",
    "mass_per_ppb",
    "molecules_per_ppb",
    "top_species",
]

#: Station id of the city-wide rows.
CITY = "city"
BackgroundMode = Literal["station", "percentile"]

UG = "µg/m³"
RATIO = "1"
#: Unit of every fixed indicator code (per-species ``ofp:<code>`` are µg/m³, ``ohr:<code>`` s⁻¹).
UNITS: dict[str, str] = {
    "ox": UG,
    "ox_ppb": "ppb",
    "pm25_o3_coexceed_hours": "h",
    "pm25_o3_coexceed_day": RATIO,
    "pm25_pm10_ratio": RATIO,
    "pm25_co_ratio": "(µg/m³)/(mg/m³)",
    "so4_share": RATIO,
    "no3_share": RATIO,
    "nh4_share": RATIO,
    "sna_share": RATIO,
    "sor": RATIO,
    "nor": RATIO,
    "no3_so4_ratio": RATIO,
    "k_share": RATIO,
    "oc_ec_ratio": RATIO,
    "oc_ec_pri": RATIO,
    "poc": UG,
    "soc": UG,
    "soc_share": RATIO,
    "recon_pm25": UG,
    "recon_pm25_ratio": RATIO,
    "tvoc": "ppbv",
    "tvoc_mass": UG,
    "ofp_total": "µg/m³ O3",
    "ofp_top_share": RATIO,
    "oh_reactivity_total": "s⁻¹",
    "isoprene_share": RATIO,
    "toluene_benzene_ratio": "ppbv/ppbv",
    "xylene_ethylbenzene_ratio": "ppbv/ppbv",
    "ipentane_npentane_ratio": "ppbv/ppbv",
    "co2_mean": "ppm",
    "ch4_mean": "ppb",
    "n2o_mean": "ppb",
    "co2_excess": "ppm",
    "ch4_excess": "ppb",
    "n2o_excess": "ppb",
    "co_excess": "ppb",
    "dco_dco2": "ppb/ppm",
    "dco_dco2_r2": RATIO,
    "dch4_dco2": "ppb/ppm",
    "dch4_dco2_r2": RATIO,
    "mce": RATIO,
    "co2e": "mg CO2e/m³",
    "co2e_co2": "mg CO2e/m³",
    "co2e_ch4": "mg CO2e/m³",
    "co2e_n2o": "mg CO2e/m³",
}
_VOC_GROUPS = ("alkane", "alkene", "alkyne", "aromatic", "ovoc", "halocarbon")
for _g in _VOC_GROUPS:
    UNITS[f"tvoc_{_g}"] = "ppbv"
    UNITS[f"ofp_{_g}"] = "µg/m³ O3"
    UNITS[f"ohr_{_g}"] = "s⁻¹"
#: City rows take the mean of the valid station values, except these (any station → 1).
_CITY_MAX = frozenset({"pm25_o3_coexceed_day"})
_GHG = ("co2", "ch4", "n2o")
_LONG = pl.Schema(
    {
        "station": pl.String(),
        "indicator": pl.String(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "n": pl.UInt32(),
        "valid": pl.Boolean(),
    }
)


# --------------------------------------------------------------------------------------
# unit helpers (catalog-driven)
# --------------------------------------------------------------------------------------


def mass_per_ppb(catalog: Catalog, code: str) -> float:
    """µg/m³ per ppb of ``code`` at the catalog's reference state: M / Vm (units.toml)."""
    return catalog.units.conversion(
        "ppb", "ug/m3", molar_mass=catalog.parameter(code).molar_mass, param=code
    ).scale


def molecules_per_ppb(catalog: Catalog) -> float:
    """Molecules cm⁻³ in 1 ppbv at the reference state: N_A / (Vm · 1000 cm³/L) · 1e-9."""
    return catalog.indicators.avogadro / (catalog.units.molar_volume_l * 1000.0) * 1e-9


def _to_unit(catalog: Catalog, code: str, unit: str) -> float:
    """Scale from ``code``'s canonical unit to ``unit`` (mass or mixing ratio)."""
    p = catalog.parameter(code)
    return catalog.units.conversion(p.unit, unit, molar_mass=p.molar_mass, param=code).scale


# --------------------------------------------------------------------------------------
# wide frames and indicator specs
# --------------------------------------------------------------------------------------


def _wide(frame: pl.DataFrame, params: Iterable[str], index: str = "station") -> pl.DataFrame:
    """``index`` plus ``p`` (value), ``p__n``, ``p__ok`` for each param of ``params`` present."""
    wanted = list(dict.fromkeys(params))
    sub = frame.filter(pl.col("param").is_in(wanted))
    keys = frame.select(index).unique()
    out = keys
    for code in sub.get_column("param").unique().sort().to_list():
        part = sub.filter(pl.col("param") == code).select(
            index,
            pl.col("value").alias(code),
            pl.col("n").cast(pl.UInt32).alias(f"{code}__n"),
            (pl.col("valid") & pl.col("value").is_not_null()).alias(f"{code}__ok"),
        )
        out = out.join(part, on=index, how="left")
    return out


@dataclass(frozen=True, slots=True)
class _Spec:
    code: str
    needs: tuple[str, ...]
    value: pl.Expr
    extra_ok: pl.Expr | None = None


def _emit(wide: pl.DataFrame, specs: Sequence[_Spec]) -> list[pl.DataFrame]:
    """Rows of each spec for the stations that measure all its inputs."""
    out: list[pl.DataFrame] = []
    for spec in specs:
        if not all(c in wide.columns for c in spec.needs):
            continue
        present = pl.all_horizontal(pl.col(f"{c}__n").is_not_null() for c in spec.needs)
        ok = pl.all_horizontal(pl.col(f"{c}__ok").fill_null(False) for c in spec.needs)
        if spec.extra_ok is not None:
            ok = ok & spec.extra_ok.fill_null(False)
        value = spec.value
        out.append(
            wide.filter(present).select(
                "station",
                pl.lit(spec.code).alias("indicator"),
                pl.when(value.is_finite()).then(value).cast(pl.Float64).alias("value"),
                pl.lit(UNITS[spec.code]).alias("unit"),
                pl.min_horizontal(pl.col(f"{c}__n") for c in spec.needs).cast(pl.UInt32).alias("n"),
                (ok & value.is_finite().fill_null(False)).alias("valid"),
            )
        )
    return out


def _ratio(code: str, num: str, den: str) -> _Spec:
    return _Spec(code, (num, den), pl.col(num) / pl.col(den), pl.col(den) > 0)


# --------------------------------------------------------------------------------------
# co-pollutant indicators
# --------------------------------------------------------------------------------------


def _criteria(
    hour: pl.DataFrame, day: pl.DataFrame, catalog: Catalog, date: dt.date
) -> list[pl.DataFrame]:
    lim = catalog.indicators.coexceedance_for(date)
    min_hours = catalog.validity.daily_min_hours
    wide = _wide(day, ["pm25", "pm10", "co", "o3_8h_max"])
    coexceed = ((pl.col("pm25") > lim.pm25_24h) & (pl.col("o3_8h_max") > lim.o3_8h)).cast(
        pl.Float64
    )
    parts = _emit(
        wide,
        [
            _ratio("pm25_pm10_ratio", "pm25", "pm10"),
            _ratio("pm25_co_ratio", "pm25", "co"),
            _Spec("pm25_o3_coexceed_day", ("pm25", "o3_8h_max"), coexceed),
        ],
    )
    # hourly pairs: Ox as O3-equivalent mass (NO2 × M_O3/M_NO2) and in ppb; co-exceedance hours
    m_o3 = catalog.parameter("o3").molar_mass or 0.0
    m_no2 = catalog.parameter("no2").molar_mass or 0.0
    vm = catalog.units.molar_volume_l
    pairs = _hour_pairs(hour, ("o3", "no2"))
    if pairs is not None:
        ox = pairs.group_by("station").agg(
            (pl.col("o3") + pl.col("no2") * (m_o3 / m_no2)).mean().alias("ox"),
            ((pl.col("o3") / m_o3 + pl.col("no2") / m_no2) * vm).mean().alias("ox_ppb"),
            pl.len().cast(pl.UInt32).alias("n"),
        )
        for code in ("ox", "ox_ppb"):
            parts.append(_rows(ox, code, pl.col(code), pl.col("n") >= min_hours))
    pairs = _hour_pairs(hour, ("pm25", "o3"))
    if pairs is not None:
        both = (pl.col("pm25") > lim.pm25_24h) & (pl.col("o3") > lim.o3_1h)
        hours = pairs.group_by("station").agg(
            both.sum().cast(pl.Float64).alias("v"), pl.len().cast(pl.UInt32).alias("n")
        )
        parts.append(_rows(hours, "pm25_o3_coexceed_hours", pl.col("v"), pl.col("n") >= min_hours))
    return parts


def _hour_pairs(hour: pl.DataFrame, params: Sequence[str]) -> pl.DataFrame | None:
    """Hours in which every one of ``params`` has a valid value, wide (station, ts, *params)."""
    frames = []
    for code in params:
        sub = hour.filter((pl.col("param") == code) & pl.col("valid") & pl.col("value").is_finite())
        if sub.is_empty():
            return None
        frames.append(sub.select("station", "ts", pl.col("value").alias(code)))
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f, on=["station", "ts"], how="inner")
    return out


def _rows(agg: pl.DataFrame, code: str, value: pl.Expr, ok: pl.Expr) -> pl.DataFrame:
    """Long rows from a per-station aggregate with a column ``n``."""
    return agg.select(
        "station",
        pl.lit(code).alias("indicator"),
        pl.when(value.is_finite()).then(value).cast(pl.Float64).alias("value"),
        pl.lit(UNITS[code]).alias("unit"),
        pl.col("n").cast(pl.UInt32).alias("n"),
        (ok.fill_null(False) & value.is_finite().fill_null(False)).alias("valid"),
    )


# --------------------------------------------------------------------------------------
# PM2.5 components
# --------------------------------------------------------------------------------------


def _components(
    hour_window: pl.DataFrame, day: pl.DataFrame, catalog: Catalog
) -> list[pl.DataFrame]:
    rules = catalog.indicators
    recon = rules.reconstruction_factors
    wide = _wide(day, ["pm25", "so4", "no3", "nh4", "so2", "no2", "k", "oc", "ec", *recon])
    mol = {c: catalog.parameter(c).molar_mass or 1.0 for c in ("so4", "so2", "no3", "no2")}
    n_so4, n_so2 = pl.col("so4") / mol["so4"], pl.col("so2") / mol["so2"]
    n_no3, n_no2 = pl.col("no3") / mol["no3"], pl.col("no2") / mol["no2"]
    pm = pl.col("pm25")
    specs = [
        _Spec("so4_share", ("so4", "pm25"), pl.col("so4") / pm, pm > 0),
        _Spec("no3_share", ("no3", "pm25"), pl.col("no3") / pm, pm > 0),
        _Spec("nh4_share", ("nh4", "pm25"), pl.col("nh4") / pm, pm > 0),
        _Spec(
            "sna_share",
            ("so4", "no3", "nh4", "pm25"),
            (pl.col("so4") + pl.col("no3") + pl.col("nh4")) / pm,
            pm > 0,
        ),
        _Spec("sor", ("so4", "so2"), n_so4 / (n_so4 + n_so2), (n_so4 + n_so2) > 0),
        _Spec("nor", ("no3", "no2"), n_no3 / (n_no3 + n_no2), (n_no3 + n_no2) > 0),
        _ratio("no3_so4_ratio", "no3", "so4"),
        _Spec("k_share", ("k", "pm25"), pl.col("k") / pm, pm > 0),
        _ratio("oc_ec_ratio", "oc", "ec"),
    ]
    parts = _emit(wide, specs)
    # reconstructed mass: the required terms must be valid, optional terms join when valid
    required = rules.reconstruction_required
    if all(c in wide.columns for c in (*required, "pm25")):
        terms = []
        for code, factor in recon.items():
            if code not in wide.columns:
                continue
            to_ug = _to_unit(catalog, code, "ug/m3")
            use = pl.col(f"{code}__ok").fill_null(False)
            terms.append(pl.when(use).then(pl.col(code) * (factor * to_ug)).otherwise(0.0))
        wide = wide.with_columns(pl.sum_horizontal(terms).alias("_recon"))
        need = (*required, "pm25")
        parts += _emit(
            wide.with_columns(
                pl.col("_recon").alias("_r"),
                pl.min_horizontal(pl.col(f"{c}__n") for c in required).alias("_r__n"),
                pl.all_horizontal(pl.col(f"{c}__ok").fill_null(False) for c in required).alias(
                    "_r__ok"
                ),
            ),
            [
                _Spec("recon_pm25", ("_r",), pl.col("_r")),
                _Spec("recon_pm25_ratio", ("_r", *need[-1:]), pl.col("_r") / pm, pm > 0),
            ],
        )
    parts += _soc(hour_window, wide, catalog)
    return parts


def _soc(hour_window: pl.DataFrame, wide: pl.DataFrame, catalog: Catalog) -> list[pl.DataFrame]:
    """EC-tracer SOC: (OC/EC)pri = a low quantile of hourly OC/EC over the window."""
    rules = catalog.indicators
    if not {"oc", "ec"} <= set(wide.columns):
        return []
    wide = wide.filter(pl.col("oc__n").is_not_null() & pl.col("ec__n").is_not_null())
    pairs = _hour_pairs(hour_window, ("oc", "ec"))
    if pairs is None:
        ratio = wide.select("station").with_columns(
            pl.lit(None, pl.Float64).alias("pri"), pl.lit(0, pl.UInt32).alias("pri_n")
        )
    else:
        ratio = (
            pairs.filter(pl.col("ec") > 0)
            .group_by("station")
            .agg(
                (pl.col("oc") / pl.col("ec"))
                .quantile(rules.soc_ratio_quantile, interpolation="lower")
                .alias("pri"),
                pl.len().cast(pl.UInt32).alias("pri_n"),
            )
        )
    w = wide.join(ratio, on="station", how="left").with_columns(
        pl.col("pri").alias("pri"),
        pl.col("pri_n").fill_null(0).alias("pri__n"),
        (pl.col("pri").is_not_null() & (pl.col("pri_n").fill_null(0) >= rules.soc_min_ratio_hours))
        .fill_null(False)
        .alias("pri__ok"),
    )
    poc = pl.col("ec") * pl.col("pri")
    soc = pl.col("oc") - poc
    out = _emit(
        w,
        [
            _Spec("oc_ec_pri", ("pri",), pl.col("pri")),
            _Spec("poc", ("oc", "ec"), poc, pl.col("pri__ok")),
            _Spec("soc", ("oc", "ec"), soc, pl.col("pri__ok")),
            _Spec(
                "soc_share",
                ("oc", "ec"),
                soc / pl.col("oc"),
                pl.col("pri__ok") & (pl.col("oc") > 0),
            ),
        ],
    )
    return out


# --------------------------------------------------------------------------------------
# VOCs
# --------------------------------------------------------------------------------------


def _voc_table(catalog: Catalog) -> pl.DataFrame:
    per_ppb = molecules_per_ppb(catalog)
    rows = [p for p in catalog.parameters.values() if p.group == ParamGroup.VOC]
    return pl.DataFrame(
        {
            "param": [p.code for p in rows],
            "vgroup": [p.voc_group or "other" for p in rows],
            "ug_per_ppb": [mass_per_ppb(catalog, p.code) for p in rows],
            "mir": [p.mir for p in rows],
            "koh_ppb": [(p.koh or 0.0) * per_ppb for p in rows],
        },
        schema={
            "param": pl.String,
            "vgroup": pl.String,
            "ug_per_ppb": pl.Float64,
            "mir": pl.Float64,
            "koh_ppb": pl.Float64,
        },
    )


def _vocs(day: pl.DataFrame, catalog: Catalog) -> list[pl.DataFrame]:
    rules = catalog.indicators
    table = _voc_table(catalog)
    voc = day.join(table, on="param", how="inner")
    if voc.is_empty():
        return []
    ok = (pl.col("valid") & pl.col("value").is_not_null()).alias("ok")
    voc = voc.with_columns(ok).with_columns(
        (pl.col("value") * pl.col("ug_per_ppb")).alias("mass"),
    )
    voc = voc.with_columns(
        (pl.col("mass") * pl.col("mir")).alias("ofp"),
        (pl.col("value") * pl.col("koh_ppb")).alias("ohr"),
    )
    species = pl.concat(
        [
            voc.select(
                "station",
                (pl.lit(prefix) + pl.col("param")).alias("indicator"),
                pl.col(col).alias("value"),
                pl.lit(unit).alias("unit"),
                pl.col("n").cast(pl.UInt32),
                pl.col("ok").alias("valid"),
            )
            for prefix, col, unit in (("ofp:", "ofp", UNITS["ofp_total"]), ("ohr:", "ohr", "s⁻¹"))
        ]
    )
    frac = rules.voc_min_species_fraction

    def totals(keys: list[str]) -> pl.DataFrame:
        valid = pl.col("ok")
        return voc.group_by(keys).agg(
            pl.col("value").filter(valid).sum().alias("tvoc"),
            pl.col("mass").filter(valid).sum().alias("tvoc_mass"),
            pl.col("ofp").filter(valid).sum().alias("ofp"),
            pl.col("ohr").filter(valid).sum().alias("ohr"),
            valid.sum().cast(pl.UInt32).alias("n"),
            (valid.sum() >= frac * pl.len()).alias("enough"),
        )

    station = totals(["station"])
    parts = [species]
    for code, col in (
        ("tvoc", "tvoc"),
        ("tvoc_mass", "tvoc_mass"),
        ("ofp_total", "ofp"),
        ("oh_reactivity_total", "ohr"),
    ):
        parts.append(_rows(station, code, pl.col(col), pl.col("enough")))
    groups = totals(["station", "vgroup"]).filter(pl.col("vgroup").is_in(_VOC_GROUPS))
    for prefix, col in (("tvoc_", "tvoc"), ("ofp_", "ofp"), ("ohr_", "ohr")):
        parts.append(
            groups.select(
                "station",
                (pl.lit(prefix) + pl.col("vgroup")).alias("indicator"),
                pl.col(col).cast(pl.Float64).alias("value"),
                pl.lit(UNITS[f"{prefix}alkane"]).alias("unit"),
                "n",
                pl.col("enough").alias("valid"),
            )
        )
    # share of total OFP from the top-N species (per-species rows rank them)
    top = (
        voc.filter(pl.col("ok"))
        .group_by("station")
        .agg(pl.col("ofp").top_k(rules.voc_top_n).sum().alias("top"))
        .join(station, on="station")
    )
    parts.append(
        _rows(
            top,
            "ofp_top_share",
            pl.col("top") / pl.col("ofp"),
            pl.col("enough") & (pl.col("ofp") > 0),
        )
    )
    # isoprene share of TVOC and diagnostic ratios from the daily means
    wide = _wide(
        day,
        ["isoprene", "toluene", "benzene", "mp_xylene", "ethylbenzene", "i_pentane", "n_pentane"],
    )
    wide = wide.join(
        station.select(
            "station",
            pl.col("tvoc").alias("tvoc"),
            pl.col("n").alias("tvoc__n"),
            pl.col("enough").alias("tvoc__ok"),
        ),
        on="station",
        how="left",
    )
    parts += _emit(
        wide,
        [
            _Spec(
                "isoprene_share",
                ("isoprene", "tvoc"),
                pl.col("isoprene") / pl.col("tvoc"),
                pl.col("tvoc") > 0,
            ),
            _ratio("toluene_benzene_ratio", "toluene", "benzene"),
            _ratio("xylene_ethylbenzene_ratio", "mp_xylene", "ethylbenzene"),
            _ratio("ipentane_npentane_ratio", "i_pentane", "n_pentane"),
        ],
    )
    return parts


def top_species(indicators: pl.DataFrame, *, prefix: str = "ofp:", n: int = 10) -> pl.DataFrame:
    """The ``n`` largest valid per-species rows (``ofp:`` or ``ohr:``) per station and day.

    Returns ``station, date, rank, species, value, unit``; the SQL equivalent is
    ``qualify row_number() over (partition by station, date order by value desc) <= 10``.
    """
    rows = indicators.filter(pl.col("indicator").str.starts_with(prefix) & pl.col("valid"))
    return (
        rows.with_columns(
            pl.col("indicator").str.strip_prefix(prefix).alias("species"),
            pl.col("value")
            .rank("ordinal", descending=True)
            .over("station", "date")
            .cast(pl.UInt32)
            .alias("rank"),
        )
        .filter(pl.col("rank") <= n)
        .select("station", "date", "rank", "species", "value", "unit")
        .sort("station", "date", "rank")
    )


# --------------------------------------------------------------------------------------
# carbon
# --------------------------------------------------------------------------------------


def _excess_hours(
    hour_window: pl.DataFrame,
    hour: pl.DataFrame,
    catalog: Catalog,
    background: BackgroundMode | pl.DataFrame,
) -> pl.DataFrame:
    """Hourly excess above background of co2 (ppm), ch4/n2o (ppb) and co (ppb): long."""
    rules = catalog.indicators
    params = [p for p in (*_GHG, "co") if p in catalog.parameters]
    co_ppb = _to_unit(catalog, "co", "ppb")

    def prep(frame: pl.DataFrame) -> pl.DataFrame:
        sub = frame.filter(
            pl.col("param").is_in(params) & pl.col("valid") & pl.col("value").is_finite()
        )
        return sub.select(
            "station",
            "param",
            "ts",
            pl.when(pl.col("param") == "co")
            .then(pl.col("value") * co_ppb)
            .otherwise(pl.col("value"))
            .alias("value"),
        )

    obs = prep(hour)
    # stations with a GHG analyser only: CO alone (national stations) has no carbon excess
    ghg_stations = obs.filter(pl.col("param").is_in(_GHG)).select("station").unique()
    obs = obs.join(ghg_stations, on="station", how="semi")
    if isinstance(background, pl.DataFrame):
        bg = background.rename({"value": "bg"})
        if "param" in bg.columns and "co" in bg.get_column("param").to_list():
            bg = bg.with_columns(
                pl.when(pl.col("param") == "co").then(pl.col("bg") * co_ppb).otherwise(pl.col("bg"))
            )
        keys = [c for c in ("station", "param", "ts") if c in bg.columns]
        joined = obs.join(bg.select(*keys, "bg"), on=keys, how="inner")
    elif background == "station":
        bg_ids = [s.id for s in catalog.stations.values() if s.background]
        bg = (
            prep(hour)
            .filter(pl.col("station").is_in(bg_ids))
            .group_by("param", "ts")
            .agg(pl.col("value").mean().alias("bg"))
        )
        joined = obs.filter(~pl.col("station").is_in(bg_ids)).join(
            bg, on=["param", "ts"], how="inner"
        )
        # stations with no simultaneous background still get (invalid, n = 0) rows
        missing = obs.filter(~pl.col("station").is_in(bg_ids)).join(
            joined.select("station", "param").unique(), on=["station", "param"], how="anti"
        )
        joined = pl.concat([joined, missing.with_columns(pl.lit(None, pl.Float64).alias("bg"))])
    else:
        q = rules.ghg_background_quantile
        bg = (
            prep(hour_window)
            .group_by("station", "param")
            .agg(pl.col("value").quantile(q, interpolation="linear").alias("bg"))
        )
        joined = obs.join(bg, on=["station", "param"], how="inner")
    return joined.with_columns((pl.col("value") - pl.col("bg")).alias("excess")).select(
        "station", "param", "ts", "excess"
    )


def _carbon(
    hour_window: pl.DataFrame,
    hour: pl.DataFrame,
    day: pl.DataFrame,
    catalog: Catalog,
    background: BackgroundMode | pl.DataFrame,
) -> list[pl.DataFrame]:
    rules = catalog.indicators
    min_hours = catalog.validity.daily_min_hours
    parts: list[pl.DataFrame] = []
    means = day.filter(pl.col("param").is_in(_GHG))
    if not means.is_empty():
        parts.append(
            means.select(
                "station",
                (pl.col("param") + "_mean").alias("indicator"),
                pl.col("value").cast(pl.Float64),
                pl.col("param").replace_strict({g: UNITS[f"{g}_mean"] for g in _GHG}).alias("unit"),
                pl.col("n").cast(pl.UInt32),
                (pl.col("valid") & pl.col("value").is_not_null()).alias("valid"),
            )
        )
    ex = _excess_hours(hour_window, hour, catalog, background)
    if ex.is_empty():
        return parts
    ok_ex = pl.col("excess").is_not_null()
    per = ex.group_by("station", "param").agg(
        pl.col("excess").filter(ok_ex).mean().alias("v"),
        ok_ex.sum().cast(pl.UInt32).alias("n"),
    )
    per = per.with_columns((pl.col("n") >= min_hours).alias("ok"))
    parts.append(
        per.select(
            "station",
            (pl.col("param") + "_excess").alias("indicator"),
            pl.col("v").alias("value"),
            pl.col("param")
            .replace_strict({g: UNITS[f"{g}_excess"] for g in (*_GHG, "co")})
            .alias("unit"),
            "n",
            (pl.col("ok") & pl.col("v").is_not_null()).alias("valid"),
        )
    )
    wide = ex.filter(ok_ex).pivot(on="param", index=["station", "ts"], values="excess")
    # enhancement ratios: OLS slope of ΔX on ΔCO2 over the day's paired hours, with R²
    for code, y in (("dco_dco2", "co"), ("dch4_dco2", "ch4")):
        if not {"co2", y} <= set(wide.columns):
            continue
        scale = 1.0  # ΔCO and ΔCH4 in ppb, ΔCO2 in ppm: the slope is ppb/ppm
        pairs = wide.filter(pl.col("co2").is_not_null() & pl.col(y).is_not_null())
        fit = pairs.group_by("station").agg(
            (pl.cov("co2", y) / pl.col("co2").var() * scale).alias("slope"),
            pl.corr("co2", y).pow(2).alias("r2"),
            pl.len().cast(pl.UInt32).alias("n"),
        )
        enough = pl.col("n") >= rules.regression_min_hours
        parts.append(
            _rows(fit, code, pl.col("slope"), enough & (pl.col("r2") >= rules.regression_min_r2))
        )
        parts.append(_rows(fit, f"{code}_r2", pl.col("r2"), enough))
    if {"co2", "co"} <= set(wide.columns):
        pairs = wide.filter(pl.col("co2").is_not_null() & pl.col("co").is_not_null())
        mce = pairs.group_by("station").agg(
            (pl.col("co2").mean() * 1000.0).alias("dco2"),
            pl.col("co").mean().alias("dco"),
            pl.len().cast(pl.UInt32).alias("n"),
        )
        ok = (pl.col("n") >= min_hours) & (pl.col("dco2") >= rules.mce_min_dco2_ppm * 1000.0)
        parts.append(_rows(mce, "mce", pl.col("dco2") / (pl.col("dco2") + pl.col("dco")), ok))
    # CO2-equivalent of the mean excesses: Δm (mg/m³) × GWP100, summed over measured gases
    gwp = {
        g: (catalog.parameter(g).gwp100 or 0.0) * _to_unit(catalog, g, "mg/m3")
        for g in _GHG
        if g in catalog.parameters
    }
    ghg = per.filter(pl.col("param").is_in(list(gwp))).with_columns(
        (pl.col("v") * pl.col("param").replace_strict(gwp, return_dtype=pl.Float64)).alias("e")
    )
    for g in gwp:
        parts.append(
            _rows(
                ghg.filter(pl.col("param") == g),
                f"co2e_{g}",
                pl.col("e"),
                pl.col("ok"),
            )
        )
    total = ghg.group_by("station").agg(
        pl.col("e").sum().alias("e"),
        pl.len().cast(pl.UInt32).alias("n"),
        pl.col("ok").all().alias("ok"),
        pl.col("e").is_null().any().alias("missing"),
    )
    parts.append(_rows(total, "co2e", pl.col("e"), pl.col("ok") & ~pl.col("missing")))
    return parts


# --------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------


def _city(stations: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    frac = catalog.indicators.city_min_station_fraction
    valid_value = pl.col("value").filter(pl.col("valid"))
    agg = stations.group_by("indicator").agg(
        pl.when(pl.col("indicator").first().is_in(list(_CITY_MAX)))
        .then(valid_value.max())
        .otherwise(valid_value.mean())
        .alias("value"),
        pl.col("unit").first(),
        pl.col("valid").sum().cast(pl.UInt32).alias("n"),
        pl.len().alias("reporting"),
    )
    return agg.select(
        pl.lit(CITY).alias("station"),
        "indicator",
        pl.col("value").cast(pl.Float64),
        "unit",
        "n",
        ((pl.col("n") >= 1) & (pl.col("n") >= frac * pl.col("reporting"))).alias("valid"),
    )


def daily_indicators(
    hourly: pl.DataFrame,
    daily: pl.DataFrame,
    catalog: Catalog,
    *,
    date: dt.date,
    background: BackgroundMode | pl.DataFrame = "station",
    timezone: str | None = None,
) -> pl.DataFrame:
    """One local day of ``indicators_daily`` rows, per station and city-wide.

    ``hourly`` (schema ``HOURLY``) must hold the day's hours; earlier hours, when given, feed
    the windows that look back (the SOC ratio window, ``soc.window_days``; the percentile
    GHG background, ``ghg.background_window_days``). ``daily`` (schema ``DAILY``) holds at
    least the day. ``background`` chooses the GHG/CO background of the excesses:

    * ``"station"`` — the simultaneous hourly mean of the catalog's background stations
      (``background = true``, SY-HS-12); the background stations themselves get no excess;
      an hour without a background value is not used;
    * ``"percentile"`` — the ``ghg.background_quantile`` quantile of the station's own valid
      hourly values over the window;
    * a frame ``(param, ts, value)`` (optionally with ``station``) in canonical units.
    """
    tz = timezone or catalog.network.timezone
    dated = hourly.with_columns(local_date(pl.col("ts"), tz).alias("_date"))
    hour = dated.filter(pl.col("_date") == date)
    soc_from = date - dt.timedelta(days=catalog.indicators.soc_window_days - 1)
    bg_from = date - dt.timedelta(days=catalog.indicators.ghg_background_window_days - 1)
    soc_window = dated.filter(pl.col("_date").is_between(soc_from, date))
    bg_window = dated.filter(pl.col("_date").is_between(bg_from, date))
    day = daily.filter(pl.col("date") == date)
    parts = [
        *_criteria(hour, day, catalog, date),
        *_components(soc_window, day, catalog),
        *_vocs(day, catalog),
        *_carbon(bg_window, hour, day, catalog, background),
    ]
    parts = [p.select(list(_LONG)).cast(_LONG) for p in parts if not p.is_empty()]
    if not parts:
        return pl.DataFrame(schema=INDICATORS_DAILY)
    stations = pl.concat(parts).filter(pl.col("station") != CITY)
    out = pl.concat([stations, _city(stations, catalog)])
    return (
        out.with_columns(pl.lit(date, pl.Date).alias("date"))
        .select(list(INDICATORS_DAILY))
        .cast(INDICATORS_DAILY)
        .sort("station", "indicator")
    )
