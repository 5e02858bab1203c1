"""docs/contract.md stays true to the code where that is cheap to check mechanically.

The contract is prose, so most of it is kept honest by review; but the lists in it drift
silently when someone adds a reason code, a command, a table, a macro or a setting and
forgets the page. These tests read the names from the code itself (the enum, the Typer app,
the migration files, the settings model, the store schemas) and look for each in the
section of the page that promises to list it. They also check that every
``docs/contract.md §N.M`` citation in the repository names a section that exists, and that
no citation of the old ``SPEC`` (not in the repository) comes back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from aircarbon.cli import app
from aircarbon.core.settings import CONFIG_ENV, ENV_PREFIX, Settings
from ingest.batch import READING_COLUMNS
from ingest.dead_letter import dead_letter_schema
from ingest.lander import status_schema
from ingest.reasons import RejectReason

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "contract.md"
_HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?) (.+)$", re.MULTILINE)
_ANCHOR = re.compile(r'<a id="s(\d+(?:-\d+)?)"></a>\s*\n\s*\n?(#{2,3}) (\d+(?:\.\d+)?) ')
_CITATION = re.compile(r"contract\.md[`)]? ?§(\d+(?:\.\d+)*)")
_SCANNED = {".py", ".md", ".toml", ".sql"}
#: never walked: caches, node_modules, and the demo's data directory at the top (dot-folders too)
_SKIPPED_DIRS = {"__pycache__", "node_modules"}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """Section number → its text (a ``##`` section includes its ``###`` subsections)."""
    heads = list(_HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, head in enumerate(heads):
        level, number = len(head.group(1)), head.group(2)
        end = len(text)
        for later in heads[i + 1 :]:
            if len(later.group(1)) <= level:
                end = later.start()
                break
        out[number] = text[head.end() : end]
    return out


def _section(text: str, number: str) -> str:
    sections = _sections(text)
    assert number in sections, f"docs/contract.md has no section {number}"
    return sections[number]


def _code_names(text: str) -> set[str]:
    """Every name written as inline code (between backticks) in ``text``."""
    return set(re.findall(r"`([^`\n]+)`", text))


def _commands(group: Any, prefix: str = "aircarbon") -> Iterator[str]:
    """Every command path of a Click group (Typer's groups: duck-typed on ``commands``)."""
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path
        if hasattr(command, "commands"):
            yield from _commands(command, path)


def _repo_files() -> Iterator[Path]:
    """The repository's source and docs (pruned walk: never into .venv or data)."""
    for folder, dirs, files in os.walk(ROOT):
        top = Path(folder) == ROOT
        dirs[:] = [
            d
            for d in dirs
            if d not in _SKIPPED_DIRS and not d.startswith(".") and not (top and d == "data")
        ]
        for name in files:
            if Path(name).suffix in _SCANNED:
                yield Path(folder) / name


def _migrations_sql() -> str:
    files = sorted((ROOT / "warehouse" / "migrations").glob("*.sql"))
    assert files, "no migrations found"
    files.append(ROOT / "warehouse" / "sql" / "schema_migrations.sql")
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_sections_are_numbered_with_stable_anchors(doc: str) -> None:
    """Every numbered heading has its ``<a id="sN-M">`` anchor right above it, matching."""
    numbers = [m.group(2) for m in _HEADING.finditer(doc)]
    assert numbers[:6] == ["1", "1.1", "1.2", "1.3", "1.4", "1.5"], numbers[:6]
    anchored = {m.group(3): m.group(1) for m in _ANCHOR.finditer(doc)}
    for number in numbers:
        assert anchored.get(number) == number.replace(".", "-"), f"§{number} lacks its anchor"
    assert len(numbers) == len(set(numbers)), "a section number is used twice"
    titles = {m.group(2): m.group(3) for m in _HEADING.finditer(doc)}
    # the starting contract's §1-§3 keep their meaning: old citations map onto these
    assert titles["1"] == "Wire format"
    assert titles["2"] == "Command line"
    assert titles["3"] == "Data directory"


def test_every_reason_code_is_listed(doc: str) -> None:
    listed = _code_names(_section(doc, "1.6"))
    missing = sorted(r.value for r in RejectReason if r.value not in listed)
    assert not missing, f"docs/contract.md §1.6 lacks reason codes {missing}"


def test_every_reason_code_has_its_scope(doc: str) -> None:
    """The table's scope column agrees with ``RejectReason.per_reading``."""
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([a-z ]+) \|", _section(doc, "1.6"), re.MULTILINE)
    scopes = dict(rows)
    for reason in RejectReason:
        scope = scopes[reason.value]
        if reason is RejectReason.WRITE_ERROR:
            continue  # a row of either kind may fail to write
        expected = "reading" if reason.per_reading else "message"
        assert scope == expected, f"{reason.value}: the page says {scope!r}"


def test_every_command_is_listed(doc: str) -> None:
    root = typer.main.get_command(app)
    commands = list(_commands(root))
    assert len(commands) > 20, commands  # the walk found the subcommands too
    section = _section(doc, "2")
    # the command as it starts a code span: `aircarbon stations add ID`, `aircarbon raw sync`
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}[` ]", section)]
    assert not missing, f"docs/contract.md §2 does not name {missing}"


def test_every_table_view_and_macro_is_listed(doc: str) -> None:
    sql = _migrations_sql()
    tables = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", sql))
    assert {"readings", "hourly", "daily", "dead_letter", "schema_migrations"} <= tables
    listed = _code_names(_section(doc, "4.3"))
    missing = sorted(tables - listed)
    assert not missing, f"docs/contract.md §4.3 lacks tables {missing}"
    routines = set(re.findall(r"CREATE (?:OR REPLACE )?(?:VIEW|MACRO) (\w+)", sql))
    described = {name.split("(", 1)[0] for name in _code_names(_section(doc, "4.5"))}
    missing = sorted(routines - described)
    assert not missing, f"docs/contract.md §4.5 lacks views/macros {missing}"


def test_every_setting_is_listed(doc: str) -> None:
    section = _section(doc, "5")
    listed = _code_names(section)
    # a row may name several keys: `tls_ca`, `tls_cert`, `tls_key`
    missing = sorted(name for name in Settings.model_fields if name not in listed)
    assert not missing, f"docs/contract.md §5 lacks settings {missing}"
    assert f"`{CONFIG_ENV}`" in section
    assert f"`{ENV_PREFIX}<KEY>`" in section


def test_store_columns_are_listed(doc: str) -> None:
    """Raw, dead-letter and status stores: every column the writers write."""
    raw = _code_names(_section(doc, "3.2"))
    assert not [c for c in READING_COLUMNS if c not in raw]
    dead = _code_names(_section(doc, "3.3"))
    assert not [f.name for f in dead_letter_schema() if f.name not in dead]
    status = _code_names(_section(doc, "3.4"))
    assert not [f.name for f in status_schema() if f.name not in status]


def test_citations_point_at_existing_sections(doc: str) -> None:
    numbers = set(_sections(doc))
    cited: dict[str, list[str]] = {}
    for path in _repo_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _CITATION.finditer(text):
            cited.setdefault(match.group(1), []).append(str(path.relative_to(ROOT)))
    assert len(cited) > 5, "found almost no docs/contract.md citations: the scan is broken"
    dangling = {n: where for n, where in cited.items() if n not in numbers}
    assert not dangling, f"citations of sections docs/contract.md does not have: {dangling}"


def test_cross_references_inside_the_page_resolve(doc: str) -> None:
    numbers = set(_sections(doc))
    # "docs/operators.md §8" is another page's section
    referenced = set(re.findall(r"(?<!\.md )§(\d+(?:\.\d+)*)", doc))
    assert not sorted(referenced - numbers), "docs/contract.md refers to missing sections"
    anchors = set(re.findall(r'<a id="(s[\d-]+)"></a>', doc))
    linked = set(re.findall(r"\]\(#(s[\d-]+)\)", doc))
    assert linked, "the contents line links no section"
    assert not sorted(linked - anchors), "docs/contract.md links to missing anchors"


def test_no_citation_of_the_old_spec() -> None:
    """The starting contract is not in the repository: cite docs/contract.md instead."""
    old = re.compile(r"\bSPEC(?:\.md)? ?§|\bSPEC\.md\b")
    found = [
        str(path.relative_to(ROOT))
        for path in _repo_files()
        if path != DOC and old.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    found = [f for f in found if f != "tests/test_contract_doc.py"]
    assert not found, f"still citing SPEC: {found}"
