"""Analyst sessions that can only read: statements checked with DuckDB's own parser first.

Why a second layer on top of the read-only attach (:func:`warehouse.lake.connect` with
``read_only=True``): DuckDB's settings cannot close every side door of a session. ``USE``
and ``DETACH`` are not configuration, the SQLite extension opens files on its own and so
ignores ``allowed_paths`` (``ATTACH '<catalog>' (TYPE sqlite)`` works with external access
off), the lake's data folder must stay readable and is then writable too (``COPY … TO``
into it), and DuckLake's maintenance functions delete files even on a ``READ_ONLY`` lake.
So every statement an analyst types is split and classified by DuckDB's parser
(``extract_statements`` → :class:`duckdb.StatementType`) and, for queries, its syntax tree
(``json_serialize_sql``) is searched for table functions, which must be on an allow list.
Only then does it run. Anything else is refused with one line naming the statement::

    refused: ATTACH is not allowed in a read-only session

What runs: SELECT (with WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE and PIVOT with an
explicit ``IN`` list), EXPLAIN of those, and the table functions of :data:`READ_FUNCTIONS`
plus the lake's own table macros (``series``, ``exceedance_days``, …).

Results are materialised (Arrow) rather than handed back as DuckDB relations, because a
relation carries its connection and methods such as ``to_parquet`` that write files.
Error messages pass through :func:`redact`, so a catalog password never reaches a screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Self

import duckdb

from aircarbon.core.errors import ReadOnlyViolation, WarehouseError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

__all__ = ["READ_FUNCTIONS", "ReadOnlySession", "Result", "check_statements", "redact"]

#: Table functions an analyst may call besides the lake's table macros: they read the
#: session's own catalog, the lake's snapshots and changes, or generate rows. Not on the list
#: (so refused): file readers (read_csv, read_parquet, read_text, glob…), query/query_table
#: (SQL in a string, unchecked), duckdb_databases/duckdb_settings/duckdb_secrets (paths,
#: connection strings), and every ducklake_* maintenance function.
READ_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "duckdb_tables",
        "duckdb_views",
        "duckdb_columns",
        "duckdb_functions",
        "duckdb_types",
        "duckdb_schemas",
        "duckdb_constraints",
        "duckdb_keywords",
        "pragma_table_info",
        "ducklake_snapshots",
        "ducklake_table_info",
        "ducklake_table_changes",
        "ducklake_table_insertions",
        "ducklake_table_deletions",
        "ducklake_current_snapshot",
        "ducklake_last_committed_snapshot",
    }
)

# Statement types whose name in a refusal reads better than DuckDB's enum member.
_NAMES = {
    "VARIABLE_SET": "SET VARIABLE",
    "COPY_DATABASE": "COPY FROM DATABASE",
    "MERGE_INTO": "MERGE INTO",
    "CREATE_FUNC": "CREATE FUNCTION",
}
_FIRST_WORD = re.compile(r"\s*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?")
_EXPLAIN = re.compile(
    r"^\s*explain\s+(?:\((?:[^()]|\([^()]*\))*\)\s*)?(?:analy[sz]e\s+)?", re.IGNORECASE
)
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^']|'')*'|\S+)", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)", re.IGNORECASE)


#: DuckDB's lines after the first that help the user fix the query: kept in the one line.
_HINTS = ("Did you mean", "Candidate bindings", "Candidate functions", "HINT")


def error_line(exc: BaseException) -> str:
    """DuckDB's error as one line: the message plus its "Did you mean …" style hints."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    hints = [line for line in lines[1:] if line.startswith(_HINTS)]
    return " ".join([lines[0], *hints])


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with passwords (``password=…``, ``user:pw@`` in URLs, known secrets) masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _PASSWORD.sub(r"\1***", text)
    return _URL_USERINFO.sub(r"\1***\3", text)


def _label(statement: duckdb.Statement) -> str:
    """How a refusal names a statement: its leading keywords (``COPY``, ``USE``, ``CALL x``)."""
    text = statement.query.strip()
    match = _FIRST_WORD.match(text)
    kind = statement.type.name
    if match is None:
        return _NAMES.get(kind, kind)
    first = match.group(1).upper()
    if first in {"CALL", "PRAGMA"}:
        name = re.match(r"\s*\w+\s+([A-Za-z_][\w.]*)", text)
        return f"{first} {name.group(1)}" if name else first
    if first in {"CREATE", "DROP", "ALTER", "EXPORT", "IMPORT", "INSTALL", "FORCE", "UPDATE"}:
        second = match.group(2)
        return f"{first} {second.upper()}" if second else first
    return first


def _table_functions(tree: Any, bare: frozenset[str]) -> Iterator[str]:
    """Names of the table functions anywhere in a serialized query (subqueries, CTEs…).

    Besides calls (``FROM f(…)``), a table reference named like one of ``bare`` counts: DuckDB
    resolves some table functions without parentheses (``FROM pragma_database_list``).
    """
    if isinstance(tree, dict):
        if tree.get("type") == "TABLE_FUNCTION":
            function = tree.get("function") or {}
            yield str(function.get("function_name", "")).lower()
        elif tree.get("type") == "BASE_TABLE":
            name = str(tree.get("table_name", "")).lower()
            if name in bare:
                yield name
        for value in tree.values():
            yield from _table_functions(value, bare)
    elif isinstance(tree, list):
        for value in tree:
            yield from _table_functions(value, bare)


