"""Ship the raw store's files to object storage, same layout: durable locally first, then shipped.

A collector's guarantee rests on its *local* disk: a message is acknowledged once its readings
are in an fsynced, renamed Parquet file (``ingest/raw_store.py``). Writing straight to S3
instead would put a network round trip (and an outage of the object store) inside the ack
path. So a deployment with several collectors keeps that local step and ships afterwards:
``aircarbon raw sync`` copies every completed file of ``raw/``, ``dead_letter/`` and
``status/`` that is not yet at ``<raw_sync_url>/raw/date=…/hour=…/<same name>`` (and the
same for the other two), so the hourly and daily steps can read all three from the bucket
(``raw_source_url``). Files are immutable and their
names unique per collector (writer id), so the union of several collectors' uploads is the
union of their stores, and a re-run uploads only what is new (idempotent; run it from cron or
a systemd timer). A PUT is atomic, so a file appears in the bucket only when complete, as on
disk (docs/contract.md §3.1). Local files are kept: retention is a separate decision.

Files are rewritten by DuckDB's httpfs (same rows and types, not the same bytes), so no extra
S3 client is needed beside the lake's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    import duckdb

    from aircarbon.core.settings import Settings

__all__ = ["SyncResult", "sync_raw"]

#: The folders shipped, relative to the data directory (docs/contract.md §3.1).
FOLDERS = ("raw", "dead_letter", "status")


@dataclass
class SyncResult:
    """What one sync did: files uploaded and already present, per folder."""

    destination: str
    uploaded: list[str] = field(default_factory=list)
    present: int = 0

    def summary(self) -> dict[str, object]:
        return {
            "destination": self.destination,
            "uploaded": len(self.uploaded),
            "already_present": self.present,
        }


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sync_raw(settings: Settings, *, dry_run: bool = False) -> SyncResult:
    """Upload the completed raw, dead-letter and status files missing from ``raw_sync_url``."""
    import duckdb

    from aircarbon.core.duck import object_store, warehouse_error

    url = settings.raw_sync_url
    if not url or not url.startswith("s3://"):
        raise AirCarbonError("raw sync needs AIRCARBON_RAW_SYNC_URL=s3://bucket/prefix")
    base = url.rstrip("/")
    result = SyncResult(destination=base)
    con = object_store(settings)
    try:
        for folder in FOLDERS:
            root = settings.data_dir / folder
            if not root.is_dir():
                continue
            # hidden temporaries (.name.tmp) are not *.parquet: only complete files match
            local = sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))
            if not local:
                continue
            try:
                rows = con.execute(
                    "SELECT file FROM glob(?)", [f"{base}/{folder}/**/*.parquet"]
                ).fetchall()
            except duckdb.Error as exc:
                raise warehouse_error(f"cannot list {base}/{folder}", exc) from exc
            remote = {str(r[0]).removeprefix(base + "/") for r in rows}
            for path in local:
                key = path.relative_to(settings.data_dir).as_posix()
                if key in remote:
                    result.present += 1
                    continue
                if not dry_run:
                    _upload(con, path, f"{base}/{key}")
                result.uploaded.append(key)
    finally:
        con.close()
    return result


def _upload(con: duckdb.DuckDBPyConnection, path: Path, target: str) -> None:
    import duckdb

    from aircarbon.core.duck import warehouse_error

    try:
        con.execute(
            # hive_partitioning off: the path's date=/hour= must not become extra columns
            f"COPY (FROM read_parquet({_literal(str(path))}, hive_partitioning = false)) "
            f"TO {_literal(target)} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    except duckdb.Error as exc:
        raise warehouse_error(f"cannot upload {path.name} to {target}", exc) from exc
