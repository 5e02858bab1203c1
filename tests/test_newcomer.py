"""The newcomer test: what README.md, docs/operators.md and docs/analysts.md promise works verbatim.

A new user starts from nothing: a fresh data directory, an empty matplotlib cache (so the CJK
font must be found without one) and an empty home (so DuckDB has no extension cache and must
load its extensions from the installed wheels). This test is that user: it runs the demo's
real work (``make demo`` is the bootstrap plus ``aircarbon demo``; CI has bootstrapped), then
every example the docs show, taken from the docs' text at run time, never copied here:

- README.md: each code span of the "Then try" sentence after the demo, and the "when something
  fails" command;
- docs/analysts.md: each fenced ``sql`` block (read-only, through ``aircarbon sql``), each
  command line of its ``bash``/``console`` blocks and its ``python`` block;
- docs/operators.md: each command line of its ``bash``/``console`` blocks, with a collector
  running on the demo's data directory (embedded broker; a free health port stands for the
  docs' default 8765) so §4's ``status`` and ``curl`` lines have something to ask.

Lines run in bash, in a working directory where ``data/demo`` is the demo's data directory
(the docs' name for it; docs/operators.md's ``/tmp/aircarbon-demo`` is replaced by it), with
``uv run`` meaning this interpreter (a shim on PATH: ``uv run aircarbon …`` is ``python -m
aircarbon …``, ``uv run python`` is ``python``). ``export`` lines set the environment for the
doc's later lines, as they would in the reader's shell.

A command line that cannot run here (a remote broker, a long-running service, TLS files, the
broker host's tools) is in ``NOT_RUN`` with the reason. Every other line is run, so a new
example either works or fails the test until it is fixed or listed (reviewed); a listed line
the docs no longer show fails too.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.embedded_broker import free_port
from tests.doc_examples import (
    DEMO_NAME,
    ROOT,
    bash,
    command_lines,
    fenced,
    newcomer_shell,
)
from tests.fixtures.brokers import wait_for_port
from tests.fixtures.demo import copy_demo

# the session's demo (~1 min, 4 min at load 14) may be built within the first test
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

OPERATORS_DEMO = "/tmp/aircarbon-demo"  # docs/operators.md's name of it
HEALTH_PORT = 8765  # the docs' health port (the default): the test's collector uses a free one

# Exit codes a documented line may end with besides 0, as the doc itself says.
EXIT_CODES: dict[str, set[int]] = {
    # "exit code 0 healthy, 1 degraded": a collector nobody publishes to is degraded (never_seen)
    "uv run aircarbon status": {0, 1},
    "uv run aircarbon status --json": {0, 1},
}

# Documented command lines this test does not run, exactly as written (continuations joined,
# console prompt and trailing "  # comment" removed), each with why. Reviewed: keep it short.
NOT_RUN: dict[str, str] = {
    # docs/operators.md §0: the demo itself
    "uv run aircarbon demo --days 1 --data-dir /tmp/aircarbon-demo": (
        "the demo this test ran first (same command, the directory given by AIRCARBON_DATA_DIR)"
    ),
    # §1: the production collector
    "export AIRCARBON_BROKER_URL=mqtts://mqtt.example.org:8883": "a remote broker (§1 block)",
    "export AIRCARBON_BROKER_PASSWORD='…'": "a remote broker's password (§1 block)",
    "export AIRCARBON_TLS_CA=/etc/aircarbon/ca.crt": "a TLS CA file of a deployment (§1 block)",
    "export AIRCARBON_DATA_DIR=/srv/aircarbon": "a deployment's data directory (§1 block)",
    "uv run aircarbon collect": (
        "runs until SIGTERM against the remote broker above (tests/ingest run the collector)"
    ),
    # §3: the broker
    'mosquitto_sub -h mqtt.example.org -p 8883 --cafile ca.crt -u monitor -P "$MONITOR_PW" '
    "-t '$SYS/broker/store/messages/count' -C 1": "a remote broker with TLS and a monitor user",
    "uv run aircarbon collect --share-group ingest --client-id collector-a --health-port 8765": (
        "runs until SIGTERM; two collectors, one group (tests/scale/test_shared_subscription.py)"
    ),
    "uv run aircarbon collect --share-group ingest --client-id collector-b --health-port 8766": (
        "runs until SIGTERM; two collectors, one group (tests/scale/test_shared_subscription.py)"
    ),
    # §4: the local lines run against a collector this test starts
    "uv run aircarbon status --url http://collector-host:8765": "a remote collector host",
    # §6: the broker host
    "scripts/provision_station.sh SY-TY-01 /mosquitto/config/passwd": (
        "the broker host's password file (tests/infra run the script on a temporary one)"
    ),
    'kill -HUP "$(pidof mosquitto)"': "signals the broker host's Mosquitto",
    "mosquitto_sub -h mqtt.example.org -p 8883 --cafile ca.crt -u aircarbon-collector -P "
    "\"$PW\" -t 'aircarbon/v1/SY-TY-01/readings' -t 'aircarbon/v1/SY-TY-01/hj212' -C 5 "
    "-F '%p' | uv run aircarbon decode": "a remote broker with TLS",
    # §11: the gateway
    "uv run aircarbon gateway hj212 --listen 0.0.0.0:9212 --broker "
    "mqtts://broker.example:8883": "runs until SIGTERM against a remote broker (tests/gateway)",
    # docs/analysts.md
    "duckdb -init attach.sql": (
        "the DuckDB CLI is not part of the environment; the file it reads is run by plain "
        "duckdb in tests/warehouse/test_attach_script.py"
    ),
}


def readme_first_steps(text: str) -> tuple[list[str], list[str]]:
    """README's "Then try" commands and files, and its "when something fails" command."""
    sentence = text.split("Then try", 1)[1].split("\n\n", 1)[0]
    spans = [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", sentence)]
    commands = [s for s in spans if " aircarbon " in f" {s}"]
    files = [s for s in spans if s not in commands]
    fails = text.split("When something fails", 1)[1].split("\n\n", 1)[0]
    commands += [s for s in re.findall(r"`([^`]+)`", fails) if "aircarbon doctor" in s]
    return commands, files


@pytest.fixture(scope="module")
def newcomer(
    tmp_path_factory: pytest.TempPathFactory, demo_template: Path
) -> tuple[Path, dict[str, str]]:
    """A working directory with the demo in ``data/demo``, and a newcomer's environment.

    The demo is a copy of the session's (tests/fixtures/demo.py: built by ``aircarbon demo``
    in a newcomer's shell of its own), as this module's lines write to it.
    """
    work, env = newcomer_shell(tmp_path_factory.mktemp("newcomer"))
    copy_demo(demo_template, work)
    return work, env


RAN: dict[str, subprocess.CompletedProcess[str]] = {}


def _run_doc(
    doc: str, work: Path, env: dict[str, str], demo_dir: str, health_port: int = HEALTH_PORT
) -> list[str]:
    """Run every command line of ``doc`` not in NOT_RUN; the failures, each with its output.

    ``RAN`` collects each line's result by the line as the doc shows it.
    """
    env = dict(env)
    failures = []
    for shown in command_lines((ROOT / doc).read_text(encoding="utf-8")):
        if shown in NOT_RUN:
            continue
        line = shown.replace(OPERATORS_DEMO, demo_dir)
        line = line.replace(f"127.0.0.1:{HEALTH_PORT}", f"127.0.0.1:{health_port}")
        export = re.fullmatch(r"export (\w+)=(\S+)", line)
        if export:
            env[export[1]] = export[2]
            continue
        done = RAN[shown] = bash(line, work, env)
        if done.returncode not in EXIT_CODES.get(shown, {0}):
            failures.append(f"{doc}: {line}\n  exit {done.returncode}: {done.stderr[-1500:]}")
    return failures


def test_documented_lines_are_run_or_listed() -> None:
    """NOT_RUN names only lines the docs still show: a stale entry hides nothing."""
    shown = set()
    for doc in ("docs/operators.md", "docs/analysts.md"):
        shown |= set(command_lines((ROOT / doc).read_text(encoding="utf-8")))
    stale = sorted(set(NOT_RUN) - shown)
    assert not stale, f"NOT_RUN lists lines no doc shows any more: {stale}"


def test_readme_first_steps(newcomer: tuple[Path, dict[str, str]]) -> None:
    work, env = newcomer
    commands, files = readme_first_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any("aircarbon sql" in c for c in commands), commands
    assert any("aircarbon doctor" in c for c in commands), commands
    for command in commands:
        done = bash(command, work, env)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        if " sql " in command:
            assert "SY-" in done.stdout, done.stdout  # the query shows the demo's stations
    assert files, "README's 'Then try' names a file to open"
    for name in files:
        found = sorted(work.glob(re.sub(r"<[^>]+>", "*", name)))
        assert found, name
        assert found[0].stat().st_size > 0, name


def test_analysts_sql_examples(newcomer: tuple[Path, dict[str, str]]) -> None:
    work, env = newcomer
    blocks = [body for _, body in fenced((ROOT / "docs/analysts.md").read_text("utf-8"), "sql")]
    assert len(blocks) >= 10, blocks
    failures, empty = [], []
    for sql in blocks:
        done = subprocess.run(
            [sys.executable, "-m", "aircarbon", "sql", "--format", "json", "--", sql],
            cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            failures.append(f"{sql}\n  exit {done.returncode}: {done.stderr[-1500:]}")
        elif not json.loads(done.stdout):
            empty.append(sql)
    assert not failures, "\n".join(failures)
    assert not empty, f"examples that show nothing on the demo: {empty}"
    # scripts/analyst_examples.py fills the doc's outputs from this lake (printed, not written)
    render = (
        "import sys; sys.path.insert(0, sys.argv[1]); from analyst_examples import render; "
        "from pathlib import Path; print(render(Path(sys.argv[2]), 3))"
    )
    done = subprocess.run(
        [sys.executable, "-c", render, str(ROOT / "scripts"), DEMO_NAME],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = re.findall(r"<!-- output:[\w-]+ -->\n(\| .*?)<!-- /output -->", done.stdout, re.S)
    assert len(outputs) == len(blocks), "every sql block has its output block"


def test_analysts_command_lines(newcomer: tuple[Path, dict[str, str]]) -> None:
    work, env = newcomer
    failures = _run_doc("docs/analysts.md", work, env, DEMO_NAME)
    text = (ROOT / "docs/analysts.md").read_text(encoding="utf-8")
    python = [body for _, body in fenced(text, "python")]
    assert python, "docs/analysts.md lost its Python example"
    for body in python:
        done = subprocess.run(
            [sys.executable, "-c", body],
            cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            failures.append(f"docs/analysts.md python block\n  {done.stderr[-1500:]}")
    assert not failures, "\n".join(failures)
    assert (work / "daily.csv").stat().st_size > 0
    assert (work / "hourly.parquet").stat().st_size > 0
    assert "ATTACH" in (work / "attach.sql").read_text(encoding="utf-8").upper()


def test_operators_command_lines(newcomer: tuple[Path, dict[str, str]]) -> None:
    """With a collector running on the demo's data dir (embedded broker) for §4's status lines."""
    work, env = newcomer
    port = free_port()
    env = {**env, "AIRCARBON_HEALTH_PORT": str(port)}
    log = (work / "collector.log").open("wb")
    collector = subprocess.Popen(
        [sys.executable, "-m", "aircarbon", "collect"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, 120, collector)
        failures = _run_doc("docs/operators.md", work, env, str(work / DEMO_NAME), port)
    finally:
        collector.send_signal(signal.SIGTERM)
        code = collector.wait(timeout=120)
        log.close()
    assert not failures, "\n".join(failures)
    document = json.loads(RAN["uv run aircarbon status --json"].stdout)
    assert "SY-TY-01" in {s["station"] for s in document["stations"]}, document
    assert (
        "aircarbon_ingest_connected 1.0"
        in RAN["curl -s http://127.0.0.1:8765/metrics | grep '^aircarbon_ingest_'"].stdout
    )
    decoded = [r for shown, r in RAN.items() if "aircarbon decode --no-time-check" in shown]
    assert json.loads(decoded[0].stdout)["ok"] is True
    assert code == 0, (work / "collector.log").read_text(encoding="utf-8")[-3000:]