def _check_query(
    con: duckdb.DuckDBPyConnection,
    text: str,
    allowed: frozenset[str],
    bare: frozenset[str] = frozenset(),
) -> None:
    """A SELECT-typed statement: every table function it calls must be on the allow list."""
    row = con.execute("SELECT json_serialize_sql(?)", [text]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        # SELECT-typed but not a query the serializer can show us: fail closed
        word = _FIRST_WORD.match(text)
        label = word.group(1).upper() if word else "statement"
        raise ReadOnlyViolation(label, "only queries run here")
    for name in _table_functions(tree, bare):
        if name not in allowed:
            raise ReadOnlyViolation(f"table function {name}()", "not on the read-only allow list")


def check_statements(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    macros: Iterable[str] = (),
    functions: Iterable[str] = (),
) -> list[str]:
    """The statements of ``query`` if every one is a read; else :class:`ReadOnlyViolation`.

    ``macros`` are the lake's table macros (allowed besides :data:`READ_FUNCTIONS`);
    ``functions`` the session's table functions, so that a bare table reference naming one
    that is not allowed is refused too. Parsing is DuckDB's own (the session's parser, so it
    agrees with what would run).
    """
    allowed = READ_FUNCTIONS | {m.lower() for m in macros}
    bare = frozenset(f.lower() for f in functions) - allowed
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise WarehouseError(f"query failed: {error_line(exc)}") from None
    if not statements:
        raise WarehouseError("no statement to run")
    texts: list[str] = []
    for statement in statements:
        kind = statement.type
        text = statement.query
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", text, count=1)
            if inner == text or not inner.strip():
                raise ReadOnlyViolation("EXPLAIN", "could not read the explained statement")
            for explained in con.extract_statements(inner):
                if explained.type != duckdb.StatementType.SELECT:
                    raise ReadOnlyViolation(f"EXPLAIN {_label(explained)}")
                _check_query(con, explained.query, allowed, bare)
        elif kind == duckdb.StatementType.SELECT:
            _check_query(con, text, allowed, bare)
        elif kind == duckdb.StatementType.CREATE and not text.strip():
            # the parser's own CREATE TYPE … AS ENUM for a PIVOT whose values it must find
            raise ReadOnlyViolation("PIVOT without IN", "name the pivoted values: ON col IN (…)")
        else:
            raise ReadOnlyViolation(_label(statement))
        texts.append(text)
    return texts


class Result:
    """A materialised query result with the reading methods analysts use on relations."""

    def __init__(self, table: pa.Table, types: Sequence[str]) -> None:
        self._table = table
        self.types = list(types)

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def arrow(self) -> pa.Table:
        return self._table

    to_arrow_table = arrow
    fetch_arrow_table = arrow

    def pl(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self._table)
        assert isinstance(frame, pl.DataFrame)  # a Table always gives a frame
        return frame

    def df(self) -> pd.DataFrame:
        frame: pd.DataFrame = self._table.to_pandas()
        return frame

    fetchdf = df

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self._table.to_pylist()]

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._table.num_rows == 0:
            return None
        return tuple(self._table.slice(0, 1).to_pylist()[0].values())

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __repr__(self) -> str:
        return f"<Result {self._table.num_rows} rows: {', '.join(self.columns)}>"


class ReadOnlySession:
    """What :func:`aircarbon.analyst.connect` and ``aircarbon sql`` hand out: reads only.

    Wraps a connection opened by :func:`warehouse.lake.connect` with ``read_only=True`` and
    never returns it: ``sql``/``execute`` check every statement (:func:`check_statements`),
    run it and return a :class:`Result`. In Python this guards against mistakes, not against
    someone who opens the files themselves; the deployment's read-only PostgreSQL role and
    read-only data mount are the hard limits there (docs/warehouse.md).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, *, secrets: Sequence[str] = ()) -> None:
        self._con = con
        self._secrets = tuple(s for s in secrets if s)
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE database_name = current_database() AND function_type = 'table_macro'"
        ).fetchall()
        self._macros = frozenset(str(name) for (name,) in rows)
        functions = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'table' "
            "UNION SELECT view_name FROM duckdb_views() "
            "WHERE database_name = 'system' AND schema_name = 'main'"
        ).fetchall()
        relations = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        ).fetchall()
        lake = {str(name).lower() for (name,) in relations}
        # system views (duckdb_databases, duckdb_settings…) read the same as their functions
        self._functions = frozenset(str(n) for (n,) in functions if str(n).lower() not in lake)

    def check(self, query: str) -> list[str]:
        """The statements of ``query`` if all are reads (else ReadOnlyViolation)."""
        return check_statements(self._con, query, macros=self._macros, functions=self._functions)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Result:
        """Run ``query`` (one or more read statements); the last statement's result."""
        texts = self.check(query)
        result: Result | None = None
        for i, text in enumerate(texts):
            last = i == len(texts) - 1
            result = self._run(text, params if last else None)
        assert result is not None  # check() refuses an empty query
        return result

    query = sql

    def execute(
        self, query: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> Result:
        """Like :meth:`sql` (DuckDB's ``execute`` spelling, with parameters)."""
        return self.sql(query, parameters)

    def trusted(self, query: str, params: dict[str, Any] | None = None) -> Result:
        """Run SQL of our own (``warehouse/sql/*.sql``), still checked: a read, by design."""
        return self.sql(query, params)

    def _run(self, text: str, params: Sequence[Any] | dict[str, Any] | None) -> Result:
        try:
            relation: duckdb.DuckDBPyRelation | None = (
                self._con.sql(text, params=params) if params else self._con.sql(text)
            )
            if relation is None:  # pragma: no cover - only reads pass check()
                raise WarehouseError("the statement returned no result")
            table = relation.to_arrow_table()
            return Result(table, [str(t) for t in relation.types])
        except duckdb.Error as exc:
            raise WarehouseError(
                f"query failed: {redact(error_line(exc), self._secrets)}"
            ) from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
