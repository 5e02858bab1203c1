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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from aircarbon.commands._when import parse_day, parse_hour_end
from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:  # pydantic costs ~0.5 s: imported only when a command runs
    from aircarbon.core.settings import Settings

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
    from aircarbon.core.settings import load_settings

    return load_settings(data_dir=data_dir)


def airflow_home(settings: Settings, home: Path | None = None) -> Path:
    """``--home``, else ``$AIRFLOW_HOME``, else ``<data_dir>/airflow`` (absolute)."""
    chosen = home or (Path(os.environ["AIRFLOW_HOME"]) if os.environ.get("AIRFLOW_HOME") else None)
    return (chosen or settings.data_dir / "airflow").resolve()


ENV_FILE = "aircarbon.env"


def recorded_env(home: Path) -> dict[str, str]:
    """The ``export K=V`` lines ``init`` wrote to ``<home>/aircarbon.env``.

    Why: ``init`` records the schedule start there (today, unless ``--start``), and every
    later ``aircarbon airflow`` command must start Airflow with it, also in a shell that
    never sourced the file. The caller's environment wins over the file.
    """
    path = home / ENV_FILE
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, _, value = words[1].partition("=")
            found[key] = value
    return found


def airflow_env(settings: Settings, home: Path, **extra: str) -> dict[str, str]:
    """The environment of every ``airflow`` process we start (and of its task workers)."""
    env = {**recorded_env(home), **os.environ}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])  # standalone spawns `airflow`
    env["AIRFLOW_HOME"] = str(home)
    env["AIRCARBON_DATA_DIR"] = str(settings.data_dir.resolve())
    # the network's zone, whatever airflow.cfg says: `aircarbon network init --force` may
    # have moved it since `init` wrote the file (follow_network_zone brings the file along)
    env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] = settings.timezone
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
    # No retry: a command such as `backfill create` is not idempotent (a half-done attempt
    # leaves a backfill behind), so a failure is reported as one, never papered over.
    cmd = [_airflow_bin(), *args]
    proc = subprocess.run(cmd, env=dict(env), capture_output=capture, text=True, check=False)
    if proc.returncode != 0:
        where = "see its output above"
        if capture:
            where = _error_line(proc.stderr + proc.stdout)
        raise AirCarbonError(
            f"`airflow {' '.join(args[:2])}` failed (exit {proc.returncode}): {where}"
        )
    return proc.stdout if capture else ""


_ERROR_LINE = re.compile(r"^([\w.]+(Error|Exception)|airflow command error): ")


def _error_line(output: str) -> str:
    """The line of a failed command's output that says why (a traceback's last exception)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln)]
    return (errors or lines or ["no output"])[-1]


def _require_init(settings: Settings, home: Path) -> None:
    """Refuse a home ``init`` has not set up; bring its zone along to the network's.

    Every command that runs Airflow goes through here, so an operator's zone change reaches
    airflow.cfg before Airflow starts (:func:`follow_network_zone`).
    """
    if not (home / "airflow.cfg").is_file():
        raise AirCarbonError(f"no Airflow set-up in {home}: run `aircarbon airflow init` first")
    follow_network_zone(settings, home)


def follow_network_zone(settings: Settings, home: Path) -> str | None:
    """Set airflow.cfg's ``default_timezone`` to the network's zone; the old zone if it moved.

    Why: ``init`` writes the zone once, and ``aircarbon network init --force`` can change
    it later; an Airflow the operator starts by hand (``source aircarbon.env; airflow
    scheduler``) reads only the file, and would read dates typed without an offset (and
    show times) in the old zone. Every ``aircarbon airflow`` command that runs Airflow
    calls this (through ``_require_init``), and says so when it changed the file.
    """
    import configparser

    cfg_path = home / "airflow.cfg"
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(cfg_path, encoding="utf-8")
    current = parser.get("core", "default_timezone", fallback=None)
    zone = settings.timezone
    if current == zone:
        return None
    text = cfg_path.read_text(encoding="utf-8")
    cfg_path.write_text(set_options(text, {("core", "default_timezone"): zone}), encoding="utf-8")
    typer.echo(
        f"airflow.cfg: default_timezone {current or 'unset'} -> {zone} (the network's zone); "
        "restart an Airflow you started yourself for it to take effect",
        err=True,
    )
    return current


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


def redact(url: str) -> str:
    """A database URL fit to print: its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of ``url`` if it does not exist; True if created.

    Why: ``airflow db migrate`` needs the database to exist, and an operator following the
    guide on a machine with PostgreSQL should not have to know ``createdb``.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        return False
    import psycopg2  # type: ignore[import-untyped]  # a declared dependency, no stubs
    from psycopg2 import sql

    args = {
        "host": parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": "postgres",
        "connect_timeout": 10,
    }
    try:
        con = psycopg2.connect(**{k: v for k, v in args.items() if v is not None})
    except psycopg2.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AirCarbonError(f"cannot reach PostgreSQL at {redact(url)}: {first}") from None
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            if cur.fetchone():
                return False
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
            return True
    finally:
        con.close()


