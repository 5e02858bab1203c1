"""DuckDB set-up shared by the layers: extensions loaded offline, the object store, errors.

The warehouse (the lake), ``ingest.raw_sync`` (shipping raw files to the same bucket) and
``aircarbon doctor`` all need the same three things from DuckDB; keeping them on the ground
floor lets ingest ship to object storage without importing the warehouse layer.

Extensions are loaded from the ``duckdb-extension-*`` wheels pinned in ``uv.lock`` by file
(never downloaded at run time), so a machine without internet opens the lake the same way.
"""

from __future__ import annotations

import importlib
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from aircarbon.core.errors import WarehouseError

if TYPE_CHECKING:
    from aircarbon.core.settings import Settings

__all__ = [
    "configure_s3",
    "extension_file",
    "load_extension",
    "object_store",
    "sql_literal",
    "storage_options",
    "warehouse_error",
]


def warehouse_error(action: str, exc: BaseException) -> WarehouseError:
    """Our one-line error for a DuckDB failure: ``"<action>: <first line of DuckDB's message>"``."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return WarehouseError(f"{action}: {first}")


def sql_literal(value: str) -> str:
    """A SQL string literal: ATTACH, LOAD and CREATE SECRET take no prepared parameters."""
    return "'" + value.replace("'", "''") + "'"


def extension_file(name: str) -> Path:
    """The extension's binary inside its pinned wheel (raises ModuleNotFoundError if absent)."""
    module = importlib.import_module(f"duckdb_extension_{name}")
    root = Path(str(importlib.resources.files(module)))
    return root / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD a DuckDB extension from its wheel, with a one-line error saying what to install."""
    try:
        path = extension_file(name)
    except ModuleNotFoundError:
        raise WarehouseError(
            f"DuckDB extension {name!r} is not installed: add duckdb-extension-"
            f"{name.replace('_', '-')}=={duckdb.__version__} to the environment"
        ) from None
    if not path.is_file():
        raise WarehouseError(
            f"DuckDB extension {name!r} has no build for duckdb {duckdb.__version__} ({path})"
        )
    try:
        con.execute(f"LOAD {sql_literal(str(path))}")
    except duckdb.Error as exc:
        raise warehouse_error(f"cannot load DuckDB extension {name!r}", exc) from exc


def configure_s3(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Load httpfs and, when credentials are configured, a secret for the lake's bucket."""
    load_extension(con, "httpfs")
    options: list[str] = ["TYPE s3"]
    if settings.warehouse_s3_key_id:
        options.append(f"KEY_ID {sql_literal(settings.warehouse_s3_key_id)}")
    if settings.warehouse_s3_secret is not None:
        options.append(f"SECRET {sql_literal(settings.warehouse_s3_secret.get_secret_value())}")
    if settings.warehouse_s3_region:
        options.append(f"REGION {sql_literal(settings.warehouse_s3_region)}")
    if settings.warehouse_s3_endpoint:
        endpoint = settings.warehouse_s3_endpoint
        use_ssl = not endpoint.startswith("http://")
        host = endpoint.split("://", 1)[-1].rstrip("/")
        # S3-compatible stores (MinIO, Ceph) on a private endpoint expect path-style URLs.
        options += [
            f"ENDPOINT {sql_literal(host)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if use_ssl else 'false'}",
        ]
    if len(options) > 1:
        try:
            con.execute(f"CREATE OR REPLACE SECRET aircarbon_s3 ({', '.join(options)})")
        except duckdb.Error as exc:
            raise warehouse_error("cannot configure S3 credentials", exc) from exc


def storage_options(settings: Settings) -> dict[str, str]:
    """Polars' (object_store's) ``storage_options`` for the same S3 settings as the lake's.

    What :func:`object_store` gives DuckDB, for Polars' cloud reader: keys, region, and a
    private endpoint addressed path-style (``http://`` allowed when the endpoint says so).
    """
    options: dict[str, str] = {}
    if settings.warehouse_s3_key_id:
        options["aws_access_key_id"] = settings.warehouse_s3_key_id
    if settings.warehouse_s3_secret is not None:
        options["aws_secret_access_key"] = settings.warehouse_s3_secret.get_secret_value()
    if settings.warehouse_s3_region:
        options["aws_region"] = settings.warehouse_s3_region
    if settings.warehouse_s3_endpoint:
        endpoint = settings.warehouse_s3_endpoint.rstrip("/")
        options["aws_endpoint_url"] = endpoint
        options["aws_virtual_hosted_style_request"] = "false"
        if endpoint.startswith("http://"):
            options["aws_allow_http"] = "true"
    return options


def object_store(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reads and writes ``s3://`` with the ``warehouse_s3_*`` settings.

    For what ships files to the same object store as the lake (``aircarbon raw sync``): one
    set of credentials and one endpoint per deployment, configured once.
    """
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        configure_s3(con, settings)
    except BaseException:
        con.close()
        raise
    return con
