"""The production Mosquitto config (``docker/mosquitto/``) with TLS, passwords and per-station ACLs.

A real ``mosquitto`` runs the repository's ``mosquitto.conf`` rewritten *only* for file paths and
listener ports (:func:`render_production_config` checks that every other directive is kept as
written), with the repository's ``acl``, a throw-away CA and server certificate (made with
``cryptography``), and a password file made with ``mosquitto_passwd`` and
``scripts/provision_station.sh``. The real collector connects over ``mqtts://`` with the
settings operators use (``AIRCARBON_BROKER_URL``, ``AIRCARBON_TLS_CA``, ...).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aircarbon.core.catalog import load_catalog
from aircarbon.core.settings import load_settings
from ingest.collector import Collector
from tests.fixtures.brokers import find_mosquitto, free_port, wait_for_port
from tests.ingest.collector_helpers import PARAMS, read_raw, reading_message, running, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "docker" / "mosquitto" / "mosquitto.conf"
ACL = REPO / "docker" / "mosquitto" / "acl"
PROVISION = REPO / "scripts" / "provision_station.sh"

COLLECTOR_USER = "aircarbon-collector"  # the collector's default username = the ACL's user
OWN = "SY-TY-01"
OTHER = "SY-XH-02"
TIMEOUT_S = 15.0


# --- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path  # a CA that did not sign the server certificate


def make_pki(directory: Path) -> Pki:
    """A CA and a server certificate for 127.0.0.1 / localhost (EC P-256, valid for a day)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> Any:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key: Any, path: Path) -> None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)

    def make_ca(cn: str) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return key, cert

    ca_key, ca_cert = make_ca("AirCarbon test CA")
    _, other_cert = make_ca("Somebody else's CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        other_ca=directory / "other-ca.crt",
    )
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.other_ca.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    pki.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    write_key(server_key, pki.server_key)
    return pki


# --- the production config, rewritten for paths and ports ------------------------------------

# directives whose values are file paths or listener ports: the only ones rewritten
_REWRITTEN = {"persistence_location", "password_file", "acl_file", "cafile", "certfile", "keyfile"}


