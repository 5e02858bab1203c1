"""Source tracing on hourly data: wind-sector statistics, CPF and co-emission events.

Functions the warehouse macros and the bulletin call (frames in, frames out):

* :func:`sector_stats` — concentration statistics by 16-point wind sector;
* :func:`bivariate_stats` — mean concentration by wind-speed band × wind sector (the table
  behind a bivariate polar plot);
* :func:`cpf` — the conditional probability function ``CPF_θ = m_θ / n_θ`` (Ashbaugh et al.
  1985): of the ``n_θ`` hours with wind from sector θ, the ``m_θ`` whose concentration
  exceeds the station's ``cpf.percentile``-th percentile; sectors with fewer than
  ``cpf.min_hours`` hours are kept with ``valid = false``;
* :func:`emission_events` — co-emission events: runs of hours in which an anchor (CO2, or
  total VOC at a VOC station without a CO2 analyser) and at least one co-pollutant are both
  in excess of a rolling background, with the dominant wind sector, enhancement ratios and a
  likely source class from the ratio fingerprints of ``indicators.toml``.

Wind comes from the same ``hourly`` frame (params ``ws`` and ``wd`` of the station, vector-
averaged by :mod:`transforms.aggregate`); only valid hours are used, and calm hours
(``ws < wind.calm_ws``) have no sector. Sector ``i`` of ``k`` is centred on ``i · 360/k``
degrees (0 = N) and covers ``[centre − 180/k, centre + 180/k)``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import polars as pl

from aircarbon.core.catalog import Catalog, EventRules, Fingerprint, ParamGroup
from aircarbon.core.contracts import EMISSION_EVENTS

__all__ = [
    "RATIO_METRICS",
    "SECTOR_NAMES",
    "bivariate_stats",
    "classify",
    "cpf",
    "emission_events",
    "event_series",
    "sector_index",
    "sector_name",
    "sector_stats",
]

SECTOR_NAMES = (
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
    "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW",
)  # fmt: skip
#: Event metrics the fingerprints of ``indicators.toml`` may use.
RATIO_METRICS = (
    "dco_dco2",
    "dch4_dco2",
    "so2_no2",
    "toluene_benzene",
    "ipentane_npentane",
    "alkene_share",
    "alkyne_share",
    "aromatic_share",
    "k_pm25",
)
_NMHC = ("alkane", "alkene", "alkyne", "aromatic")
_DEG = math.pi / 180.0
_HOUR = dt.timedelta(hours=1)


def sector_index(wd: pl.Expr, sectors: int = 16) -> pl.Expr:
    """The sector (0 = N, clockwise) of a wind direction in degrees."""
    width = 360.0 / sectors
    return ((((wd + width / 2.0) % 360.0) // width) % sectors).cast(pl.Int32)


def sector_name(index: int, sectors: int = 16) -> str:
    """``N``, ``NNE``, … for 16 sectors; the centre in degrees (``"045"``) otherwise."""
    if sectors == len(SECTOR_NAMES):
        return SECTOR_NAMES[index]
    return f"{round(index * 360.0 / sectors) % 360:03d}"


def _names(sectors: int) -> dict[int, str]:
    return {i: sector_name(i, sectors) for i in range(sectors)}


def _with_wind(hourly: pl.DataFrame, param: str, station: str | None) -> pl.DataFrame:
    """Valid hours of ``param`` with the station's valid ``ws`` and ``wd`` of the same hour."""
    frame = hourly if station is None else hourly.filter(pl.col("station") == station)
    ok = pl.col("valid") & pl.col("value").is_finite()
    values = frame.filter((pl.col("param") == param) & ok).select("station", "ts", "value")
    wind = frame.filter(pl.col("param").is_in(["ws", "wd"]) & ok).pivot(
        on="param", index=["station", "ts"], values="value"
    )
    if not {"ws", "wd"} <= set(wind.columns):
        return values.with_columns(
            pl.lit(None, pl.Float64).alias("ws"), pl.lit(None, pl.Float64).alias("wd")
        ).head(0)
    return values.join(wind, on=["station", "ts"], how="inner")


def _sectors(
    frame: pl.DataFrame, catalog: Catalog | None, sectors: int | None, calm_ws: float | None
) -> tuple[pl.DataFrame, int]:
    rules = catalog.indicators if catalog is not None else None
    k = sectors or (rules.sectors if rules else 16)
    calm = calm_ws if calm_ws is not None else (rules.calm_ws if rules else 0.5)
    return (
        frame.with_columns(
            pl.when(pl.col("ws") >= calm).then(sector_index(pl.col("wd"), k)).alias("sector")
        ),
        k,
    )