def _seed_admin_password(home: Path) -> Path:
    """Write the UI admin's generated password to Airflow's file before Airflow runs.

    Why: Airflow's simple auth manager prints a password it generates on stdout (and so into
    every log collector); with the file already there it only reads it.
    """
    import json
    import secrets

    path = home / "simple_auth_manager_passwords.json.generated"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps({"admin": secrets.token_urlsafe(12)}) + "\n")
    return path


@app.command("init")
def init(
    home: Home = None,
    data_dir: DataDir = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Airflow's metadata DB: postgresql+psycopg2://user[:pw]@host[:port]/airflow "
            "(created if missing)."
        ),
    ] = None,
    sqlite: Annotated[
        bool,
        typer.Option(
            "--sqlite",
            help="Throwaway try only: SQLite in AIRFLOW_HOME (back-fills beside the "
            "scheduler can lock it and kill the scheduler).",
        ),
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="First local day both DAGs schedule, YYYY-MM-DD (default: today; an "
            "earlier day replays every hour since, oldest first).",
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
    if (database_url is None) == (not sqlite):
        raise AirCarbonError(
            "give --database-url postgresql+psycopg2://USER@HOST/airflow (or --sqlite for a "
            "throwaway try)"
            if database_url is None
            else "give --database-url or --sqlite, not both"
        )
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    dags = (dags_folder or REPO_DAGS).resolve()
    if not (dags / "aircarbon_hourly.py").is_file():
        raise AirCarbonError(f"no AirCarbon DAGs in {dags}: pass --dags-folder")
    recorded = recorded_env(target).get("AIRCARBON_SCHEDULE_START")
    if start is not None:
        first = parse_day(start, "--start")
    elif settings.schedule_start is not None:
        first = settings.schedule_start
    elif recorded:
        first = parse_day(recorded, "AIRCARBON_SCHEDULE_START in " + ENV_FILE)
    else:
        first = dt.datetime.now(settings.tz).date()
    target.mkdir(parents=True, exist_ok=True)
    cfg_path = target / "airflow.cfg"
    env = airflow_env(settings, target, AIRCARBON_SCHEDULE_START=first.isoformat())
    url = database_url or f"sqlite:///{target / 'airflow.db'}?timeout=30"
    if database_url is not None and ensure_database(database_url):
        typer.echo(f"created database {redact(database_url).rsplit('/', 1)[-1]}")
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url  # for the first `airflow config` call
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
        ("database", "sql_alchemy_conn"): url,
        # the UI and API on this machine only, unless the operator opens it on purpose
        ("api", "host"): "127.0.0.1",
        # a date typed without an offset (`airflow backfill create --from-date 2026-11-24`)
        # means local time, as in every aircarbon command
        ("core", "default_timezone"): settings.timezone,
    }
    if url.startswith("postgresql+psycopg2://"):
        # Airflow 3's API server also talks to the DB asynchronously
        values["database", "sql_alchemy_conn_async"] = url.replace("+psycopg2", "+asyncpg", 1)
    text = cfg_path.read_text(encoding="utf-8")
    cfg_path.write_text(set_options(text, values), encoding="utf-8")
    cfg_path.chmod(0o600)  # it holds the metadata DB's URL (and its password, if any)
    _seed_admin_password(target)
    env_file = target / ENV_FILE
    exports = {
        k: env[k]
        for k in (
            "AIRFLOW_HOME",
            "AIRCARBON_DATA_DIR",
            "AIRCARBON_CONFIG",
            "AIRCARBON_SCHEDULE_START",
        )
        if k in env
    }
    env_file.write_text(
        "# source this before calling `airflow` yourself (the scheduler needs the same);\n"
        "# `airflow` itself is in the virtualenv: uv run airflow …, or .venv/bin/airflow\n"
        + "".join(f"export {k}={shlex.quote(v)}\n" for k, v in exports.items()),
        encoding="utf-8",
    )
    typer.echo(f"AIRFLOW_HOME  {target}\ndags_folder   {dags}")
    typer.echo(f"metadata DB   {redact(url)}")
    typer.echo(
        f"schedule      from {first} 00:00 {settings.timezone} (hourly and daily; "
        "AIRCARBON_SCHEDULE_START)"
    )
    if sqlite:
        typer.echo(
            "warning: SQLite metadata DB — a throwaway try only: back-fills beside the "
            'scheduler lock it ("database is locked") and can kill the scheduler',
            err=True,
        )
    typer.echo("migrating the metadata DB (airflow db migrate)…")
    _run(["db", "migrate"], env)
    typer.echo(f"done. Environment for your shell: source {env_file}")


