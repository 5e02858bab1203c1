"""The one MQTT connection set-up: every AirCarbon client connects through this module.

The collector (its own v5 transport or aiomqtt/paho), the HJ 212 gateway (aiomqtt), the
forecast's warning publisher and the simulator (paho, through :mod:`ingest.mqtt_publish`)
used to read the broker URL, TLS files and credentials from the settings each in its own
way. Here the settings become one frozen :class:`MqttEndpoint` in one function,
:func:`endpoint`; :func:`tls_context` is the one TLS context (server certificate and host
name verified, an optional client certificate), and :func:`paho_client`
and :func:`aiomqtt_client` turn an endpoint into each library's client, and the collector's own
v5 transport takes the endpoint itself (:class:`ingest.mqtt_native.NativeOptions`).
What differs between the roles — client id, default user name, protocol, a session — is a
parameter of :func:`endpoint` or of the constructor, chosen by the role, never re-parsed.

Only the standard library at module level: the warning publisher should not load aiomqtt or
the Rust codec to send one message.
"""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import aiomqtt
    import paho.mqtt.client as paho

    from aircarbon.core.settings import Settings

__all__ = [
    "Backoff",
    "MqttEndpoint",
    "MqttProtocol",
    "aiomqtt_client",
    "endpoint",
    "paho_client",
    "tls_context",
]

MqttProtocol = Literal["v5", "v311"]
#: aiomqtt's wait for CONNACK (and for any request without its own timeout)
_AIOMQTT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where and how one client connects: broker, TLS, credentials, identity, protocol.

    Without ``tls`` the TLS files are not used (:func:`endpoint` leaves them out: with a plain
    ``mqtt://`` URL they never were, and an endpoint carrying them would suggest otherwise).
    """

    host: str
    port: int
    tls: bool = False
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line
    client_id: str = ""
    protocol: MqttProtocol = "v5"
    keepalive_s: int = 30

    @property
    def url(self) -> str:
        """The broker as a URL without credentials (for messages and reports)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def endpoint(
    settings: Settings,
    *,
    url: str | None = None,
    client_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    default_username: str | None = None,
    protocol: MqttProtocol | None = None,
) -> MqttEndpoint | None:
    """The broker endpoint of ``settings`` for one role; None when no broker URL is set.

    ``url`` replaces ``broker_url`` (a CLI flag, the embedded broker) and is validated like
    it. Credentials, first given first: ``username``/``password`` (CLI flags), the settings'
    ``broker_username``/``broker_password``, the URL's user info, then ``default_username``
    (each role connects under its own name, which the broker's ACL knows). ``client_id``
    defaults to the settings' (the collector's); ``protocol`` to ``mqtt_protocol``.
    """
    source = settings.with_overrides(broker_url=url) if url else settings
    target = source.broker()  # the one parse of the URL (scheme, host, port, user info)
    if target is None:
        return None
    return MqttEndpoint(
        host=target.host,
        port=target.port,
        tls=target.tls,
        ca=settings.tls_ca if target.tls else None,
        cert=settings.tls_cert if target.tls else None,
        key=settings.tls_key if target.tls else None,
        username=username or target.username or default_username,
        password=password or target.password,
        client_id=settings.client_id if client_id is None else client_id,
        protocol=protocol or settings.mqtt_protocol,
        keepalive_s=settings.keepalive_s,
    )


class Backoff:
    """Reconnect delays: doubling from ``min_s`` up to ``max_s``, back to ``min_s`` on success.

    With ``jitter`` a wait is drawn uniformly from [delay/2, delay], so that clients that lost
    the broker together do not all come back at the same instant.
    """

    def __init__(self, min_s: float, max_s: float, *, jitter: bool = True) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self.jitter = jitter
        self._delay = min_s

    def reset(self) -> None:
        """Connected: the next loss starts over from ``min_s``."""
        self._delay = self.min_s

    def next(self) -> float:
        """Seconds to wait before the next attempt (then the delay doubles)."""
        delay = self._delay
        self._delay = min(delay * 2, self.max_s)
        return random.uniform(delay / 2, delay) if self.jitter else delay  # jitter, not crypto


def tls_context(ep: MqttEndpoint) -> ssl.SSLContext | None:
    """The client TLS context of ``ep`` (None without TLS).

    Verifies the server's certificate (against ``ca``, else the system's roots) and host
    name; presents ``cert``/``key`` when given. The same context for every client library,
    so a certificate that works for the collector works for the gateway and the publisher.
    """
    if not ep.tls:
        return None
    ctx = ssl.create_default_context(cafile=str(ep.ca) if ep.ca else None)
    if ep.cert:
        ctx.load_cert_chain(str(ep.cert), str(ep.key) if ep.key else None)
    return ctx


def paho_client(ep: MqttEndpoint, *, clean: bool = True) -> paho.Client:
    """A paho 2.x client (callback API 2) for ``ep``, not yet connected.

    Connect it with ``ep.host``, ``ep.port`` and ``ep.keepalive_s``. ``clean``: a clean
    session under v3.1.1; under v5 paho takes clean start as an argument of ``connect``.
    """
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    v5 = ep.protocol == "v5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=ep.client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else clean,
    )
    if ep.username:
        client.username_pw_set(ep.username, ep.password)
    ctx = tls_context(ep)
    if ctx is not None:
        client.tls_set_context(ctx)
    return client


def _aiomqtt_tls(ep: MqttEndpoint) -> ssl.SSLContext | None:
    """:func:`tls_context`, its failure (a missing CA file) an ``MqttError`` like aiomqtt's own.

    The aiomqtt users' reconnect loops catch ``MqttError`` only; aiomqtt's ``tls_params``
    used to fail that way at connect, so a CA file put in place later is picked up.
    """
    import aiomqtt

    try:
        return tls_context(ep)
    except OSError as exc:  # ssl.SSLError included
        raise aiomqtt.MqttError(f"TLS set-up failed: {exc}") from exc


def aiomqtt_client(ep: MqttEndpoint, **options: Any) -> aiomqtt.Client:
    """An aiomqtt client for ``ep``; ``options`` adds the role's own (session, window)."""
    import aiomqtt

    version = aiomqtt.ProtocolVersion.V5 if ep.protocol == "v5" else aiomqtt.ProtocolVersion.V311
    kwargs: dict[str, Any] = {
        "identifier": ep.client_id,
        "username": ep.username,
        "password": ep.password,
        "keepalive": ep.keepalive_s,
        "tls_context": _aiomqtt_tls(ep),
        "protocol": version,
        "timeout": _AIOMQTT_TIMEOUT_S,
    }
    kwargs.update(options)
    return aiomqtt.Client(ep.host, ep.port, **kwargs)
