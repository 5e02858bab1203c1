"""What every benchmark script shares: timing, peak RSS, the machine line, tables, the doc.

Each script in ``benchmarks/`` measures one concern and owns one ``## Heading`` section of
``docs/benchmarks.md``; this module is the plumbing they all need, so a number means the same
thing in every section:

* :func:`measure` — wall seconds and the peak RSS of one call (:func:`reset_peak` first, then
  :func:`peak_mb`); run each measured step in a fresh process when steps must not see each
  other's memory.
* :func:`cpu_seconds` — CPU time of this process, all threads (for µs-per-message figures).
* :func:`machine_line` — "Python …, polars …, Linux x86_64, 2 CPUs (load average …); date".
* :func:`markdown_table` — a GitHub table from a header, an alignment string and rows.
* :func:`section` / :func:`write_section` — render a section and replace it in the doc.
* :func:`publish` — the end of every ``main()``: print the table and machine line, and with
  ``--write`` replace the section.

Typical use::

    from benchmarks._report import machine_line, markdown_table, measure, section, write_section

    out, secs, peak = measure(lambda: work(frame))
    rows = [["work", f"{secs:.2f}", f"{peak:,.0f}"]]
    table = markdown_table(["step", "s", "peak RSS MB"], "lrr", rows)
    machine = machine_line("polars")  # after the runs: it records the load average
    intro = "`uv run python -m benchmarks.work --write` — what is measured, on what."
    text = section("## Work", intro, table, f"Measured on: {machine}.")
    publish("## Work", table, machine, text, write=args.write)  # never --write a smoke run

It imports only the standard library, so subprocesses that only publish or time stay light.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import re
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
DOC_PREAMBLE = (
    "# Benchmarks\n\n"
    "Numbers measured by the scripts in `benchmarks/` (see `benchmarks/README.md`); each\n"
    "section is rewritten by its script with `--write`. They describe one machine on one\n"
    "day: compare rows within a section, not across machines.\n"
)

T = TypeVar("T")

__all__ = [
    "DOC",
    "ROOT",
    "Measurement",
    "cpu_seconds",
    "machine_line",
    "markdown_table",
    "measure",
    "peak_mb",
    "publish",
    "replace_section",
    "reset_peak",
    "section",
    "write_section",
]


# --------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------


def reset_peak() -> None:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS.

    Writing ``5`` to ``/proc/self/clear_refs`` is Linux's documented way to restart the
    high-water mark, so the next :func:`peak_mb` is the peak of what ran in between (plus
    whatever the process already held: inputs included). Elsewhere, or without permission,
    this does nothing and the peak is the process's lifetime peak.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_mb(pid: int | str = "self", *, default: float = float("nan")) -> float:
    """Peak RSS in MB (``VmHWM``) of this process or of ``pid``, since exec or last reset.

    Unlike ``ru_maxrss``, ``VmHWM`` of a child does not include the memory of the parent it was
    forked from, and it can be reset (:func:`reset_peak`). ``default`` when the process is
    gone or /proc is missing (NaN prints as "nan" in a table, which is the honest answer).
    """
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return default
    match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) / 1024 if match else default


def cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Measurement(NamedTuple, Generic[T]):
    """One call's result, wall seconds and peak RSS (MB); unpacks as ``out, secs, peak``."""

    out: T
    seconds: float
    peak_mb: float


def measure(fn: Callable[[], T]) -> Measurement[T]:
    """Call ``fn()`` once: its result, wall seconds (``perf_counter``) and peak RSS in MB.

    The peak is reset just before the call, so it is this call's own high-water mark,
    including everything the process already holds (the inputs of ``fn``).
    """
    reset_peak()
    start = time.perf_counter()
    out = fn()
    return Measurement(out, time.perf_counter() - start, peak_mb())


# --------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------


def _dist_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def machine_line(
    *packages: str,
    load: bool = True,
    notes: Iterable[str] = (),
    today: dt.date | None = None,
) -> str:
    """What the numbers were measured on, in one line (no "Measured on:" and no final dot).

    ``Python 3.12.3, polars 2.1.0, duckdb 1.5.5, Linux x86_64, 2 CPUs (load average
    1.2 / 0.9 / 0.8 at the end); <note>; <note>; 2026-12-02``. ``packages`` are distribution
    names, shown with their installed versions in the given order; ``load`` adds the 1/5/15
    minute load average as it is when the line is built (call it after the runs: on a shared
    machine it says how busy it was); ``notes`` are run facts such as warm-up times.
    """
    impl = platform.python_implementation()
    parts = [f"Python {platform.python_version()}" + ("" if impl == "CPython" else f" ({impl})")]
    parts += [f"{dist} {_dist_version(dist)}" for dist in packages]
    cpus = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    if load:
        one, five, fifteen = os.getloadavg()
        cpus += f" (load average {one:.1f} / {five:.1f} / {fifteen:.1f} at the end)"
    parts.append(cpus)
    head = ", ".join(parts)
    return "; ".join([head, *notes, (today or dt.date.today()).isoformat()])


def markdown_table(head: Sequence[str], align: str, rows: Iterable[Sequence[object]]) -> str:
    """A GitHub markdown table; ``align`` has one letter per column: ``l`` left, ``r`` right.

    Cells are written with ``str()``, so format numbers before (``f"{secs:.2f}"``).
    """
    if len(align) != len(head) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} must be one 'l' or 'r' per column of {list(head)}")
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(head) + " |", rule]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def section(heading: str, *paragraphs: str) -> str:
    """A doc section: the heading, then the paragraphs (intro, table, machine line, …).

    Paragraphs are separated by a blank line and the text ends with one newline, the shape
    :func:`write_section` expects.
    """
    return "\n\n".join([heading, *(p.strip("\n") for p in paragraphs)]) + "\n"


def replace_section(doc: str, heading: str, text: str) -> str:
    """``doc`` with its ``heading`` section (up to the next ``## `` or the end) set to ``text``.

    A section not yet in the doc is appended. Pure, so it is easy to check.
    """
    if not text.startswith(heading + "\n"):
        raise ValueError(f"section text must start with its heading {heading!r}")
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    return doc.rstrip("\n") + "\n"


def write_section(heading: str, text: str, doc: Path = DOC) -> Path:
    """Replace (or append) the ``heading`` section of ``doc`` with ``text``; returns ``doc``.

    Only that section changes; the others keep their numbers. A missing doc is created with
    the standard preamble.
    """
    current = doc.read_text(encoding="utf-8") if doc.exists() else DOC_PREAMBLE
    doc.write_text(replace_section(current, heading, text), encoding="utf-8")
    return doc


def publish(heading: str, table: str, machine: str, text: str, *, write: bool) -> None:
    """Print ``table`` and "Measured on: ``machine``."; with ``write``, put ``text`` in the doc.

    ``text`` is the whole section (:func:`section`); only that section of ``DOC`` changes.
    """
    print(table)
    print(f"\nMeasured on: {machine}.")
    if write:
        path = write_section(heading, text)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"\nwrote the '{heading}' section of {shown}")