def metadata_url(home: Path, env: Mapping[str, str]) -> str:
    """The metadata DB Airflow will use: ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` or airflow.cfg."""
    import configparser

    if env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        return env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(home / "airflow.cfg", encoding="utf-8")
    return parser.get("database", "sql_alchemy_conn", fallback="sqlite (Airflow's default)")


@app.command("standalone")
def standalone(
    home: Home = None,
    data_dir: DataDir = None,
    port: Annotated[int, typer.Option(help="API server / UI port.")] = 8080,
    host: Annotated[
        str, typer.Option(help="Interface the API server / UI listens on (0.0.0.0: all).")
    ] = "127.0.0.1",
) -> None:
    """Run scheduler, DAG processor, triggerer and API server/UI in the foreground (Ctrl-C)."""
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(settings, target)
    env = airflow_env(
        settings,
        target,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__HOST=host,
        # the workers reach the API server here: it must follow the port
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
    )
    url = metadata_url(target, env)
    shown = "localhost" if host in {"127.0.0.1", "localhost"} else host
    typer.echo(f"Airflow UI    http://{shown}:{port}/  (user admin)")
    typer.echo(f"password in   {_seed_admin_password(target)}")
    typer.echo(f"metadata DB   {redact(url)}")
    typer.echo(f"task logs in  {target / 'logs'}")
    typer.echo(f"data dir      {env['AIRCARBON_DATA_DIR']}")
    start = env.get("AIRCARBON_SCHEDULE_START") or "unset (the DAGs will not load)"
    typer.echo(f"schedule      from {start} 00:00 {settings.timezone}")
    if url.startswith("sqlite"):
        typer.echo(
            "warning: SQLite metadata DB — fine for a throwaway try; back-fills beside the "
            "scheduler lock it and can kill the scheduler. Re-run `aircarbon airflow init "
            "--database-url postgresql+psycopg2://…` for real use",
            err=True,
        )
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
    dag_id: str,
    start: dt.datetime,
    end: dt.datetime,
    reprocess: Reprocess,
    env: Mapping[str, str],
    zone: str,
) -> None:
    """Create a back-fill; its runs start once the DAG is un-paused (:func:`_unpause`).

    Created *before* un-pausing: an un-paused DAG's scheduler would create the first
    interval's scheduled run at once, and the back-fill would then skip that interval as in
    flight and start with the second, beside it.
    """
    args = ["backfill", "create", "--dag-id", dag_id, "--from-date", start.isoformat()]
    args += ["--to-date", end.isoformat(), "--reprocess-behavior", reprocess]
    args += ["--max-active-runs", "1"]  # one interval at a time, oldest first
    _run(args, env)  # a failure raises: nothing below is printed
    typer.echo(
        f"{dag_id}: backfill created for {_intervals(dag_id, start, end, zone)} (oldest first)"
    )


