"""``aircarbon airflow init|standalone|backfill|reprocess``: run the DAGs under Airflow 3.3.

Thin wrappers over the ``airflow`` command line (run as subprocesses, from this virtualenv)
with the environment our DAGs need: ``AIRFLOW_HOME`` (default ``<data_dir>/airflow``), the
repository's ``dags/`` folder, no example DAGs, and ``AIRCARBON_DATA_DIR`` as an absolute path
(the worker's working directory is not the user's). A failing ``airflow`` call becomes a
one-line error.

Intervals: the hourly DAG processes the hour *ending* ``H``; its scheduled and backfill runs
have logical date ``H - 1 h`` (the data interval's start). The daily DAG's interval is the
local day; its logical date is the day's local midnight. ``--local`` runs go through
``airflow dags test`` instead, whose date is the interval's *end*.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from aircarbon.errors import AirCarbonError

if TYPE_CHECKING:  # pydantic costs ~0.5 s: imported only when a command runs
    from aircarbon.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    help="Run the AirCarbon DAGs under Airflow 3.3 (set-up, standalone, backfill, re-runs).",
    no_args_is_help=True,
)

HOURLY = "aircarbon_hourly"
DAILY = "aircarbon_daily"
_HOUR = dt.timedelta(hours=1)
_DAY = dt.timedelta(days=1)
_TEST_OFFSET = dt.timedelta(seconds=1)
#: The repository's DAG folder (the package is used from a checkout: ``uv run aircarbon``).
REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"

Home = Annotated[
    Path | None,
    typer.Option(help="AIRFLOW_HOME (default: $AIRFLOW_HOME, else <data_dir>/airflow)."),
]
DataDir = Annotated[Path | None, typer.Option(help="AirCarbon data directory.")]


# --------------------------------------------------------------------------------------
# environment
# --------------------------------------------------------------------------------------


def _settings(data_dir: Path | None) -> Settings:
    from aircarbon.settings import load_settings

    return load_settings(data_dir=data_dir)


def airflow_home(settings: Settings, home: Path | None = None) -> Path:
    """``--home``, else ``$AIRFLOW_HOME``, else ``<data_dir>/airflow`` (absolute)."""
    chosen = home or (Path(os.environ["AIRFLOW_HOME"]) if os.environ.get("AIRFLOW_HOME") else None)
    return (chosen or settings.data_dir / "airflow").resolve()


def airflow_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment of every ``airflow`` process we start (and of its task workers)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])  # standalone spawns `airflow`
    env["AIRFLOW_HOME"] = str(home)
    env["AIRCARBON_DATA_DIR"] = str(settings.data_dir.resolve())
    if env.get("AIRCARBON_CONFIG"):
        env["AIRCARBON_CONFIG"] = str(Path(env["AIRCARBON_CONFIG"]).resolve())
    env.update(extra)
    return env


def _airflow_bin() -> str:
    local = Path(sys.executable).parent / "airflow"
    found = str(local) if local.is_file() else shutil.which("airflow")
    if found is None:
        raise AirCarbonError("no `airflow` executable next to this Python or on PATH")
    return found


def _run(args: Sequence[str], env: Mapping[str, str], *, capture: bool = True) -> str:
    """Run ``airflow ARGS``; a failure becomes one line (the last the command printed)."""
    cmd = [_airflow_bin(), *args]
    for attempt in range(_LOCK_RETRIES + 1):
        proc = subprocess.run(cmd, env=dict(env), capture_output=capture, text=True, check=False)
        locked = capture and "database is locked" in proc.stderr + proc.stdout
        if proc.returncode == 0 or not locked or attempt == _LOCK_RETRIES:
            break
        # SQLite metadata DB: a write that collided with the scheduler's; try again
        time.sleep(5.0)
    if proc.returncode != 0:
        where = "see its output above"
        if capture:
            where = _error_line(proc.stderr + proc.stdout)
        raise AirCarbonError(
            f"`airflow {' '.join(args[:2])}` failed (exit {proc.returncode}): {where}"
        )
    return proc.stdout if capture else ""


_LOCK_RETRIES = 3
_ERROR_LINE = re.compile(r"^([\w.]+(Error|Exception)|airflow command error): ")


def _error_line(output: str) -> str:
    """The line of a failed command's output that says why (a traceback's last exception)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln)]
    return (errors or lines or ["no output"])[-1]