def sector_stats(
    hourly: pl.DataFrame,
    *,
    param: str,
    catalog: Catalog | None = None,
    station: str | None = None,
    sectors: int | None = None,
    calm_ws: float | None = None,
) -> pl.DataFrame:
    """Statistics of ``param`` by wind sector: ``station, sector, sector_name, n, mean,
    median, p75, p95, max`` (calm hours: ``sector`` null, ``sector_name`` ``calm``)."""
    frame, k = _sectors(_with_wind(hourly, param, station), catalog, sectors, calm_ws)
    v = pl.col("value")
    out = frame.group_by("station", "sector").agg(
        pl.len().cast(pl.UInt32).alias("n"),
        v.mean().alias("mean"),
        v.median().alias("median"),
        v.quantile(0.75, interpolation="linear").alias("p75"),
        v.quantile(0.95, interpolation="linear").alias("p95"),
        v.max().alias("max"),
    )
    return (
        out.with_columns(
            pl.col("sector")
            .replace_strict(_names(k), default="calm", return_dtype=pl.String)
            .alias("sector_name")
        )
        .select("station", "sector", "sector_name", "n", "mean", "median", "p75", "p95", "max")
        .sort("station", "sector", nulls_last=True)
    )


def bivariate_stats(
    hourly: pl.DataFrame,
    *,
    param: str,
    catalog: Catalog | None = None,
    station: str | None = None,
    ws_edges: Sequence[float] = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
    sectors: int | None = None,
    calm_ws: float | None = None,
) -> pl.DataFrame:
    """Mean of ``param`` by wind-speed band × sector: ``station, sector, sector_name, ws_lo,
    ws_hi, n, mean`` (bands ``[ws_lo, ws_hi)``, the last one open-ended; calm hours dropped)."""
    frame, k = _sectors(_with_wind(hourly, param, station), catalog, sectors, calm_ws)
    edges = sorted(float(e) for e in ws_edges)
    band = pl.lit(None, pl.Int32)
    for i in range(len(edges)):
        band = pl.when(pl.col("ws") >= edges[i]).then(pl.lit(i, pl.Int32)).otherwise(band)
    his = [*edges[1:], math.inf]
    out = (
        frame.filter(pl.col("sector").is_not_null())
        .with_columns(band.alias("band"))
        .filter(pl.col("band").is_not_null())
        .group_by("station", "sector", "band")
        .agg(pl.len().cast(pl.UInt32).alias("n"), pl.col("value").mean().alias("mean"))
    )
    return out.select(
        "station",
        "sector",
        pl.col("sector").replace_strict(_names(k), return_dtype=pl.String).alias("sector_name"),
        pl.col("band")
        .replace_strict(dict(enumerate(edges)), return_dtype=pl.Float64)
        .alias("ws_lo"),
        pl.col("band").replace_strict(dict(enumerate(his)), return_dtype=pl.Float64).alias("ws_hi"),
        "n",
        "mean",
    ).sort("station", "sector", "ws_lo")


def cpf(
    hourly: pl.DataFrame,
    *,
    param: str,
    catalog: Catalog | None = None,
    station: str | None = None,
    percentile: float | None = None,
    min_hours: int | None = None,
    sectors: int | None = None,
    calm_ws: float | None = None,
) -> pl.DataFrame:
    """Conditional probability function by sector: ``station, sector, sector_name, n, m,
    cpf, threshold, valid``.

    ``threshold`` is the ``percentile``-th percentile (linear interpolation) of the station's
    non-calm valid hours; ``m`` counts the sector's hours with a value ``> threshold``;
    ``valid`` is ``n ≥ min_hours``. Every sector appears (``n = 0``, ``cpf`` null when empty).
    """
    rules = catalog.indicators if catalog is not None else None
    pct = percentile if percentile is not None else (rules.cpf_percentile if rules else 75.0)
    least = min_hours if min_hours is not None else (rules.cpf_min_hours if rules else 10)
    frame, k = _sectors(_with_wind(hourly, param, station), catalog, sectors, calm_ws)
    frame = frame.filter(pl.col("sector").is_not_null())
    thresholds = frame.group_by("station").agg(
        pl.col("value").quantile(pct / 100.0, interpolation="linear").alias("threshold")
    )
    frame = frame.join(thresholds, on="station")
    counts = frame.group_by("station", "sector").agg(
        pl.len().cast(pl.UInt32).alias("n"),
        (pl.col("value") > pl.col("threshold")).sum().cast(pl.UInt32).alias("m"),
    )
    grid = thresholds.join(
        pl.DataFrame({"sector": list(range(k))}, schema={"sector": pl.Int32}), how="cross"
    )
    out = grid.join(counts, on=["station", "sector"], how="left").with_columns(
        pl.col("n").fill_null(0), pl.col("m").fill_null(0)
    )
    return out.select(
        "station",
        "sector",
        pl.col("sector").replace_strict(_names(k), return_dtype=pl.String).alias("sector_name"),
        "n",
        "m",
        pl.when(pl.col("n") > 0)
        .then(pl.col("m").cast(pl.Float64) / pl.col("n").cast(pl.Float64))
        .alias("cpf"),
        "threshold",
        (pl.col("n") >= least).alias("valid"),
    ).sort("station", "sector")


