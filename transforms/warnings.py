"""Early warnings from a forecast: heavy-pollution levels and O3 episode alerts.

The emergency plan grades a coming episode by how many consecutive days the *forecast* daily
AQI stays above 200 and how many of them exceed 300 (``forecast.toml``: blue … red, highest
first, "and not meeting a higher level"). The horizon is three days, so the issue day's
observed AQI counts as the first day of a run that continues into the forecast (a red
warning needs four days). One warning per run of days and station; the O3 rule counts
consecutive days whose forecast daily maximum 8-hour mean exceeds the Grade II limit.

Pure functions over small frames (a few stations × 3 days): a Python loop per run is
clearer than any expression, and costs nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from transforms.forecast.rules import ForecastRules, LevelRule

__all__ = ["WARNINGS", "heavy_pollution_warnings", "o3_episode_alerts", "warning_level"]

#: The warnings frame (warehouse ``warnings`` without the issue's columns).
WARNINGS = pl.Schema(
    {
        "station": pl.String(),
        "kind": pl.String(),
        "level": pl.String(),
        "start_date": pl.Date(),
        "end_date": pl.Date(),
        "days": pl.Int32(),
        "max_aqi": pl.Int32(),
        "max_value": pl.Float64(),
        "rule": pl.String(),
        "reason": pl.String(),
        "reason_zh": pl.String(),
        "source": pl.String(),
    }
)


@dataclass(frozen=True, slots=True)
class _Day:
    date: dt.date
    value: float
    observed: bool


def warning_level(aqis: list[int], levels: tuple[LevelRule, ...]) -> LevelRule | None:
    """The highest level a run of daily AQIs meets (None: no warning).

    ``aqis`` are consecutive days; each clause looks for a run of days above its first
    threshold long enough, with enough days above each further threshold inside it.
    """
    for rule in levels:
        for clause in rule.when:
            base, need = clause[0]
            run: list[int] = []
            for value in [*aqis, -1]:  # the sentinel closes the last run
                if value > base:
                    run.append(value)
                    continue
                if len(run) >= need and all(
                    sum(1 for v in run if v > t) >= d for t, d in clause[1:]
                ):
                    return rule
                run = []
    return None


def _runs(days: list[_Day], above: float) -> list[list[_Day]]:
    """Maximal runs of consecutive days above ``above`` that reach a forecast day."""
    runs: list[list[_Day]] = []
    current: list[_Day] = []
    for day in days:
        if day.value > above and (not current or day.date - current[-1].date == dt.timedelta(1)):
            current.append(day)
            continue
        if any(not d.observed for d in current):
            runs.append(current)
        current = [day] if day.value > above else []
    if any(not d.observed for d in current):
        runs.append(current)
    return runs


def _series(
    forecast: pl.DataFrame, observed: pl.DataFrame | None, column: str
) -> dict[str, list[_Day]]:
    out: dict[str, list[_Day]] = {}
    if observed is not None:
        for row in observed.drop_nulls(column).iter_rows(named=True):
            out.setdefault(row["station"], []).append(_Day(row["date"], float(row[column]), True))
    for row in forecast.drop_nulls(column).sort("date").iter_rows(named=True):
        out.setdefault(row["station"], []).append(_Day(row["date"], float(row[column]), False))
    return {k: sorted(v, key=lambda d: d.date) for k, v in out.items()}


def _days_text(run: list[_Day], fmt: str) -> str:
    return ", ".join(
        f"{d.date.isoformat()} {fmt.format(d.value)}{' obs' if d.observed else ''}" for d in run
    )


def heavy_pollution_warnings(
    forecast_aqi: pl.DataFrame,
    rules: ForecastRules,
    *,
    observed_aqi: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Heavy-pollution warnings from forecast daily AQI (``station, date, aqi``).

    ``observed_aqi`` (``station, date, aqi``) is the issue day, counted only when
    ``count_observed_day`` and contiguous with a run of forecast days.
    """
    lowest = min(clause[0][0] for rule in rules.levels for clause in rule.when)
    stations = set(rules.heavy_stations)
    observed = observed_aqi if rules.count_observed_day else None
    rows: list[dict[str, object]] = []
    for station, days in _series(forecast_aqi, observed, "aqi").items():
        if station not in stations and "*" not in stations:
            continue
        for run in _runs(days, lowest):
            values = [round(d.value) for d in run]
            rule = warning_level(values, rules.levels)
            if rule is None:
                continue
            ahead = [d for d in run if not d.observed]
            detail = _days_text(run, "AQI {:.0f}")
            rows.append(
                {
                    "station": station,
                    "kind": "heavy_pollution",
                    "level": rule.level,
                    "start_date": ahead[0].date,
                    "end_date": ahead[-1].date,
                    "days": len(run),
                    "max_aqi": max(values),
                    "max_value": None,
                    "rule": f"heavy_pollution.{rule.level}",
                    "reason": f"forecast daily AQI above {lowest} for {len(run)} day(s): {detail}",
                    "reason_zh": f"{rule.name_zh}：预测日AQI>{lowest}持续{len(run)}天（{detail}）",
                    "source": rules.source_text(rules.heavy_source),
                }
            )
    return pl.DataFrame(rows, schema=WARNINGS)


def o3_episode_alerts(forecast_o3: pl.DataFrame, rules: ForecastRules) -> pl.DataFrame:
    """O3 episode alerts from forecast daily max 8-h O3 (``station, date, o3_8h_max``)."""
    rule = rules.o3
    limit = rule.o3_8h_max_ug_m3
    stations = set(rule.stations)
    rows: list[dict[str, object]] = []
    for station, days in _series(forecast_o3, None, "o3_8h_max").items():
        if station not in stations and "*" not in stations:
            continue
        for run in _runs(days, limit):
            if len(run) < rule.min_days:
                continue
            detail = _days_text(run, "{:.0f} µg/m³")
            rows.append(
                {
                    "station": station,
                    "kind": "o3_episode",
                    "level": "o3",
                    "start_date": run[0].date,
                    "end_date": run[-1].date,
                    "days": len(run),
                    "max_aqi": None,
                    "max_value": max(d.value for d in run),
                    "rule": "o3_episode",
                    "reason": f"forecast daily max 8-h O3 above {limit:.0f} µg/m³ for "
                    f"{len(run)} days: {detail}",
                    "reason_zh": f"臭氧污染过程：预测日最大8小时臭氧>{limit:.0f}µg/m³"
                    f"持续{len(run)}天（{detail}）",
                    "source": rules.source_text(rule.source),
                }
            )
    return pl.DataFrame(rows, schema=WARNINGS)