def _require_init(home: Path) -> None:
    if not (home / "airflow.cfg").is_file():
        raise AirCarbonError(f"no Airflow set-up in {home}: run `aircarbon airflow init` first")


# --------------------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------------------


def _date(value: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AirCarbonError(f"{what} must be YYYY-MM-DD, not {value!r}") from None


def _hour_end(value: str, settings: Settings) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise AirCarbonError(
            f"--hour must be ISO 8601 (e.g. 2026-11-24T10:00+08:00), not {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=settings.tz)
    if (parsed.minute, parsed.second, parsed.microsecond) != (0, 0, 0):
        raise AirCarbonError(f"--hour is the END of an hour, on the hour, not {value!r}")
    return parsed


def _midnight(day: dt.date, settings: Settings) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=settings.tz)


# --------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------


def set_options(text: str, values: Mapping[tuple[str, str], str]) -> str:
    """``airflow.cfg`` text with ``values`` set, its comments and other options kept.

    An option's line (active or commented out, ``# key =``) is replaced in its section;
    a missing option is added at the section's top, a missing section at the end.
    """
    lines = text.splitlines()
    pending = dict(values)
    section = None
    out: list[str] = []
    for line in lines:
        header = re.match(r"^\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1)
            out.append(line)
            out.extend(f"{k} = {v}" for (sec, k), v in list(pending.items()) if sec == section)
            pending = {key: v for key, v in pending.items() if key[0] != section}
            continue
        option = re.match(r"^#?\s*([A-Za-z0-9_]+)\s*=", line)
        if option and section is not None and (section, option.group(1)) in values:
            continue  # replaced by the line written under the header
        out.append(line)
    for sec in dict.fromkeys(sec for sec, _ in pending):
        out.extend(["", f"[{sec}]"])
        out.extend(f"{k} = {v}" for (s2, k), v in pending.items() if s2 == sec)
    return "\n".join(out) + "\n"


@app.command("init")
def init(
    home: Home = None,
    data_dir: DataDir = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Metadata DB, e.g. postgresql+psycopg2://user:pw@host/airflow "
            "(default: SQLite in AIRFLOW_HOME)."
        ),
    ] = None,
    dags_folder: Annotated[
        Path | None, typer.Option(help="DAG folder (default: the repository's dags/).")
    ] = None,
    parallelism: Annotated[
        int, typer.Option(help="Task slots (LocalExecutor worker processes).")
    ] = 4,
) -> None:
    """Create AIRFLOW_HOME, write airflow.cfg for AirCarbon, and migrate the metadata DB."""
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    dags = (dags_folder or REPO_DAGS).resolve()
    if not (dags / "aircarbon_hourly.py").is_file():
        raise AirCarbonError(f"no AirCarbon DAGs in {dags}: pass --dags-folder")
    target.mkdir(parents=True, exist_ok=True)
    cfg_path = target / "airflow.cfg"
    env = airflow_env(settings, target)
    if not cfg_path.is_file():
        # Airflow writes its documented default file on first use, with the secrets every
        # component must share (JWT signing key, Fernet key); a file without them makes each
        # process invent its own, and the workers' API calls fail with "Invalid auth token".
        _run(["config", "get-value", "core", "dags_folder"], env)
    values = {
        ("core", "dags_folder"): str(dags),
        ("core", "load_examples"): "False",
        # Airflow's default (32) starts 32 worker processes; the DAGs run one task at a time
        ("core", "parallelism"): str(parallelism),
        # SQLite: wait up to 30 s for a lock (scheduler, API server and CLI all write)
        ("database", "sql_alchemy_conn"): database_url
        or f"sqlite:///{target / 'airflow.db'}?timeout=30",
    }
    text = cfg_path.read_text(encoding="utf-8")
    cfg_path.write_text(set_options(text, values), encoding="utf-8")
    env_file = target / "aircarbon.env"
    exports = {
        k: env[k] for k in ("AIRFLOW_HOME", "AIRCARBON_DATA_DIR", "AIRCARBON_CONFIG") if k in env
    }
    env_file.write_text(
        "# source this before calling `airflow` yourself (the scheduler needs the same)\n"
        + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()),
        encoding="utf-8",
    )
    typer.echo(f"AIRFLOW_HOME  {target}\ndags_folder   {dags}")
    typer.echo(f"metadata DB   {values['database', 'sql_alchemy_conn']}")
    typer.echo("migrating the metadata DB (airflow db migrate)…")
    _run(["db", "migrate"], env)
    typer.echo(f"done. Environment for your shell: source {env_file}")


