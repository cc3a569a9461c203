"""The alarm context's place in the hub: ``setup(app)`` (listed in ``ROUTE_MODULES``).

``setup(app)`` adds the alarms API of docs/alarms-api.md and the live socket
(:mod:`hub.alarms.routes`), and starts the :class:`~hub.alarms.engine.AlarmEngine` with the
app (after the database) and its timer loop, which fires whatever became due — also what
became due while the hub was down — and, on PostgreSQL, the
:class:`~hub.alarms.fanout.AlarmFanout` that brings the other hub workers' alarm changes to
this worker's live sockets. Its app keys are in :mod:`hub.alarms.keys`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from hub.alarms.backlog import Backlog, load_backlog, log_applied
from hub.alarms.effects import HubAlarmEffects, TabletSettingsSender
from hub.alarms.engine import AlarmEngine
from hub.alarms.fanout import AlarmFanout, Relay, connector, send_resident_changed
from hub.alarms.keys import (
    ALARM_BACKLOG,
    ALARM_EFFECTS,
    ALARM_ENGINE,
    ALARM_FANOUT,
    ALARM_SETTINGS,
    ALARM_SINK,
    ALARM_SOCKETS,
    FANOUT_RELAYS,
)
from hub.alarms.live import ALARM_LIVE, AlarmLive
from hub.alarms.missed_doses import MISSED_DOSE_SINK
from hub.alarms.ownership import EngineHomes
from hub.alarms.plans import care_service
from hub.alarms.received import EventReceivedSender
from hub.alarms.routes import (
    accept_alarm,
    codes,
    contact_attempt,
    emergency_payload,
    escalate_alarm,
    get_alarm,
    list_alarms,
    live,
    note,
    resolve_alarm,
)
from hub.alarms.settings import AlarmSettings
from hub.alarms.sink import AlarmSink
from hub.appkeys import (
    CLOCK,
    CONFIG,
    ENGINE,
    RESIDENT_LISTENERS,
    SESSIONMAKER,
    SETTINGS,
    WRITE_GATE,
)
from hub.cluster.keys import OWNERSHIP, PARTITION_PARTICIPANTS
from hub.db.models import Resident
from hub.ingest.app import INGESTER
from hub.ingest.keys import CONNECT_LISTENERS, DEVICE_COMMANDS, EVENT_SINKS
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)

# How long the start-up waits for the fan-out's first LISTEN before serving anyway.
FANOUT_START_S = 10.0


async def _close_sockets(app: web.Application) -> None:
    """At shutdown: tell every console to reconnect (to this hub's successor)."""
    sockets: set[web.WebSocketResponse] = app[ALARM_SOCKETS]
    for socket in list(sockets):
        with contextlib.suppress(Exception):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"hub stopping")


async def _scheduler(engine: AlarmEngine) -> None:
    """Fire due timers; sleeps until the next one (or until woken by a change)."""
    while True:
        try:
            await engine.run_due()
            delay = await engine.seconds_until_due()
        except Exception:  # a database hiccup must not end the timer loop
            _LOGGER.exception("alarm timers failed; retrying in 1 s")
            delay = 1.0
        engine.wakeup.clear()
        with contextlib.suppress(TimeoutError):  # (not wait_for: see AlarmSink.yield_to_urgent)
            async with asyncio.timeout(max(delay, 0.05)):
                await engine.wakeup.wait()


async def _backlog_then_timers(
    backlog: Backlog, sink: AlarmSink, engine: AlarmEngine, *, timers: bool
) -> None:
    """Apply the start-up backlog behind urgent work, then run the timer loop (also if the
    backlog failed: what is left of it is applied by its homes' live events)."""
    began, cpu = time.perf_counter(), time.process_time()
    try:
        await backlog.run(pause=sink.yield_to_urgent)
    except Exception:
        _LOGGER.exception("applying the alarm engine's start-up backlog failed")
    log_applied(backlog, time.perf_counter() - began, time.process_time() - cpu)
    if timers:
        await _scheduler(engine)


