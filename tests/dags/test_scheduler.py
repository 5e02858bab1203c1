"""The DAGs under a real Airflow scheduler (``aircarbon airflow standalone``), not ``dag.test()``.

Two local days of simulated raw data; the schedule starts on the first (``init --start``); a
back-fill of the first day is created as the DAGs are un-paused, so back-filled and scheduled
runs overlap; repeated back-fill creations while one runs fail cleanly, never killing the
scheduler; after the second day's bulletin a late file lands in its last hour and
``aircarbon airflow reprocess --hour`` re-runs the hour and the day. Then the lake and the
bulletins equal those of the CLI path (the same library calls, in order) over the final raw
data, and the runs happened in order.

Airflow's metadata DB is a fresh database in the tests' PostgreSQL (tests/fixtures/postgres.py). The
network's zone is chosen so that the local time is just past midnight: the second day is
over and the schedule has no hours of the third day to run (a real scheduler only runs
intervals that are over, so "now" decides which exist).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from aircarbon.core.settings import load_settings
from aircarbon.pipeline.schedule import day_loads
from ingest.raw_store import write_readings
from tests.dags.conftest import ROOT
from tests.fixtures.postgres import PostgresServer

#: ~50 task runs one after the other (that is the point) at ~5 s each, on a shared machine
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1800)]

HOURLY, DAILY = "aircarbon_hourly", "aircarbon_daily"
#: The tables the pipeline writes whose content the two paths must agree on.
TABLES = (
    "readings",
    "hourly",
    "aqi_hourly",
    "daily",
    "aqi_daily",
    "aqi_daily_other",
    "indicators_daily",
    "emission_events",
    "dead_letter",
)
#: Upper bound of any one wait: far above a normal run, only there to end a stuck test.
STUCK_S = 1200.0


def _zone_just_past_midnight(now: dt.datetime) -> str:
    """A fixed-offset zone (``Etc/GMT±N``) whose local time ``now`` is 00:00–00:59."""
    offset = -now.hour if now.hour <= 12 else 24 - now.hour  # UTC offset in hours
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/ signs are inverted


@pytest.fixture
def metadata_db(postgres_server: PostgresServer) -> Iterator[str]:
    """A database name for Airflow's metadata (``init`` creates it), dropped after the test."""
    name = f"airflow_test_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _simulated(day: dt.date, zone: str) -> pa.Table:
    """Two local days of one station's readings, decoded as the collector decodes them."""
    from aircarbon.core.catalog import load_catalog
    from aircarbon.simulator import SimulationConfig, iter_messages
    from ingest.batch import ReadingBatch
    from ingest.decode import DecodeRules, decode_message

    config = SimulationConfig(
        seed=11, start=day, days=2, stations=("SY-TY-01",), status=False, timezone=zone
    )
    batch = ReadingBatch()
    rules = DecodeRules(load_catalog(), check_time=False, check_station=True)
    for message in iter_messages(config):
        decode_message(message.topic, message.payload, rules, 0, batch)
    return batch.to_arrow()


def _cli_path(env: dict[str, str], days: list[dt.date]) -> None:
    """What an operator without Airflow runs, in order: hours, then each day's three steps."""
    from aircarbon.bulletin import write_bulletins
    from aircarbon.core.catalog import catalog_for
    from aircarbon.pipeline import process_day, process_hours
    from aircarbon.pipeline.forecast import forecast_day
    from aircarbon.pipeline.schedule import day_hours

    settings = load_settings(env)
    catalog = catalog_for(settings)
    hours = [h for d in days for h in day_hours(d, settings.timezone)]
    process_hours(settings, catalog, hours, validate=False)
    for day in days:
        process_day(settings, catalog, day, validate=False)
        forecast_day(settings, catalog, day)
        write_bulletins(settings, catalog, day)