# --------------------------------------------------------------------------------------
# co-emission events
# --------------------------------------------------------------------------------------


def event_series(hourly: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """The hourly series events look at, long: ``station, series, ts, value``.

    ``co2`` ppm, ``co`` ppb (from mg/m³ with the catalog's molar mass and reference state),
    ``ch4`` ppb, ``so2``/``no2``/``pm25``/``k`` µg/m³, single VOC species ppbv, and the VOC
    group sums ``alkane`` … ``aromatic`` and ``tvoc`` (ppbv; an hour counts only when at
    least ``voc.min_species_fraction`` of the station's VOC species are valid in it).
    """
    ok = pl.col("valid") & pl.col("value").is_finite()
    direct = ["co2", "co", "ch4", "so2", "no2", "pm25", "k"]
    species = ["toluene", "benzene", "i_pentane", "n_pentane"]
    co = catalog.parameter("co")
    co_ppb = catalog.units.conversion(co.unit, "ppb", molar_mass=co.molar_mass).scale
    base = hourly.filter(pl.col("param").is_in(direct + species) & ok).select(
        "station",
        pl.col("param").alias("series"),
        "ts",
        pl.when(pl.col("param") == "co")
        .then(pl.col("value") * co_ppb)
        .otherwise(pl.col("value"))
        .alias("value"),
    )
    groups = {p.code: p.voc_group for p in catalog.parameters.values() if p.group == ParamGroup.VOC}
    voc = hourly.filter(pl.col("param").is_in(list(groups)))
    if voc.is_empty():
        return base
    frac = catalog.indicators.voc_min_species_fraction
    voc = voc.with_columns(
        pl.col("param").replace_strict(groups, return_dtype=pl.String).alias("vgroup"),
        ok.alias("ok"),
        pl.col("param").n_unique().over("station").alias("measured"),
    )
    per_hour = voc.group_by("station", "ts").agg(
        (pl.col("ok").sum() >= frac * pl.col("measured").first()).alias("enough"),
        pl.col("value").filter(pl.col("ok")).sum().alias("tvoc"),
        *[
            pl.col("value").filter(pl.col("ok") & (pl.col("vgroup") == g)).sum().alias(g)
            for g in _NMHC
        ],
    )
    long = per_hour.filter(pl.col("enough")).unpivot(
        index=["station", "ts"], on=["tvoc", *_NMHC], variable_name="series"
    )
    return pl.concat([base, long.select("station", "series", "ts", "value")])


def _excess(series: pl.DataFrame, rules: EventRules) -> pl.DataFrame:
    """Value minus its rolling low-quantile background (trailing window, per series)."""
    return (
        series.sort("station", "series", "ts")
        .with_columns(
            pl.col("value")
            .rolling_quantile_by(
                "ts",
                window_size=f"{rules.background_window_hours}h",
                quantile=rules.background_quantile,
                interpolation="linear",
                min_samples=rules.background_min_hours,
            )
            .over("station", "series")
            .alias("bg")
        )
        .with_columns((pl.col("value") - pl.col("bg")).alias("excess"))
        .filter(pl.col("excess").is_not_null())
    )


def classify(
    metrics: Mapping[str, float | None],
    fingerprints: Sequence[Fingerprint],
    *,
    min_score: float,
    min_metrics: int,
) -> tuple[str, float | None, int]:
    """The best-matching source class: ``(class, score, metrics evaluated)``.

    A class's score is the fraction of its metrics (those with a value) inside their
    ranges; the best score wins if ≥ ``min_score`` with ≥ ``min_metrics`` metrics
    evaluated (ties: the class with more metrics in range, then file order); otherwise
    ``unclassified``.
    """
    best: tuple[float, int, int] | None = None
    chosen = "unclassified"
    for fp in fingerprints:
        seen = [(m, r) for m, r in fp.ranges.items() if metrics.get(m) is not None]
        if len(seen) < min_metrics:
            continue
        hits = sum(1 for m, (lo, hi) in seen if lo <= float(metrics[m] or 0.0) <= hi)
        score = hits / len(seen)
        key = (score, hits, len(seen))
        if score >= min_score and (best is None or key[:2] > best[:2]):
            best, chosen = key, fp.source_class
    if best is None:
        return "unclassified", None, 0
    return chosen, best[0], best[2]


def _ratio(num: str, den: str) -> pl.Expr:
    both = pl.col(num).is_not_null() & pl.col(den).is_not_null()
    n = pl.col(num).filter(both).sum()
    d = pl.col(den).filter(both).sum()
    return pl.when(both.any() & (d > 0)).then(n / d)


def emission_events(
    hourly: pl.DataFrame,
    catalog: Catalog,
    *,
    stations: Sequence[str] | None = None,
    rules: EventRules | None = None,
) -> pl.DataFrame:
    """Co-emission events (schema ``EMISSION_EVENTS``), one row per event, by station/start.

    ``hourly`` is the ``hourly`` table (several days: the background window looks back
    ``events.background_window_hours``). See the module docstring and docs/indicators.md.
    """
    r = rules or catalog.indicators.events
    frame = hourly if stations is None else hourly.filter(pl.col("station").is_in(stations))
    series = event_series(frame, catalog)
    if series.is_empty():
        return pl.DataFrame(schema=EMISSION_EVENTS)
    ex = _excess(series, r)
    wide = ex.pivot(on="series", index=["station", "ts"], values="excess").sort("station", "ts")
    present = [c for c in wide.columns if c not in ("station", "ts")]
    # anchor per station: the first of r.anchors it has any excess for (one pass over the
    # stations, not a filter per station: a back-fill calls this once per day)
    candidates = [a for a in r.anchors if a in present]
    if not candidates:
        return pl.DataFrame(schema=EMISSION_EVENTS)
    has = wide.group_by("station").agg(pl.col(a).is_not_null().any() for a in candidates)
    choose: pl.Expr = pl.lit(None, pl.String)
    for a in reversed(candidates):
        choose = pl.when(pl.col(a)).then(pl.lit(a)).otherwise(choose)
    anchors = has.select("station", choose.alias("_anchor")).drop_nulls("_anchor")
    if anchors.is_empty():
        return pl.DataFrame(schema=EMISSION_EVENTS)
    co = [c for c in present if c in r.thresholds and c not in r.anchors]
    over = [pl.col(c).fill_null(-math.inf) >= r.thresholds[c] for c in co]
    n_co = pl.sum_horizontal([o.cast(pl.Int32) for o in over]) if over else pl.lit(0)
    anchor_value: pl.Expr = pl.lit(None, pl.Float64)
    anchor_threshold: pl.Expr = pl.lit(None, pl.Float64)
    for a in candidates:
        mine = pl.col("_anchor") == a
        anchor_value = pl.when(mine).then(pl.col(a)).otherwise(anchor_value)
        anchor_threshold = pl.when(mine).then(pl.lit(r.thresholds[a])).otherwise(anchor_threshold)
    hits = (
        wide.join(anchors, on="station", how="inner")
        .with_columns(
            anchor_value.alias("_a"),
            *[o.alias(f"_over_{c}") for c, o in zip(co, over, strict=True)],
        )
        .filter(
            (pl.col("_a").fill_null(-math.inf) >= anchor_threshold) & (n_co >= r.min_copollutants)
        )
    )
    if hits.is_empty():
        return pl.DataFrame(schema=EMISSION_EVENTS)
    gap = _HOUR * (r.merge_gap_hours + 1)
    hits = hits.sort("station", "ts").with_columns(
        ((pl.col("ts").diff().over("station") > gap).fill_null(True))
        .cum_sum()
        .over("station")
        .alias("_run")
    )
    hits = hits.filter(pl.len().over("station", "_run") >= r.min_duration_hours)
    if hits.is_empty():
        return pl.DataFrame(schema=EMISSION_EVENTS)
    wind = frame.filter(
        pl.col("param").is_in(["ws", "wd"]) & pl.col("valid") & pl.col("value").is_finite()
    ).pivot(on="param", index=["station", "ts"], values="value")
    if {"ws", "wd"} <= set(wind.columns):
        hits = hits.join(wind.select("station", "ts", "ws", "wd"), on=["station", "ts"], how="left")
    else:
        hits = hits.with_columns(
            pl.lit(None, pl.Float64).alias("ws"), pl.lit(None, pl.Float64).alias("wd")
        )
    k = catalog.indicators.sectors
    calm = catalog.indicators.calm_ws
    hits = hits.with_columns(
        pl.when(pl.col("ws") >= calm).then(sector_index(pl.col("wd"), k)).alias("_sector")
    )
    for c in (
        *_NMHC,
        "co",
        "co2",
        "ch4",
        "so2",
        "no2",
        "toluene",
        "benzene",
        "i_pentane",
        "n_pentane",
        "k",
        "pm25",
    ):
        if c not in hits.columns:
            hits = hits.with_columns(pl.lit(None, pl.Float64).alias(c))
    pos = [pl.col(g).clip(lower_bound=0.0).fill_null(0.0) for g in _NMHC]
    hits = hits.with_columns(
        pl.sum_horizontal(pos).alias("_nmhc"),
        *[p.alias(f"_pos_{g}") for p, g in zip(pos, _NMHC, strict=True)],
    )
    has_voc = pl.col("alkane").is_not_null().any()

    def share(g: str) -> pl.Expr:
        return pl.when(has_voc & (pl.col("_nmhc").sum() > 0)).then(
            pl.col(f"_pos_{g}").sum() / pl.col("_nmhc").sum()
        )

    over_cols = [c for c in hits.columns if c.startswith("_over_")]
    sector = pl.col("_sector").drop_nulls()
    events = hits.group_by("station", "_run").agg(
        (pl.col("ts").min() - _HOUR).alias("start_ts"),
        pl.col("ts").max().alias("end_ts"),
        pl.len().cast(pl.UInt32).alias("hours"),
        pl.col("_anchor").first().alias("anchor"),
        pl.col("_a").mean().alias("anchor_excess_mean"),
        pl.col("_a").max().alias("anchor_excess_max"),
        pl.concat_list([pl.when(pl.col(c).any()).then(pl.lit(c[6:])) for c in over_cols])
        .list.drop_nulls()
        .first()
        .alias("copollutants")
        if over_cols
        else pl.lit([], pl.List(pl.String)).alias("copollutants"),
        (
            (
                pl.arctan2((pl.col("wd") * _DEG).sin().mean(), (pl.col("wd") * _DEG).cos().mean())
                / _DEG
                + 360.0
            )
            % 360.0
        ).alias("wd_mean"),
        pl.col("ws").mean().alias("ws_mean"),
        sector.mode().sort().first().alias("_mode"),
        sector.alias("_all"),
        _ratio("co", "co2").alias("dco_dco2"),
        _ratio("ch4", "co2").alias("dch4_dco2"),
        _ratio("so2", "no2").alias("so2_no2"),
        _ratio("toluene", "benzene").alias("toluene_benzene"),
        _ratio("i_pentane", "n_pentane").alias("ipentane_npentane"),
        share("alkene").alias("alkene_share"),
        share("alkyne").alias("alkyne_share"),
        share("aromatic").alias("aromatic_share"),
        _ratio("k", "pm25").alias("k_pm25"),
    )
    events = events.with_columns(
        pl.col("_mode")
        .replace_strict(_names(k), default=None, return_dtype=pl.String)
        .alias("sector"),
        pl.when(pl.col("_all").list.len() > 0)
        .then(
            pl.col("_all")
            .list.eval((pl.element() == pl.element().mode().sort().first()).mean())
            .list.first()
        )
        .alias("sector_share"),
        (pl.col("anchor").replace_strict({"co2": "ppm", "tvoc": "ppbv"}, default="")).alias(
            "anchor_unit"
        ),
    )
    fps = catalog.indicators.fingerprints
    classes = [
        classify(row, fps, min_score=r.min_class_score, min_metrics=r.min_class_metrics)
        for row in events.select(list(RATIO_METRICS)).iter_rows(named=True)
    ]
    events = events.with_columns(
        pl.Series("source_class", [c[0] for c in classes], pl.String),
        pl.Series("class_score", [c[1] for c in classes], pl.Float64),
        pl.Series("class_metrics", [c[2] for c in classes], pl.UInt32),
        (pl.col("station") + "/" + pl.col("start_ts").dt.strftime("%Y%m%dT%H%MZ")).alias(
            "event_id"
        ),
    )
    return events.select(list(EMISSION_EVENTS)).cast(EMISSION_EVENTS).sort("station", "start_ts")
