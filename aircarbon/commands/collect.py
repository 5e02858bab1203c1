"""``aircarbon collect``: run the collector (and its health server) until SIGTERM/SIGINT.

With no broker URL configured it starts the embedded broker (amqtt, MQTT 3.1.1, sessions
persisted under the data directory) and connects to it, so a laptop needs nothing else.
On SIGTERM or SIGINT the collector lands and acknowledges what it holds, then exits 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from pathlib import Path
from typing import Literal

from aircarbon.core.catalog import catalog_for
from aircarbon.core.settings import Settings, load_settings

__all__ = ["run", "serve"]

log = logging.getLogger("aircarbon.collect")


def run(
    *,
    broker: str | None,
    data_dir: Path | None,
    health_port: int | None,
    share_group: str | None,
    client_id: str | None,
) -> None:
    settings = load_settings(
        broker_url=broker,
        data_dir=data_dir,
        health_port=health_port,
        share_group=share_group,
        client_id=client_id,
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("amqtt", "transitions"):  # embedded broker chatter: errors only
        logging.getLogger(noisy).setLevel(max(logging.ERROR, logging.getLogger().level))
    asyncio.run(serve(settings))


async def serve(settings: Settings) -> None:
    """Collect until a signal (or cancellation); flush and acknowledge before returning."""
    from ingest.collector import Collector
    from ingest.embedded_broker import EmbeddedBroker
    from ingest.health_server import HealthServer
    from warehouse.forecast_warnings import latest_warnings

    catalog = catalog_for(settings)
    embedded: EmbeddedBroker | None = None
    url = settings.broker_url
    protocol: Literal["v5", "v311"] | None = None
    if url is None:
        embedded = EmbeddedBroker(persistence_path=settings.data_dir / "broker" / "sessions.db")
        await embedded.start()
        url, protocol = embedded.url, "v311"
        log.info("no AIRCARBON_BROKER_URL: embedded broker on %s", url)
    collector = Collector.from_settings(settings, catalog, url=url, protocol=protocol)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, collector.stop)
    health = HealthServer(
        collector.stats,
        host=settings.health_host,
        port=settings.health_port,
        gateway_url=settings.gateway_health_url,
        warnings_reader=functools.partial(latest_warnings, settings),
    )
    health_task = asyncio.create_task(health.serve(), name="health-server")
    started = asyncio.create_task(health.started.wait())
    await asyncio.wait({health_task, started}, return_when=asyncio.FIRST_COMPLETED)
    if health_task.done():  # could not listen: say so in one line rather than run blind
        started.cancel()
        if embedded is not None:
            await embedded.stop()
        health_task.result()
    log.info("health page on http://%s:%d/", settings.health_host, health.port)
    try:
        await collector.run()
    finally:
        await health.shutdown()
        health_task.cancel()
        await asyncio.gather(health_task, return_exceptions=True)
        if embedded is not None:
            await embedded.stop()
    log.info(
        "collector stopped: %d messages, %d readings, %d dead letters",
        collector.stats.messages_total,
        collector.stats.readings_total,
        sum(collector.stats.dead_letters_total.values()),
    )
