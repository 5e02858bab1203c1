"""Back-fills of imported hourly history: batched = one by one, resumable after kill -9.

The raw stores are what ``aircarbon import`` lands (``import_long``, one value per station,
parameter and hour, ``period_s = 3600``) for an operator's own two-station network. The
back-fills run through the real CLI (``process hourly|daily --until``) in child processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from aircarbon.core.catalog import catalog_for
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline import DayResult, HourResult, process_day, process_hour
from aircarbon.pipeline.backfill import JOURNAL_DIR
from tests.pipeline.history_data import STATIONS, TIMEZONE, History, import_history
from warehouse.lake import connect
from warehouse.load import Between, partition_label

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo(TIMEZONE)
HOUR = dt.timedelta(hours=1)
FIRST = dt.date(2025, 3, 3)
#: the lake tables a back-fill writes, each with an order that makes them comparable
TABLES = {
    "readings": "SELECT * EXCLUDE (qc), list_sort(qc) AS qc FROM readings "
    "ORDER BY station, param, ts",
    "hourly": "SELECT * FROM hourly ORDER BY station, param, ts",
    "aqi_hourly": "SELECT * FROM aqi_hourly ORDER BY station, ts",
    "daily": "SELECT * FROM daily ORDER BY station, param, date",
    "aqi_daily": "SELECT * FROM aqi_daily ORDER BY station, date",
    "aqi_daily_other": "SELECT * FROM aqi_daily_other ORDER BY station, date",
    "indicators_daily": "SELECT * FROM indicators_daily ORDER BY ALL",
    "emission_events": "SELECT * FROM emission_events ORDER BY station, start_ts",
}
#: the latest load of every partition (a partition re-loaded keeps its rows and checksum)
LOG = (
    "SELECT table_name, partition, arg_max(rows, loaded_at) AS rows, "
    "arg_max(checksum, loaded_at) AS checksum FROM load_log "
    "WHERE table_name NOT IN ('stations', 'parameters', 'validation_runs') "
    "GROUP BY ALL ORDER BY ALL"
)


def _hour(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZONE) + dt.timedelta(hours=hour)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight days of imported history (the raw store and the network, no lake yet)."""
    data_dir = tmp_path_factory.mktemp("history") / "store"
    spec = History(FIRST, days=8, plume_start=dt.datetime(2025, 3, 6, 9))
    import_history(data_dir, spec)
    return data_dir


def _copy(store: Path, target: Path) -> Settings:
    shutil.copytree(store, target)
    return load_settings({}, data_dir=target)


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["AIRCARBON_DATA_DIR"] = str(settings.data_dir)
    return env


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aircarbon", *args],
        cwd=ROOT, env=_env(settings), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _frame(settings: Settings, sql: str) -> pl.DataFrame:
    con = connect(settings, read_only=True)
    try:
        return con.execute(sql).pl()
    finally:
        con.close()


def _assert_same_lake(a: Settings, b: Settings) -> None:
    for table, sql in TABLES.items():
        left, right = _frame(a, sql), _frame(b, sql)
        assert left.height > 0 or table == "emission_events", table
        assert_frame_equal(left, right, check_exact=True)
    assert_frame_equal(_frame(a, LOG), _frame(b, LOG))


def _hours_arg(days: int) -> list[str]:
    return ["--hour", _hour(FIRST, 1).isoformat(), "--until", _hour(FIRST, 24 * days).isoformat()]


def _days_arg(days: int) -> list[str]:
    return [
        "--date",
        FIRST.isoformat(),
        "--until",
        (FIRST + dt.timedelta(days=days - 1)).isoformat(),
    ]


