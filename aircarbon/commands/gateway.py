"""``aircarbon gateway hj212``: accept data loggers over TCP and publish their frames to MQTT.

Only Typer at module level; the gateway (aiomqtt, pyarrow) loads inside the command.
SIGTERM/SIGINT stop it gracefully: every connection finishes the frame in hand (published
and answered, or left unanswered for the logger to resend), dead letters are flushed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    from ingest.hj212_gateway import Gateway

__all__ = ["app"]

log = logging.getLogger("aircarbon.gateway")

app = typer.Typer(help="Gateways that bring devices' own protocols to MQTT.", no_args_is_help=True)


@app.command("hj212")
def hj212_command(
    listen: Annotated[
        str | None,
        typer.Option(help="HOST:PORT to accept data loggers on (default: gateway_listen)."),
    ] = None,
    broker: Annotated[
        str | None, typer.Option(help="mqtt://host:port or mqtts://… (default: settings).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (rejected frames' dead letters).")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="Health/metrics HTTP port (0: any free port).")
    ] = None,
) -> None:
    """Run the HJ 212 TCP gateway: frames → aircarbon/v1/{station}/hj212, QoS 1, answered
    (CN=9014) only after the broker's PUBACK; bad frames and unknown MNs never answered."""
    from aircarbon.core.catalog import catalog_for
    from aircarbon.core.settings import load_settings
    from ingest.hj212_gateway import Gateway, GatewayConfig

    settings = load_settings(data_dir=data_dir, gateway_health_port=health_port)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = GatewayConfig.from_settings(settings, listen=listen, broker_url=broker)
    except ValueError as exc:
        raise AirCarbonError(str(exc)) from None
    gateway = Gateway(
        config,
        catalog=catalog_for(settings),
        data_dir=settings.data_dir,
        network=lambda: catalog_for(settings),
        network_poll_s=settings.network_poll_s,
    )
    asyncio.run(_serve(gateway))


async def _serve(gateway: Gateway) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, gateway.stop)
    task = asyncio.create_task(gateway.run(), name="hj212-gateway")
    started = asyncio.create_task(gateway.listening.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # could not listen: one line, not a traceback
        started.cancel()
        exc = task.exception()
        if isinstance(exc, OSError):
            raise AirCarbonError(f"gateway cannot listen: {exc.strerror or exc}") from None
        task.result()
    log.info(
        "HJ 212 gateway on %s:%d, health on http://%s:%s/",
        gateway.config.host,
        gateway.port,
        gateway.config.health_host,
        gateway.health_port,
    )
    await task