def _aircarbon(
    env: dict[str, str], *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "aircarbon", "airflow", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


class Metadata:
    """Read-only queries on Airflow's metadata DB (what the UI shows)."""

    def __init__(self, server: PostgresServer, dbname: str) -> None:
        import psycopg2  # type: ignore[import-untyped]

        self.con = psycopg2.connect(f"dbname={dbname} {server.conninfo}")
        self.con.autocommit = True

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def runs(self, dag_id: str) -> list[tuple[dt.datetime, str, str]]:
        """(logical date, state, run type) of every run of ``dag_id``, oldest first."""
        return [
            (r[0], str(r[1]), str(r[2]))
            for r in self.rows(
                "SELECT logical_date, state, run_type FROM dag_run WHERE dag_id = %s "
                "ORDER BY logical_date",
                dag_id,
            )
        ]

    def open_backfills(self) -> int:
        return int(self.rows("SELECT count(*) FROM backfill WHERE completed_at IS NULL")[0][0])

    def task(
        self, dag_id: str, task_id: str
    ) -> list[tuple[dt.datetime, str, dt.datetime, dt.datetime]]:
        """(logical date, state, start, end) of a task's instances, by logical date."""
        return [
            (r[0], str(r[1]), r[2], r[3])
            for r in self.rows(
                "SELECT r.logical_date, t.state, t.start_date, t.end_date FROM task_instance t "
                "JOIN dag_run r ON r.dag_id = t.dag_id AND r.run_id = t.run_id "
                "WHERE t.dag_id = %s AND t.task_id = %s ORDER BY r.logical_date",
                dag_id,
                task_id,
            )
        ]


def _wait(what: str, check: Any, standalone: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``check()`` until true; fail at once if the scheduler's process died."""
    deadline = time.monotonic() + STUCK_S
    while not check():
        if standalone.poll() is not None:
            pytest.fail(
                f"standalone exited ({standalone.returncode}) waiting for {what}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        if time.monotonic() > deadline:
            pytest.fail(f"stuck waiting for {what}:\n" + log.read_text(errors="replace")[-4000:])
        time.sleep(1.0)


def _lake_rows(
    env: dict[str, str], table: str, until: dt.datetime, today: dt.date
) -> list[tuple[Any, ...]]:
    """A table's rows of the two days (the schedule may have run an hour of the third)."""
    from warehouse.lake import connect

    con = connect(load_settings(env), read_only=True)
    try:
        columns = {str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()}
        where, args = "", []
        for column, op in (("ts", "<="), ("start_ts", "<"), ("date", "<")):
            if column in columns:
                bound: Any = today if column == "date" else until
                where, args = f" WHERE {column} {op} ?", [bound]
                break
        rows = con.execute(f"SELECT * FROM {table}{where}", args).fetchall()
        return sorted(rows, key=repr)
    finally:
        con.close()


def _same_rows(ours: list[tuple[Any, ...]], theirs: list[tuple[Any, ...]]) -> bool:
    """Equal rows, floats up to summation order (a batch and one hour add in another order)."""
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True


REVISED = ("Revised issue", "修订版")


def _bulletin(folder: Path, day: dt.date, lang: str) -> tuple[list[str], bool]:
    """A bulletin's Markdown without its footer (it names the lake snapshot) and whether it
    says it is a revised issue."""
    text = (folder / "bulletins" / str(day) / f"bulletin.{lang}.md").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if "snapshot" not in line and "快照" not in line]
    for i, line in enumerate(lines):
        if any(word in line for word in REVISED):
            return lines[:i] + lines[i + 2 :], True  # the notice and the blank line after it
    return lines, False


def _network_in_zone(data_dir: Path, zone: str) -> None:
    """The sample network moved to ``zone``, as the data directory's own ``network.toml``."""
    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR

    sample = (DEFAULT_CATALOG_DIR / "stations.toml").read_text(encoding="utf-8")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "network.toml").write_text(
        sample.replace('timezone = "Asia/Shanghai"', f'timezone = "{zone}"', 1), encoding="utf-8"
    )


class Scenario:
    """The two data directories, the zone and the days of one test."""

    def __init__(self, tmp_path: Path, now: dt.datetime) -> None:
        self.zone = _zone_just_past_midnight(now)
        self.tz = ZoneInfo(self.zone)
        self.today = now.astimezone(self.tz).date()
        self.day1 = self.today - dt.timedelta(days=2)
        self.day2 = self.today - dt.timedelta(days=1)
        self.midnight = dt.datetime.combine(self.today, dt.time(0), tzinfo=self.tz)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AIRCARBON_"))}
        base.update({"PYTHONPATH": str(ROOT)})
        self.cli_dir = tmp_path / "cli"
        self.af_dir = tmp_path / "airflow_data"
        for data_dir in (self.cli_dir, self.af_dir):  # the zone is the network's
            _network_in_zone(data_dir, self.zone)
        self.home = tmp_path / "airflow_home"
        self.cli_env = {**base, "AIRCARBON_DATA_DIR": str(self.cli_dir)}
        self.env = {
            **base,
            "AIRCARBON_DATA_DIR": str(self.af_dir),
            "AIRCARBON_AIRFLOW_VALIDATE": "false",
            # Airflow's log servers default to fixed ports (8793, 8794): free ones, so the
            # machine's other services or a second copy of this test cannot collide
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            # Speed, not behaviour (Airflow 3.3's config.yml): an idle scheduler loop sleeps
            # 1 s by default, and a finished hour's run and the start of the next fall in two
            # loops, so ~1 s of the ~2 s between two of the ~50 task runs in a row was sleep
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            # the DAG files do not change during the test: parsed once at start-up (what
            # `parsed()` waits for), not re-parsed every 30 s by a process that competes
            # with the tasks for this machine's two cores
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        }

    def local_midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)

    def split_late(self) -> tuple[pa.Table, pa.Table]:
        """Two days of readings, split into the on-time ones and a late file for the last
        25 minutes of day 2's last hour."""
        table = _simulated(self.day1, self.zone)
        ts = table.column("ts")
        end = self.midnight.astimezone(dt.UTC)
        late_mask = pc.and_(
            pc.greater(ts, pa.scalar(end - dt.timedelta(minutes=25), ts.type)),
            pc.less_equal(ts, pa.scalar(end, ts.type)),
        )
        return table.filter(pc.invert(late_mask)), table.filter(late_mask)

    def daily_done(self, meta: Metadata, day: dt.date) -> bool:
        runs = [r for r in meta.runs(DAILY) if r[0] == self.local_midnight(day)]
        return bool(runs) and runs[0][1] == "success" and not meta.open_backfills()