def _directives(text: str) -> list[str]:
    return [
        " ".join(line.split())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def render_production_config(text: str, *, root: Path, plain_port: int, tls_port: int) -> str:
    """The repository's config with ``/mosquitto/...`` under ``root`` and free listener ports.

    Fails if the repository file no longer has the directives this rewriting expects, so a
    changed production config cannot silently test something else.
    """
    out: list[str] = []
    listeners = 0
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            out.append(line)
            continue
        key = words[0]
        if key == "listener":
            # the first listener is the loopback plain one, the second the TLS one
            listeners += 1
            port = {1: plain_port, 2: tls_port}[listeners]
            out.append(" ".join(["listener", str(port), *words[2:]]))
        elif key in _REWRITTEN:
            assert words[1].startswith("/mosquitto/"), f"unexpected path in {line!r}"
            out.append(f"{key} {root}/{words[1].removeprefix('/mosquitto/')}")
        else:
            out.append(line)
    assert listeners == 2, "expected a loopback plain listener and a TLS listener"
    rendered = "\n".join(out) + "\n"
    kept = [d for d in _directives(text) if d.split()[0] not in {*_REWRITTEN, "listener"}]
    assert [
        d for d in _directives(rendered) if d.split()[0] not in {*_REWRITTEN, "listener"}
    ] == kept
    if os.geteuid() == 0:
        # as root, mosquitto 2.0 switches to the "mosquitto" user, which cannot read pytest's
        # private (0700) tmp_path: stay root (this is not a security directive of the file)
        rendered = "user root\n" + rendered
    return rendered


@dataclass
class ProductionBroker:
    root: Path
    plain_port: int
    tls_port: int
    pki: Pki
    passwd: Path
    acl: Path
    passwords: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    host = "127.0.0.1"

    @property
    def log_path(self) -> Path:
        return self.root / "mosquitto.log"

    @property
    def tls_url(self) -> str:
        return f"mqtts://{self.host}:{self.tls_port}"

    def start(self, binary: str) -> None:
        conf = self.root / "config" / "mosquitto.conf"
        conf.write_text(
            render_production_config(
                CONF.read_text(), root=self.root, plain_port=self.plain_port, tls_port=self.tls_port
            )
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # binary from shutil.which
                [binary, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        try:
            wait_for_port(self.host, self.plain_port, 10, self.proc)
            wait_for_port(self.host, self.tls_port, 10, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- mosquitto log ---\n{self.log()}") from exc

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def provision(station: str, passwd: Path, *, password: str | None = None) -> str:
    """Run scripts/provision_station.sh; returns the station's password."""
    env = dict(os.environ)
    args = ["bash", str(PROVISION)]
    if password is not None:
        env["STATION_PASSWORD"] = password
        args += ["--password-env", "STATION_PASSWORD"]
    done = subprocess.run(
        [*args, station, str(passwd)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    if password is None:
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout  # the generated password, once, alone on stdout
        password = lines[0]
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", password)
    else:
        assert done.stdout == ""
    return password


@pytest.fixture
def prod_broker(tmp_path: Path) -> Iterator[ProductionBroker]:
    binary = find_mosquitto()
    if binary is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto / mosquitto_passwd not installed: apt-get install mosquitto")
    root = tmp_path / "mosquitto"
    for sub in ("config", "data", "certs"):
        (root / sub).mkdir(parents=True)
    pki = make_pki(root / "certs")
    passwd = root / "config" / "passwd"
    acl = root / "config" / "acl"
    shutil.copyfile(ACL, acl)  # the repository's ACL, byte for byte
    passwords = {COLLECTOR_USER: "collector-secret", OTHER: "xh-02-secret"}
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwd), COLLECTOR_USER, passwords[COLLECTOR_USER]],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwd), OTHER, passwords[OTHER]],
        check=True,
        capture_output=True,
    )
    passwords[OWN] = provision(OWN, passwd)  # generated, printed once
    broker = ProductionBroker(
        root=root,
        plain_port=free_port(),
        tls_port=free_port(),
        pki=pki,
        passwd=passwd,
        acl=acl,
        passwords=passwords,
    )
    broker.start(binary)
    try:
        yield broker
    finally:
        broker.stop()


# --- MQTT clients ------------------------------------------------------------------------------


def connect_result(
    port: int,
    *,
    username: str | None,
    password: str | None = None,
    ca: Path | None = None,
    timeout: float = 5.0,
) -> str:
    """Try an MQTT 3.1.1 connection: ``"ok"``, ``"refused: <reason>"``, ``"no CONNACK"`` or
    ``"error: <exception>"``."""
    done = threading.Event()
    result: list[str] = []
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result.append(f"refused: {reason}" if reason.is_failure else "ok")
        done.set()

    def on_disconnect(*_: Any) -> None:
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return f"error: {exc}"
    client.loop_start()
    try:
        done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0] if result else "no CONNACK"


