"""Settings: ``AIRCARBON_*`` variables over an optional TOML file, one-line errors naming the key.

Every test passes an explicit ``env`` mapping: the process environment is never read or changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aircarbon.core.errors import SettingsError
from aircarbon.core.settings import BrokerTarget, Settings, load_settings


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = load_settings(env={})
    assert s == Settings()
    assert s.data_dir == Path("data")
    assert s.timezone == "Asia/Shanghai"
    assert s.broker_url is None
    assert s.broker() is None  # the embedded broker
    assert s.max_age_s == 7 * 24 * 3600  # contract.md §1.5: 7 days of late data
    assert s.max_future_s == 300
    assert s.hj212_datatime == "start"
    assert s.health_port == 8765


def test_unrelated_env_ignored() -> None:
    s = load_settings(env={"HOME": "/root", "PATH": "/bin", "AIRCARBONX": "1"})
    assert s == Settings()


def test_env_vars_parsed() -> None:
    s = load_settings(
        env={
            "AIRCARBON_DATA_DIR": "/srv/aircarbon",
            "AIRCARBON_HEALTH_PORT": "9100",
            "AIRCARBON_MAX_AGE_S": "3600",
            "AIRCARBON_ALERT_DEAD_LETTER_RATE": "0.2",
            "AIRCARBON_HJ212_DATATIME": "end",
            "AIRCARBON_LOG_LEVEL": "DEBUG",
            "AIRCARBON_SHARE_GROUP": "collectors",
            "AIRCARBON_BROKER_URL": "mqtt://broker.example:11883",
        }
    )
    assert s.data_dir == Path("/srv/aircarbon")
    assert s.health_port == 9100
    assert s.max_age_s == 3600
    assert s.alert_dead_letter_rate == 0.2
    assert s.hj212_datatime == "end"
    assert s.log_level == "DEBUG"
    assert s.share_group == "collectors"
    assert s.broker() == BrokerTarget(host="broker.example", port=11883, tls=False)


def test_derived_paths() -> None:
    s = load_settings(env={"AIRCARBON_DATA_DIR": "/d"})
    assert s.raw_dir == Path("/d/raw")
    assert s.dead_letter_dir == Path("/d/dead_letter")
    assert s.bulletins_dir == Path("/d/bulletins")


def test_lake_defaults() -> None:
    """docs/contract.md §4.1: catalog ``warehouse.sqlite``, data under ``warehouse/``."""
    s = load_settings(env={"AIRCARBON_DATA_DIR": "/srv/ac"})
    assert s.lake_catalog == "sqlite:/srv/ac/warehouse.sqlite"
    assert s.lake_data == "/srv/ac/warehouse/"
    default = load_settings(env={})
    assert default.lake_catalog == "sqlite:data/warehouse.sqlite"
    assert default.lake_data == "data/warehouse/"


def test_lake_overrides() -> None:
    s = load_settings(
        env={
            "AIRCARBON_WAREHOUSE_CATALOG": "postgres:dbname=lake host=db",
            "AIRCARBON_WAREHOUSE_DATA": "s3://bucket/lake/",
        }
    )
    assert s.lake_catalog == "postgres:dbname=lake host=db"
    assert s.lake_data == "s3://bucket/lake/"


def test_toml_flat_keys(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path / "aircarbon.toml",
        'data_dir = "/var/lib/aircarbon"\nhealth_port = 9000\nmax_future_s = 60\n'
        'broker_url = "mqtts://secure.example"\n',
    )
    s = load_settings(env={"AIRCARBON_CONFIG": str(cfg)})
    assert s.data_dir == Path("/var/lib/aircarbon")
    assert s.health_port == 9000
    assert s.max_future_s == 60
    assert s.broker() == BrokerTarget(host="secure.example", port=8883, tls=True)


def test_toml_aircarbon_table(tmp_path: Path) -> None:
    cfg = _write(
        tmp_path / "c.toml",
        '[aircarbon]\ndata_dir = "/x"\nnetwork_file = "/etc/net.toml"\n\n[other_tool]\nfoo = 1\n',
    )
    s = load_settings(env={"AIRCARBON_CONFIG": str(cfg)})
    assert s.data_dir == Path("/x")
    assert s.network_file == Path("/etc/net.toml")


def test_env_overrides_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", 'health_port = 9000\ndata_dir = "/from-file"\n')
    s = load_settings(env={"AIRCARBON_CONFIG": str(cfg), "AIRCARBON_HEALTH_PORT": "9001"})
    assert s.health_port == 9001  # env wins
    assert s.data_dir == Path("/from-file")  # file value kept where env is silent


def test_overrides_win_over_env() -> None:
    s = load_settings(env={"AIRCARBON_HEALTH_PORT": "9001"}, health_port=9002, data_dir=None)
    assert s.health_port == 9002
    assert s.data_dir == Path("data")  # None overrides are ignored


def test_unknown_env_key() -> None:
    with pytest.raises(SettingsError, match="AIRCARBON_BROKER_URI") as info:
        load_settings(env={"AIRCARBON_BROKER_URI": "mqtt://x"})
    assert info.value.key == "AIRCARBON_BROKER_URI"
    assert "unknown setting" in str(info.value)


def test_unknown_file_key(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", "helth_port = 1\n")
    with pytest.raises(SettingsError, match="helth_port") as info:
        load_settings(env={"AIRCARBON_CONFIG": str(cfg)})
    assert str(cfg) in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match="AIRCARBON_CONFIG") as info:
        load_settings(env={"AIRCARBON_CONFIG": str(missing)})
    assert "nope.toml" in str(info.value)


def test_bad_toml_syntax(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", "health_port = = 1\n")
    with pytest.raises(SettingsError, match="AIRCARBON_CONFIG"):
        load_settings(env={"AIRCARBON_CONFIG": str(cfg)})


def test_aircarbon_not_a_table(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", 'aircarbon = "yes"\n')
    with pytest.raises(SettingsError, match="must be a table"):
        load_settings(env={"AIRCARBON_CONFIG": str(cfg)})


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("AIRCARBON_HEALTH_PORT", "abc", "integer"),
        ("AIRCARBON_HEALTH_PORT", "70000", "65535"),
        ("AIRCARBON_BROKER_URL", "http://broker:1883", "mqtt://"),
        ("AIRCARBON_BROKER_URL", "mqtt://", "no host"),
        ("AIRCARBON_BROKER_URL", "mqtt://broker:notaport", "ort"),
        ("AIRCARBON_TIMEZONE", "UTC", "network init"),  # the zone is the network's now
        ("AIRCARBON_MAX_AGE_S", "-1", "greater than or equal"),
        ("AIRCARBON_HJ212_DATATIME", "middle", "start"),
        ("AIRCARBON_LOG_LEVEL", "LOUD", "DEBUG"),
        ("AIRCARBON_ALERT_DEAD_LETTER_RATE", "2", "less than or equal"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env={key: value})
    message = str(info.value)
    assert info.value.key == key
    assert message.startswith(f"setting {key}: ")
    assert "\n" not in message
    assert fragment in message


def test_bad_file_value_names_key_and_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "c.toml", 'health_port = "abc"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(env={"AIRCARBON_CONFIG": str(cfg)})
    message = str(info.value)
    assert "health_port" in message
    assert str(cfg) in message
    assert "\n" not in message


def test_bad_override_names_field() -> None:
    with pytest.raises(SettingsError, match="health_port"):
        load_settings(env={}, health_port="abc")


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("mqtt://localhost", BrokerTarget(host="localhost", port=1883, tls=False)),
        ("mqtt://10.0.0.5:1884", BrokerTarget(host="10.0.0.5", port=1884, tls=False)),
        ("mqtts://broker.example", BrokerTarget(host="broker.example", port=8883, tls=True)),
        ("mqtts://broker.example:443", BrokerTarget(host="broker.example", port=443, tls=True)),
        ("tcp://h", BrokerTarget(host="h", port=1883, tls=False)),
        ("ssl://h", BrokerTarget(host="h", port=8883, tls=True)),
        (
            "mqtt://station:s3cret@broker:1883",
            BrokerTarget(
                host="broker", port=1883, tls=False, username="station", password="s3cret"
            ),
        ),
    ],
)
def test_broker_parsing(url: str, target: BrokerTarget) -> None:
    assert load_settings(env={"AIRCARBON_BROKER_URL": url}).broker() == target


def test_broker_credentials_from_settings_win() -> None:
    s = load_settings(
        env={
            "AIRCARBON_BROKER_URL": "mqtts://u:p@broker",
            "AIRCARBON_BROKER_USERNAME": "collector",
            "AIRCARBON_BROKER_PASSWORD": "pw",
        }
    )
    target = s.broker()
    assert target is not None
    assert (target.username, target.password, target.port, target.tls) == (
        "collector",
        "pw",
        8883,
        True,
    )


def test_empty_broker_url_means_embedded() -> None:
    assert load_settings(env={"AIRCARBON_BROKER_URL": ""}).broker() is None


def test_settings_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(Exception, match="frozen"):
        s.health_port = 1  # type: ignore[misc]