@app.command("standalone")
def standalone(
    home: Home = None,
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option(help="API server / UI port.")] = 8080,
) -> None:
    """Run scheduler, DAG processor, triggerer and API server/UI in the foreground (Ctrl-C)."""
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(target)
    env = airflow_env(
        settings,
        target,
        AIRFLOW__API__PORT=str(port),
        # the workers reach the API server here: it must follow the port
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
    )
    typer.echo(f"Airflow UI    http://localhost:{port}/  (user admin)")
    typer.echo(f"password in   {target / 'simple_auth_manager_passwords.json.generated'}")
    typer.echo(f"task logs in  {target / 'logs'}")
    typer.echo(f"data dir      {env['AIRCARBON_DATA_DIR']}")
    _run_foreground(["standalone"], env)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run_foreground(args: Sequence[str], env: Mapping[str, str]) -> None:
    """Run a long-lived ``airflow`` command; Ctrl-C stops its whole process group.

    ``airflow standalone`` can leave its scheduler and LocalExecutor workers behind when it
    is interrupted, so it runs in a session of its own and the group is stopped on exit.
    """
    proc = subprocess.Popen([_airflow_bin(), *args], env=dict(env), start_new_session=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stopped by a supervisor: the same
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        code = 0
        for sig, grace in ((signal.SIGINT, 30.0), (signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            with contextlib.suppress(ProcessLookupError):  # stragglers of the group
                os.killpg(proc.pid, signal.SIGKILL)
            break
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(ProcessLookupError):  # orphans of a leader that exited
            os.killpg(proc.pid, signal.SIGKILL)
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise AirCarbonError(f"`airflow {args[0]}` exited with {code}; see its output above")


Which = Literal["hourly", "daily", "both"]
Reprocess = Literal["none", "failed", "completed"]


def _hourly_logical_range(
    first: dt.date, last: dt.date, settings: Settings
) -> tuple[dt.datetime, dt.datetime]:
    """Logical dates (interval starts) of the hours ending in local days ``first``..``last``."""
    return _midnight(first, settings), _midnight(last + _DAY, settings) - _HOUR


def _backfill(
    dag_id: str, start: dt.datetime, end: dt.datetime, reprocess: Reprocess, env: Mapping[str, str]
) -> None:
    # Queued runs of a paused DAG never start (backfills included): un-pause it, which also
    # resumes its schedule (new DAGs are created paused).
    _run(["dags", "unpause", dag_id], env)
    args = ["backfill", "create", "--dag-id", dag_id, "--from-date", start.isoformat()]
    args += ["--to-date", end.isoformat(), "--reprocess-behavior", reprocess]
    args += ["--max-active-runs", "1"]  # one interval at a time, oldest first
    _run(args, env)
    typer.echo(
        f"{dag_id}: backfill created for logical dates {start.isoformat()} … {end.isoformat()}"
    )


def _dags_test(
    dag_id: str, interval_end: dt.datetime, env: Mapping[str, str], validate: bool
) -> None:
    conf = [] if validate else ["--conf", '{"validate": false}']
    typer.echo(
        f"{dag_id}: running the interval ending {interval_end.isoformat()} (airflow dags test)"
    )
    # `dags test DATE` runs the last whole interval ending at or before DATE, and first DELETES
    # any run whose logical date is DATE: at exactly the interval's end that would be the
    # scheduled run of the NEXT interval (logical date = interval start). One second later
    # selects the same interval and matches no scheduled or backfill run.
    date = interval_end + _TEST_OFFSET
    _run(["dags", "test", dag_id, date.isoformat(), *conf], env, capture=False)


def _local_days(
    first: dt.date,
    last: dt.date,
    settings: Settings,
    env: Mapping[str, str],
    which: Which,
    validate: bool,
) -> None:
    from aircarbon.pipeline import missing_hours

    day = first
    while day <= last:
        if which in {"hourly", "both"}:
            end = _midnight(day, settings)
            while end < _midnight(day + _DAY, settings):
                end += _HOUR
                _dags_test(HOURLY, end, env, validate)
        if which in {"daily", "both"}:
            missing = missing_hours(settings, day)
            if missing:
                raise AirCarbonError(
                    f"{day}: {len(missing)} hour(s) not processed (first ending "
                    f"{missing[0].astimezone(settings.tz).isoformat()}); run the hourly DAG first"
                )
            _dags_test(DAILY, _midnight(day + _DAY, settings), env, validate)
        day += _DAY


@app.command("backfill")
def backfill(
    start: Annotated[str, typer.Option("--start", help="First local day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last local day, YYYY-MM-DD (inclusive).")],
    dag: Annotated[str, typer.Option("--dag", help="hourly, daily or both.")] = "both",
    reprocess: Annotated[
        str,
        typer.Option(
            help="Existing runs: none (skip), failed (re-run failed), completed (re-run all)."
        ),
    ] = "failed",
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Run each interval now with `airflow dags test` (no scheduler)."
        ),
    ] = False,
    no_validate: Annotated[
        bool, typer.Option("--no-validate", help="With --local: skip GX.")
    ] = False,
    home: Home = None,
    data_dir: DataDir = None,
) -> None:
    """Re-run the local days START..END: every hour of them, then each day's aggregates.

    By default creates Airflow backfills (`airflow backfill create`) that the running scheduler
    executes (`aircarbon airflow standalone`), visible in the UI; the daily runs wait for their
    hours. `--local` runs every interval in this terminal instead (~15 s of Airflow overhead
    each; `aircarbon process hourly --until` is faster and needs no Airflow at all).
    """
    if dag not in {"hourly", "daily", "both"}:
        raise AirCarbonError(f"--dag must be hourly, daily or both, not {dag!r}")
    if reprocess not in {"none", "failed", "completed"}:
        raise AirCarbonError(f"--reprocess must be none, failed or completed, not {reprocess!r}")
    which: Which = dag  # type: ignore[assignment]
    behaviour: Reprocess = reprocess  # type: ignore[assignment]
    first, last = _date(start, "--start"), _date(end, "--end")
    if last < first:
        raise AirCarbonError(f"--end {last} is before --start {first}")
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(target)
    env = airflow_env(settings, target)
    if local:
        _local_days(first, last, settings, env, which, validate=not no_validate)
        return
    if which in {"hourly", "both"}:
        _backfill(HOURLY, *_hourly_logical_range(first, last, settings), behaviour, env)
    if which in {"daily", "both"}:
        _backfill(DAILY, _midnight(first, settings), _midnight(last, settings), behaviour, env)


@app.command("reprocess")
def reprocess_command(
    hour: Annotated[
        str | None, typer.Option("--hour", help="END of the hour (local time unless an offset).")
    ] = None,
    day: Annotated[
        str | None, typer.Option("--day", help="A local day's daily run, YYYY-MM-DD.")
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Run it now with `airflow dags test` (no scheduler)."),
    ] = False,
    home: Home = None,
    data_dir: DataDir = None,
) -> None:
    """Re-run one hour (or one day's daily run) after fixing its data.

    By default a one-interval backfill that re-runs the interval whatever its state (the
    scheduler runs it; the run shows in the UI); `--local` runs it now in this terminal.
    Re-processing replaces the interval's partitions: it never appends twice.
    """
    if (hour is None) == (day is None):
        raise AirCarbonError("give exactly one of --hour and --day")
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(target)
    env = airflow_env(settings, target)
    if hour is not None:
        dag_id, interval_end = HOURLY, _hour_end(hour, settings)
        length = _HOUR
    else:
        the_day = _date(day or "", "--day")
        dag_id, interval_end = DAILY, _midnight(the_day + _DAY, settings)
        length = _DAY
    if local:
        _dags_test(dag_id, interval_end, env, validate=True)
        return
    logical = interval_end - length  # a scheduled run's logical date: its interval's start
    _backfill(dag_id, logical, logical, "completed", env)
