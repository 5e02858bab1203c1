"""``import_table``: wide exports as monitoring centres really have them.

Each messy-file feature of issue 17 has its test: UTF-8 with BOM and Windows line endings,
GBK, blank and ``—``/``NA``/``-``/``--`` cells, duplicate rows, ``24:00`` hours, a DST change
(Europe/Berlin: the repeated and the missing hour), plus the one-line errors, units and
idempotence (a second import lands nothing; ``force`` replaces).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import AirCarbonError, UnknownStationError, UnknownUnitError
from aircarbon.core.settings import Settings
from ingest.history import ImportRefused, import_table
from tests.ingest.history_helpers import CRITERIA, dead_rows, raw_rows, store_listing, write_network

UTC = dt.UTC


def _utc(year: int, month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def shenyang(tmp_path: Path) -> tuple[Settings, Catalog]:
    return write_network(tmp_path / "data", [{"id": "SY-01", "params": [*CRITERIA, "temp"]}])


MESSY = (
    "time,PM2.5,pm10,co,备注\r\n"
    "2024-01-01 01:00,12,30,0.5,ok\r\n"
    "2024-01-01 02:00,—,NA,-,x\r\n"
    "2024-01-01 03:00,--,31,,x\r\n"
    "2024-01-01 01:00,12,30,0.5,ok\r\n"
    "2024-01-01 24:00,15,40,0.7,y\r\n"
    "2024-01-02 03:00,abc,99999999,1.2,z\r\n"
)


def test_utf8_bom_crlf_markers_duplicates_and_24h(
    shenyang: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = shenyang
    path = tmp_path / "site.csv"
    path.write_bytes(b"\xef\xbb\xbf" + MESSY.encode("utf-8"))
    report = import_table(
        path, settings=settings, catalog=catalog, station="SY-01", time_column="time",
        rename={"PM2.5": "pm25"}, skip=["备注"],
    )  # fmt: skip
    assert report.status == "imported"
    assert report.skipped_markers == 5  # — NA - on line 3, -- and blank on line 4
    assert report.duplicates == 3
    assert report.conflicts == 0
    assert dict(report.rejected) == {"non_numeric": 1, "out_of_range": 1}
    assert report.readings == report.landed + report.duplicates + report.rejected_total
    rows = raw_rows(settings.data_dir)
    got = {(r["param"], r["ts"], r["value"]) for r in rows.iter_rows(named=True)}
    assert got == {
        ("pm25", _utc(2023, 12, 31, 17), 12.0),
        ("pm10", _utc(2023, 12, 31, 17), 30.0),
        ("co", _utc(2023, 12, 31, 17), 0.5),
        ("pm10", _utc(2023, 12, 31, 19), 31.0),
        # 24:00 of Jan 1 is Jan 2 00:00 Beijing time
        ("pm25", _utc(2024, 1, 1, 16), 15.0),
        ("pm10", _utc(2024, 1, 1, 16), 40.0),
        ("co", _utc(2024, 1, 1, 16), 0.7),
        ("co", _utc(2024, 1, 1, 19), 1.2),
    }
    assert set(rows["source"]) == {"import:table;file=site.csv"}
    assert set(rows["period_s"]) == {3600}
    assert set(rows["flag"]) == {"N"}
    received = rows["received_at"].min()
    assert isinstance(received, dt.datetime)
    assert received > _utc(2026, 1, 1, 0)  # import time, not the data's
    dead = dead_rows(settings.data_dir).sort("reason")
    assert dead.select("reason", "param", "topic").rows() == [
        ("non_numeric", "pm25", "import:table;file=site.csv;line=7"),
        ("out_of_range", "pm10", "import:table;file=site.csv;line=7"),
    ]
    assert b"abc" in dead["payload"][0]


def test_gbk_file_with_chinese_headers(shenyang: tuple[Settings, Catalog], tmp_path: Path) -> None:
    settings, catalog = shenyang
    path = tmp_path / "站点数据.csv"
    text = "监测时间,细颗粒物,一氧化碳\n2024-05-01 10:00,35,0.9\n2024-05-01 11:00,—,1.1\n"
    path.write_bytes(text.encode("gbk"))
    report = import_table(
        path, settings=settings, catalog=catalog, station="SY-01", time_column="监测时间",
        rename={"细颗粒物": "pm25", "一氧化碳": "co"},
    )  # fmt: skip
    assert (report.landed, report.skipped_markers) == (3, 1)
    rows = raw_rows(settings.data_dir)
    assert rows.filter(pl.col("param") == "pm25")["value"].to_list() == [35.0]
    assert set(rows["source"]) == {"import:table;file=站点数据.csv"}


def test_dst_change_in_europe_berlin(tmp_path: Path) -> None:
    """The repeated hour (2024-10-27 02:00 twice): first row summer time, second winter time;
    the missing hour (2024-03-31 02:00) does not exist and is refused, named in the detail."""
    settings, catalog = write_network(
        tmp_path / "data",
        [{"id": "B-01", "params": ["no2"]}],
        timezone="Europe/Berlin",
        city="berlin",
    )
    path = tmp_path / "berlin.csv"
    # as German Excel writes it: ';' separators, decimal commas
    path.write_text(
        "Zeit;no2\n"
        "31.03.2024 01:00;10\n31.03.2024 02:00;11\n31.03.2024 03:00;12\n"
        "27.10.2024 01:00;20\n27.10.2024 02:00;21\n27.10.2024 02:00;22\n27.10.2024 03:00;23,5\n",
        encoding="utf-8",
    )
    report = import_table(
        path, settings=settings, catalog=catalog, station="B-01", time_column="Zeit"
    )
    assert dict(report.rejected) == {"bad_timestamp": 1}
    rows = raw_rows(settings.data_dir)
    assert list(zip(rows["ts"], rows["value"], strict=True)) == [
        (_utc(2024, 3, 31, 0), 10.0),  # 01:00 CET
        (_utc(2024, 3, 31, 1), 12.0),  # 03:00 CEST
        (_utc(2024, 10, 26, 23), 20.0),  # 01:00 CEST
        (_utc(2024, 10, 27, 0), 21.0),  # 02:00 CEST, the first 02:00
        (_utc(2024, 10, 27, 1), 22.0),  # 02:00 CET, the second
        (_utc(2024, 10, 27, 2), 23.5),  # 03:00 CET
    ]
    dead = dead_rows(settings.data_dir)
    assert dead["detail"][0] == (
        "local time 31.03.2024 02:00 does not exist in Europe/Berlin (clocks went forward)"
    )
    assert dead["topic"][0].endswith(";line=3")


def test_offsets_are_exact_and_time_marks_start(
    shenyang: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    settings, catalog = shenyang
    path = tmp_path / "starts.csv"
    path.write_text("t,pm25\n2024-01-01T00:00:00+01:00,5\n2024-01-01 00:00,6\n", encoding="utf-8")
    report = import_table(
        path, settings=settings, catalog=catalog, station="SY-01", time_column="t",
        time_marks="start", period_s=3600, tz="Europe/Paris",
    )  # fmt: skip
    # both name the hour starting at midnight Paris time, which ENDS at 00:00Z: the same
    # reading twice with different values, and the later line wins
    assert (report.duplicates, report.conflicts) == (1, 1)
    rows = raw_rows(settings.data_dir)
    assert rows["ts"].to_list() == [_utc(2024, 1, 1, 0)]
    assert rows["value"].to_list() == [6.0]


def test_units_and_parquet(shenyang: tuple[Settings, Catalog], tmp_path: Path) -> None:
    settings, catalog = shenyang
    path = tmp_path / "site.parquet"
    pl.DataFrame(
        {
            "ts": [dt.datetime(2024, 2, 1, 1, tzinfo=UTC), dt.datetime(2024, 2, 1, 2, tzinfo=UTC)],
            "co": [500.0, None],
            "no2": [10.0, 20.0],
        }
    ).write_parquet(path)
    report = import_table(
        path, settings=settings, catalog=catalog, station="SY-01", time_column="ts",
        units={"co": "ug/m3", "no2": "ppb"},
    )  # fmt: skip
    assert (report.landed, report.skipped_markers) == (3, 1)
    rows = raw_rows(settings.data_dir)
    co = rows.filter(pl.col("param") == "co")
    assert co["value"].to_list() == [pytest.approx(0.5)]
    no2 = rows.filter(pl.col("param") == "no2")["value"].to_list()
    assert no2[0] == pytest.approx(catalog.to_canonical("no2", 10.0, "ppb"))
    assert no2[0] != 10.0


def test_one_line_errors(shenyang: tuple[Settings, Catalog], tmp_path: Path) -> None:
    settings, catalog = shenyang
    path = tmp_path / "site.csv"
    path.write_text("time,pm25,Luftdruck\n2024-01-01 01:00,1,1000\n", encoding="utf-8")
    kw: dict[str, Any] = {"settings": settings, "catalog": catalog, "time_column": "time"}
    with pytest.raises(ImportRefused, match="column 'Luftdruck' is neither a parameter"):
        import_table(path, station="SY-01", **kw)
    with pytest.raises(ImportRefused, match="station SY-01 does not measure pressure"):
        import_table(path, station="SY-01", rename={"Luftdruck": "pressure"}, **kw)
    with pytest.raises(UnknownStationError):
        import_table(path, station="NOPE", skip=["Luftdruck"], **kw)
    with pytest.raises(UnknownUnitError, match="accepted units"):
        import_table(path, station="SY-01", skip=["Luftdruck"], units={"pm25": "ppm"}, **kw)
    with pytest.raises(ImportRefused, match="no time column 'zeit'"):
        import_table(path, station="SY-01", **{**kw, "time_column": "zeit"})
    with pytest.raises(ImportRefused, match="not an IANA time zone"):
        import_table(path, station="SY-01", skip=["Luftdruck"], tz="Mars/Olympus", **kw)
    for exc in (ImportRefused, UnknownStationError, UnknownUnitError):
        assert issubclass(exc, AirCarbonError)
    assert store_listing(settings.data_dir) == []


def test_idempotent_and_force(shenyang: tuple[Settings, Catalog], tmp_path: Path) -> None:
    settings, catalog = shenyang
    path = tmp_path / "site.csv"
    path.write_bytes(MESSY.encode("utf-8"))
    kw: dict[str, Any] = {
        "settings": settings, "catalog": catalog, "station": "SY-01", "time_column": "time",
        "rename": {"PM2.5": "pm25"}, "skip": ["备注"],
    }  # fmt: skip
    first = import_table(path, **kw)
    listing = store_listing(settings.data_dir)
    rows = raw_rows(settings.data_dir)
    # the same bytes under another name are the same import
    copy = tmp_path / "copy of site.csv"
    copy.write_bytes(path.read_bytes())
    again = import_table(copy, **kw)
    assert again.status == "already_imported"
    assert again.landed == first.landed
    assert again.files == []
    assert store_listing(settings.data_dir) == listing
    with pytest.raises(ImportRefused, match="imported before with other options"):
        import_table(path, **{**kw, "tz": "UTC"})
    forced = import_table(path, force=True, **kw)
    assert forced.status == "replaced"
    assert sorted(forced.files) == sorted(first.files)  # same names: overwritten
    assert raw_rows(settings.data_dir).drop("received_at").equals(rows.drop("received_at"))
    assert len(dead_rows(settings.data_dir)) == 2  # the earlier dead letters were replaced
    assert list((settings.data_dir / "imports").glob("*.json"))


def test_a_crash_before_the_manifest_is_rerun_without_duplicates(
    shenyang: tuple[Settings, Catalog], tmp_path: Path
) -> None:
    """Outputs have deterministic names: a re-run overwrites what a crashed run wrote."""
    settings, catalog = shenyang
    path = tmp_path / "site.csv"
    path.write_bytes(MESSY.encode("utf-8"))
    kw: dict[str, Any] = {
        "settings": settings, "catalog": catalog, "station": "SY-01", "time_column": "time",
        "rename": {"PM2.5": "pm25"}, "skip": ["备注"], "progress": True,
    }  # fmt: skip
    import_table(path, **kw)
    listing = store_listing(settings.data_dir)
    rows, dead = raw_rows(settings.data_dir), dead_rows(settings.data_dir)
    for manifest in (settings.data_dir / "imports").glob("*.json"):
        manifest.unlink()  # as if the process died before writing it
    rerun = import_table(path, **kw)
    assert rerun.status == "imported"
    assert store_listing(settings.data_dir) == listing
    assert raw_rows(settings.data_dir).height == rows.height
    assert dead_rows(settings.data_dir).height == dead.height


def test_platform_export_of_several_stations(tmp_path: Path) -> None:
    """--station-column: one wide file for the network, each row checked like a long file's,
    one raw file per hour for all its stations."""
    settings, catalog = write_network(
        tmp_path / "data",
        [{"id": "SY-01", "params": CRITERIA}, {"id": "SY-02", "params": ["pm25", "pm10"]}],
    )
    path = tmp_path / "platform.csv"
    path.write_text(
        "站点,时间,pm25,co\n"
        "SY-01,2024-01-01 01:00,10,0.5\n"
        "SY-02,2024-01-01 01:00,20,0.6\n"
        "SY-09,2024-01-01 01:00,30,0.7\n"
        "SY-01,2024-01-01 02:00,11,—\n",
        encoding="utf-8",
    )
    report = import_table(
        path, settings=settings, catalog=catalog, station_column="站点", time_column="时间"
    )
    assert dict(report.rejected) == {"param_not_measured": 1, "unknown_station": 2}
    assert (report.landed, report.skipped_markers) == (4, 1)
    assert len(report.files) == 2  # two hours, every station in each hour's one file
    rows = raw_rows(settings.data_dir)
    assert rows.select("station", "param", "value").rows() == [
        ("SY-01", "co", 0.5),
        ("SY-01", "pm25", 10.0),
        ("SY-01", "pm25", 11.0),
        ("SY-02", "pm25", 20.0),
    ]
    with pytest.raises(ImportRefused, match="either --station ID or --station-column COL"):
        import_table(path, settings=settings, catalog=catalog, time_column="时间")