def station_publish(
    broker: ProductionBroker, station: str, messages: list[tuple[str, bytes]]
) -> None:
    """Publish as ``station`` over TLS at QoS 1, in order, waiting for every PUBACK."""
    connected = threading.Event()
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"station-{station}", protocol=paho.MQTTv311
    )
    client.username_pw_set(station, broker.passwords[station])
    client.tls_set(ca_certs=str(broker.pki.ca), cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda _c, _u, _f, reason, _p: (
        None if reason.is_failure else connected.set()
    )
    client.connect(broker.host, broker.tls_port)
    client.loop_start()
    try:
        assert connected.wait(TIMEOUT_S), f"{station} could not connect over TLS"
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(TIMEOUT_S)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def station_message(
    station: str, seq: int, *, topic_station: str | None = None
) -> tuple[str, bytes]:
    _, payload = reading_message(seq * 5, station=station)  # 6 readings, ts a minute apart
    return f"aircarbon/v1/{topic_station or station}/readings", payload


def tls_collector(broker: ProductionBroker, data_dir: Path, **env: str) -> Collector:
    """The real collector, configured the way an operator does: AIRCARBON_* settings."""
    settings = load_settings(
        env={
            "AIRCARBON_BROKER_URL": broker.tls_url,
            "AIRCARBON_BROKER_PASSWORD": broker.passwords[COLLECTOR_USER],
            "AIRCARBON_TLS_CA": str(broker.pki.ca),
            "AIRCARBON_DATA_DIR": str(data_dir),
            "AIRCARBON_CLIENT_ID": "tls-collector",
            "AIRCARBON_BATCH_MAX_AGE_S": "0.2",
            "AIRCARBON_RECONNECT_MAX_S": "1",
            **env,
        }
    )
    collector = Collector.from_settings(settings, load_catalog())
    assert collector.config.endpoint.tls
    assert collector.config.endpoint.ca == broker.pki.ca
    assert collector.config.endpoint.username == COLLECTOR_USER
    return collector


# --- tests ---------------------------------------------------------------------------------------


def test_config_rewrite_keeps_every_security_directive(tmp_path: Path) -> None:
    rendered = render_production_config(CONF.read_text(), root=tmp_path, plain_port=1, tls_port=2)
    directives = _directives(rendered)
    for expected in (
        "allow_anonymous false",
        "per_listener_settings false",
        "persistence true",
        "max_queued_messages 2000000",
        "tls_version tlsv1.2",
        "require_certificate false",
        "listener 1 127.0.0.1",
        "listener 2",
        f"password_file {tmp_path}/config/passwd",
        f"acl_file {tmp_path}/config/acl",
        f"cafile {tmp_path}/certs/ca.crt",
    ):
        assert expected in directives
    assert not any("/mosquitto/" in d for d in directives)


def test_plain_mqtt_is_refused(prod_broker: ProductionBroker) -> None:
    b = prod_broker
    # (a) plain MQTT to the TLS listener: the TLS layer drops it before any CONNACK
    for user, pw in ((None, None), (COLLECTOR_USER, b.passwords[COLLECTOR_USER])):
        outcome = connect_result(b.tls_port, username=user, password=pw)
        assert outcome == "no CONNACK" or outcome.startswith("error"), outcome
    # TLS from a client that trusts another CA: the server's certificate is refused
    context = ssl.create_default_context(cafile=str(b.pki.other_ca))
    with (
        socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT_S) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
        context.wrap_socket(sock, server_hostname=b.host),
    ):
        pass
    # ... and one that trusts ours completes the handshake (SAN 127.0.0.1 matches)
    context = ssl.create_default_context(cafile=str(b.pki.ca))
    with (
        socket.create_connection((b.host, b.tls_port), timeout=TIMEOUT_S) as sock,
        context.wrap_socket(sock, server_hostname=b.host) as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
    # the repository config keeps one plain listener, on loopback only, for an on-host
    # collector and health checks: anonymous clients are refused there as everywhere
    assert connect_result(b.plain_port, username=None).startswith("refused")
    assert connect_result(b.plain_port, username="nobody", password="x").startswith("refused")
    # ... while a real user may use it (that is what the listener is for)
    assert connect_result(b.plain_port, username=OWN, password=b.passwords[OWN]) == "ok"
    # and over TLS with the CA, the station connects
    assert connect_result(b.tls_port, username=OWN, password=b.passwords[OWN], ca=b.pki.ca) == "ok"


def test_wrong_password_is_refused(prod_broker: ProductionBroker, tmp_path: Path) -> None:
    b = prod_broker
    ca = b.pki.ca
    assert connect_result(b.tls_port, username=OWN, password="wrong", ca=ca).startswith("refused")
    assert connect_result(b.tls_port, username=OWN, password=None, ca=ca).startswith("refused")
    # a station's password does not open another station's account
    pw_other = b.passwords[OTHER]
    assert connect_result(b.tls_port, username=OWN, password=pw_other, ca=ca).startswith("refused")
    assert connect_result(b.tls_port, username=None, ca=ca).startswith("refused")


async def test_collector_with_wrong_password_never_connects(
    prod_broker: ProductionBroker, tmp_path: Path
) -> None:
    collector = tls_collector(prod_broker, tmp_path, AIRCARBON_BROKER_PASSWORD="wrong")
    task = asyncio.create_task(collector.run())
    try:
        await wait_for(lambda: collector.stats.reconnects >= 2, 15)
        assert not collector.connected.is_set()
        assert not collector.stats.connected
    finally:
        collector.stop()
        await asyncio.wait_for(task, 15)


async def test_collector_over_tls_lands_station_readings(
    prod_broker: ProductionBroker, tmp_path: Path
) -> None:
    b = prod_broker
    collector = tls_collector(b, tmp_path)
    n = 20
    async with running(collector):
        await asyncio.to_thread(
            station_publish, b, OWN, [station_message(OWN, i) for i in range(n)]
        )
        await wait_for(lambda: collector.stats.messages_total >= n, TIMEOUT_S)
        await wait_for(lambda: collector.stats.pending_acks == 0, TIMEOUT_S)
    raw = read_raw(tmp_path)
    assert raw.height == n * len(PARAMS)
    assert set(raw["station"]) == {OWN}
    assert collector.stats.acks_sent == n
    assert collector.stats.stations[OWN].messages == n


async def test_station_cannot_publish_as_another_station(
    prod_broker: ProductionBroker, tmp_path: Path
) -> None:
    """(c) SY-TY-01 publishing under SY-XH-02's topic is dropped by the broker's ACL.

    Mosquitto acknowledges the publish (MQTT 3.1.1 has no way to say "denied") and delivers it
    to nobody. The proof it was not merely late: on the same connection, in order, a good
    message follows, and only that one reaches the collector (MQTT keeps one publisher's QoS 1
    messages in order).
    """
    b = prod_broker
    collector = tls_collector(b, tmp_path)
    async with running(collector):
        forged = station_message(OTHER, 1)  # a perfectly valid SY-XH-02 message
        also_forged = station_message(OWN, 2, topic_station=OTHER)
        good = station_message(OWN, 3)
        await asyncio.to_thread(station_publish, b, OWN, [forged, also_forged, good])
        await wait_for(lambda: collector.stats.messages_total >= 1, TIMEOUT_S)
        await wait_for(lambda: collector.stats.pending_acks == 0, TIMEOUT_S)
        # the real SY-XH-02 still can publish on its own topic
        await asyncio.to_thread(station_publish, b, OTHER, [station_message(OTHER, 4)])
        await wait_for(lambda: collector.stats.messages_total >= 2, TIMEOUT_S)
        await asyncio.sleep(0.5)  # anything else in flight would arrive by now
    assert collector.stats.messages_total == 2
    raw = read_raw(tmp_path)
    assert sorted(set(zip(raw["station"], raw["seq"], strict=True))) == [(OWN, 3), (OTHER, 4)]
    assert collector.stats.stations[OTHER].messages == 1
    assert sum(collector.stats.dead_letters_total.values()) == 0


async def test_collectors_share_the_load_over_tls(
    prod_broker: ProductionBroker, tmp_path: Path
) -> None:
    """The ACL's ``$share`` line: two collectors in one shared-subscription group over TLS."""
    b = prod_broker
    one = tls_collector(b, tmp_path, AIRCARBON_SHARE_GROUP="ingest", AIRCARBON_CLIENT_ID="c1")
    two = tls_collector(b, tmp_path, AIRCARBON_SHARE_GROUP="ingest", AIRCARBON_CLIENT_ID="c2")
    assert one.config.topic == "$share/ingest/aircarbon/v1/+/+"
    n = 40
    async with running(one), running(two):
        await asyncio.to_thread(
            station_publish, b, OWN, [station_message(OWN, i) for i in range(n)]
        )

        def total() -> int:
            return one.stats.messages_total + two.stats.messages_total

        await wait_for(lambda: total() >= n, TIMEOUT_S)
        await asyncio.sleep(0.3)
    assert total() == n
    assert one.stats.messages_total > 0
    assert two.stats.messages_total > 0
    raw = read_raw(tmp_path)
    assert raw.unique(["station", "param", "ts"]).height == n * len(PARAMS)


async def test_simulate_publishes_over_mqtts(prod_broker: ProductionBroker, tmp_path: Path) -> None:
    """``aircarbon simulate`` over mqtts://, as station SY-TY-01 (the ACL confines a station's
    user to its own topics, so a simulated station uses that station's credentials)."""
    b = prod_broker
    collector = tls_collector(b, tmp_path / "data")
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).date().isoformat()
    count = 30
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env.update(
        {
            "AIRCARBON_TLS_CA": str(b.pki.ca),
            "AIRCARBON_BROKER_PASSWORD": b.passwords[OWN],
            # simulate simulates the data dir's network: an empty one holds the sample's,
            # whatever ./data of the working directory holds
            "AIRCARBON_DATA_DIR": str(tmp_path / "simulator-data"),
        }
    )
    async with running(collector):
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "aircarbon",
                "simulate",
                "--broker",
                b.tls_url,
                "--username",
                OWN,
                "--stations",
                OWN,
                "--start",
                start,
                "--count",
                str(count),
                "--json",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["total"] == count
        assert report["broker"] == b.tls_url
        await wait_for(lambda: collector.stats.messages_total >= count, TIMEOUT_S)
    assert collector.stats.messages_total == count
    raw = read_raw(tmp_path / "data")
    assert raw.height > 0
    assert set(raw["station"]) == {OWN}