async def _flusher(engine: AlarmEngine, every_s: float = 1.0) -> None:
    """Write rule states changed by routine events (batched, about once a second)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await engine.flush()
        except Exception:  # the next round retries; replay covers a crash meanwhile
            _LOGGER.exception("flushing alarm rule states failed")


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[ALARM_SETTINGS]
    async with aiohttp.ClientSession() as http:
        effects = HubAlarmEffects(settings, app[SESSIONMAKER], http)
        effects.commands = app[DEVICE_COMMANDS]
        effects.care_service = care_service(app)
        engine = AlarmEngine(
            app[SESSIONMAKER],
            app[CLOCK],
            app[ALARM_LIVE],
            effects,
            handoff_longest=effects.handoff_longest,
            gate=app[WRITE_GATE],
            care_service=care_service(app),
            delivery_retention=timedelta(days=settings.delivery_retention_days),
        )
        app[ALARM_EFFECTS] = effects
        app[ALARM_ENGINE] = engine
        engine.missed_dose_sink = app.get(MISSED_DOSE_SINK)

        async def plan_changed(resident_id: int) -> None:
            try:
                async with app[SESSIONMAKER]() as session:
                    resident = await session.get(Resident, resident_id)
                if resident is not None:
                    await engine.reload_plan(str(resident_id), str(resident.home_id))
                    # The other workers replace their cached copy of the plan.
                    async with app[SESSIONMAKER]() as session:
                        await send_resident_changed(session, str(resident_id))
                        await session.commit()
            except Exception:  # the next load of this resident takes the change anyway
                _LOGGER.exception("applying resident %s's new plan failed", resident_id)

        app[RESIDENT_LISTENERS].append(plan_changed)
        partitions = app[SETTINGS].partitions
        homes: EngineHomes | None = None
        if partitions > 0:
            # One owner per home (ADR 0147): each partition taken over replays its homes.
            homes = EngineHomes(
                engine, app[SESSIONMAKER], app[CLOCK], partitions, lambda: app.get(OWNERSHIP)
            )
            homes.install()
            app[PARTITION_PARTICIPANTS].append(homes)
        sink = app[ALARM_SINK]
        task: asyncio.Task[None] | None = None
        if homes is None:
            # Events stored but not applied when the hub last stopped (or died): read now,
            # applied in the background while the hub serves; each home's live events wait
            # for its backlog, which a live event applies at once (ADR 0184). Timers fire
            # once it is all applied (a timer must not overtake an event stored before it).
            ingester = app.get(INGESTER)
            backlog = await load_backlog(
                engine,
                app[SESSIONMAKER],
                app[CLOCK](),
                registry=ingester.registry if ingester is not None else None,
            )
            app[ALARM_BACKLOG] = backlog
            sink.gate = backlog.ready
            sink.start(engine)
            task = asyncio.create_task(
                _backlog_then_timers(backlog, sink, engine, timers=settings.scheduler),
                name="alarm-backlog",
            )
        else:
            sink.start(engine)
            task = asyncio.create_task(_scheduler(engine)) if settings.scheduler else None
        flusher = asyncio.create_task(_flusher(engine))
        fanout = await _start_fanout(app)
        try:
            yield
        finally:
            await sink.stop()
            if homes is not None:
                await homes.stop()
            await cancel_and_wait((task, flusher, fanout))
            try:
                await engine.flush()
            except Exception:  # the start-up replay re-applies what was not written
                _LOGGER.exception("final flush of alarm rule states failed")


async def _start_fanout(app: web.Application) -> asyncio.Task[None] | None:
    """On PostgreSQL, listen for the other workers' alarm changes (before serving, so a
    socket opened after the start-up misses nothing); SQLite serves one worker."""
    engine = app[ENGINE]
    if engine.dialect.name != "postgresql":
        return None
    name = f"teleassist-fanout {app[SETTINGS].ingest_client_id or 'hub'}"
    relays: list[Relay] = app[FANOUT_RELAYS]
    fanout = AlarmFanout(
        connector(engine.url, name),
        app[SESSIONMAKER],
        app[ALARM_LIVE],
        app[CLOCK],
        on_resident=app[ALARM_ENGINE].plan_changed_elsewhere,
        relays=relays,
    )
    app[ALARM_FANOUT] = fanout
    task = asyncio.create_task(fanout.run(), name="alarm-fanout")
    try:
        async with asyncio.timeout(FANOUT_START_S):
            await fanout.listening.wait()
    except TimeoutError:
        _LOGGER.warning("alarm fan-out not listening yet; serving anyway (it keeps trying)")
    return task


def setup(app: web.Application) -> None:
    """Routes and the engine's lifetime."""
    app[ALARM_SETTINGS] = app[CONFIG].section("alarms", AlarmSettings)
    app[ALARM_LIVE] = AlarmLive()
    app[ALARM_SINK] = AlarmSink()
    app[ALARM_SINK].on_applied = EventReceivedSender(app[DEVICE_COMMANDS])
    app[ALARM_SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
    app[EVENT_SINKS].append(app[ALARM_SINK])
    app[CONNECT_LISTENERS].append(TabletSettingsSender(lambda: app.get(ALARM_EFFECTS)))
    app.cleanup_ctx.append(_engine_ctx)
    app.router.add_get("/api/alarms", list_alarms)
    app.router.add_get("/api/alarms/codes", codes)
    app.router.add_get("/api/alarms/live", live)
    app.router.add_get("/api/alarms/{alarm_id}", get_alarm)
    app.router.add_get("/api/alarms/{alarm_id}/emergency-payload", emergency_payload)
    app.router.add_post("/api/alarms/{alarm_id}/accept", accept_alarm)
    app.router.add_post("/api/alarms/{alarm_id}/contact-attempts", contact_attempt)
    app.router.add_post("/api/alarms/{alarm_id}/notes", note)
    app.router.add_post("/api/alarms/{alarm_id}/escalations", escalate_alarm)
    app.router.add_post("/api/alarms/{alarm_id}/resolve", resolve_alarm)
