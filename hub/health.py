"""``GET /healthz`` (the process is up and the relational store answers) and ``GET /readyz``
(it is also subscribed to the broker, so it is taking its share of the homes' messages, and
applies each one — a panic first — in its home's order: ``alarm_backlog`` says how many homes'
events stored before the start-up are still being applied behind that, ADR 0184)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from hub.alarms.keys import ALARM_BACKLOG
from hub.appkeys import MQTT, SESSIONMAKER, SETTINGS
from hub.auth.web import public
from hub.cluster.keys import OWNERSHIP
from hub.ingest.app import MQTT_CLIENT


async def _database_error(request: web.Request) -> str | None:
    try:
        async with request.app[SESSIONMAKER]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as err:  # any database failure means "not healthy"
        return type(err).__name__
    return None


@public("probes of the load balancer and orchestrator; says only ok or error")
async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok"}`` when the database answers, 503 otherwise."""
    error = await _database_error(request)
    if error is not None:
        return web.json_response({"status": "error", "database": error}, status=503)
    return web.json_response({"status": "ok"})


@public("probes of the load balancer and orchestrator; says only ok or error")
async def readyz(request: web.Request) -> web.Response:
    """200 when the database answers and, if this worker ingests, its subscription is live
    (then every live event is applied, each after its home's start-up backlog if it has one).

    A load balancer or a second worker's start-up waits on this rather than on the HTTP
    port: the port opens before the broker has acknowledged the shared subscription.
    """
    body: dict[str, str] = {"status": "ok", "database": "ok"}
    error = await _database_error(request)
    if error is not None:
        body.update(status="error", database=error)
    ingesting = request.app.get(MQTT) is not None and request.app[SETTINGS].ingest_enabled
    if ingesting:
        client = request.app.get(MQTT_CLIENT)
        subscribed = client is not None and client.subscribed.is_set()
        body["broker"] = "subscribed" if subscribed else "disconnected"
        if not subscribed:
            body["status"] = "error"
    backlog = request.app.get(ALARM_BACKLOG)
    if backlog is not None:
        # Not a reason to refuse: any event of those homes applies their backlog first.
        body["alarm_backlog"] = str(backlog.homes_left)
    ownership = request.app.get(OWNERSHIP)
    if ownership is not None:
        # One owner per home (ADR 0147): ready once this worker has taken part in a beat.
        body["partitions"] = str(len(ownership.owned))
        if not ownership.ready.is_set():
            body["status"] = "error"
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


def setup(app: web.Application) -> None:
    """Add ``/healthz`` and ``/readyz``."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