# paho leaves the socket of a failed TLS handshake to the garbage collector (aiomqtt and the
# publisher both connect through paho): closed there, with a ResourceWarning
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_every_client_library_connects_over_tls_from_one_endpoint(
    prod_broker: ProductionBroker,
) -> None:
    """One endpoint from the operators' settings; the native transport, aiomqtt (collector's
    alternative, gateway) and paho (warning publisher, simulator) all connect with it over TLS,
    and all refuse a broker whose certificate the configured CA did not sign."""
    import aiomqtt

    from aircarbon.core.errors import BrokerError
    from ingest.mqtt_client import MqttEndpoint, aiomqtt_client, endpoint
    from ingest.mqtt_native import MqttNativeError, NativeConnection, NativeOptions
    from ingest.mqtt_publish import MqttPublisher

    b = prod_broker

    def settings_endpoint(ca: Path) -> MqttEndpoint:
        env = {
            "AIRCARBON_BROKER_URL": b.tls_url,
            "AIRCARBON_BROKER_USERNAME": COLLECTOR_USER,
            "AIRCARBON_BROKER_PASSWORD": b.passwords[COLLECTOR_USER],
            "AIRCARBON_TLS_CA": str(ca),
        }
        ep = endpoint(load_settings(env), client_id="one-endpoint")
        assert ep is not None
        assert ep.tls
        return ep

    def publisher_connects(ep: MqttEndpoint) -> None:
        with MqttPublisher(dataclasses.replace(ep, protocol="v311"), connect_timeout_s=TIMEOUT_S):
            pass

    good = settings_endpoint(b.pki.ca)
    conn = await NativeConnection.open(NativeOptions(good))
    await conn.disconnect()
    async with aiomqtt_client(dataclasses.replace(good, protocol="v311")):
        pass
    async with aiomqtt_client(good):  # v5, as the collector's paho transport
        pass
    await asyncio.to_thread(publisher_connects, good)

    wrong = settings_endpoint(b.pki.other_ca)
    with pytest.raises(MqttNativeError, match="certificate verify failed"):
        await NativeConnection.open(NativeOptions(wrong))
    with pytest.raises(aiomqtt.MqttError, match="certificate verify failed"):
        async with aiomqtt_client(wrong):
            pass
    with pytest.raises(BrokerError, match="certificate verify failed"):
        await asyncio.to_thread(publisher_connects, wrong)
