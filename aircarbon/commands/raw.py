"""``aircarbon raw sync``: ship the raw and dead-letter files to object storage (docs/scaling.md).

Only Typer at module level; DuckDB loads inside :func:`ingest.raw_sync.sync_raw`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(
    help="The raw store: ship completed files to object storage.", no_args_is_help=True
)


@app.command("sync")
def sync_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be uploaded; upload nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON summary line.")] = False,
) -> None:
    """Upload completed raw/ and dead_letter/ files missing from AIRCARBON_RAW_SYNC_URL.

    Same layout (raw/date=…/hour=…/<file>), idempotent, local files kept: run it from a timer
    on every collector host. Credentials and endpoint: AIRCARBON_WAREHOUSE_S3_*.
    """
    from aircarbon.core.settings import load_settings
    from ingest.raw_sync import sync_raw

    result = sync_raw(load_settings(), dry_run=dry_run)
    if as_json:
        print(json.dumps({**result.summary(), "dry_run": dry_run}))
        return
    verb = "would upload" if dry_run else "uploaded"
    for key in result.uploaded:
        print(f"{verb} {key}")
    print(
        f"{verb} {len(result.uploaded)} file(s) to {result.destination}; "
        f"{result.present} already there"
    )
