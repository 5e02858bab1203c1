"""The operator's network file: where it is found, how it is checked, how edits reload.

Real files in ``tmp_path``, the real loader; no mocks.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from aircarbon.core.catalog import (
    DEFAULT_CATALOG_DIR,
    add_stations,
    catalog_for,
    init_network,
    init_sample_network,
    load_catalog,
    network_path,
    retire_station,
    station_row,
)
from aircarbon.core.errors import CatalogError, SettingsError, UnknownStationError
from aircarbon.core.settings import Settings, load_settings


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return load_settings({}, data_dir=tmp_path / "data", **extra)


def _chicago(tmp_path: Path) -> Settings:
    settings = _settings(tmp_path)
    init_network(settings, city="chicago", timezone="America/Chicago", center=(41.88, -87.63))
    return settings


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


NET = """
[network]
city = "x"
timezone = "{tz}"
[sets]
criteria = ["so2", "no2", "o3", "co", "pm10", "pm25"]
"""


def _station(**over: object) -> str:
    fields: dict[str, object] = {
        "id": '"A-1"',
        "type": '"national"',
        "lat": "40.0",
        "lon": "116.0",
        "mn": '"MNA1"',
        "params": '["@criteria"]',
    }
    fields.update(over)
    return "[[station]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)


# --- where the network comes from ---------------------------------------------------------


def test_sample_when_the_data_dir_has_none_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    catalog = catalog_for(settings)
    assert catalog is load_catalog()  # the shipped sample, the same cached object
    assert settings.timezone == "Asia/Shanghai"
    catalog_for(settings)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # once per data dir, however often it is asked
    assert "Shenyang sample" in err
    assert "aircarbon network init" in err


def test_own_network_wins_and_is_silent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _chicago(tmp_path)
    catalog = catalog_for(settings)
    assert catalog.network.city == "chicago"
    assert catalog.network.timezone == settings.timezone == "America/Chicago"
    assert settings.tz.key == "America/Chicago"
    assert catalog.stations == {}
    assert catalog.parameters is load_catalog().parameters  # the shipped catalog, shared
    assert network_path(settings) == tmp_path / "data" / "network.toml"
    assert capsys.readouterr().err == ""


def test_network_file_setting(tmp_path: Path) -> None:
    path = _write(tmp_path / "etc" / "net.toml", NET.format(tz="Europe/Berlin") + _station())
    settings = _settings(tmp_path, network_file=path)
    assert catalog_for(settings).station("A-1").timezone == "Europe/Berlin"
    missing = _settings(tmp_path, network_file=tmp_path / "nope.toml")
    with pytest.raises(CatalogError, match=r"nope\.toml.*does not exist.*network init"):
        catalog_for(missing)


def test_edit_gives_a_fresh_catalog(tmp_path: Path) -> None:
    settings = _chicago(tmp_path)
    before = catalog_for(settings)
    assert catalog_for(settings) is before  # cached while the file is unchanged
    add_stations(
        settings,
        [("s", station_row("CH-1", type="national", lat=41.9, lon=-87.6, params="pm25,o3"))],
    )
    after = catalog_for(settings)
    assert after is not before
    assert list(after.stations) == ["CH-1"]


def test_timezone_is_not_a_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"network's.*network init"):
        load_settings({"AIRCARBON_TIMEZONE": "UTC"})
    cfg = _write(tmp_path / "c.toml", 'timezone = "Europe/Berlin"\n')
    with pytest.raises(SettingsError, match=r"Europe/Berlin.*network init"):
        load_settings({"AIRCARBON_CONFIG": str(cfg)})


def test_sample_copied_verbatim(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    path = init_sample_network(settings)
    assert path.read_bytes() == (DEFAULT_CATALOG_DIR / "stations.toml").read_bytes()
    catalog = catalog_for(settings)
    assert len(catalog.stations) == 12
    mtime = path.stat().st_mtime_ns
    init_sample_network(settings)  # an existing network is left alone
    assert path.stat().st_mtime_ns == mtime


# --- what the loader refuses ----------------------------------------------------------------

BAD = {
    "unknown zone": (NET.format(tz="Mars/Base") + _station(), r"unknown time zone 'Mars/Base'"),
    "zone folder": (NET.format(tz="America") + _station(), r"unknown time zone 'America'"),
    "lat": (NET.format(tz="UTC") + _station(lat="91.0"), r"'A-1'.*outside lat"),
    "lon nan": (NET.format(tz="UTC") + _station(lon="nan"), r"'A-1'.*outside"),
    "type": (NET.format(tz="UTC") + _station(type='"nat"'), r"unknown station type 'nat'"),
    "param": (NET.format(tz="UTC") + _station(params='["pm2"]'), r"unknown parameter 'pm2'"),
    "set": (NET.format(tz="UTC") + _station(params='["@met"]'), r"unknown parameter set '@met'"),
    "missing": (NET.format(tz="UTC") + _station(mn=None), r"'A-1': missing mn"),
    "date": (NET.format(tz="UTC") + _station(valid_from='"2024-02-30"'), r"not a date"),
    "order": (
        NET.format(tz="UTC") + _station(valid_from="2024-05-01", valid_to="2024-04-01"),
        r"valid_to 2024-04-01 is before valid_from 2024-05-01",
    ),
    "code twice": (
        NET.format(tz="UTC")
        + _station(national_code='"1001A"')
        + _station(id='"A-2"', mn='"MNA2"', national_code='"1001A"'),
        r"'A-2': national code '1001A' already used by 'A-1'",
    ),
    "no network": (_station(), r"no \[network\] table"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_network_named_in_one_line(tmp_path: Path, name: str) -> None:
    body, pattern = BAD[name]
    path = _write(tmp_path / "net.toml", body)
    with pytest.raises(CatalogError, match=pattern) as info:
        load_catalog(network_file=path)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("net.toml")


# --- stations: codes, service dates ---------------------------------------------------------


def test_codes_and_service_dates(tmp_path: Path) -> None:
    body = NET.format(tz="America/Chicago") + _station(
        national_code='"1001A"', valid_from="2024-01-01", valid_to="2025-06-30"
    )
    catalog = load_catalog(network_file=_write(tmp_path / "net.toml", body))
    station = catalog.station_by_code("1001A")
    assert station.id == "A-1"
    assert (station.valid_from, station.valid_to) == (dt.date(2024, 1, 1), dt.date(2025, 6, 30))
    with pytest.raises(UnknownStationError, match="national station code '9999Z'"):
        catalog.station_by_code("9999Z")
    assert [s.id for s in catalog.stations_on(dt.date(2025, 6, 30))] == ["A-1"]
    assert catalog.stations_on(dt.date(2025, 7, 1)) == []
    assert catalog.stations_on(dt.date(2023, 12, 31)) == []
    # the end of 2025-06-30 in Chicago (CDT, UTC-5) is 2025-07-01 05:00 UTC
    end = dt.datetime(2025, 7, 1, 5, tzinfo=dt.UTC)
    assert catalog.retired_after_us["A-1"] == int(end.timestamp()) * 1_000_000
    record = catalog.stations_json()[0]
    assert record["national_code"] == "1001A"
    assert (record["valid_from"], record["valid_to"]) == ("2024-01-01", "2025-06-30")


def test_center_defaults_to_the_stations(tmp_path: Path) -> None:
    body = NET.format(tz="UTC") + _station(lat="40.0") + _station(id='"A-2"', mn='"M2"', lat="42.0")
    catalog = load_catalog(network_file=_write(tmp_path / "net.toml", body))
    assert catalog.network.center == (41.0, 116.0)


# --- the editing functions ------------------------------------------------------------------


def test_add_all_or_nothing_every_problem_named(tmp_path: Path) -> None:
    settings = _chicago(tmp_path)
    good = station_row("CH-1", type="national", lat=41.9, lon=-87.6, params="@criteria", mn="M1")
    add_stations(settings, [("first", good)])
    before = (tmp_path / "data" / "network.toml").read_bytes()
    rows = [
        ("row 2", station_row("CH-2", type="national", lat=41.9, lon=-87.6, params="pm25")),
        ("row 3", station_row("CH-1", type="national", lat=41.9, lon=-87.6, params="pm25")),
        ("row 4", station_row("CH-4", type="national", lat=41.9, lon=-87.6, params="pm2")),
        ("row 5", station_row("CH-5", type="national", lat=41.9, lon=-87.6, params="o3", mn="M1")),
        ("row 6", station_row("CH-2", type="micro", lat=41.9, lon=-87.6, params="pm25")),
    ]
    with pytest.raises(CatalogError) as info:
        add_stations(settings, rows)
    message = str(info.value)
    assert message.startswith("4 bad station row(s), nothing added")
    assert "row 3: station id 'CH-1' already in the network" in message
    assert "row 4: unknown parameter 'pm2'" in message
    assert "row 5: HJ 212 MN 'M1' already used by 'CH-1'" in message
    assert "row 6: station id 'CH-2' already in row 2" in message
    assert "\n" not in message
    assert (tmp_path / "data" / "network.toml").read_bytes() == before  # untouched


def test_add_needs_a_network_of_its_own(tmp_path: Path) -> None:
    row = station_row("X", type="national", lat=1, lon=2, params="pm25")
    with pytest.raises(CatalogError, match=r"no network of its own.*network init"):
        add_stations(_settings(tmp_path), [("x", row)])


def test_init_refuses_to_overwrite_and_force_keeps_stations(tmp_path: Path) -> None:
    settings = _chicago(tmp_path)
    add_stations(
        settings, [("s", station_row("CH-1", type="micro", lat=41.9, lon=-87.6, params="pm25"))]
    )
    with pytest.raises(CatalogError, match=r"already exists.*--force"):
        init_network(settings, city="chicago", timezone="America/Chicago")
    _, catalog = init_network(settings, city="chicago", timezone="America/Denver", force=True)
    assert catalog.network.timezone == "America/Denver"
    assert list(catalog.stations) == ["CH-1"]
    with pytest.raises(CatalogError, match="unknown time zone 'Nowhere/Land'"):
        init_network(settings, city="c", timezone="Nowhere/Land", force=True)


def test_retire(tmp_path: Path) -> None:
    settings = _chicago(tmp_path)
    row = station_row(
        "CH-1", type="micro", lat=41.9, lon=-87.6, params="pm25", valid_from="2025-01-01"
    )
    add_stations(settings, [("s", row)])
    with pytest.raises(CatalogError, match="opened on 2025-01-01: cannot retire it on 2024-12-31"):
        retire_station(settings, "CH-1", dt.date(2024, 12, 31))
    assert retire_station(settings, "CH-1", dt.date(2025, 6, 1)).valid_to == dt.date(2025, 6, 1)
    retire_station(settings, "CH-1", dt.date(2025, 6, 1))  # again, same day: no-op
    with pytest.raises(CatalogError, match="already retired on 2025-06-01"):
        retire_station(settings, "CH-1", dt.date(2025, 7, 1))
    with pytest.raises(CatalogError, match="unknown station 'CH-9'"):
        retire_station(settings, "CH-9", dt.date(2025, 7, 1))


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    settings = _chicago(tmp_path)
    bad = station_row("CH-1", type="national", lat=41.9, lon=-87.6, params="@nope")
    with pytest.raises(CatalogError):
        add_stations(settings, [("s", bad)])
    names = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert names == ["network.toml", "network.toml.lock"], names
    assert not any(re.search(r"\.tmp$", n) for n in names)


def test_network_file_readable_by_other_users(tmp_path: Path) -> None:
    """The collector may run as another user: the file is 0644, not mkstemp's 0600."""
    settings = _chicago(tmp_path)
    assert (tmp_path / "data" / "network.toml").stat().st_mode & 0o777 == 0o644
    sample = _settings(tmp_path / "other")
    assert init_sample_network(sample).stat().st_mode & 0o777 == 0o644
    assert settings.timezone == "America/Chicago"
