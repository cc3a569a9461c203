"""Wires supervision into the hub app: a companion of the ingester (it observes every accepted
message and hands its own events on through the ingester), so the ingester knows nothing of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.ingest.app import PARTITIONS
from hub.ingest.ingester import Ingester
from hub.ingest.keys import INGEST_COMPANIONS
from hub.supervision.supervisor import Supervisor

SUPERVISOR = web.AppKey("supervisor", Supervisor)


def setup(app: web.Application) -> None:
    """Start supervision with the ingester (when ingestion runs)."""

    async def start(ingester: Ingester) -> Callable[[], Awaitable[None]]:
        settings = app[SETTINGS]
        supervisor = Supervisor(
            ingester,
            app[SESSIONMAKER],
            clock=app[CLOCK],
            intervals=settings.supervision_intervals,
            check_every_s=settings.supervision_check_s,
            low_battery_percent=settings.low_battery_percent,
        )
        # A flooding device's technical alarm is a hub-made event, stored and handed on by
        # supervision like a silent device's.
        ingester.on_flooding = supervisor.flooding
        if ingester.partition_gate is not None:
            # One owner per home (ADR 0147): silence is judged by the owner, which hears it.
            supervisor.watching = ingester.partition_gate.owns_home
        elif (parts := app.get(PARTITIONS)) is not None:
            # The same on a partitioned broker (ADR 0145): the owner consumes the home.
            supervisor.watching = parts.owns_home
        await supervisor.start()
        app[SUPERVISOR] = supervisor
        return supervisor.stop

    app[INGEST_COMPANIONS].append(start)
