"""``aircarbon sql``: the analysts' read-only view of the warehouse (docs/contract.md §2.5).

One query (``aircarbon sql "select * from daily"``) prints its result as a table, CSV, JSON or
writes Parquet; no query opens a small shell (``;``-terminated statements, readline history,
``.tables``, ``.schema TABLE``, ``.mode``, ``.quit``). The lake is the default database, so
tables are named bare. Nothing typed here can change the warehouse: the session
(:class:`warehouse.readonly.ReadOnlySession`) attaches the lake read-only with file access
outside it off, and checks every statement with DuckDB's parser before running it — ATTACH,
DETACH, USE, COPY, EXPORT, INSTALL, LOAD, SET, CHECKPOINT, DuckLake maintenance calls, file
readers and every write are refused with one line naming the statement (exit 2).

Register with ``app.command("sql")(sql_command)``. Errors (bad SQL, no lake yet) are
:class:`~aircarbon.core.errors.AirCarbonError` one-liners, which the CLI prints without traceback.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import decimal
import json
import math
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    import pyarrow as pa

    from warehouse.readonly import ReadOnlySession

__all__ = ["OutputFormat", "Shell", "emit", "execute", "run", "sql_command", "to_jsonable"]

_HISTORY = Path.home() / ".aircarbon_sql_history"
_PROMPT = "aircarbon> "
_CONTINUE = "      ...> "
_TYPES_KEY = "aircarbon.duckdb_types"


class OutputFormat(StrEnum):
    """How a result is printed or written."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