def _start_standalone(sc: Scenario, log: Path) -> subprocess.Popen[bytes]:
    args = ["standalone", "--home", str(sc.home), "--port", str(_free_port())]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "aircarbon", "airflow", *args],
            env=sc.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(standalone: subprocess.Popen[bytes]) -> None:
    if standalone.poll() is None:
        os.kill(standalone.pid, signal.SIGTERM)  # the wrapper stops its whole group
        try:
            standalone.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(standalone.pid, signal.SIGKILL)


def _backfill_overlapping_the_schedule(sc: Scenario, meta: Metadata) -> None:
    """Back-fill day 1 as the DAGs are un-paused; then try more back-fills while it runs."""
    home = ["--home", str(sc.home)]
    days = ["--start", str(sc.day1), "--end", str(sc.day1)]
    created = _aircarbon(sc.env, "backfill", *home, *days)
    assert f"{HOURLY}: un-pausing it" in created.stdout
    assert f"{DAILY}: un-pausing it" in created.stdout
    assert created.stdout.count("backfill created") == 2
    # the back-fill was created before un-pausing: it owns day 1's first hour
    assert meta.runs(HOURLY)[0][2] == "backfill"
    for _ in range(3):  # each fails, says why in one line, and creates nothing
        again = _aircarbon(sc.env, "backfill", *home, *days, "--dag", "hourly", ok=False)
        assert again.returncode != 0
        assert "backfill created" not in again.stdout
        assert "Another backfill is running" in again.stderr, again.stderr[-2000:]
        assert len(again.stderr.strip().splitlines()) == 1, again.stderr


def _check_order(sc: Scenario, meta: Metadata) -> None:
    """Every run up to day 2 succeeded; hours and days ran oldest first."""
    last_start = sc.midnight.astimezone(dt.UTC) - dt.timedelta(hours=1)
    hours = [h for h in meta.task(HOURLY, "process") if h[0] <= last_start]
    assert len(hours) == 48
    assert all(h[1] == "success" for h in hours), hours
    first_pass = hours[:-1]  # the last hour ran again after the late file
    for before, after in itertools.pairwise(first_pass):
        assert after[2] >= before[3], f"hour {after[0]} started before {before[0]} ended"
    days = meta.task(DAILY, "daily")
    assert [d[1] for d in days] == ["success", "success"], days
    assert days[1][2] >= days[0][3]  # day 2 (re-run) after day 1
    assert days[1][2] >= hours[-1][3]  # ... and after its re-run hour
    schedulers = meta.rows("SELECT count(*) FROM job WHERE job_type = 'SchedulerJob'")
    assert schedulers[0][0] == 1  # never died and restarted


