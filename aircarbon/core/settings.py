"""The one settings object: ``AIRCARBON_*`` environment variables over an optional TOML file.

Configuration is read once, at the edge (the CLI or a DAG task), validated, and passed on
as this typed object; no module reads the environment on its own. A bad value fails with
a one-line :class:`~aircarbon.core.errors.SettingsError` naming the key as the user wrote it.

Precedence, highest first: explicit overrides (CLI flags), ``AIRCARBON_*`` variables,
the TOML file named by ``AIRCARBON_CONFIG`` (keys without the prefix, e.g.
``broker_url = "mqtt://..."``; a ``[aircarbon]`` table is also accepted), then defaults.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from aircarbon.core.errors import SettingsError

__all__ = ["ENV_PREFIX", "BrokerTarget", "Settings", "load_settings", "redact_url"]

ENV_PREFIX = "AIRCARBON_"
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONFIG_ENV = "AIRCARBON_CONFIG"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***" if "@" in url else url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in userinfo else f"{scheme}://{user}@{host}"


class BrokerTarget(BaseModel):
    """A parsed broker URL: what the MQTT clients actually connect to."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


class Settings(BaseModel):
    """Every knob of AirCarbon, with the defaults the demo runs on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- where things live ---------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), description="raw store, dead letters, lake")
    catalog_dir: Path | None = Field(default=None, description="override the shipped catalog")
    network_file: Path | None = Field(
        default=None,
        description="the operator's network (city, time zone, stations); "
        "unset: network.toml in data_dir, else the Shenyang sample",
    )
    network_poll_s: float = Field(
        default=5.0,
        gt=0,
        description="how often the collector checks the network file for changes "
        "(stations added or retired are picked up without a restart)",
    )
    schedule_start: dt.date | None = Field(
        default=None,
        description="first local day both Airflow DAGs schedule, from its local midnight "
        "(`aircarbon airflow init` records today unless given --start); unset: DAGs refuse to load",
    )
    airflow_validate: bool = Field(
        default=True,
        description="default of the DAGs' `validate` param: scheduled runs run the Great "
        "Expectations suites (false: re-loads without them, ~8 s less per task)",
    )
    # --- broker ----------------------------------------------------------------------------
    broker_url: str | None = Field(
        default=None, description="mqtt://host:port or mqtts://; unset: embedded broker"
    )
    broker_username: str | None = None
    broker_password: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_id: str = "aircarbon-collector"
    mqtt_protocol: Literal["v5", "v311"] = Field(
        default="v5", description="MQTT protocol of the collector (v311 for brokers without v5)"
    )
    mqtt_client: Literal["native", "paho"] = Field(
        default="native",
        description="collector transport: native (own MQTT v5 codec, fastest) or paho",
    )
    share_group: str | None = Field(default=None, description="$share group for several collectors")
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    keepalive_s: int = Field(default=30, ge=1)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    # --- ingest rules ----------------------------------------------------------------------
    max_payload_bytes: int = Field(default=64 * 1024, ge=256)
    dead_letter_payload_bytes: int = Field(default=4096, ge=0)
    max_age_s: int = Field(default=7 * 24 * 3600, ge=0, description="late data accepted")
    max_future_s: int = Field(default=300, ge=0, description="clock skew tolerated")
    hj212_datatime: Literal["start", "end"] = "start"
    hj212_strict: bool = Field(
        default=False,
        description="refuse real loggers' HJ 212 header quirks (long PW, '_' in MN, ...) "
        "instead of accepting them and naming them in each reading's source",
    )
    batch_max_readings: int = Field(default=50_000, ge=1)
    batch_max_age_s: float = Field(default=1.0, gt=0)
    queue_max_messages: int = Field(default=20_000, ge=1)
    max_readings_per_message: int = Field(
        default=10_000, ge=1, description="a message with more readings is dead-lettered whole"
    )
    dead_letter_flush_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="dead-letter bytes a collector batch may hold before it is flushed",
    )
    poison_crashes: int = Field(
        default=2,
        ge=1,
        description="collector crashes a message may be in flight at before it is "
        "dead-lettered as `poison` instead of decoded again",
    )
    crash_on_topic: str | None = Field(
        default=None,
        description="testing only: the collector exits abruptly (os._exit) while decoding "
        "a message on this topic, as a segfault would (proves the poison quarantine)",
    )
    # --- HJ 212 TCP gateway (`aircarbon gateway hj212`) -------------------------------------
    gateway_listen: str = Field(
        default="0.0.0.0:9212", description="HOST:PORT the gateway accepts data loggers on"
    )
    gateway_client_id: str = "aircarbon-gateway"
    gateway_max_connections: int = Field(default=2000, ge=1)
    gateway_idle_timeout_s: float = Field(
        default=900.0, gt=0, description="a logger silent this long is disconnected"
    )
    gateway_rate_frames_s: float = Field(
        default=50.0, gt=0, description="frames a connection may send per second (sustained)"
    )
    gateway_rate_burst: int = Field(
        default=500, ge=1, description="frames a connection may send at once (history backfill)"
    )
    gateway_publish_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="wait for the broker's PUBACK before leaving a frame unanswered",
    )
    gateway_health_port: int = Field(default=8766, ge=0, le=65535)
    gateway_health_url: str | None = Field(
        default=None,
        description="http://host:port of the gateway's health endpoint: the collector's "
        "health page then shows its loggers, frames/s, unanswered frames and quirks",
    )
    # --- health ----------------------------------------------------------------------------
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8765, ge=0, le=65535)
    alert_silent_periods: int = Field(default=3, ge=1)
    alert_dead_letter_rate: float = Field(default=0.05, ge=0, le=1)
    alert_lag_s: float = Field(default=600.0, ge=0)
    # --- warehouse -------------------------------------------------------------------------
    warehouse_catalog: str | None = Field(
        default=None, description="DuckLake catalog: default sqlite file in data_dir"
    )
    warehouse_data: str | None = Field(default=None, description="data path or s3:// URL")
    warehouse_s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint URL (MinIO…); unset: AWS"
    )
    warehouse_s3_region: str | None = None
    warehouse_s3_key_id: str | None = None
    warehouse_s3_secret: SecretStr | None = None
    warehouse_reader_user: str | None = Field(
        default=None,
        description="PostgreSQL role (SELECT only) that read-only sessions log in as, "
        "replacing the catalog's user and password; unset: the catalog's own",
    )
    warehouse_reader_password: SecretStr | None = None
    raw_sync_url: str | None = Field(
        default=None,
        description="s3:// prefix `aircarbon raw sync` ships raw/ and dead_letter/ files to "
        "(same layout; the warehouse_s3_* credentials and endpoint apply)",
    )
    raw_source_url: str | None = Field(
        default=None,
        description="s3:// prefix the hourly and daily steps read raw/, status/ and "
        "dead_letter/ from (where `aircarbon raw sync` ships: usually = raw_sync_url); "
        "unset: data_dir. The warehouse_s3_* credentials and endpoint apply",
    )
    # --- misc ------------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("broker_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        shown = redact_url(value)  # an error message never repeats a password
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"bad host or port in {shown!r}") from None
        if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
            raise ValueError(f"scheme must be mqtt:// or mqtts://, got {shown!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {shown!r}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{str(value)!r} is a file, not a directory")
        return value

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        # it names files in the data directory (writer id), so no path may hide in it
        if not _CLIENT_ID_RE.fullmatch(value) or value in {".", ".."}:
            raise ValueError(
                "must be 1-64 characters of letters, digits, '.', '_' and '-' "
                "(it names the collector's files)"
            )
        return value

    # --- derived ---------------------------------------------------------------------------
    @property
    def schedule_start_at(self) -> dt.datetime | None:
        """Local midnight of ``schedule_start``: the DAGs' start_date (aware, in ``tz``)."""
        if self.schedule_start is None:
            return None
        return dt.datetime.combine(self.schedule_start, dt.time(0), tzinfo=self.tz)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead_letter"

    @property
    def bulletins_dir(self) -> Path:
        return self.data_dir / "bulletins"

    @property
    def lake_catalog(self) -> str:
        """The DuckLake catalog after ``ducklake:`` (docs/contract.md §4.1: a sqlite file)."""
        if self.warehouse_catalog:
            return self.warehouse_catalog
        return f"sqlite:{self.data_dir / 'warehouse.sqlite'}"

    @property
    def lake_data(self) -> str:
        return self.warehouse_data or str(self.data_dir / "warehouse") + "/"

    @property
    def timezone(self) -> str:
        """The network's IANA zone: the one zone local days are counted in.

        Not a setting of its own: a second source could disagree with the network's
        ``[network] timezone`` and put a station's day boundaries in the wrong place.
        """
        from aircarbon.core.catalog import network_timezone  # the catalog imports settings types

        return network_timezone(self)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def broker(self) -> BrokerTarget | None:
        """The configured broker, or None for the embedded one."""
        if self.broker_url is None:
            return None
        parts = urlsplit(self.broker_url)
        tls = parts.scheme in {"mqtts", "ssl"}
        return BrokerTarget(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=self.broker_username or parts.username,
            password=self.broker_password or parts.password,
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with CLI overrides applied (None values are ignored), re-validated."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return _validate(data, origin="option")


def _env_values(env: Mapping[str, str]) -> dict[str, str]:
    fields = Settings.model_fields
    values: dict[str, str] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        _refuse_timezone(key, name, value)
        if name not in fields:
            raise SettingsError(
                key, "unknown setting (see `aircarbon --help` and docs/contract.md §5)"
            )
        values[name] = value
    return values


def _refuse_timezone(key: str, name: str, value: Any) -> None:
    """The retired ``timezone`` setting: say where the zone lives now instead."""
    if name == "timezone":
        raise SettingsError(
            key,
            f"{value!r}: the time zone is the network's, not a setting; set it with "
            "`aircarbon network init --city C --timezone TZ` (or [network] timezone in "
            "network.toml)",
        )


def _file_values(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(CONFIG_ENV, f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(CONFIG_ENV, f"{path}: {exc}") from exc
    table = doc.get("aircarbon", doc)
    if not isinstance(table, dict):
        raise SettingsError(CONFIG_ENV, f"{path}: [aircarbon] must be a table")
    if "timezone" in table:
        _refuse_timezone(f"timezone (in {path})", "timezone", table["timezone"])
    return dict(table)


def _validate(data: Mapping[str, Any], *, origin: str) -> Settings:
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        key = f"{ENV_PREFIX}{field.upper()}" if origin == "env" else field
        msg = err["msg"].removeprefix("Value error, ")
        raise SettingsError(key, msg) from exc


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from ``env`` (default: the process environment) and the TOML file it names."""
    environ = os.environ if env is None else env
    data: dict[str, Any] = {}
    origin = "env"
    config = environ.get(CONFIG_ENV)
    if config:
        file_values = _file_values(Path(config))
        try:
            Settings.model_validate(file_values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            raise SettingsError(
                f"{field} (in {config})", err["msg"].removeprefix("Value error, ")
            ) from exc
        data.update(file_values)
    data.update(_env_values(environ))
    settings = _validate(data, origin=origin)
    if overrides:
        settings = settings.with_overrides(**overrides)
    return settings
