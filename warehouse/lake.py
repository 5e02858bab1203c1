"""Opening the DuckLake warehouse: one in-memory DuckDB with the lake attached as ``aircarbon``.

Why a DuckLake rather than a DuckDB file: a DuckDB file admits one read-write process, and
while a loader holds it even a read-only open from another process fails. A DuckLake keeps
its catalog in SQLite (or PostgreSQL in a deployment) and its data in immutable Parquet
files, so loaders and any number of analyst sessions, in other processes or on other
machines, work at once (docs/contract.md §4.1).

Where the lake lives is chosen by settings alone: ``settings.lake_catalog`` is the part after
``ducklake:`` (``sqlite:<data dir>/warehouse.sqlite`` by default, ``postgres:dbname=… host=…``
in a deployment) and ``settings.lake_data`` the data path (a folder, or an ``s3://`` URL read
and written through httpfs with the ``warehouse_s3_*`` credentials).

Extensions are loaded offline from the ``duckdb-extension-*`` wheels by path (DuckDB still
verifies their signatures), never installed or downloaded: monitoring centres are often
air-gapped, and an autoload that reaches for the network would hang there.

A read-only connection is read-only by configuration: the lake is attached with DuckLake's
``READ_ONLY`` option (INSERT/CREATE/DELETE on it and on its metadata catalog fail), on a
PostgreSQL catalog as the deployment's read-only role when configured, file-system access
is switched off outside the lake's data path and the configuration locked. Analysts get it
wrapped in :class:`warehouse.readonly.ReadOnlySession` (:func:`open_session`), which also
checks every statement with DuckDB's parser, because some side doors (USE/DETACH, the
SQLite extension's own file access, DuckLake maintenance calls) no setting closes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from aircarbon.core.duck import (
    configure_s3,
    extension_file,
    load_extension,
    object_store,
    warehouse_error,
)
from aircarbon.core.duck import sql_literal as _literal
from aircarbon.core.errors import WarehouseError

if TYPE_CHECKING:
    from aircarbon.core.settings import Settings
    from warehouse.readonly import ReadOnlySession

__all__ = [
    "BARE_WRITE_WAIT_S",
    "LAKE",
    "connect",
    "connect_readonly",
    "load_lock",
    "object_store",
    "open_session",
    "postgres_catalog",
    "read_sql",
    "rollback",
    "secret_values",
    "set_commit_message",
    "warehouse_error",
]

#: The name the lake is attached under; analysts' SQL and the docs use it.
LAKE = "aircarbon"

_SQL_DIR = Path(__file__).with_name("sql")
# A DuckDB variable carrying the data directory of a read-write connection, so loaders that
# receive only the connection take that directory's writer lock (aircarbon.core.writer_lock).
_LOCK_VARIABLE = "aircarbon_writer_dir"
#: How long a write through a bare connection (a script, a benchmark: no step holds the lock
#: yet) waits for another writer before it gives up, naming it.
BARE_WRITE_WAIT_S = 600.0


@cache
def read_sql(name: str) -> str:
    """The text of ``warehouse/sql/<name>.sql`` (SQL is kept in files, loaded by name)."""
    return (_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _sqlite_path(catalog: str) -> Path | None:
    """The catalog file of a ``sqlite:`` catalog (None for PostgreSQL)."""
    if catalog.startswith("sqlite:"):
        return Path(catalog.removeprefix("sqlite:"))
    if catalog.startswith(("postgres:", "postgresql:")):
        return None
    # DuckLake treats a bare path as a DuckDB-file catalog, which admits a single process:
    # exactly what the lake exists to avoid, so refuse it by name.
    raise WarehouseError(
        f"warehouse catalog {catalog!r}: expected 'sqlite:<file>' or 'postgres:dbname=… host=…'"
    )


_LIBPQ_PAIR = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def _libpq(conninfo: str) -> dict[str, str]:
    """A libpq ``key=value`` string as a dict (quoted values unquoted)."""
    pairs: dict[str, str] = {}
    for key, raw in _LIBPQ_PAIR.findall(conninfo):
        value = raw
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        pairs[key.lower()] = value
    return pairs


def _conninfo(pairs: dict[str, str]) -> str:
    def quote(value: str) -> str:
        if value and not re.search(r"[\s'\\]", value):
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{k}={quote(v)}" for k, v in pairs.items())


def postgres_catalog(settings: Settings, *, read_only: bool) -> tuple[str, dict[str, str]]:
    """The ``postgres:…`` catalog spec without credentials, and the credentials apart.

    Why apart: DuckDB shows an attached database's path to anyone who asks
    (``duckdb_databases()``), so a password inside the spec would be printed; a
    ``postgres`` secret holds it instead, and ``duckdb_secrets()`` redacts secrets. Read-only
    sessions log in as ``warehouse_reader_user`` when the deployment configures one (a role
    with SELECT only, see docs/deployment.md), so even a statement that slipped past every
    other check could not change the catalog.
    """
    conninfo = settings.lake_catalog.split(":", 1)[1]
    pairs = _libpq(conninfo)
    credentials: dict[str, str] = {}
    if read_only and settings.warehouse_reader_user:
        pairs["user"] = settings.warehouse_reader_user
        pairs.pop("password", None)
        if settings.warehouse_reader_password is not None:
            pairs["password"] = settings.warehouse_reader_password.get_secret_value()
    if "password" in pairs:
        credentials["password"] = pairs.pop("password")
    return "postgres:" + _conninfo(pairs), credentials


def secret_values(settings: Settings) -> list[str]:
    """Every secret a message could leak (redacted from analysts' errors)."""
    values: list[str] = []
    catalog = settings.lake_catalog
    if catalog.startswith(("postgres:", "postgresql:")):
        password = _libpq(catalog.split(":", 1)[1]).get("password")
        if password:
            values.append(password)
    for secret in (settings.warehouse_s3_secret, settings.warehouse_reader_password):
        if secret is not None and secret.get_secret_value():
            values.append(secret.get_secret_value())
    return values


@dataclass(frozen=True)
class _AttachTarget:
    """Where a lake is, resolved once for both :func:`connect` and :func:`attach_script`."""

    catalog: str  # "sqlite:/abs/path" or a libpq "postgres:…" string (no password in it)
    sqlite_file: Path | None
    data_path: str  # absolute, "/"-terminated for a local lake
    is_s3: bool
    credentials: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def extensions(self) -> list[str]:
        scanner = "sqlite_scanner" if self.sqlite_file is not None else "postgres_scanner"
        return ["ducklake", scanner] + (["httpfs"] if self.is_s3 else [])

    def attach_statement(self, *, read_only: bool) -> str:
        options = [f"DATA_PATH {_literal(self.data_path)}"]
        if not self.is_s3:
            # The catalog keeps the data path it was created with ("data/demo/warehouse/"),
            # and its files relative to it. A local lake is wherever its data dir is now:
            # opened by another path, from another directory, moved or restored from a
            # backup. The override is per session; nothing is written to the catalog.
            options.append("OVERRIDE_DATA_PATH true")
        if read_only:
            options.append("READ_ONLY")
        return f"ATTACH {_literal('ducklake:' + self.catalog)} AS {LAKE} ({', '.join(options)})"


def _attach_target(settings: Settings, *, read_only: bool) -> _AttachTarget:
    """Absolute paths, so the lake opens the same from any working directory."""
    catalog = settings.lake_catalog
    data_path = settings.lake_data
    sqlite_file = _sqlite_path(catalog)
    is_s3 = data_path.startswith(("s3://", "s3a://", "gs://", "r2://"))
    credentials: dict[str, str] = {}
    if sqlite_file is not None:
        sqlite_file = sqlite_file.resolve()
        catalog = f"sqlite:{sqlite_file}"
    else:
        catalog, credentials = postgres_catalog(settings, read_only=read_only)
    if not is_s3:
        data_path = str(Path(data_path).resolve()) + "/"
    return _AttachTarget(catalog, sqlite_file, data_path, is_s3, credentials)


def connect(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``aircarbon`` and made the default.

    Tables are then named bare (``select * from daily``). Read-write connections create an
    empty lake on first use (apply :func:`warehouse.migrate` before loading); read-only ones
    require it to exist. Session time zone is UTC, as the stored times are.
    """
    target = _attach_target(settings, read_only=read_only)
    sqlite_file, data_path = target.sqlite_file, target.data_path
    if sqlite_file is not None and read_only and not sqlite_file.is_file():
        raise WarehouseError(
            f"no warehouse at {sqlite_file}: nothing has been loaded yet "
            "(run `aircarbon process …` or `aircarbon demo`)"
        )
    if sqlite_file is not None and not read_only:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_s3 and not read_only:
        Path(data_path).mkdir(parents=True, exist_ok=True)

    try:
        con = duckdb.connect(
            ":memory:",
            config={
                # Never reach for the network to fetch an extension (air-gapped sites).
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
    except duckdb.Error as exc:  # pragma: no cover - only on a broken installation
        raise warehouse_error("cannot start DuckDB", exc) from exc
    try:
        for name in target.extensions:
            load_extension(con, name)
        if target.is_s3:
            configure_s3(con, settings)
        if target.credentials:
            con.execute(
                "CREATE OR REPLACE SECRET aircarbon_catalog (TYPE postgres, PASSWORD "
                f"{_literal(target.credentials['password'])})"
            )
        attach = target.attach_statement(read_only=read_only)
        try:
            con.execute(attach)
        except duckdb.Error as exc:
            from warehouse.readonly import redact

            first = redact(str(exc).strip().splitlines()[0], secret_values(settings))
            raise WarehouseError(
                f"cannot open the warehouse (ducklake:{target.catalog}): {first}"
            ) from None
        con.execute(f"USE {LAKE}")
        con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            con.execute(f"SET VARIABLE {_LOCK_VARIABLE} = ?", [str(settings.data_dir)])
        if read_only:
            _lock_down(con, data_path=data_path, is_s3=target.is_s3)
    except BaseException:
        con.close()
        raise
    return con


def _lock_down(con: duckdb.DuckDBPyConnection, *, data_path: str, is_s3: bool) -> None:
    """Forbid file access outside the lake and freeze the configuration (read-only sessions).

    ``READ_ONLY`` protects the lake itself (and DuckLake opens its metadata catalog read-only
    with it); this closes the file-system side doors: reading arbitrary files, ATTACH of a
    DuckDB file elsewhere, COPY TO outside the lake. On an ``s3://`` lake the allowed
    directory is the lake's prefix (httpfs honours it), so local files are out of reach
    there too. What DuckDB settings cannot close (USE/DETACH, the SQLite extension's own
    file access, writes inside the lake's folder, DuckLake maintenance functions) the
    statement check of :mod:`warehouse.readonly` refuses.
    """
    root = data_path if is_s3 else str(Path(data_path).resolve())
    con.execute("SET allowed_directories = ?", [[root.rstrip("/") + "/"]])
    # No allowed_paths of our own: DuckDB adds the attached catalog file itself, and the
    # folder holding it (the data directory) must stay closed.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def connect_readonly(data_dir: Path | str | None = None) -> ReadOnlySession:
    """The analysts' helper: a :class:`~warehouse.readonly.ReadOnlySession` on the lake.

    Settings come from the environment (``AIRCARBON_*``, ``AIRCARBON_CONFIG``) as for the
    CLI; ``data_dir`` overrides ``AIRCARBON_DATA_DIR``. Tables are named bare::

        from aircarbon.analyst import connect
        con = connect()
        con.sql("select station, date, aqi from aqi_daily order by date desc").pl()
    """
    from aircarbon.core.settings import load_settings

    settings = load_settings(data_dir=Path(data_dir) if data_dir is not None else None)
    return open_session(settings)


def open_session(settings: Settings) -> ReadOnlySession:
    """A read-only session (statements checked, secrets redacted) on ``settings``' lake."""
    from warehouse.readonly import ReadOnlySession

    con = connect(settings, read_only=True)
    try:
        return ReadOnlySession(con, secrets=secret_values(settings))
    except BaseException:
        con.close()
        raise


@contextlib.contextmanager
def load_lock(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Hold the data directory's writer lock for one write (loads, migrations, compaction).

    Two processes committing to one SQLite catalog fail with "database is locked", and two
    runs of one interval race each other's delete-and-insert on any catalog, so every write
    takes :func:`aircarbon.core.writer_lock.writer_lock`. The pipeline steps already hold it for
    the whole step (re-entrant: this is then free); a write through a bare connection waits
    up to :data:`BARE_WRITE_WAIT_S` for another writer. Read-only connections carry no data
    directory and never get here with anything to write.
    """
    from aircarbon.core.writer_lock import writer_lock

    try:
        row = con.execute(f"SELECT getvariable('{_LOCK_VARIABLE}')").fetchone()
    except duckdb.Error as exc:
        raise warehouse_error("cannot read the writer-lock setting", exc) from exc
    path = row[0] if row else None
    if not path:
        yield
        return
    with writer_lock(Path(path), command="warehouse write", wait_s=BARE_WRITE_WAIT_S):
        yield


def set_commit_message(con: duckdb.DuckDBPyConnection, message: str) -> None:
    """Name the open transaction's snapshot, so ``ducklake_snapshots()`` says what each load was."""
    con.execute(f"CALL ducklake_set_commit_message('{LAKE}', 'aircarbon', ?)", [message])


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is still open (a failed COMMIT has already ended it)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def attach_script(settings: Settings, *, read_only: bool = True) -> str:
    """SQL that opens this lake from any DuckDB client of this DuckDB version, offline.

    For analysts' own tools (the DuckDB CLI, Jupyter, DBeaver's DuckDB driver): a plain
    ``ATTACH 'ducklake:…'`` makes DuckDB download the ducklake extension, which fails on an
    air-gapped site, and needs the data path the catalog was created with. This script
    loads the extensions shipped in the installed wheels by file and attaches with absolute
    paths. A PostgreSQL catalog's password is never printed: the client reads it from
    ``PGPASSWORD`` or ``~/.pgpass``, as libpq does.
    """
    target = _attach_target(settings, read_only=read_only)
    lines = [
        f"-- AirCarbon lake, DuckDB {duckdb.__version__} (extensions from the installed wheels)",
        "SET autoinstall_known_extensions = false;",
        "SET autoload_known_extensions = false;",
        *(f"LOAD {_literal(str(extension_file(name)))};" for name in target.extensions),
    ]
    if target.is_s3:
        lines.append("-- object storage: CREATE SECRET (TYPE s3, ...) with your credentials here")
    lines += [
        target.attach_statement(read_only=read_only) + ";",
        f"USE {LAKE};",
        "SET TimeZone = 'UTC';",
    ]
    return "\n".join(lines) + "\n"
