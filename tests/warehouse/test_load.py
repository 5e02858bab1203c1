"""Partition loads: idempotent, isolated, logged, and readable back through time travel."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import polars.testing
import pytest

import warehouse
from aircarbon.core.catalog import load_catalog
from aircarbon.core.contracts import AQI_HOURLY, HOURLY, READINGS
from aircarbon.core.errors import WarehouseError
from aircarbon.core.settings import Settings
from ingest.dead_letter import dead_letter_schema
from tests.warehouse.conftest import HOUR, daily_frame, hourly_frame
from transforms.raw import read_dead_letters

H = dt.timedelta(hours=1)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_loading_the_same_hour_twice_changes_nothing(lake: duckdb.DuckDBPyConnection) -> None:
    frame = hourly_frame(HOUR)
    first = warehouse.load_hour(lake, "hourly", frame, HOUR)
    before = lake.sql("select * from hourly order by station, param").pl()
    second = warehouse.load_hour(lake, "hourly", frame, HOUR)
    after = lake.sql("select * from hourly order by station, param").pl()
    assert (first.rows, first.checksum) == (second.rows, second.checksum) == (6, first.checksum)
    polars.testing.assert_frame_equal(before, after)
    log = lake.execute(
        "select rows, checksum from load_log where table_name = 'hourly' order by loaded_at"
    ).fetchall()
    assert log == [(6, first.checksum), (6, first.checksum)]
    # what went in comes out, types and all
    polars.testing.assert_frame_equal(after, frame.sort("station", "param"), check_dtypes=True)


def test_checksum_ignores_row_order_and_sees_changes(lake: duckdb.DuckDBPyConnection) -> None:
    frame = hourly_frame(HOUR)
    a = warehouse.load_hour(lake, "hourly", frame, HOUR)
    b = warehouse.load_hour(lake, "hourly", frame.reverse(), HOUR)
    c = warehouse.load_hour(lake, "hourly", hourly_frame(HOUR, offset=0.5), HOUR)
    assert a.checksum == b.checksum != c.checksum


def test_a_partition_replace_changes_only_that_partition(lake: duckdb.DuckDBPyConnection) -> None:
    for k in range(3):
        warehouse.load_hour(lake, "hourly", hourly_frame(HOUR + k * H), HOUR + k * H)
    others = "select * from hourly where ts <> $ts order by ts, station, param"
    before = lake.execute(others, {"ts": HOUR + H}).pl()
    result = warehouse.load_hour(
        lake, "hourly", hourly_frame(HOUR + H, stations=1, offset=100), HOUR + H
    )
    assert result.rows == 2
    polars.testing.assert_frame_equal(lake.execute(others, {"ts": HOUR + H}).pl(), before)
    replaced = lake.execute(
        "select value from hourly where ts = $ts order by value", {"ts": HOUR + H}
    )
    assert [v for (v,) in replaced.fetchall()] == [100.0, 101.0]


def test_rows_outside_the_partition_are_refused_atomically(lake: duckdb.DuckDBPyConnection) -> None:
    warehouse.load_hour(lake, "hourly", hourly_frame(HOUR), HOUR)
    snapshot = warehouse.current_snapshot(lake)
    stray = pl.concat([hourly_frame(HOUR), hourly_frame(HOUR + H)])
    with pytest.raises(WarehouseError, match="6 of 12 rows fall outside the partition"):
        warehouse.load_hour(lake, "hourly", stray, HOUR)
    assert warehouse.current_snapshot(lake) == snapshot  # nothing committed
    assert _count(lake, "select count(*) from hourly") == 6


def test_readings_hour_is_right_closed(lake: duckdb.DuckDBPyConnection) -> None:
    def reading(ts: dt.datetime) -> dict[str, object]:
        return {
            "station": "ST-00", "param": "pm25", "ts": ts, "value": 1.0, "flag": "N",
            "period_s": 60, "source": "json", "received_at": ts, "revisions": 0,
            "qc": ["spike"], "valid": False,
        }  # fmt: skip

    frame = pl.DataFrame(
        [reading(HOUR - H + dt.timedelta(minutes=1)), reading(HOUR)], schema=READINGS
    )
    assert warehouse.load_hour(lake, "readings", frame, HOUR).rows == 2
    with pytest.raises(WarehouseError, match="outside the partition"):
        warehouse.load_hour(
            lake, "readings", pl.DataFrame([reading(HOUR - H)], schema=READINGS), HOUR
        )
    assert lake.execute("select qc from readings limit 1").fetchone() == (["spike"],)


def test_nested_aqi_columns_round_trip(lake: duckdb.DuckDBPyConnection) -> None:
    row = {
        "station": "ST-00", "ts": HOUR, "aqi": 112, "level": 3, "category": "Lightly polluted",
        "category_zh": "轻度污染", "color": "#FF7E00", "primary_pollutants": ["pm25"],
        "iaqi": [{"pollutant": "pm25", "concentration": 84.0, "iaqi": 112},
                 {"pollutant": "o3", "concentration": 60.0, "iaqi": 19}],
        "standard": "HJ 633-2012",
    }  # fmt: skip
    frame = pl.DataFrame([row], schema=AQI_HOURLY)
    warehouse.load_hour(lake, "aqi_hourly", frame, HOUR)
    back = lake.sql("select * from aqi_hourly").pl()
    polars.testing.assert_frame_equal(back, frame)


def test_load_day_by_date_and_by_local_day(lake: duckdb.DuckDBPyConnection) -> None:
    day = dt.date(2026, 11, 24)
    assert warehouse.load_day(lake, "daily", daily_frame(day), day).rows == 1
    assert warehouse.load_day(lake, "daily", daily_frame(day, value=40.0), day).rows == 1
    assert lake.execute("select value from daily").fetchall() == [(40.0,)]
    # hours ending in (00:00, 24:00] Asia/Shanghai = (16:00, 16:00] UTC of the previous day
    first = dt.datetime(2026, 11, 23, 17, tzinfo=dt.UTC)
    last = dt.datetime(2026, 11, 24, 16, tzinfo=dt.UTC)
    frame = pl.concat([hourly_frame(first, stations=1), hourly_frame(last, stations=1)])
    result = warehouse.load_day(lake, "hourly", frame, day)
    assert result.rows == 4
    assert result.partition.startswith("ts=(2026-11-23 16:00:00+00:00")
    with pytest.raises(WarehouseError, match="outside"):
        warehouse.load_day(lake, "hourly", hourly_frame(last + H, stations=1), day)


def test_time_travel_returns_the_old_rows(lake: duckdb.DuckDBPyConnection) -> None:
    warehouse.load_hour(lake, "hourly", hourly_frame(HOUR), HOUR)
    old = warehouse.current_snapshot(lake)
    result = warehouse.load_hour(lake, "hourly", hourly_frame(HOUR, offset=1000), HOUR)
    assert result.snapshot_before == old
    assert result.snapshot > old
    now_sum = _count(lake, "select sum(value)::BIGINT from hourly")
    then = lake.execute(f"select sum(value)::BIGINT from hourly AT (VERSION => {old})").fetchone()
    assert then is not None
    assert now_sum - then[0] == 6 * 1000
    message = lake.execute(
        "select commit_message from ducklake_snapshots('aircarbon') where snapshot_id = ?",
        [result.snapshot],
    ).fetchone()
    assert message is not None
    assert message[0].startswith("load hourly ts=(")
    logged = lake.execute(
        "select snapshot from load_log order by loaded_at desc limit 1"
    ).fetchone()
    assert logged == (old,)


def test_load_dimensions_from_the_catalog(lake: duckdb.DuckDBPyConnection) -> None:
    catalog = load_catalog()
    stations, parameters = warehouse.load_dimensions(lake, catalog)
    assert stations.rows == len(catalog.stations)
    assert parameters.rows == len(catalog.parameters)
    assert stations.snapshot == parameters.snapshot  # one transaction
    again = warehouse.load_dimensions(lake, catalog)
    assert [r.checksum for r in again] == [stations.checksum, parameters.checksum]
    row = lake.execute("select unit, param_group from parameters where param = 'co'").fetchone()
    assert row == (catalog.parameter("co").unit, "criteria")
    assert _count(lake, "select count(*) from parameters where mir is not null") > 0


def test_load_dead_letters_from_the_store(
    lake: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = dt.date(2026, 11, 24)
    folder = settings.data_dir / "dead_letter" / f"date={day}"
    folder.mkdir(parents=True)
    received = dt.datetime(2026, 11, 24, 3, tzinfo=dt.UTC)
    table = pa.Table.from_pylist(
        [{"received_at": received, "topic": "aircarbon/v1/X/readings", "station": "X",
          "reason": "bad_json", "param": None, "detail": "not JSON", "payload": b"\xff{",
          "payload_size": 2}],
        schema=dead_letter_schema(),
    )  # fmt: skip
    pq.write_table(table, folder / "c1.parquet")
    (folder / ".c2.parquet.tmp").write_bytes(b"half-written")
    first = warehouse.load_dead_letters(lake, read_dead_letters(settings.data_dir, day), day)
    second = warehouse.load_dead_letters(lake, read_dead_letters(settings.data_dir, day), day)
    assert first is not None
    assert second is not None
    assert (first.rows, first.checksum) == (second.rows, second.checksum) == (1, first.checksum)
    assert lake.execute("select payload from dead_letter").fetchone() == (b"\xff{",)
    assert (
        warehouse.load_dead_letters(
            lake, read_dead_letters(settings.data_dir, day + dt.timedelta(days=1)), day
        )
        is None
    )


def test_dead_letters_of_one_message_share_its_payload_in_the_lake(
    lake: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    """The store keeps a payload once per message; the lake keeps the id that finds it."""
    from ingest.dead_letter import DeadLetterBatch
    from ingest.raw_store import write_dead_letters
    from ingest.reasons import RejectReason

    received = dt.datetime(2026, 11, 24, 3, tzinfo=dt.UTC)
    received_us = int(received.timestamp() * 1_000_000)
    batch = DeadLetterBatch(4096)
    payload = json.dumps({"station": "X", "readings": {"p1": 1, "p2": 2, "p3": 3}}).encode()
    batch.append_message(
        received_us,
        "aircarbon/v1/X/readings",
        "X",
        [(RejectReason.UNKNOWN_PARAM, f"p{i}", f"unknown parameter 'p{i}'") for i in (1, 2, 3)],
        payload,
    )
    write_dead_letters(batch.to_arrow(), settings.data_dir / "dead_letter", "test")
    loaded = warehouse.load_dead_letters(
        lake, read_dead_letters(settings.data_dir, received.date()), received.date()
    )
    assert loaded is not None
    assert loaded.rows == 3
    assert _count(lake, "select count(payload) from dead_letter") == 1
    found = lake.execute(
        "select d.param, p.payload from dead_letter d "
        "join dead_letter p on p.message_id = d.message_id and p.payload is not null "
        "order by d.param"
    ).fetchall()
    assert found == [("p1", payload), ("p2", payload), ("p3", payload)]


def test_load_validation_runs_replaces_by_run_id(lake: duckdb.DuckDBPyConnection) -> None:
    start = dt.datetime(2026, 11, 24, 10, 5, tzinfo=dt.UTC)
    run = {
        "run_id": "r1", "suite": "hourly", "batch": "hour=2026-11-24T10:00Z",
        "started_at": start, "finished_at": start + dt.timedelta(seconds=2), "success": False,
        "severity_max": "warning", "evaluated": 8, "successful": 7, "unsuccessful": 1,
        "failed_expectations": [{"type": "expect_column_values_to_be_between", "column": "value"}],
    }  # fmt: skip
    warehouse.load_validation_runs(lake, [run])
    warehouse.load_validation_runs(lake, [run | {"success": True}, run | {"run_id": "r2"}])
    rows = lake.execute(
        "select run_id, success, failed_expectations, lake_snapshot "
        "from validation_runs order by run_id"
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("r1", True), ("r2", False)]
    assert json.loads(rows[0][2])[0]["column"] == "value"
    assert all(isinstance(r[3], int) for r in rows)
    with pytest.raises(WarehouseError, match="unknown fields"):
        warehouse.load_validation_runs(
            lake, [{"run_id": "x", "suite": "s", "success": True, "bogus": 1}]
        )


def test_bad_inputs_are_one_line_warehouse_errors(lake: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(WarehouseError, match="timezone-aware"):
        warehouse.load_hour(lake, "hourly", hourly_frame(HOUR), HOUR.replace(tzinfo=None))
    with pytest.raises(WarehouseError, match="on the hour"):
        warehouse.load_hour(lake, "hourly", hourly_frame(HOUR), HOUR + dt.timedelta(minutes=5))
    with pytest.raises(WarehouseError, match="cannot load table 'load_log'"):
        warehouse.replace_partition(lake, "load_log", pl.DataFrame(), {})
    with pytest.raises(WarehouseError, match="columns the table lacks"):
        warehouse.load_hour(lake, "hourly", hourly_frame(HOUR).with_columns(extra=1), HOUR)
    with pytest.raises(WarehouseError, match="not a column"):
        warehouse.replace_partition(lake, "hourly", pl.DataFrame(schema=HOURLY), {"nope": 1})


@pytest.mark.slow
def test_compact_keeps_data_and_time_travel(
    lake: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    for k in range(5):
        warehouse.load_hour(lake, "hourly", hourly_frame(HOUR + k * H), HOUR + k * H)
    old = warehouse.current_snapshot(lake)
    warehouse.load_hour(lake, "hourly", hourly_frame(HOUR, offset=5), HOUR)
    before = lake.sql("select * from hourly order by ts, station, param").pl()
    warehouse.compact(lake)
    polars.testing.assert_frame_equal(
        lake.sql("select * from hourly order by ts, station, param").pl(), before
    )
    assert _count(lake, f"select count(*) from hourly AT (VERSION => {old})") == 30
    assert list(Path(settings.lake_data).rglob("*.parquet"))  # inlined rows were flushed


def test_read_only_connection_cannot_write(
    settings: Settings, lake: duckdb.DuckDBPyConnection
) -> None:
    reader = warehouse.connect(settings, read_only=True)
    with pytest.raises(duckdb.Error, match="read-only"):
        reader.execute("delete from hourly")
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        reader.execute(f"attach '{settings.data_dir / 'other.duckdb'}' as other")
    with pytest.raises(duckdb.Error, match="locked"):
        reader.execute("set enable_external_access = true")


def test_read_only_needs_an_existing_lake(tmp_path: Path) -> None:
    from aircarbon.core.settings import load_settings

    with pytest.raises(WarehouseError, match="no warehouse at"):
        warehouse.connect(load_settings({}, data_dir=tmp_path / "empty"), read_only=True)


def test_bad_catalog_spec_is_refused(tmp_path: Path) -> None:
    from aircarbon.core.settings import load_settings

    s = load_settings({}, data_dir=tmp_path, warehouse_catalog=str(tmp_path / "x.duckdb"))
    with pytest.raises(WarehouseError, match="expected 'sqlite:<file>'"):
        warehouse.connect(s)
