"""Every SQL and command-line example in README.md and docs/*.md is run by a test, or listed.

The pages are read at test time (never copied here). Their examples are each fenced ``sql``
statement and each command line of the ``bash``/``console`` blocks (tests/doc_examples.py
takes them out). Three pages have tests of their own, named in ``RUN_ELSEWHERE``; for every
other page this module runs each example against a demo built by ``aircarbon demo`` (a copy
of the session's, tests/fixtures/demo.py) in a newcomer's shell (empty home, ``uv run`` and
``aircarbon`` meaning this checkout), except the ones in ``NOT_RUN``, each with the reason (a
remote host, a long-running service, a synopsis with placeholders — and, when one exists, the
test that covers it instead). So a new example on any page either runs here or fails
``test_every_example_is_run_or_listed`` until it is listed, and a listed example the page no
longer shows fails that test too. That check reads the pages only and runs in the fast lane;
running the examples needs the demo (slow lane).

How the examples run:

- command lines in bash from a working directory where ``data/demo`` is the demo
  (``AIRCARBON_DATA_DIR`` points there, as after ``export AIRCARBON_DATA_DIR=data/demo``);
  the pages' example days (``EXAMPLE_DAYS``) stand for the demo's last day, their example
  snapshot for its latest one, their example paths (``PATHS``) for folders of the test;
  ``export`` lines set the environment for the page's later lines; a ``console`` block's
  ``aircarbon>`` lines are the input of the ``aircarbon sql`` shell above them, and JSON it
  shows as output must be what the line prints;
- SQL statements through ``aircarbon sql`` (read-only), in order; a page's SQL that opens the
  lake itself (``ATTACH 'ducklake:…'``, for an analyst's own DuckDB) runs in one plain DuckDB
  session with the extensions loaded from their wheels, as tests/warehouse/test_attach_script.py
  does for ``--print-attach``.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.doc_examples import (
    DEMO_NAME,
    ROOT,
    bash,
    command_lines,
    fenced,
    newcomer_shell,
    sql_statements,
)
from tests.fixtures.demo import copy_demo

#: Pages whose examples another test runs (that test reads the page the same way).
RUN_ELSEWHERE: dict[str, str] = {
    "docs/operators.md": "tests/test_newcomer.py",
    "docs/analysts.md": "tests/test_newcomer.py",
    "docs/history.md": "tests/test_history_doc.py",
}

#: The pages' example days; each stands for the demo's last day when a line runs.
EXAMPLE_DAYS = ("2026-11-24", "2026-11-25")
#: The pages' example snapshot (time travel); it stands for the demo lake's latest one.
EXAMPLE_SNAPSHOT = "(VERSION => 42)"

#: Example paths of the pages -> a folder of the test (``{work}``: its working directory).
PATHS = {"/srv/www/bulletins": "{work}/www/bulletins", "/srv/aircarbon/data/": "{work}/data/demo/"}

_SERVICE = "runs until stopped"
_REMOTE = "a deployment's remote hosts and secrets"
_DAGS_TEST = (
    "the record of a one-off `airflow dags test` of docker/airflow/celery's DAG on raw data "
    "written by hand (the page says how); not run by any test yet"
)
_CELERY_RUN = (
    "the record of a Celery run on this machine's Redis and PostgreSQL, four Airflow services "
    "in the background (docker/airflow/celery/run_local.sh is its script); not run by any test"
)

#: (page, example as the page shows it: continuations joined, comment removed) -> why not run.
NOT_RUN: dict[tuple[str, str], str] = {
    # README.md
    ("README.md", "make demo"): (
        "bootstrap + `aircarbon demo`: this module and tests/test_newcomer.py run the demo"
    ),
    ("README.md", "make test"): "the test suite itself (what CI runs, .ci/run)",
    ("README.md", "make test-fast"): "a part of this suite (what a developer runs between edits)",
    # docs/bulletin.md
    ("docs/bulletin.md", "uv run aircarbon demo --days 2"): (
        "the demo this module built first (`--days 1`: the samples need only the last day)"
    ),
    # docs/forecast.md: a synopsis and the long runs that write the page
    (
        "docs/forecast.md",
        "aircarbon forecast --date 2026-01-14 [--until D2] [--retrain] [--no-publish] [--json]",
    ): "a synopsis ([options]); tests/forecast/test_pipeline.py runs `aircarbon forecast`",
    ("docs/forecast.md", "aircarbon forecast simulate --start 2025-09-01 --days 365"): (
        "a simulated year (hours of CPU); tests/forecast run `forecast simulate` on days"
    ),
    (
        "docs/forecast.md",
        "aircarbon forecast backtest [--simulated] [--write-docs docs/forecast.md]",
    ): "a synopsis that rewrites this page; tests/forecast/test_backtest.py runs the backtest",
    ("docs/forecast.md", "uv run --frozen python -m benchmarks.forecast --write"): (
        "a benchmark that rewrites docs/benchmarks.md (`make bench`)"
    ),
    # docs/operations.md: Airflow on PostgreSQL
    ("docs/operations.md", "export AIRCARBON_DATA_DIR=/srv/aircarbon"): "a deployment's data dir",
    (
        "docs/operations.md",
        "uv run aircarbon airflow init --database-url "
        "postgresql+psycopg2://postgres@127.0.0.1:5432/airflow",
    ): "tests/dags/test_scheduler.py runs `airflow init` on the tests' own PostgreSQL",
    ("docs/operations.md", "uv run aircarbon airflow standalone --port 8080"): (
        f"{_SERVICE}; tests/dags/test_scheduler.py runs it"
    ),
    (
        "docs/operations.md",
        "uv run aircarbon airflow backfill --start 2026-11-16 --end 2026-11-22 --reprocess "
        "completed",
    ): "needs the running scheduler above; tests/dags/test_scheduler.py back-fills",
    ("docs/operations.md", "uv run aircarbon airflow reprocess --hour 2026-11-24T10:00"): (
        "needs the running scheduler above; tests/dags/test_scheduler.py reprocesses an hour"
    ),
    # docs/scaling.md: a deployment's shared services
    (
        "docs/scaling.md",
        "AIRCARBON_BROKER_URL=mqtts://broker.example.org:8883 "
        "AIRCARBON_TLS_CA=/etc/aircarbon/ca.crt AIRCARBON_BROKER_PASSWORD=… "
        "AIRCARBON_SHARE_GROUP=ingest AIRCARBON_CLIENT_ID=collector-$(hostname) aircarbon collect",
    ): f"{_REMOTE}; {_SERVICE} (tests/scale/test_shared_subscription.py)",
    (
        "docs/scaling.md",
        "AIRCARBON_RAW_SYNC_URL=s3://aircarbon/raw-archive "
        "AIRCARBON_WAREHOUSE_S3_ENDPOINT=https://minio.example.org "
        "AIRCARBON_WAREHOUSE_S3_KEY_ID=… AIRCARBON_WAREHOUSE_S3_SECRET=… aircarbon raw sync",
    ): f"{_REMOTE} (tests/scale run `raw sync` against moto's S3 server)",
    (
        "docs/scaling.md",
        'export AIRCARBON_WAREHOUSE_CATALOG="postgres:dbname=aircarbon_lake host=pg.example.org '
        'user=aircarbon"',
    ): f"{_REMOTE} (tests/scale/test_object_storage.py: PostgreSQL catalog, S3 data)",
    ("docs/scaling.md", "export AIRCARBON_WAREHOUSE_DATA=s3://aircarbon/warehouse/"): _REMOTE,
    (
        "docs/scaling.md",
        "export AIRCARBON_WAREHOUSE_S3_ENDPOINT=https://minio.example.org",
    ): _REMOTE,
    (
        "docs/scaling.md",
        "export AIRCARBON_WAREHOUSE_S3_KEY_ID=… AIRCARBON_WAREHOUSE_S3_SECRET=… "
        "AIRCARBON_WAREHOUSE_S3_REGION=…",
    ): _REMOTE,
    ("docs/scaling.md", "export AIRCARBON_RAW_SOURCE_URL=s3://aircarbon/raw-archive"): _REMOTE,
    (
        "docs/scaling.md",
        "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="
        "postgresql+psycopg2://airflow:…@pg.example.org/airflow",
    ): _REMOTE,
    (
        "docs/scaling.md",
        "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="
        "postgresql+asyncpg://airflow:…@pg.example.org/airflow",
    ): _REMOTE,
    ("docs/scaling.md", "export AIRFLOW__CELERY__BROKER_URL=redis://redis.example.org:6379/0"): (
        _REMOTE
    ),
    (
        "docs/scaling.md",
        "export AIRFLOW__CELERY__RESULT_BACKEND="
        "db+postgresql+psycopg2://airflow:…@pg.example.org/airflow",
    ): _REMOTE,
    (
        "docs/scaling.md",
        "export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="
        "http://airflow-api.example.org:8080/execution/",
    ): _REMOTE,
    ("docs/scaling.md", "airflow celery worker --concurrency 2"): f"{_REMOTE}; {_SERVICE}",
    # docs/scaling.md: the record of the station-group DAG's runs (docker/airflow/celery)
    **{
        ("docs/scaling.md", line): _DAGS_TEST
        for line in (
            "export AIRFLOW_HOME=/tmp/celery_run/home "
            "AIRFLOW__CORE__DAGS_FOLDER=$PWD/docker/airflow/celery",
            "export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRCARBON_DATA_DIR=/tmp/celery_run/data",
            "airflow db migrate",
            "airflow dags test aircarbon_station_groups 2026-11-24T10:00:00+00:00",
        )
    },
    ("docs/scaling.md", "docker/airflow/celery/run_local.sh"): _CELERY_RUN,
    **{
        ("docs/scaling.md", line): _CELERY_RUN
        for line in (
            "createdb -h 127.0.0.1 -U postgres airflow_celery_run",
            "export AIRFLOW_HOME=/tmp/aircarbon_celery_run/home "
            "AIRCARBON_DATA_DIR=/tmp/aircarbon_celery_run/data",
            "export AIRFLOW__CORE__DAGS_FOLDER=$PWD/docker/airflow/celery "
            "AIRFLOW__CORE__LOAD_EXAMPLES=False",
            "export AIRFLOW__CORE__EXECUTOR=CeleryExecutor",
            "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="
            "postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_celery_run",
            "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC="
            "postgresql+asyncpg://postgres@127.0.0.1:5432/airflow_celery_run",
            "export AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:6379/7",
            "export AIRFLOW__CELERY__RESULT_BACKEND="
            "db+postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_celery_run",
            "export AIRFLOW__CELERY__WORKER_CONCURRENCY=2",
            "export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:8799/execution/",
            "export AIRFLOW__API_AUTH__JWT_SECRET=<random, the same in every process>",
            "export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True",
            "python - <<'EOF'\n…\nEOF",
            "setsid airflow api-server --port 8799 &   setsid airflow scheduler &   "
            "setsid airflow dag-processor &",
            "setsid airflow celery worker --concurrency 2 --celery-hostname 'worker1@%h' &",
            "airflow dags unpause aircarbon_station_groups",
            "airflow backfill create --dag-id aircarbon_station_groups "
            "--from-date 2026-11-24T09:00:00+00:00 --to-date 2026-11-24T09:00:00+00:00",
            'psql -d airflow_celery_run -c "select task_id, map_index, state, hostname, pid, '
            "queue, start_date, end_date\n    from task_instance where run_id = "
            "'backfill__2026-11-24T10:00:00+00:00' order by start_date, map_index\"",
        )
    },
    # docs/warehouse.md
    ("docs/warehouse.md", "SELECT * FROM daily AT (TIMESTAMP => now() - INTERVAL 1 DAY);"): (
        "the demo's lake is minutes old (as the page says); tests/warehouse/test_load.py "
        "travels back by version"
    ),
}


@dataclass(frozen=True)
class Example:
    page: str
    kind: str  # "command" or "sql"
    text: str
    attaches: bool = False  # a SQL statement of a page whose SQL opens the lake itself


def pages() -> list[str]:
    """README.md and every docs/*.md, as paths relative to the repository."""
    docs = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    return ["README.md", *docs]


def examples(page: str) -> list[Example]:
    text = (ROOT / page).read_text(encoding="utf-8")
    found = [Example(page, "command", line) for line in command_lines(text)]
    sql = [body for _, body in fenced(text, "sql")]
    attaches = any(re.search(r"(?i)\bATTACH\s+'ducklake:", body) for body in sql)
    for body in sql:
        found += [Example(page, "sql", s, attaches) for s in sql_statements(body)]
    return found


def test_every_example_is_run_or_listed() -> None:
    """Each page with examples is run here or elsewhere; NOT_RUN names only shown examples."""
    shown: set[tuple[str, str]] = set()
    for page in pages():
        found = examples(page)
        if page in RUN_ELSEWHERE:
            owner = (ROOT / RUN_ELSEWHERE[page]).read_text(encoding="utf-8")
            assert page in owner, f"{RUN_ELSEWHERE[page]} no longer reads {page}"
            assert not [k for k in NOT_RUN if k[0] == page], f"{page} is listed elsewhere"
            continue
        shown |= {(e.page, e.text) for e in found}
    stale = sorted(set(NOT_RUN) - shown)
    assert not stale, f"NOT_RUN lists examples no page shows any more: {stale}"
    assert [p for p in pages() if p not in RUN_ELSEWHERE and examples(p)], "no examples found?"


def test_the_extraction_keeps_heredocs_and_statements_whole() -> None:
    text = (
        "```bash\nexport A=1   # set\npython - <<'EOF'   # a script\nprint(1)\nEOF\n"
        "make \\\n  demo\n```\n"
        "```sql\n-- a comment\nselect 1;  -- one\nselect ';'\n  from t; -- two\nselect 3\n```\n"
    )
    assert command_lines(text) == ["export A=1", "python - <<'EOF'\nprint(1)\nEOF", "make demo"]
    (body,) = [b for _, b in fenced(text, "sql")]
    assert sql_statements(body) == ["select 1;", "select ';'\n  from t;", "select 3"]


# -- running them ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    work: Path  # the working directory; the demo is in its data/demo
    env: dict[str, str]
    day: str  # the demo's last day, for the pages' EXAMPLE_DAYS
    snapshot: int  # the lake's latest snapshot, for the pages' EXAMPLE_SNAPSHOT


@pytest.fixture(scope="module")
def demo_shell(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Demo:
    """A newcomer's shell with a copy of the session's demo in ``data/demo`` (the examples
    write to it), its last day and latest snapshot."""
    work, env = newcomer_shell(tmp_path_factory.mktemp("docs"), bare_aircarbon=True)
    copy_demo(demo_template, work)
    for folder in PATHS.values():
        Path(folder.format(work=work.resolve())).mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "aircarbon", "sql", "--format", "json", "--",
         "select max(date)::varchar as day from daily"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with contextlib.closing(sqlite3.connect(work / DEMO_NAME / "warehouse.sqlite")) as catalog:
        (snapshot,) = catalog.execute("select max(snapshot_id) from ducklake_snapshot").fetchone()
    return Demo(work, env, json.loads(done.stdout)[0]["day"], int(snapshot))


def _as_run(text: str, demo: Demo) -> str:
    for example_day in EXAMPLE_DAYS:
        text = text.replace(example_day, demo.day)
    for shown, here in PATHS.items():
        text = text.replace(shown, here.format(work=demo.work.resolve()))
    return text.replace(EXAMPLE_SNAPSHOT, f"(VERSION => {demo.snapshot})")


def _console_io(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Per ``$`` line of the console blocks: its ``aircarbon>`` input and the JSON it shows."""
    stdin: dict[str, str] = {}
    shown: dict[str, str] = {}
    for _, body in fenced(text, "console"):
        current = None
        for line in body.splitlines():
            if line.startswith("$ "):
                current = line[2:].split("  #", 1)[0].strip()
            elif current and line.startswith("aircarbon> "):
                stdin[current] = stdin.get(current, "") + line.removeprefix("aircarbon> ") + "\n"
            elif current and line.strip()[:1] in "[{" and line.strip():
                shown[current] = shown.get(current, "") + line + "\n"
    return stdin, shown


_ATTACHED_SESSION = """
import sys, duckdb
from aircarbon.core.duck import load_extension
con = duckdb.connect(config={"autoinstall_known_extensions": False,
                             "autoload_known_extensions": False})
for name in ("ducklake", "sqlite_scanner"):
    load_extension(con, name)
for statement in sys.stdin.read().split("\\n;;\\n"):
    try:
        con.execute(statement).fetchall()
    except Exception as exc:
        print(f"{statement}\\n  {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
"""


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("page", [p for p in pages() if p not in RUN_ELSEWHERE])
def test_page_examples_run(page: str, demo_shell: Demo) -> None:
    work, env = demo_shell.work, dict(demo_shell.env)
    todo = [e for e in examples(page) if (e.page, e.text) not in NOT_RUN]
    if not todo:
        return  # nothing to run: test_every_example_is_run_or_listed checked the page
    stdin, shown = _console_io((ROOT / page).read_text(encoding="utf-8"))
    failures: list[str] = []
    attached = [_as_run(e.text, demo_shell) for e in todo if e.kind == "sql" and e.attaches]
    if attached:
        done = subprocess.run(
            [sys.executable, "-c", _ATTACHED_SESSION], input="\n;;\n".join(attached),
            cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            failures.append(f"{page}: its SQL in a plain DuckDB\n{done.stderr[-2000:]}")
    for example in todo:
        line = _as_run(example.text, demo_shell)
        if example.kind == "sql":
            if example.attaches:
                continue
            done = subprocess.run(
                [sys.executable, "-m", "aircarbon", "sql", "--format", "json", "--", line],
                cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
        else:
            export = re.fullmatch(r"export (\w+)=(\S+)", line)
            if export:
                env[export[1]] = export[2]
                continue
            done = bash(line, work, env, stdin=stdin.get(example.text, ""))
        if done.returncode != 0:
            failures.append(f"{page}: {line}\n  exit {done.returncode}: {done.stderr[-1500:]}")
        elif example.text in shown and json.loads(shown[example.text]) != json.loads(done.stdout):
            failures.append(f"{page}: {line}\n  shows {shown[example.text]} prints {done.stdout}")
    assert not failures, "\n".join(failures)