def test_scheduler_runs_in_order_and_matches_the_cli(
    tmp_path: Path, postgres_server: PostgresServer, metadata_db: str
) -> None:
    sc = Scenario(tmp_path, dt.datetime.now(dt.UTC))
    on_time, late = sc.split_late()
    assert late.num_rows > 0
    write_readings(on_time, sc.af_dir / "raw", "collector")

    url = postgres_server.url(metadata_db)
    init = _aircarbon(
        sc.env, "init", "--home", str(sc.home), "--database-url", url, "--start", str(sc.day1)
    )
    assert f"schedule      from {sc.day1} 00:00 {sc.zone}" in init.stdout
    assert "created database" in init.stdout
    log = tmp_path / "standalone.log"
    standalone = _start_standalone(sc, log)
    meta = Metadata(postgres_server, metadata_db)
    try:

        def parsed() -> bool:
            sql = "SELECT count(*) FROM dag WHERE dag_id IN (%s, %s) AND NOT is_stale"
            return bool(meta.rows(sql, HOURLY, DAILY)[0][0] == 2)

        _wait("the DAG processor to parse both DAGs", parsed, standalone, log)
        _backfill_overlapping_the_schedule(sc, meta)
        # the CLI path over the final raw data (late file included), in this process while
        # Airflow runs the hours one at a time (one core): started before the back-fill, it
        # delayed it, competing with Airflow's four services starting on two cores
        write_readings(on_time, sc.cli_dir / "raw", "collector")
        write_readings(late, sc.cli_dir / "raw", "late")
        _cli_path(sc.cli_env, [sc.day1, sc.day2])
        _wait(
            f"day {sc.day2} (scheduled) and the back-fills",
            lambda: sc.daily_done(meta, sc.day2),
            standalone,
            log,
        )

        # a late file for the last hour of day 2, after its bulletin: re-process the hour
        write_readings(late, sc.af_dir / "raw", "late")
        hour = sc.midnight.isoformat()
        redo = _aircarbon(sc.env, "reprocess", "--home", str(sc.home), "--hour", hour)
        assert f"re-running the hour ending {sc.today} 00:00" in redo.stdout, redo.stdout
        assert f"re-running {sc.day2}" in redo.stdout, redo.stdout
        assert redo.stdout.count("backfill created") == 2
        _wait(
            f"the re-run of hour {hour} and day {sc.day2}",
            lambda: sc.daily_done(meta, sc.day2),
            standalone,
            log,
        )
        assert standalone.poll() is None, "the scheduler died"
        _check_order(sc, meta)
    finally:
        meta.con.close()
        _stop(standalone)
    assert "Password for user" not in log.read_text(errors="replace")  # seeded, never printed

    # the lake, load versions and bulletins equal the CLI path's, and no day is stale
    loads = day_loads(load_settings(sc.env), [sc.day1, sc.day2])
    assert [x.stale for x in loads] == [False, False]
    for name in TABLES:
        until = sc.midnight.astimezone(dt.UTC)
        ours = _lake_rows(sc.env, name, until, sc.today)
        theirs = _lake_rows(sc.cli_env, name, until, sc.today)
        if name in {"readings", "hourly", "daily"}:
            assert ours, name
        assert _same_rows(ours, theirs), name
    for day in (sc.day1, sc.day2):
        for lang in ("en", "zh"):
            text, revised = _bulletin(sc.af_dir, day, lang)
            cli_text, cli_revised = _bulletin(sc.cli_dir, day, lang)
            assert text == cli_text, (day, lang)
            # day 2 was issued, then re-issued after the late file: it says so
            assert revised is (day == sc.day2), (day, lang)
            assert not cli_revised  # the CLI path built each day once
