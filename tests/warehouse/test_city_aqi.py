"""city_aqi_daily (migration 0013) against transforms.city_aqi on the same real lake.

The macro carries HJ 633 as data (breakpoints, daily reports, categories): first those are
held equal to the catalog's aqi.toml, then the macro's answers to the Polars function's on
constructed days around the 2012 → 2026 switch, with the edge cases the method decides
(half-even ties, the 2012 O3 fallback, the 2026 fixed O3 value, off-scale clamping).
"""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import polars as pl
import pytest

import warehouse
from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import DAILY
from transforms.aqi import pollutant_names, report_inputs
from transforms.city_aqi import CITY_AQI, assessment_stations, city_aqi
from warehouse.load import replace_partition

CATALOG = load_catalog()
DAYS = [dt.date(2026, 2, 26) + dt.timedelta(days=i) for i in range(6)]  # 2012 x3, 2026 x3
PARAMS = ("so2", "no2", "co", "pm10", "pm25", "o3_1h_max", "o3_8h_max")
SCALE = {"so2": 60, "no2": 120, "co": 4, "pm10": 250, "pm25": 180, "o3_1h_max": 400}
SCALE["o3_8h_max"] = 300


def test_hj633_tables_equal_the_catalog(lake: duckdb.DuckDBPyConnection) -> None:
    steps = CATALOG.iaqi_steps
    got = lake.execute("SELECT * FROM aqi_breakpoints() ORDER BY version, col, seg").fetchall()
    want = sorted(
        (s.version, col, i, float(b[i - 1]), float(b[i]), float(steps[i - 1]), float(steps[i]))
        for s in CATALOG.aqi_standards.values()
        for col, b in s.breakpoints.items()
        for i in range(1, len(b))
    )
    assert got == want
    names = pollutant_names(CATALOG)
    report = lake.execute(
        "SELECT version, standard, valid_from, ord, param, col, pollutant, decimals, top_bp, "
        "above_top_iaqi, fallback_param FROM aqi_daily_report() ORDER BY version, ord"
    ).fetchall()
    expected = []
    for s in sorted(CATALOG.aqi_standards.values(), key=lambda s: s.version):
        inputs = report_inputs(s, "daily")
        by_col = {c: p for p, c in inputs.items()}
        for i, (param, col) in enumerate(inputs.items(), 1):
            rule = s.above_top.get(col, {})
            fixed = rule.get("fixed")
            fallback = rule.get("fallback")
            above = float(fixed) if fixed is not None else (None if fallback else steps[-1])
            first = s == min(CATALOG.aqi_standards.values(), key=lambda x: x.effective_from)
            expected.append(
                (s.version, s.name, None if first else s.effective_from, i, param, col,
                 names[col], s.input_decimals.get(param), float(s.breakpoints[col][-1]),
                 above, by_col[str(fallback)] if fallback else None)
            )  # fmt: skip
    assert report == expected
    cats = lake.execute("SELECT * FROM aqi_categories() ORDER BY level").fetchall()
    assert cats == [(c.level, c.aqi_max, c.name_en, c.name_zh, c.color) for c in CATALOG.categories]


def _constructed() -> pl.DataFrame:
    """Six days of every station: seeded values, some invalid, and the method's edge cases."""
    rng = random.Random(633)
    rows: list[dict[str, object]] = []
    for day in DAYS:
        for station in sorted(CATALOG.stations):
            for param in PARAMS:
                if rng.random() < 0.1:
                    continue  # not measured that day
                value = round(rng.uniform(0, SCALE[param]), rng.choice((0, 1, 3)))
                rows.append(
                    {"station": station, "param": param, "date": day, "value": value,
                     "n": 24, "valid": rng.random() > 0.15}
                )  # fmt: skip
    sites = assessment_stations(CATALOG)
    edge = {
        # 2012: O3 8-h above 800 takes the O3 1-h IAQI
        DAYS[0]: {"o3_8h_max": 900.0, "o3_1h_max": 350.0},
        # half-even ties on the city mean: PM2.5 60.5 → 60, CO 1.25 → 1.2 (2026 only)
        DAYS[3]: {"pm25": (60.0, 61.0), "co": (1.0, 1.5)},
        # 2026: O3 8-h above 800 is fixed at 300; PM10 off the scale clamps to 500
        DAYS[4]: {"o3_8h_max": 850.0, "pm10": 700.0},
    }
    out = pl.DataFrame(rows, schema=DAILY)
    for day, values in edge.items():
        out = out.filter(~((pl.col("date") == day) & pl.col("param").is_in(list(values))))
        extra = []
        for param, v in values.items():
            pair = v if isinstance(v, tuple) else (v, v)
            extra += [
                {"station": s, "param": param, "date": day, "value": pair[i % 2], "n": 24,
                 "valid": True}
                for i, s in enumerate(sites)
            ]  # fmt: skip
        out = pl.concat([out, pl.DataFrame(extra, schema=DAILY)])
    return out


def test_macro_equals_the_function_on_the_same_lake(lake: duckdb.DuckDBPyConnection) -> None:
    warehouse.load_dimensions(lake, CATALOG)
    replace_partition(lake, "daily", _constructed(), {})
    sql = lake.execute("SELECT * FROM city_aqi_daily(?, ?)", [DAYS[0], DAYS[-1]]).pl()
    daily = lake.execute("SELECT * FROM daily").pl()
    py = city_aqi(daily, CATALOG)
    assert sql.schema == CITY_AQI
    assert py.height == len(DAYS)
    # means (and 2012's unrounded concentrations) agree to float summation order; all else
    # exactly: IAQI, AQI, category, primary pollutants, station counts
    exact = [c for c in CITY_AQI.names() if c not in ("means", "iaqi")]
    assert sql.select(exact).to_dicts() == py.select(exact).to_dicts()
    for column, number in (("iaqi", "concentration"), ("means", "value")):
        for a, b in zip(sql[column].to_list(), py[column].to_list(), strict=True):
            assert [{**m, number: None} for m in a] == [{**m, number: None} for m in b]
            assert [m[number] for m in a] == pytest.approx([m[number] for m in b], rel=1e-12)
    by_day = {r["date"]: r for r in py.to_dicts()}
    assert {r["standard"] for d, r in by_day.items() if d < dt.date(2026, 3, 1)} == {"HJ 633-2012"}
    assert {r["standard"] for d, r in by_day.items() if d >= dt.date(2026, 3, 1)} == {"HJ 633-2026"}
    items = {d: {i["pollutant"]: i for i in r["iaqi"]} for d, r in by_day.items()}
    assert items[DAYS[0]]["o3_8h_max"]["iaqi"] == items[DAYS[0]]["o3_1h_max"]["iaqi"] == 175
    assert items[DAYS[3]]["pm25"]["concentration"] == 60.0
    assert items[DAYS[3]]["co"]["concentration"] == 1.2
    assert items[DAYS[4]]["o3_8h_max"]["iaqi"] == 300
    assert items[DAYS[4]]["pm10"]["iaqi"] == 500
    # a window selects its days only
    one = lake.execute("SELECT date FROM city_aqi_daily(?, ?)", [DAYS[2], DAYS[3]]).fetchall()
    assert [d for (d,) in one] == DAYS[2:4]
