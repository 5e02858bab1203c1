"""``aircarbon_station_groups``: the CeleryExecutor fan-out, one mapped task per station group.

An example DAG for the scale-out path (docs/scaling.md §3), kept out of ``dags/`` because it
does not load the lake: it shows, on real raw data, how an hour's work is fanned out with
dynamic task mapping — ``groups`` lists the station groups, ``raw_summary`` runs once per group
on whichever Celery worker is free (raw scan + de-duplication of that group's readings, through
the same library functions the hourly step uses), and ``collect`` gathers the groups' results.
The production version replaces ``raw_summary`` with the group's QC/aggregation writing a staged
frame and ``collect`` with the hour's one lake transaction (not built yet: see docs/scaling.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, task

GROUP_SIZE = 4  # stations per mapped task (100 or so in a real network)


@dag(
    dag_id="aircarbon_station_groups",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["aircarbon", "hourly", "scale-out", "example"],
    doc_md=__doc__,
    default_args={"owner": "aircarbon", "retries": 2, "retry_delay": dt.timedelta(minutes=1)},
)
def aircarbon_station_groups() -> None:
    @task
    def groups() -> list[list[str]]:
        """The catalog's stations cut into groups of GROUP_SIZE (one mapped task each)."""
        from aircarbon.core.catalog import catalog_for
        from aircarbon.core.settings import load_settings

        stations = sorted(catalog_for(load_settings()).stations)
        return [stations[i : i + GROUP_SIZE] for i in range(0, len(stations), GROUP_SIZE)]

    @task
    def raw_summary(
        group: list[str], data_interval_end: dt.datetime | None = None
    ) -> dict[str, Any]:
        """One group's raw hour ending at the interval's end: rows landed, readings after dedup."""
        import socket

        import polars as pl

        from aircarbon.core.settings import load_settings
        from transforms.raw import deduplicate, scan_raw

        assert data_interval_end is not None
        end = dt.datetime.fromtimestamp(data_interval_end.timestamp(), dt.UTC)
        raw = scan_raw(load_settings().data_dir, end - dt.timedelta(hours=1), end)
        mine = raw.filter(pl.col("station").is_in(group))
        landed = mine.select(pl.len()).collect().item()
        unique = deduplicate(mine).select(pl.len()).collect().item()
        return {
            "group": group,
            "raw_rows": landed,
            "readings": unique,
            "worker": socket.gethostname(),
        }

    @task
    def collect(results: list[dict[str, Any]]) -> dict[str, Any]:
        """The hour's totals over every group (the production DAG loads the lake here)."""
        return {
            "groups": len(results),
            "raw_rows": sum(r["raw_rows"] for r in results),
            "readings": sum(r["readings"] for r in results),
        }

    # an XComArg at parse time, the list of group results at run time
    collect(raw_summary.expand(group=groups()))  # type: ignore[arg-type]


aircarbon_station_groups()
