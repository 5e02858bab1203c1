"""Taking the examples out of the docs, and a newcomer's shell to run them in.

Shared by tests/test_newcomer.py (README, docs/operators.md, docs/analysts.md) and
tests/test_docs_examples.py (every other page): the examples are read from the docs' text at
test time, never copied into a test, so a doc cannot show a line nobody ran.

The conventions the docs follow (and these functions rely on): fenced ``bash`` blocks hold
command lines, ``console`` blocks prefix them with ``$ `` (other lines are output), a trailing
``  # comment`` (two spaces) is a comment, ``\\`` continues a line, and ``<<'EOF'`` heredocs
belong to the line that opens them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

__all__ = [
    "DEMO_NAME",
    "ROOT",
    "bash",
    "command_lines",
    "fenced",
    "newcomer_shell",
    "run_demo",
    "sql_statements",
    "strip_comment",
]

ROOT = Path(__file__).resolve().parents[1]
DEMO_NAME = "data/demo"  # the docs' name of the demo's data directory (relative to the cwd)


def fenced(text: str, langs: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block in ``langs``, list-item indentation removed."""
    blocks = []
    for m in re.finditer(rf"^( *)```({langs})\n(.*?)^\1```", text, re.M | re.S):
        indent = len(m[1])
        body = "\n".join(line[indent:] for line in m[3].splitlines())
        blocks.append((m[2], body))
    return blocks


def strip_comment(line: str) -> str:
    """The command without its trailing ``  # comment`` (the docs' convention for them)."""
    return line.split("  #", 1)[0].rstrip() if not line.startswith("#") else ""


def _heredoc_end(line: str) -> str | None:
    """The terminator of a heredoc the line opens (``<<'EOF'``, ``<<EOF``, ``<<-EOF``)."""
    m = re.search(r"<<-?\s*(['\"]?)(\w+)\1", line)
    return m[2] if m else None


def _open_quote(line: str) -> bool:
    """Whether ``line`` ends inside a quoted string (the shell would read on)."""
    try:
        shlex.split(strip_comment(line.strip()))
    except ValueError:
        return True
    return False


def command_lines(text: str) -> list[str]:
    """The command lines of the ``bash``/``console`` blocks, continuations joined.

    A heredoc's body and terminator stay with the line that opens it, and a quoted argument
    that spans lines stays whole (newline-separated), so neither is taken for commands.
    """
    lines: list[str] = []
    for lang, body in fenced(text, "bash|console"):
        pending = ""
        heredoc: tuple[str, list[str]] | None = None
        for raw in body.splitlines():
            if heredoc is not None:
                heredoc[1].append(raw)
                if raw.strip() == heredoc[0]:
                    lines.append("\n".join(heredoc[1]))
                    heredoc = None
                continue
            text = raw
            if lang == "console":
                if not text.startswith("$ "):
                    continue  # output shown after a prompt line
                text = text[2:]
            if pending:
                joint = "" if pending.endswith("\n") else " "
                text = pending + joint + (text if joint == "" else text.strip())
                pending = ""
            if text.endswith("\\"):
                pending = text[:-1].rstrip()
                continue
            if _open_quote(text):  # a quoted argument goes on on the next line
                pending = text + "\n"
                continue
            line = strip_comment(text.strip())
            end = _heredoc_end(line) if line else None
            if end is not None:
                heredoc = (end, [line])
            elif line:
                lines.append(line)
        if heredoc is not None:  # an unterminated heredoc: keep what there is, it will fail
            lines.append("\n".join(heredoc[1]))
    return lines


def sql_statements(body: str) -> list[str]:
    """The statements of a ``sql`` block, each without its trailing ``-- comment``.

    Statements end with ``;`` at the end of a line (before an optional comment); comment-only
    lines are dropped; a block without any ``;`` is one statement.
    """
    statements, current = [], []
    for raw in body.splitlines():
        if raw.lstrip().startswith("--"):
            continue
        code = re.sub(r"\s*--[^'\n]*$", "", raw).rstrip()  # a comment not inside a string
        if not code.strip():
            continue
        current.append(code)
        if code.endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements


def newcomer_shell(root: Path, *, bare_aircarbon: bool = False) -> tuple[Path, dict[str, str]]:
    """A working directory under ``root`` and a newcomer's environment to run doc lines in.

    An empty home (no DuckDB extension cache), an empty matplotlib cache, no ``AIRCARBON_*``
    settings but ``AIRCARBON_DATA_DIR=data/demo``, and ``uv`` on PATH as a shim for ``uv run``
    in this checkout (``uv run aircarbon …`` is ``python -m aircarbon …``, ``uv run python``
    is ``python``). ``bare_aircarbon`` also puts ``aircarbon`` on PATH, as an installed
    package (or an activated virtualenv) does, for pages that write it without ``uv run``.
    """
    work, home, mpl, bin_dir = (root / n for n in ("work", "home", "mplconfig", "bin"))
    for d in (work, home, mpl, bin_dir):
        d.mkdir()
    python = shlex.quote(sys.executable)
    shims = {
        "uv": (  # `uv run X` from a checkout: X in the project's environment
            '[ "$1" = run ] || { echo "uv shim: only uv run" >&2; exit 2; }\nshift\n'
            '[ "$1" = --frozen ] && shift\n'
            f'case "$1" in\n  aircarbon) shift; exec {python} -m aircarbon "$@";;\n'
            f'  python) shift; exec {python} "$@";;\n'
            '  *) exec "$@";;\nesac\n'
        ),
    }
    if bare_aircarbon:
        shims["aircarbon"] = f'exec {python} -m aircarbon "$@"\n'
    for name, body in shims.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update(
        HOME=str(home),
        MPLCONFIGDIR=str(mpl),
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),  # the checkout, as `uv run` in it would see it
        AIRCARBON_DATA_DIR=DEMO_NAME,
        COLUMNS="100",
    )
    return work, env


def run_demo(work: Path, env: dict[str, str], days: int = 1) -> None:
    """``aircarbon demo`` into ``work/data/demo`` (what ``make demo`` runs after bootstrap)."""
    demo = subprocess.run(
        [sys.executable, "-m", "aircarbon", "demo", "--days", str(days)],
        cwd=work, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert demo.returncode == 0, f"{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}"
    assert (work / DEMO_NAME / "warehouse.sqlite").is_file()


def bash(
    line: str, work: Path, env: dict[str, str], *, stdin: str | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run one documented command line in bash (``pipefail``), as the reader's shell would."""
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        cwd=work, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip
