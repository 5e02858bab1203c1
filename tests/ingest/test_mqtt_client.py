"""The one MQTT connection set-up (``ingest.mqtt_client``): settings → endpoint → clients.

Every combination of settings that changes a connection: the URL's scheme (mqtt/tcp vs
mqtts/ssl) and port, TLS files with and without TLS, credentials from flags, settings, URL
and the role's default, client id and protocol per role, keepalive. Then what each client
library is given for an endpoint. Connecting over TLS with each library against a real
broker is in test_tls_acl.py.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from aircarbon.core.errors import SettingsError
from aircarbon.core.settings import Settings, load_settings
from ingest.collector import COLLECTOR_USERNAME, CollectorConfig
from ingest.hj212_gateway import GatewayConfig
from ingest.mqtt_client import (
    Backoff,
    MqttEndpoint,
    aiomqtt_client,
    endpoint,
    paho_client,
    tls_context,
)
from ingest.mqtt_native import NativeOptions
from tests.ingest.test_tls_acl import Pki, make_pki


def _settings(**env: str) -> Settings:
    return load_settings({f"AIRCARBON_{k.upper()}": v for k, v in env.items()})


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- settings → endpoint ---------------------------------------------------------------------


def test_no_broker_url_no_endpoint() -> None:
    assert endpoint(_settings()) is None
    assert endpoint(_settings(broker_url="")) is None


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://broker.example", "broker.example", 1883, False),
        ("tcp://broker.example", "broker.example", 1883, False),
        ("mqtt://10.0.0.5:1884", "10.0.0.5", 1884, False),
        ("mqtts://broker.example", "broker.example", 8883, True),
        ("ssl://broker.example", "broker.example", 8883, True),
        ("mqtts://broker.example:443", "broker.example", 443, True),
    ],
)
def test_scheme_decides_tls_and_default_port(url: str, host: str, port: int, tls: bool) -> None:
    ep = endpoint(_settings(broker_url=url))
    assert ep is not None
    assert (ep.host, ep.port, ep.tls) == (host, port, tls)
    assert ep.url == f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"


def test_tls_files_only_with_tls() -> None:
    files = {"tls_ca": "/certs/ca.crt", "tls_cert": "/certs/c.crt", "tls_key": "/certs/c.key"}
    secure = endpoint(_settings(broker_url="mqtts://b", **files))
    assert secure is not None
    assert (secure.ca, secure.cert, secure.key) == (
        Path("/certs/ca.crt"),
        Path("/certs/c.crt"),
        Path("/certs/c.key"),
    )
    # a plain URL with TLS files: TLS stays off (the scheme decides), the files are not carried
    plain = endpoint(_settings(broker_url="mqtt://b", **files))
    assert plain is not None
    assert (plain.tls, plain.ca, plain.cert, plain.key) == (False, None, None, None)
    assert tls_context(plain) is None
    # TLS without a CA file: the system's roots (ca None), still TLS
    roots = endpoint(_settings(broker_url="mqtts://b"))
    assert roots is not None
    assert roots.tls
    assert roots.ca is None


@pytest.mark.parametrize(
    ("url", "env", "given", "default", "expected"),
    [
        ("mqtt://b", {}, {}, None, (None, None)),
        ("mqtt://b", {}, {}, "role", ("role", None)),
        ("mqtt://u:p@b", {}, {}, "role", ("u", "p")),
        (
            "mqtt://u:p@b",
            {"broker_username": "su", "broker_password": "sp"},
            {},
            None,
            ("su", "sp"),
        ),
        ("mqtt://b", {"broker_password": "sp"}, {}, "role", ("role", "sp")),
        ("mqtt://u@b", {"broker_password": "sp"}, {}, "role", ("u", "sp")),
        (
            "mqtt://u:p@b",
            {"broker_username": "su", "broker_password": "sp"},
            {"username": "cli", "password": "clip"},
            "role",
            ("cli", "clip"),
        ),
    ],
)
def test_credentials_first_given_first(
    url: str,
    env: dict[str, str],
    given: dict[str, str],
    default: str | None,
    expected: tuple[str | None, str | None],
) -> None:
    """Flags, then the settings, then the URL's user info, then the role's user name."""
    ep = endpoint(_settings(broker_url=url, **env), default_username=default, **given)
    assert ep is not None
    assert (ep.username, ep.password) == expected


def test_password_never_in_repr() -> None:
    ep = endpoint(_settings(broker_url="mqtt://u:hunter2@b"))
    assert ep is not None
    assert ep.password == "hunter2"
    assert "hunter2" not in repr(ep)


def test_client_id_protocol_and_keepalive() -> None:
    s = _settings(
        broker_url="mqtt://b", client_id="ingest-1", mqtt_protocol="v311", keepalive_s="45"
    )
    ep = endpoint(s)
    assert ep is not None
    assert (ep.client_id, ep.protocol, ep.keepalive_s) == ("ingest-1", "v311", 45)
    role = endpoint(s, client_id="", protocol="v5")
    assert role is not None
    assert (role.client_id, role.protocol) == ("", "v5")  # "" = the broker picks one
    default = endpoint(_settings(broker_url="mqtt://b"))
    assert default is not None
    assert (default.client_id, default.protocol, default.keepalive_s) == (
        "aircarbon-collector",
        "v5",
        30,
    )


def test_url_override_replaces_the_settings_url_and_is_validated() -> None:
    s = _settings(broker_url="mqtts://prod.example", tls_ca="/certs/ca.crt")
    ep = endpoint(s, url="mqtt://127.0.0.1:18830")
    assert ep is not None
    assert (ep.host, ep.port, ep.tls, ep.ca) == ("127.0.0.1", 18830, False, None)
    with pytest.raises(SettingsError, match="broker_url"):
        endpoint(s, url="http://nope")


def test_each_role_takes_its_connection_from_the_endpoint() -> None:
    s = _settings(
        broker_url="mqtts://b:8884", tls_ca="/certs/ca.crt", broker_password="pw", keepalive_s="40"
    )
    collector = CollectorConfig.from_settings(s).endpoint
    assert collector == MqttEndpoint(
        "b", 8884, tls=True, ca=Path("/certs/ca.crt"), username=COLLECTOR_USERNAME,
        password="pw", client_id="aircarbon-collector", protocol="v5", keepalive_s=40,
    )  # fmt: skip
    assert CollectorConfig.from_settings(s, protocol="v311").endpoint.protocol == "v311"
    gateway = GatewayConfig.from_settings(s).broker
    assert gateway == MqttEndpoint(
        "b", 8884, tls=True, ca=Path("/certs/ca.crt"), username="aircarbon-gateway",
        password="pw", client_id="aircarbon-gateway", protocol="v311", keepalive_s=40,
    )  # fmt: skip
    with pytest.raises(ValueError, match="needs a broker"):
        GatewayConfig.from_settings(_settings())
    with pytest.raises(ValueError, match="no broker URL"):
        CollectorConfig.from_settings(_settings())


# --- endpoint → TLS context and clients --------------------------------------------------------


def test_tls_context_verifies_server_and_host_name(pki: Pki) -> None:
    ctx = tls_context(MqttEndpoint("127.0.0.1", 8883, tls=True, ca=pki.ca))
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "AirCarbon test CA"),),)]


def test_tls_context_presents_a_client_certificate(pki: Pki) -> None:
    ep = MqttEndpoint("h", 8883, tls=True, ca=pki.ca, cert=pki.server_cert, key=pki.server_key)
    assert tls_context(ep) is not None
    # a key that does not belong to the certificate fails here, not at the broker
    other = make_pki(pki.ca.parent / "other")
    with pytest.raises(ssl.SSLError):
        tls_context(MqttEndpoint("h", 8883, tls=True, cert=pki.server_cert, key=other.server_key))
    with pytest.raises(FileNotFoundError):
        tls_context(MqttEndpoint("h", 8883, tls=True, ca=pki.ca.parent / "missing.crt"))


@pytest.mark.parametrize("protocol", ["v5", "v311"])
def test_paho_client(protocol: str, pki: Pki) -> None:
    ep = MqttEndpoint(
        "b", 1, tls=True, ca=pki.ca, username="u", password="p", client_id="c",
        protocol=protocol,  # type: ignore[arg-type]
    )  # fmt: skip
    client = paho_client(ep)
    assert client.protocol == (paho.MQTTv5 if protocol == "v5" else paho.MQTTv311)
    assert (client.username, client.password) == ("u", "p")
    assert client._client_id == b"c"
    assert client._ssl_context is not None
    assert client._ssl_context.get_ca_certs() == tls_context(ep).get_ca_certs()  # type: ignore[union-attr]
    assert not client._tls_insecure  # the host name is checked
    plain = paho_client(MqttEndpoint("b", 1, protocol="v311"))
    assert plain.username is None
    assert plain._ssl_context is None
    assert plain._clean_session


async def test_aiomqtt_client(pki: Pki) -> None:
    import aiomqtt

    ep = MqttEndpoint(
        "b", 1884, tls=True, ca=pki.ca, username="u", password="p", client_id="c",
        protocol="v311", keepalive_s=44,
    )  # fmt: skip
    client = aiomqtt_client(ep, clean_session=False, max_inflight_messages=7)
    inner = client._client
    assert (client._hostname, client._port, client.identifier) == ("b", 1884, "c")
    assert (inner.protocol, inner.username, inner.password) == (paho.MQTTv311, "u", "p")
    assert client._keepalive == 44
    assert inner.max_inflight_messages == 7
    assert inner._clean_session is False  # the role's option reached paho
    assert inner._ssl_context is not None
    assert not inner._tls_insecure
    v5 = aiomqtt_client(MqttEndpoint("b", 1884))
    assert v5._client.protocol == paho.MQTTv5
    assert v5._client._ssl_context is None
    # a TLS file that is missing is an MqttError: the reconnect loops (which catch only that)
    # retry, as they did when aiomqtt read the files at connect
    with pytest.raises(aiomqtt.MqttError, match="TLS"):
        aiomqtt_client(MqttEndpoint("b", 8883, tls=True, ca=pki.ca.parent / "missing.crt"))


def test_native_options_carry_the_endpoint() -> None:
    ep = MqttEndpoint("b", 1, client_id="c")
    opts = NativeOptions(ep, session_expiry_s=60, receive_maximum=100)
    assert opts.endpoint is ep
    assert (opts.session_expiry_s, opts.receive_maximum) == (60, 100)


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    plain = Backoff(0.5, 3.0, jitter=False)
    assert [plain.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    plain.reset()
    assert plain.next() == 0.5
    jittered = Backoff(1.0, 4.0)
    for delay in (1.0, 2.0, 4.0, 4.0):
        assert delay / 2 <= jittered.next() <= delay
    waits = {Backoff(1.0, 1.0).next() for _ in range(20)}
    assert len(waits) > 1  # drawn, not fixed
