"""The deployment files (``docker/``) say what the code expects: settings names, ports, volumes.

No Docker engine runs here, so the compose file is checked two ways: parsed with PyYAML against
the settings model and the repository's Mosquitto config, and, where the client exists, by
``docker compose config`` (which needs no engine). What those files *configure* is tested
with the real programs elsewhere: the Mosquitto config in tests/ingest/test_tls_acl.py, the
PostgreSQL catalog and object storage in tests/scale/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; types-PyYAML is not locked

from aircarbon.core.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
AIRFLOW = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment must be a mapping (anchors merge into it)"
    return {str(k): str(v) for k, v in env.items()}


def _example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (enough for our file)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        got = env.get(name, "")
        if op == ":-":
            return got or arg
        if op == ":?":
            assert got, f"{name} must be set: {arg}"
        return got

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:[-?])?([^}]*)\}", one, value)


def test_services_of_a_real_deployment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"mosquitto", "collector", "postgres", "airflow-init", *AIRFLOW} <= set(services)
    commands = {name: " ".join(services[name]["command"]) for name in AIRFLOW}
    assert commands == {
        "airflow-apiserver": "airflow api-server --port 8080",
        "airflow-scheduler": "airflow scheduler",
        "airflow-dag-processor": "airflow dag-processor",
    }
    assert services["collector"]["command"] == ["aircarbon", "collect"]


def test_every_aircarbon_variable_is_a_setting(compose: dict[str, Any]) -> None:
    """A misspelt AIRCARBON_* name would stop the container at start (unknown setting)."""
    names: set[str] = set()
    for service in compose["services"].values():
        names |= {k for k in _env(service) if k.startswith(ENV_PREFIX)}
    names |= {k for k in _example_values() if k.startswith(ENV_PREFIX)}
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    assert names, "no AIRCARBON_* settings found"
    assert names <= fields, sorted(names - fields)


def test_collector_settings_load_as_the_container_would(compose: dict[str, Any]) -> None:
    """The collector's environment, interpolated from .env.example, is valid settings."""
    example = _example_values()
    env = {k: _interpolate(v, example) for k, v in _env(compose["services"]["collector"]).items()}
    settings = load_settings(env)  # empty values too, exactly as the container gets them
    broker = settings.broker()
    assert broker is not None
    assert broker.tls  # the broker's plain listener is loopback-only inside its container
    assert (broker.host, broker.port) == ("mosquitto", 8883)
    assert settings.tls_ca == Path("/certs/ca.crt")
    assert settings.health_host == "0.0.0.0"  # published through the container
    assert settings.data_dir == Path("/data")
    assert settings.lake_catalog.startswith("postgres:dbname=aircarbon_lake host=postgres ")
    # the collector's user is the ACL's `user` line
    acl = (DOCKER / "mosquitto" / "acl").read_text(encoding="utf-8")
    assert f"user {broker.username}\n" in acl


def test_ports_and_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    example = _example_values()
    # stations reach the broker over TLS only, on the port of the repository's config
    conf = (DOCKER / "mosquitto" / "mosquitto.conf").read_text(encoding="utf-8")
    assert re.search(r"^listener 8883$", conf, re.M)
    assert re.search(r"^listener 1883 127\.0\.0\.1$", conf, re.M)
    assert services["mosquitto"]["ports"] == ["8883:8883"]
    ports = [_interpolate(p, example) for p in services["collector"]["ports"]]
    inner = _env(services["collector"])["AIRCARBON_HEALTH_PORT"]
    assert ports == [f"127.0.0.1:{example['HEALTH_PORT']}:{inner}"]
    # the config names its files under /mosquitto/config and /mosquitto/certs: all mounted
    mounts = {v.split(":")[1] for v in services["mosquitto"]["volumes"]}
    files = r"^(?:password_file|acl_file|cafile|certfile|keyfile) (\S+)"
    for path in re.findall(files, conf, re.M):
        assert path in mounts or str(Path(path).parent) in mounts, path
    for v in services["mosquitto"]["volumes"]:
        source = v.split(":")[0]
        if source.startswith("./mosquitto/") and not source.endswith("passwd"):
            assert (DOCKER / source).is_file(), source  # passwd is made by the operator
    # collector and scheduler (LocalExecutor runs the tasks) share the data directory
    data = {
        name
        for name, s in services.items()
        if any(str(v).startswith("aircarbon-data:/data") for v in s.get("volumes", []))
    }
    assert {"collector", "airflow-scheduler"} <= data
    assert set(compose["volumes"]) >= {"aircarbon-data", "mosquitto-data", "postgres-data"}


