"""The DuckLake warehouse: connection, schema migrations and idempotent partition loads.

Data flows one way into it (ingest → transforms → warehouse). Writers::

    con = warehouse.connect(settings)          # lake attached as `aircarbon`, default database
    warehouse.migrate(con)                     # idempotent; records versions in schema_migrations
    warehouse.load_hour(con, "hourly", frame, hour_end)

Readers (analysts, ``aircarbon sql``, bulletins)::

    con = warehouse.connect_readonly()         # or aircarbon.analyst.connect()
    con.sql("select * from daily").pl()

Errors of DuckDB/DuckLake surface as :class:`aircarbon.core.errors.WarehouseError`.
"""

from warehouse.lake import LAKE, connect, connect_readonly, load_lock
from warehouse.load import (
    LOADABLE_TABLES,
    Between,
    LoadResult,
    compact,
    current_snapshot,
    load_day,
    load_dead_letters,
    load_dimensions,
    load_hour,
    load_validation_runs,
    loaded_partitions,
    partition_stats,
    replace_partition,
)
from warehouse.migrate import applied_migrations, migrate, migrations

__all__ = [
    "LAKE",
    "LOADABLE_TABLES",
    "Between",
    "LoadResult",
    "applied_migrations",
    "compact",
    "connect",
    "connect_readonly",
    "current_snapshot",
    "load_day",
    "load_dead_letters",
    "load_dimensions",
    "load_hour",
    "load_lock",
    "load_validation_runs",
    "loaded_partitions",
    "migrate",
    "migrations",
    "partition_stats",
    "replace_partition",
]
