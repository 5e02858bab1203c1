"""The stations dimension keeps its history (SCD type 2, migration 0011) on a real DuckLake.

The network file changes through the commands' library functions (add, retire) and a hand
edit (a moved station); each ``load_dimensions`` on a later local day must keep the old
row closed and open a new one, and the analyst objects joining ``stations`` must still
count every station once.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import polars as pl

import warehouse
from aircarbon.core.catalog import (
    add_stations,
    catalog_for,
    init_network,
    retire_station,
    station_row,
)
from aircarbon.core.contracts import DAILY
from aircarbon.core.settings import Settings, load_settings

D1 = dt.date(2026, 3, 1)
D2 = dt.date(2026, 3, 10)
D3 = dt.date(2026, 4, 2)


def _rows(lake: duckdb.DuckDBPyConnection, station: str) -> list[tuple[object, ...]]:
    return lake.execute(
        "SELECT lat, name_en, valid_from, valid_to, is_current FROM stations "
        "WHERE station = ? ORDER BY valid_from NULLS FIRST",
        [station],
    ).fetchall()


def _network(tmp_path: Path) -> Settings:
    settings = load_settings({}, data_dir=tmp_path / "net")
    init_network(settings, city="berlin", timezone="Europe/Berlin")
    rows = [
        (f"row {i}", station_row(sid, type="national", lat=52.5 + i / 100, lon=13.4,
                                 params="@criteria", name_en=sid, valid_from="2025-01-01"))
        for i, sid in enumerate(("BE-01", "BE-02", "BE-03"))
    ]  # fmt: skip
    add_stations(settings, rows)
    return settings


def _move(settings: Settings, station: str, lat: float) -> None:
    """A hand edit of the network file: the station moved (its lat changes)."""
    path = settings.data_dir / "network.toml"
    text = path.read_text(encoding="utf-8")
    head, sep, tail = text.partition(f'id = "{station}"')
    before, lat_key, rest = tail.partition("lat = ")
    rest = rest.split("\n", 1)[1]
    path.write_text(f"{head}{sep}{before}{lat_key}{lat}\n{rest}", encoding="utf-8")


def test_versions_close_and_open(tmp_path: Path, lake: duckdb.DuckDBPyConnection) -> None:
    settings = _network(tmp_path)
    first = warehouse.load_dimensions(lake, catalog_for(settings), today=D1)[0]
    assert first.rows == 3
    assert _rows(lake, "BE-01") == [(52.5, "BE-01", dt.date(2025, 1, 1), None, True)]
    # unchanged network: nothing written, no new snapshot
    again = warehouse.load_dimensions(lake, catalog_for(settings), today=D2)[0]
    assert again.snapshot == first.snapshot

    _move(settings, "BE-02", 52.61)
    retire_station(settings, "BE-03", D2)
    warehouse.load_dimensions(lake, catalog_for(settings), today=D2)
    assert _rows(lake, "BE-02") == [
        (52.51, "BE-02", dt.date(2025, 1, 1), D2 - dt.timedelta(days=1), False),
        (52.61, "BE-02", D2, None, True),
    ]
    # retired: the one row closed on its last day, no new version
    assert _rows(lake, "BE-03") == [(52.52, "BE-03", dt.date(2025, 1, 1), D2, True)]
    assert _rows(lake, "BE-01") == [(52.5, "BE-01", dt.date(2025, 1, 1), None, True)]

    # a second move the same day overwrites that day's version instead of adding an empty one
    _move(settings, "BE-02", 52.62)
    warehouse.load_dimensions(lake, catalog_for(settings), today=D2)
    assert [r[0] for r in _rows(lake, "BE-02")] == [52.51, 52.62]
    # a later move: three versions, contiguous
    _move(settings, "BE-02", 52.63)
    warehouse.load_dimensions(lake, catalog_for(settings), today=D3)
    versions = _rows(lake, "BE-02")
    assert [r[0] for r in versions] == [52.51, 52.62, 52.63]
    assert [r[4] for r in versions] == [False, False, True]
    for older, newer in itertools.pairwise(versions):
        assert older[3] == newer[2] - dt.timedelta(days=1)  # type: ignore[operator]


def test_analyst_objects_count_each_station_once(
    tmp_path: Path, lake: duckdb.DuckDBPyConnection
) -> None:
    settings = _network(tmp_path)
    warehouse.load_dimensions(lake, catalog_for(settings), today=D1)
    _move(settings, "BE-02", 52.61)
    warehouse.load_dimensions(lake, catalog_for(settings), today=D2)
    assert lake.execute("SELECT count(*) FROM stations").fetchone() == (4,)
    day = pl.DataFrame(
        [
            {"station": sid, "param": "pm25", "date": D2, "value": 40.0, "n": 24, "valid": True}
            for sid in ("BE-01", "BE-02")
        ],
        schema=DAILY,
    )
    warehouse.load_day(lake, "daily", day, D2, tz="Europe/Berlin")
    named = lake.execute(
        "SELECT station, station_name FROM daily_named ORDER BY station"
    ).fetchall()
    assert named == [("BE-01", "BE-01"), ("BE-02", "BE-02")]


def test_macros_count_the_networks_local_days(
    tmp_path: Path, lake: duckdb.DuckDBPyConnection
) -> None:
    """network_tz() follows the network file; completeness() counts Berlin's days by it."""
    from zoneinfo import ZoneInfo

    from tests.warehouse.conftest import hourly_frame

    assert lake.execute("SELECT network_tz()").fetchone() == ("Asia/Shanghai",)
    settings = _network(tmp_path)
    first = warehouse.load_dimensions(lake, catalog_for(settings), today=D1)[0]
    assert lake.execute("SELECT network_tz()").fetchone() == ("Europe/Berlin",)
    again = warehouse.load_dimensions(lake, catalog_for(settings), today=D1)[0]
    assert again.snapshot == first.snapshot  # the same zone: nothing rewritten
    berlin = ZoneInfo("Europe/Berlin")
    # the hour ending at Berlin midnight belongs to D2 (in Shanghai it would be D2 + 1)
    for end in (
        dt.datetime.combine(D2 + dt.timedelta(days=1), dt.time(0), tzinfo=berlin),
        dt.datetime.combine(D2 + dt.timedelta(days=1), dt.time(1), tzinfo=berlin),
    ):
        utc = end.astimezone(dt.UTC)
        warehouse.load_hour(lake, "hourly", hourly_frame(utc, stations=1), utc)
    rows = lake.execute(
        "SELECT param, valid_hours FROM completeness(?, ?) ORDER BY param", [D2, D2]
    ).fetchall()
    assert rows == [("o3", 1), ("pm25", 1)]