def test_a_backfill_equals_hour_by_hour_and_day_by_day(store: Path, tmp_path: Path) -> None:
    one = _copy(store, tmp_path / "one")
    batched = _copy(store, tmp_path / "batched")
    days = 2
    catalog = catalog_for(one)
    for i in range(24 * days):
        process_hour(one, catalog, _hour(FIRST, i + 1), validate=False)
    for d in range(days):
        process_day(one, catalog, FIRST + dt.timedelta(days=d), validate=False)

    done = _cli(batched, "process", "hourly", *_hours_arg(days), "--no-validate", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(done.stdout.splitlines()) == 24 * days
    done = _cli(batched, "process", "daily", *_days_arg(days), "--no-validate", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["outcome"] for r in results] == ["loaded"] * days
    # one batch (both days are in March): one snapshot for all of them
    assert len({r["snapshot"] for r in results}) == 1
    _assert_same_lake(one, batched)
    # the finished back-fill leaves no journal: running it again re-processes the range
    assert not list((batched.data_dir / JOURNAL_DIR).glob("*.jsonl"))


def _kill_after(settings: Settings, args: list[str], journal_lines: int) -> int:
    """Start the CLI, wait until its journal holds ``journal_lines`` batches, kill -9 it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aircarbon", *args],
        cwd=ROOT, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    folder = settings.data_dir / JOURNAL_DIR
    lines = 0
    try:
        while proc.poll() is None:
            files = list(folder.glob("*.jsonl")) if folder.is_dir() else []
            lines = len(files[0].read_text().splitlines()) if files else 0
            if lines >= journal_lines:
                proc.send_signal(signal.SIGKILL)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.02)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, f"finished before the kill: {proc.stderr}"
    assert proc.stderr is not None
    proc.stderr.close()
    return lines


def _journal(settings: Settings) -> list[dict[str, str]]:
    (path,) = (settings.data_dir / JOURNAL_DIR).glob("*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _ends(first: str, last: str) -> list[dt.datetime]:
    """The hour ends a journal entry covers (its keys are UTC ``%Y-%m-%dT%H:%MZ``)."""
    start, stop = (dt.datetime.strptime(k, "%Y-%m-%dT%H:%MZ").replace(tzinfo=dt.UTC)
                   for k in (first, last))  # fmt: skip
    return [start + dt.timedelta(hours=i) for i in range(int((stop - start) / HOUR) + 1)]


def _label(end: dt.datetime) -> str:
    return partition_label({"ts": Between(end - HOUR, end)})


def _loads(settings: Settings, table: str) -> dict[str, int]:
    sql = f"SELECT partition, count(*) FROM load_log WHERE table_name = '{table}' GROUP BY ALL"
    return {str(p): int(n) for p, n in _frame(settings, sql).iter_rows()}


def test_a_killed_backfill_resumes_where_it_stopped(store: Path, tmp_path: Path) -> None:
    days = 8
    whole = _copy(store, tmp_path / "whole")
    resumed = _copy(store, tmp_path / "resumed")
    hourly = ["process", "hourly", *_hours_arg(days), "--no-validate", "--batch-hours", "4"]
    daily = ["process", "daily", *_days_arg(days), "--no-validate", "--batch-days", "1"]
    for args in (hourly, daily):
        done = _cli(whole, *args)
        assert done.returncode == 0, done.stderr[-3000:]

    # hourly: killed after three committed batches, then the same command again
    _kill_after(resumed, hourly, 3)
    finished = _journal(resumed)
    assert len(finished) >= 3
    done_hours = [_label(end) for e in finished for end in _ends(e["first"], e["last"])]
    assert len(done_hours) == 4 * len(finished)
    before = _loads(resumed, "hourly")
    assert all(before[p] == 1 for p in done_hours)
    again = _cli(resumed, *hourly)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming:" in again.stderr
    after = _loads(resumed, "hourly")
    # the finished batches were not loaded again: their hours have the one load they had
    assert all(after[p] == 1 for p in done_hours)
    assert len(after) == 24 * days
    assert not list((resumed.data_dir / JOURNAL_DIR).glob("*.jsonl"))

    # daily: killed after two days, then the same command again
    _kill_after(resumed, daily, 2)
    day_journal = _journal(resumed)
    assert len(day_journal) >= 2
    built = _loads(resumed, "daily")
    again = _cli(resumed, *daily)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming:" in again.stderr
    rebuilt = _loads(resumed, "daily")
    for entry in day_journal:
        label = f"date={entry['first']}"
        assert built[label] == 1
        assert rebuilt[label] == 1
    assert len(rebuilt) == days

    _assert_same_lake(whole, resumed)

    # --redo processes everything again, journal or not
    redo = _cli(resumed, *daily, "--redo")
    assert redo.returncode == 0, redo.stderr[-3000:]
    assert _loads(resumed, "daily") == {p: n + 1 for p, n in rebuilt.items()}


def test_hourly_history_through_the_chain(tmp_path: Path) -> None:
    """One reading per hour: a full hour each, no minute-data QC false alarms, valid days."""
    from aircarbon.pipeline.daily import plan_days, run_days
    from aircarbon.pipeline.hourly import plan_hours, run_hours

    short = FIRST + dt.timedelta(days=1)
    gone = frozenset(("HX-02", "pm25", _hour(short, h)) for h in (3, 4, 5, 6, 7))
    settings, catalog = import_history(tmp_path / "lake", History(FIRST, days=3, missing=gone))
    hours = [_hour(FIRST, i + 1) for i in range(72)]
    outcomes: dict[str, bool] = {}
    for _, hour in run_hours(settings, catalog, plan_hours(settings, hours), build_docs=False):
        assert isinstance(hour, HourResult), hour
        outcomes |= {v.suite: v.success for v in hour.validations}
    days = [FIRST + dt.timedelta(days=d) for d in range(3)]
    for _, day in run_days(settings, catalog, plan_days(settings, days), build_docs=False):
        assert isinstance(day, DayResult), day
        outcomes |= {v.suite: v.success for v in day.validations}
    assert outcomes == {"raw": True, "readings": True, "hourly": True, "daily": True}

    readings = _frame(settings, "SELECT * FROM readings")
    assert readings.height == 2 * 9 * 72 - len(gone)
    assert readings["period_s"].unique().to_list() == [3600]
    # integers repeat from hour to hour (SO2 8, 8, 9...): not a flat line, not a spike
    assert readings.filter(pl.col("qc").list.len() > 0).is_empty()
    hourly = _frame(settings, "SELECT * FROM hourly WHERE param IN ('so2', 'pm25', 'co2')")
    assert (hourly["minutes"] == 60.0).all()
    assert (hourly["n"] == 1).all()
    assert hourly["valid"].all()

    daily = _frame(settings, "SELECT * FROM daily WHERE param = 'pm25' ORDER BY station, date")
    n = {(r["station"], r["date"]): (r["n"], r["valid"]) for r in daily.iter_rows(named=True)}
    assert n[("HX-02", short)] == (19, False)  # < 20 valid hours: kept, marked invalid
    assert n[("HX-01", short)] == (24, True)
    mda8 = _frame(settings, "SELECT * FROM daily WHERE param = 'o3_8h_max'")
    assert mda8.height == 2 * 3
    assert mda8["valid"].all()
    aqi = _frame(settings, "SELECT station, date, aqi FROM aqi_daily")
    assert aqi.height == 2 * 3
    assert aqi["aqi"].is_not_null().all()
    assert _frame(settings, "SELECT count(*) AS n FROM aqi_hourly").item() == 2 * 72
    assert _frame(settings, "SELECT count(*) AS n FROM indicators_daily").item() > 0


# two years imported and back-filled, then a rolling-origin backtest of six pollutant models:
# past the 300 s default on the shared 2-core host (397 s at load ~25)
@pytest.mark.timeout(900)
def test_trends_exceedances_events_and_a_backtest_on_two_years(tmp_path: Path) -> None:
    """Two imported years: the analyst macros find the injected trend, exceedance and plume,
    and ``aircarbon forecast backtest`` (the lake's own history, no simulator) scores the
    forecast against persistence with confidence intervals into ``forecast_skill``."""
    from aircarbon.pipeline.daily import plan_days, run_days
    from aircarbon.pipeline.hourly import plan_hours, run_hours

    first, days = dt.date(2024, 1, 1), 731
    bad_day = dt.date(2025, 1, 15)
    plume = dt.datetime(2025, 6, 10, 14)
    spec = History(first, days, pm25_trend=-3.0, exceedance_day=bad_day, plume_start=plume)
    settings, catalog = import_history(tmp_path / "lake", spec)
    hours = [_hour(first, i + 1) for i in range(24 * days)]
    hour_plan = plan_hours(settings, hours, validate=False)
    assert len(hour_plan.batches) == 24  # a month per batch
    for _ in run_hours(settings, catalog, hour_plan, build_docs=False):
        pass
    all_days = [first + dt.timedelta(days=d) for d in range(days)]
    day_plan = plan_days(settings, all_days, validate=False)
    assert len(day_plan.batches) == 24
    for _ in run_days(settings, catalog, day_plan, build_docs=False):
        pass

    last = first + dt.timedelta(days=days - 1)
    span = f"DATE '{first}', DATE '{last}'"
    for station in STATIONS:
        trend = _frame(settings, f"SELECT * FROM trend_monthly('{station}', 'pm25', {span})")
        row = trend.row(0, named=True)
        assert row["months"] == 24
        assert row["slope_per_year"] == pytest.approx(-3.0, abs=0.6)
        assert row["p_value"] < 0.001
        daily_trend = _frame(settings, f"SELECT * FROM trend_daily('{station}', 'pm25', {span})")
        assert daily_trend["slope_per_year"].item() == pytest.approx(-3.0, abs=0.6)
    flat = _frame(settings, f"SELECT * FROM trend_monthly('HX-02', 'so2', {span})")
    assert abs(flat["slope_per_year"].item()) < 0.3

    exceed = _frame(settings, "SELECT * FROM exceedance_days('pm25', 75)")
    assert exceed.rows() == [("HX-01", 1, bad_day, bad_day)]
    summary = _frame(settings, f"SELECT * FROM exceedance_summary({span}) WHERE pollutant = 'pm25'")
    counted = dict(zip(summary["station"], summary["exceedance_days"], strict=True))
    assert counted == {"HX-01": 1, "HX-02": 0}

    events = _frame(settings, "SELECT * FROM emission_events")
    assert events.height == 1
    event = events.row(0, named=True)
    assert event["station"] == "HX-01"
    assert event["anchor"] == "co2"
    assert event["start_ts"] == plume.replace(tzinfo=ZONE).astimezone(dt.UTC)
    assert event["hours"] == 4
    assert {"co", "so2"} <= set(event["copollutants"])  # NO2's afternoon peak may join

    # the forecast's rolling-origin backtest on the same lake, as an operator runs it
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update({"AIRCARBON_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"})
    done = subprocess.run(
        [sys.executable, "-m", "aircarbon", "forecast", "backtest", "--json",
         "--first-test", "2025-10-01", "--refit-every", "45"],
        env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads(done.stdout.strip().splitlines()[-1])
    scored = {(row["param"], row["lead_hours"]) for row in table}
    for param in ("pm25", "o3", "no2", "aqi"):
        assert {(param, lead) for lead in (24, 48, 72)} <= scored, scored
    stored = _frame(
        settings,
        "SELECT param, lead_hours, n, skill, skill_low, skill_high FROM forecast_skill "
        "WHERE param IN ('pm25', 'o3', 'aqi')",
    )
    assert stored.height >= 9
    assert (stored["n"] > 0).all()
    # a skill with its 95 % interval around it, from the lake's own days
    assert (stored["skill_low"] <= stored["skill"]).all()
    assert (stored["skill"] <= stored["skill_high"]).all()