def _intervals(dag_id: str, start: dt.datetime, end: dt.datetime, zone: str) -> str:
    """Logical dates (interval starts) as an operator names them: hours by their local end."""
    from zoneinfo import ZoneInfo

    if dag_id == HOURLY:
        from aircarbon.pipeline.schedule import describe_hour

        first, last = (describe_hour(t + _HOUR, zone) for t in (start, end))
        return f"the hours ending {first} … {last}"
    first_day, last_day = (t.astimezone(ZoneInfo(zone)).date() for t in (start, end))
    return f"the local days {first_day} … {last_day}"


def _unpause(dag_ids: Sequence[str], env: Mapping[str, str]) -> None:
    """Un-pause the DAGs, saying so: runs of a paused DAG (back-fills too) never start."""
    for dag_id in dag_ids:
        typer.echo(f"{dag_id}: un-pausing it (back-fill runs start; its schedule resumes too)")
        _run(["dags", "unpause", dag_id], env)


def _schedule_start(env: Mapping[str, str]) -> dt.date | None:
    value = env.get("AIRCARBON_SCHEDULE_START")
    return parse_day(value, "AIRCARBON_SCHEDULE_START") if value else None


def _check_after_start(first: dt.date, env: Mapping[str, str]) -> None:
    """Refuse a back-fill before the schedule start: Airflow would not order it.

    ``depends_on_past`` treats the first scheduled run as having no past, so the scheduled
    days could run before (and without) the back-filled ones.
    """
    start = _schedule_start(env)
    if start is not None and first < start:
        raise AirCarbonError(
            f"{first} is before the schedule start {start}, and the scheduled days would not "
            f"wait for it: load it without Airflow (`aircarbon process hourly --hour "
            f"{first}T01:00 --until {start}T00:00`, then `aircarbon process daily --date "
            f"{first} --until {start - _DAY}`), then re-run the scheduled days that read it "
            f"(`aircarbon airflow backfill --start {start} --end … --reprocess completed`)"
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
            help="Existing runs: failed (re-run failed ones, skip the rest), completed "
            "(re-run all)."
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
    if reprocess not in {"failed", "completed"}:
        # "none" is refused by Airflow for DAGs with depends_on_past (ours: runs in order)
        raise AirCarbonError(f"--reprocess must be failed or completed, not {reprocess!r}")
    which: Which = dag  # type: ignore[assignment]
    behaviour: Reprocess = reprocess  # type: ignore[assignment]
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if last < first:
        raise AirCarbonError(f"--end {last} is before --start {first}")
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(settings, target)
    env = airflow_env(settings, target)
    if local:
        _local_days(first, last, settings, env, which, validate=not no_validate)
        return
    _check_after_start(first, env)
    plan: list[tuple[str, dt.datetime, dt.datetime]] = []
    if which in {"hourly", "both"}:
        plan.append((HOURLY, *_hourly_logical_range(first, last, settings)))
    if which in {"daily", "both"}:
        plan.append((DAILY, _midnight(first, settings), _midnight(last, settings)))
    _create_all(plan, behaviour, env, settings.timezone)


def _create_all(
    plan: Sequence[tuple[str, dt.datetime, dt.datetime]],
    behaviour: Reprocess,
    env: Mapping[str, str],
    zone: str,
) -> None:
    """Create the back-fills in order, then un-pause their DAGs.

    When one creation fails, the ones created before it are un-paused all the same (a
    paused back-fill would wait silently) and the error says which exist.
    """
    created: list[str] = []
    try:
        for dag_id, start, end in plan:
            _backfill(dag_id, start, end, behaviour, env, zone)
            created.append(dag_id)
    except AirCarbonError as exc:
        if not created:
            raise
        _unpause(created, env)
        raise AirCarbonError(f"{exc} (already created and running: {', '.join(created)})") from exc
    _unpause(created, env)


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
    """Re-run one hour (or one day's daily run) after fixing its data (a late file).

    --hour re-runs the hour, the 23 after it (their moving averages read it) and the days
    that read them, as back-fills the scheduler runs in order (shown in the UI); each day
    waits for its re-run hours and its bulletin says it is revised. `--local` runs the one
    interval now in this terminal. Re-processing replaces partitions: never appends twice.
    """
    if (hour is None) == (day is None):
        raise AirCarbonError("give exactly one of --hour and --day")
    settings = _settings(data_dir)
    target = airflow_home(settings, home)
    _require_init(settings, target)
    env = airflow_env(settings, target)
    if local:
        if hour is not None:
            _dags_test(HOURLY, parse_hour_end(hour, settings.tz), env, validate=True)
            typer.echo("then re-run the hours after it and its day the same way (see --help)")
        else:
            day_end = _midnight(parse_day(day or "", "--day") + _DAY, settings)
            _dags_test(DAILY, day_end, env, validate=True)
        return
    if hour is not None:
        _reprocess_hour(parse_hour_end(hour, settings.tz), settings, env)
    else:
        the_day = parse_day(day or "", "--day")
        _check_after_start(the_day, env)
        start = _midnight(the_day, settings)
        _create_all([(DAILY, start, start)], "completed", env, settings.timezone)


def reprocess_plan(
    hour_end: dt.datetime, settings: Settings, now: dt.datetime
) -> tuple[list[dt.datetime], list[dt.date]]:
    """The hours and days a re-processed hour invalidates (those already over at ``now``).

    The hour itself, the 23 after it (their PM 24-h and O3 8-h means read it) and the local
    days whose daily step reads any of them.
    """
    from aircarbon.pipeline.schedule import MOVING_WINDOW_HOURS, days_reading_hours

    hours = [hour_end + _HOUR * i for i in range(MOVING_WINDOW_HOURS + 1)]
    hours = [h for h in hours if h <= now]
    days = [
        d
        for d in days_reading_hours(hours, settings.timezone)
        if _midnight(d + _DAY, settings) <= now
    ]
    return hours, days


def _reprocess_hour(hour_end: dt.datetime, settings: Settings, env: Mapping[str, str]) -> None:
    from aircarbon.pipeline.schedule import describe_hour

    _check_after_start((hour_end - _HOUR).astimezone(settings.tz).date(), env)
    hours, days = reprocess_plan(hour_end, settings, dt.datetime.now(dt.UTC))
    if not hours:
        raise AirCarbonError(
            f"the hour ending {describe_hour(hour_end, settings.timezone)} is not over yet"
        )
    zone = settings.timezone
    what = f"re-running the hour ending {describe_hour(hours[0], zone)}"
    if len(hours) > 1:
        what += (
            f" and the {len(hours) - 1} after it, to {describe_hour(hours[-1], zone)} "
            "(their moving averages read it)"
        )
    typer.echo(what)
    # logical dates are interval starts
    plan = [(HOURLY, hours[0] - _HOUR, hours[-1] - _HOUR)]
    if days:
        typer.echo(
            f"its day(s) are stale: re-running {', '.join(map(str, days))} after those hours "
            "(each day's sensor waits for them)"
        )
        plan.append((DAILY, _midnight(days[0], settings), _midnight(days[-1], settings)))
    _create_all(plan, "completed", env, zone)