def test_airflow_runs_on_postgres(compose: dict[str, Any]) -> None:
    example = _example_values()
    for name in AIRFLOW:
        env = {k: _interpolate(v, example) for k, v in _env(compose["services"][name]).items()}
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver")
    init = (DOCKER / "airflow" / "init-databases.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE aircarbon_lake;" in init


def test_dockerfile_installs_from_the_lock() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    syncs = re.findall(r"uv sync ([^\n]+)", text)
    assert syncs
    assert all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "COPY pyproject.toml uv.lock" in text
    assert "EXPOSE 8765" in text  # settings.health_port's default
    assert f"{Settings.model_fields['health_port'].default}" == "8765"
    # the image's uv is the one that wrote the lock (bootstrap pins it): an older uv may not
    # read a newer lock revision
    pinned = re.search(r'UV_VERSION="([0-9.]+)"', (ROOT / "scripts" / "bootstrap.sh").read_text())
    assert pinned is not None
    assert f"ghcr.io/astral-sh/uv:{pinned.group(1)} " in text


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """``docker compose config`` resolves the file (needs only the client, not an engine)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker client not installed")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the docker client has no compose plugin (docker compose version failed)")
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"))
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", str(env_file), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=DOCKER,
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------------------
# safe defaults (issue 15): local-only ports, no placeholder secrets, a read-only role
# --------------------------------------------------------------------------------------
GUARD = DOCKER / "refuse-placeholders.sh"
#: published on purpose: stations and data loggers reach the broker (TLS) and the gateway
PUBLIC = {("mosquitto", "8883"), ("gateway", "9212")}


def _published(compose: dict[str, Any], env: dict[str, str]) -> dict[tuple[str, str], str]:
    """(service, container port) -> the host address it is published on."""
    found = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            parts = _interpolate(str(port), env).split(":")
            host = parts[0] if len(parts) == 3 else "0.0.0.0"
            found[(name, parts[-1])] = host
    return found


def test_ports_are_local_unless_the_operator_opens_them(compose: dict[str, Any]) -> None:
    example = _example_values()
    assert example["BIND_ADDRESS"] == "127.0.0.1"
    published = _published(compose, example)
    local = {key for key in published if key not in PUBLIC}
    assert {("collector", "8765"), ("airflow-apiserver", "8080")} <= local
    assert {published[key] for key in local} == {"127.0.0.1"}, published
    # without a BIND_ADDRESS at all (an older .env), still local
    unset = {k: v for k, v in example.items() if k != "BIND_ADDRESS"}
    assert {_published(compose, unset)[key] for key in local} == {"127.0.0.1"}
    opened = _published(compose, {**example, "BIND_ADDRESS": "0.0.0.0"})
    assert {opened[key] for key in local} == {"0.0.0.0"}


def test_every_service_with_secrets_starts_through_the_guard(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "mosquitto":  # its secrets are files (passwd, certs), not variables
            continue
        entrypoint = " ".join(service.get("entrypoint", []))
        assert "/usr/local/bin/refuse-placeholders" in entrypoint, name
        mounts = [str(v) for v in service.get("volumes", [])]
        assert "./refuse-placeholders.sh:/usr/local/bin/refuse-placeholders:ro" in mounts, name
        if service.get("image", "").startswith("${IMAGE"):
            assert entrypoint.startswith("tini --"), name  # the image's init stays PID 1


def _guarded(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(GUARD), "echo", "started"],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_guard_refuses_the_example_secrets(compose: dict[str, Any]) -> None:
    example = _example_values()
    for name in ("collector", "postgres", "airflow-apiserver", "airflow-init"):
        env = {k: _interpolate(v, example) for k, v in _env(compose["services"][name]).items()}
        done = _guarded(env)
        assert done.returncode == 78, (name, done.stdout)
        assert "placeholder secret" in done.stderr
        assert done.stdout == ""  # the real command never ran
    # the catalog spec carries the PostgreSQL password: caught inside the string too
    env = _env(compose["services"]["collector"])
    spec = _interpolate(env["AIRCARBON_WAREHOUSE_CATALOG"], example)
    assert "AIRCARBON_WAREHOUSE_CATALOG" in _guarded({"AIRCARBON_WAREHOUSE_CATALOG": spec}).stderr
    # real values: the command runs, unchanged
    real = {k: v.replace("change-me", "s3cr3t") for k, v in example.items()}
    env = {k: _interpolate(v, real) for k, v in _env(compose["services"]["collector"]).items()}
    done = _guarded(env)
    assert (done.returncode, done.stdout.strip()) == (0, "started"), done.stderr


def test_analysts_read_through_the_read_only_role(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = [str(v) for v in services["postgres"]["volumes"]]
    init = "./postgres/20-aircarbon-reader.sh:/docker-entrypoint-initdb.d/20-aircarbon-reader.sh:ro"
    assert init in mounts
    assert (DOCKER / "postgres" / "20-aircarbon-reader.sh").is_file()
    real = {k: v.replace("change-me", "s3cr3t") for k, v in _example_values().items()}
    env = {k: _interpolate(v, real) for k, v in _env(services["collector"]).items()}
    settings = load_settings(env)
    assert (
        settings.warehouse_reader_user
        == _env(services["postgres"])["AIRCARBON_WAREHOUSE_READER_USER"]
    )
    assert settings.warehouse_reader_password is not None