# --- values -------------------------------------------------------------------------------
def to_jsonable(value: Any) -> Any:
    """A Python value from Arrow as plain JSON: ISO 8601 times, base64 bytes, null for NaN.

    Why our own conversion: a JSON consumer (a script, jq) needs one predictable spelling per
    type, e.g. ``"2026-11-24T10:00:00+00:00"`` for a UTC timestamp and ``"2026-11-24"`` for
    a date, whatever DuckDB's display format is.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return _iso_duration(0, value.days, round(value.seconds * 1e9 + value.microseconds * 1e3))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):  # Arrow MAP
            return {str(k): to_jsonable(v) for k, v in value}
        return [to_jsonable(v) for v in value]
    months = getattr(value, "months", None)
    if months is not None:  # pyarrow MonthDayNano (DuckDB INTERVAL)
        return _iso_duration(months, value.days, value.nanoseconds)
    return str(value)


def _iso_duration(months: int, days: int, nanos: int) -> str:
    seconds = nanos / 1e9
    return f"P{months}M{days}DT{seconds:g}S"


def _cell(value: Any) -> str:
    """A value as text for table and CSV cells (nested values as compact JSON)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".10g")
    plain = to_jsonable(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    return str(plain)


# --- execution ----------------------------------------------------------------------------
def execute(con: ReadOnlySession, query: str) -> pa.Table | None:
    """Run ``query`` (one or more read statements); the last statement's result.

    Refusals (:class:`~aircarbon.core.errors.ReadOnlyViolation`) and DuckDB errors are
    one-line :class:`~aircarbon.core.errors.WarehouseError` messages, passwords redacted.
    """
    result = con.sql(query)
    # Keep DuckDB's own type names (VARCHAR[], TIMESTAMP WITH TIME ZONE) for table headers.
    types = json.dumps(result.types)
    return result.arrow().replace_schema_metadata({_TYPES_KEY: types})


def _write_json(table: pa.Table, out: TextIO) -> None:
    rows = [{k: to_jsonable(v) for k, v in row.items()} for row in table.to_pylist()]
    json.dump(rows, out, ensure_ascii=False)
    out.write("\n")


def _write_csv(table: pa.Table, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            writer.writerow([_cell(v) for v in row.values()])


def _print_table(table: pa.Table, *, max_rows: int, out: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out, soft_wrap=False)
    view = Table(show_lines=False, header_style="bold")
    metadata = table.schema.metadata or {}
    raw_types = metadata.get(_TYPES_KEY.encode())
    types = json.loads(raw_types) if raw_types else [str(f.type) for f in table.schema]
    for field, type_name in zip(table.schema, types, strict=True):
        view.add_column(f"{field.name}\n[dim]{type_name}[/dim]", overflow="fold")
    shown = table.slice(0, max_rows)
    for row in shown.to_pylist():
        view.add_row(
            *[Text("NULL", style="dim") if v is None else Text(_cell(v)) for v in row.values()]
        )
    console.print(view)
    total = table.num_rows
    more = f" (showing the first {shown.num_rows}; use --max-rows or --format csv)"
    console.print(f"{total} row{'s' if total != 1 else ''}" + (more if total > max_rows else ""))


def emit(
    table: pa.Table,
    fmt: OutputFormat,
    *,
    output: Path | None = None,
    max_rows: int = 40,
) -> None:
    """Print or write one result in ``fmt``."""
    if fmt is OutputFormat.PARQUET:
        import pyarrow.parquet as pq

        if output is None:
            raise AirCarbonError("--format parquet needs --output FILE")
        pq.write_table(table, output)
        return
    if output is None:
        if fmt is OutputFormat.TABLE:
            _print_table(table, max_rows=max_rows)
        else:
            (_write_json if fmt is OutputFormat.JSON else _write_csv)(table, sys.stdout)
        return
    if fmt is OutputFormat.TABLE:
        raise AirCarbonError("--output needs --format csv, json or parquet")
    writer: Callable[[pa.Table, TextIO], None] = (
        _write_json if fmt is OutputFormat.JSON else _write_csv
    )
    with output.open("w", encoding="utf-8", newline="") as fh:
        writer(table, fh)


def _connect(data_dir: Path | None, output: Path | None = None) -> ReadOnlySession:
    from aircarbon.core.settings import load_settings
    from warehouse.lake import open_session

    settings = load_settings(data_dir=data_dir)
    if output is not None:
        _refuse_lake_output(output, settings.lake_catalog, settings.lake_data)
    return open_session(settings)


def _refuse_lake_output(output: Path, catalog: str, data: str) -> None:
    """``--output`` may go anywhere but into the lake: its data path or its catalog file.

    The result file is written by AirCarbon, outside DuckDB's checks, so this is where a
    ``--output <a lake Parquet file>`` would otherwise rewrite published data.
    """
    target = output.resolve()
    inside = False
    if catalog.startswith("sqlite:"):
        file = Path(catalog.removeprefix("sqlite:")).resolve()
        # the catalog and SQLite's side files (warehouse.sqlite-wal, -journal, -shm)
        inside = target.parent == file.parent and target.name.startswith(file.name)
    if "://" not in data:
        folder = Path(data).resolve()
        inside = inside or target == folder or folder in target.parents
    if inside:
        raise AirCarbonError(f"--output {output} is inside the warehouse: refused")


def run(
    query: str | None,
    *,
    fmt: OutputFormat | str = OutputFormat.TABLE,
    output: Path | None = None,
    max_rows: int = 40,
    data_dir: Path | None = None,
) -> int:
    """Run one query and print its result, or the shell when ``query`` is None; exit code."""
    try:
        fmt = OutputFormat(fmt)
    except ValueError:
        raise AirCarbonError(f"unknown --format {fmt!r}: use table, csv, json or parquet") from None
    if fmt is OutputFormat.PARQUET and output is None:
        raise AirCarbonError("--format parquet needs --output FILE")
    con = _connect(data_dir, output)
    try:
        if query is None:
            return Shell(con, fmt=fmt, max_rows=max_rows).loop()
        table = execute(con, query)
        if table is not None:
            emit(table, fmt, output=output, max_rows=max_rows)
        return 0
    finally:
        con.close()


# --- the shell ------------------------------------------------------------------------------
class Shell:
    """A small SQL shell: statements end with ``;``, dot-commands need none.

    Kept deliberately simple (readline for editing and history, rich for tables); for more,
    point any DuckDB client or harlequin at the lake with the ATTACH line in the docs.
    """

    HELP = (
        ".tables            tables, views and table macros of the lake\n"
        ".schema TABLE      columns of a table or view, with their comments\n"
        ".mode MODE         output as table, csv or json\n"
        ".maxrows N         rows shown in table mode\n"
        ".help              this text\n"
        ".quit              leave (also Ctrl-D)"
    )

    def __init__(
        self,
        con: ReadOnlySession,
        *,
        fmt: OutputFormat = OutputFormat.TABLE,
        max_rows: int = 40,
        stdin: TextIO | None = None,
    ) -> None:
        self.con = con
        self.fmt: OutputFormat = OutputFormat.TABLE if fmt is OutputFormat.PARQUET else fmt
        self.max_rows = max_rows
        self.stdin = stdin if stdin is not None else sys.stdin
        self.interactive = stdin is None and sys.stdin.isatty()

    def _read(self, prompt: str) -> str:
        if self.interactive:
            return input(prompt)
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    def loop(self) -> int:
        """Read-eval-print until ``.quit`` or end of input; 1 if a piped script had errors."""
        history = self._setup_readline() if self.interactive else None
        if self.interactive:
            print("AirCarbon warehouse (read-only). End statements with ';'. .help for commands.")
        buffer: list[str] = []
        failed = False
        try:
            while True:
                try:
                    line = self._read(_CONTINUE if buffer else _PROMPT)
                except EOFError:
                    break
                except KeyboardInterrupt:
                    print()
                    buffer.clear()
                    continue
                if not buffer and line.strip().startswith("."):
                    if not self.command(line.strip()):
                        break
                    continue
                buffer.append(line)
                if line.rstrip().endswith(";"):
                    failed |= not self.statement("\n".join(buffer))
                    buffer.clear()
            if buffer and "".join(buffer).strip():
                failed |= not self.statement("\n".join(buffer))
        finally:
            if history is not None:
                history()
        return 1 if failed and not self.interactive else 0

    def statement(self, sql: str) -> bool:
        """Run one statement, print its result or the error; True on success."""
        try:
            table = execute(self.con, sql)
            if table is not None:
                emit(table, self.fmt, max_rows=self.max_rows)
        except AirCarbonError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            return False
        return True

    def command(self, line: str) -> bool:
        """Run a dot-command; False means quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in {".quit", ".exit", ".q"}:
            return False
        if name == ".help":
            print(self.HELP)
        elif name == ".tables":
            self._show("list_relations", {})
        elif name == ".schema" and arg:
            self._show("describe_relation", {"name": arg})
        elif name == ".mode" and arg in {"table", "csv", "json"}:
            self.fmt = OutputFormat(arg)
        elif name == ".maxrows" and arg.isdigit():
            self.max_rows = int(arg)
        else:
            typer.secho(f"unknown or incomplete command {line!r}; try .help", err=True)
        return True

    def _show(self, sql_name: str, params: dict[str, str]) -> None:
        from warehouse.lake import read_sql

        try:
            table = self.con.trusted(read_sql(sql_name), params).arrow()
        except AirCarbonError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            return
        if table.num_rows == 0 and params:
            typer.secho(f"no table or view {params.get('name')!r}", err=True)
            return
        emit(table, self.fmt, max_rows=1000)

    @staticmethod
    def _setup_readline() -> Callable[[], None] | None:
        """Load readline history; return the function that saves it (None without readline)."""
        try:
            import readline
        except ImportError:  # pragma: no cover - Windows without pyreadline
            return None
        # No history yet (first session) or an unreadable one: start empty.
        with contextlib.suppress(OSError):
            readline.read_history_file(_HISTORY)
        readline.set_history_length(2000)

        def save() -> None:
            with contextlib.suppress(OSError):  # a read-only home must not break the shell
                readline.write_history_file(_HISTORY)

        return save


def sql_command(
    query: Annotated[
        str | None,
        typer.Argument(help="SQL to run; none opens an interactive shell (or reads stdin)."),
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, csv, json (one array of objects), parquet."),
    ] = OutputFormat.TABLE,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the result to FILE (parquet requires it)."),
    ] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows shown in table format.")] = 40,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (default: settings).")
    ] = None,
    print_attach: Annotated[
        bool,
        typer.Option(
            "--print-attach",
            help="Print SQL that opens the lake read-only from the DuckDB CLI, Jupyter or "
            "DBeaver, offline (extensions from the installed wheels); run nothing.",
        ),
    ] = False,
) -> None:
    """Query the warehouse read-only; tables are named bare (select * from daily)."""
    if print_attach:
        from aircarbon.core.settings import load_settings
        from warehouse.lake import attach_script

        settings = load_settings()
        if data_dir is not None:
            settings = settings.with_overrides(data_dir=data_dir)
        sys.stdout.write(attach_script(settings))
        raise typer.Exit(0)
    raise typer.Exit(run(query, fmt=fmt, output=output, max_rows=max_rows, data_dir=data_dir))
