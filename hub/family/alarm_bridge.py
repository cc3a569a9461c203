"""The alarm engine → the family circle.

A task owned by the family app follows this worker's live alarm events
(:class:`~hub.alarms.live.AlarmLive`; with PostgreSQL they include every other worker's
changes, docs/adr/0038): a care alarm raised becomes an
:class:`~hub.family.models.AlarmNotice` pushed to the circle members connected to this
worker whose consent includes ``alarms``; a resolved one closes its notice. Every worker
writes the same notice row (unique per resident and alarm, so the write is idempotent)
and pushes it to its own connections.

At start-up, and whenever the follower fell behind, one pass over the stored alarms of
the last day (:func:`sync_alarm_notices`) catches up on what happened while nobody
followed. The reverse path ("I'm on my way" → a note on the alarm) is
:func:`hub.family.alarms.note_on_my_way`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Alarm
from alerts.model import Category
from hub.alarms.live import ALARM_LIVE, AlarmLive, Subscription
from hub.alarms.models import AlarmRow
from hub.appkeys import CLOCK, SESSIONMAKER, WRITE_GATE
from hub.clock import Clock
from hub.db.writegate import WriteGate
from hub.family.alarm_progress import alarm_steps
from hub.family.alarm_stage import stage_of
from hub.family.alarms import (
    OnChange,
    alarm_watchers,
    notice_view,
    notify_family,
    tell_change,
)
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.models import AlarmAcknowledgement, AlarmNotice
from hub.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)

LOOKBACK = timedelta(days=1)
# Alarms whose last pushed notice state this worker remembers.
TOLD_SIZE = 10_000


async def sync_alarm_notices(session: AsyncSession, live: LiveHub, now: datetime) -> int:
    """One pass: new care alarms get a notice, resolved ones close theirs; returns changes."""
    rows = (
        await session.execute(
            select(AlarmRow, AlarmNotice)
            # Alarm ids are unique across residents; the notice keeps the resident.
            .outerjoin(AlarmNotice, AlarmNotice.alarm_ref == AlarmRow.id)
            .where(AlarmRow.category == "care", AlarmRow.raised_at >= now - LOOKBACK)
        )
    ).all()
    changed = 0
    for alarm, notice in rows:
        state = "open" if alarm.is_open else "closed"
        if not alarm.resident_id.isdigit():
            continue
        if notice is not None and notice.state == state:
            continue
        if notice is None and not alarm.is_open:
            continue  # resolved before anyone was told: nothing to say now
        # Every worker's bridge makes this pass: each tells its own sockets.
        await notify_family(
            session, live, int(alarm.resident_id), alarm.id, alarm.rule, state, now, mirror=False
        )
        changed += 1
    return changed


async def _insert_notice(session: AsyncSession, alarm: Alarm, now: datetime, stage: str) -> bool:
    """Insert the alarm's open notice at ``stage`` unless a worker did it already (True: this
    one did)."""
    values = {
        "resident_id": int(alarm.resident_id),
        "alarm_ref": alarm.id,
        "event_type": alarm.rule.value,
        "state": "open",
        "stage": stage,
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = await session.execute(
        insert(AlarmNotice)
        .values(values)
        .on_conflict_do_nothing(index_elements=["resident_id", "alarm_ref"])
    )
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


async def _answers(session: AsyncSession, notice_id: int) -> list[str]:
    return list(
        await session.scalars(
            select(AlarmAcknowledgement.answer).where(AlarmAcknowledgement.notice_id == notice_id)
        )
    )


async def notice_for_alarm(
    session: AsyncSession,
    live: LiveHub,
    alarm: Alarm,
    now: datetime,
    on_change: OnChange | None = None,
    gate: WriteGate | None = None,
) -> str | None:
    """Bring the alarm's family notice up to date and push it to this worker's watchers.

    Returns the notice's state, or None when the circle has nothing to hear: a technical
    alarm, a home without a resident, or an alarm resolved before anyone was told.
    ``on_change`` runs after the commit only in the worker whose insert or conditional
    update changed the notice's state or stage (hub/family/alarm_stage.py), so what it sends
    (Web Push, SMS) goes out once across workers, once per stage.

    Alarms first (docs/adr/0159): everything is read before the write, and the write (one
    statement and its commit) goes through ``gate`` (the hub's write gate) as a routine
    writer, so on SQLite it never holds the database's only write lock while a panic's
    write is waiting for it (a panic would sleep in SQLite's busy handler).
    """
    if alarm.category is not Category.CARE or not alarm.resident_id.isdigit():
        return None
    state = "open" if alarm.is_open else "closed"
    resident_id = int(alarm.resident_id)

    async def stored() -> AlarmNotice | None:
        return (
            await session.execute(
                select(AlarmNotice)
                .where(AlarmNotice.resident_id == resident_id, AlarmNotice.alarm_ref == alarm.id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    # Read: the notice as stored, its answers, the stage the alarm's steps imply.
    notice = await stored()
    if notice is None and not alarm.is_open:
        return None
    answers = [] if notice is None else await _answers(session, notice.id)
    stage = stage_of(state, alarm_steps(alarm), answers)
    watchers = await alarm_watchers(session, resident_id)
    await session.commit()  # ends the read (SQLite: a later write starts from a fresh snapshot)
    # Write: one conditional statement, so of several workers writing the same values one
    # changes the row (and tells the circle's phones).
    async with gate.routine("family-notice") if gate is not None else contextlib.nullcontext():
        if notice is None:
            changed_here = await _insert_notice(session, alarm, now, stage)
        elif notice.state != state or notice.stage != stage:
            written = await session.execute(
                update(AlarmNotice)
                .where(
                    AlarmNotice.id == notice.id,
                    (AlarmNotice.state != state) | (AlarmNotice.stage != stage),
                )
                .values(state=state, stage=stage)
            )
            changed_here = bool(written.rowcount)  # type: ignore[attr-defined]
        else:
            changed_here = False
        await session.commit()
    # Read again what is stored now (another worker's insert included) for the circle.
    notice = await stored()
    if notice is None:  # pragma: no cover - inserted or already there
        return None
    view = await notice_view(session, notice, alarm)
    await session.commit()
    # Every worker's bridge follows the same alarm: each tells its own sockets.
    live.publish(watchers, {"type": "alarm.notice", "notice": view}, mirror=False)
    if changed_here and on_change is not None:
        await on_change(notice, watchers, now)
    return state


class AlarmBridge:
    """Follows alarm events and keeps the circle told; :meth:`run` until cancelled."""

    def __init__(
        self,
        alarms: AlarmLive,
        sessionmaker: async_sessionmaker[AsyncSession],
        live: LiveHub,
        clock: Clock,
        on_change: OnChange | None = None,
        gate: WriteGate | None = None,
    ) -> None:
        self._alarms = alarms
        self._on_change = on_change
        # The hub's write gate: the notice's write waits for alarms' writes (ADR 0159).
        self._gate = gate
        self._sessionmaker = sessionmaker
        self._live = live
        self._clock = clock
        # Per alarm, the state and number of steps last pushed.
        self._told: OrderedDict[str, str] = OrderedDict()
        self.subscription: Subscription = alarms.subscribe(screen=False)

    async def catch_up(self) -> None:
        """One pass over the stored alarms (after a start or a gap)."""
        async with self._sessionmaker() as session:
            await sync_alarm_notices(session, self._live, self._clock())

    async def run(self) -> None:
        """Follow until cancelled (subscribed from construction: nothing is missed)."""
        try:
            await self._safely(self.catch_up())
            while True:
                if self.subscription.overflowed.is_set():
                    _LOGGER.warning("family alarm bridge fell behind; catching up from storage")
                    self.subscription = self._alarms.subscribe(screen=False)
                    await self._safely(self.catch_up())
                message = await self._next()
                if message is not None:
                    await self._safely(self.handle(message["alarm"]))
        finally:
            self._alarms.unsubscribe(self.subscription)

    async def _next(self) -> dict[str, Any] | None:
        getter = asyncio.ensure_future(self.subscription.queue.get())
        overflow = asyncio.ensure_future(self.subscription.overflowed.wait())
        try:
            await asyncio.wait({getter, overflow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            overflow.cancel()
            if not getter.done():
                getter.cancel()
            await asyncio.gather(getter, overflow, return_exceptions=True)
        return getter.result() if getter.done() and not getter.cancelled() else None

    async def handle(self, alarm: Alarm) -> None:
        """Tell the circle when the notice's state or the alarm's steps change (once per worker)."""
        # What the circle sees: the notice's state and the alarm's steps (a note, a
        # reannouncement or an attempt that got no answer changes neither).
        state = "open" if alarm.is_open else "closed"
        told_as = f"{state}:{len(alarm_steps(alarm))}"
        if self._told.get(alarm.id) == told_as:
            return  # nothing new for the family
        async with self._sessionmaker() as session:
            told = await notice_for_alarm(
                session, self._live, alarm, self._clock(), self._on_change, self._gate
            )
        if told is not None:
            self._told[alarm.id] = told_as
            self._told.move_to_end(alarm.id)
            if len(self._told) > TOLD_SIZE:
                self._told.popitem(last=False)

    async def _safely(self, work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:  # a database hiccup: the start-up pass covers a restart
            _LOGGER.exception("telling the family about an alarm failed")


async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the bridge's task for the app's lifetime (without the alarm engine: nothing)."""
    alarms = app.get(ALARM_LIVE)
    if alarms is None:
        yield
        return
    # Each new stage: Web Push when the hub has a VAPID key (hub/family/webpush.py), SMS
    # to key holders without the app when it has an SMS gateway (hub/family/sms_answers.py).

    async def on_change(notice: AlarmNotice, watchers: list[str], now: datetime) -> None:
        await tell_change(app, notice, watchers)

    bridge = AlarmBridge(
        alarms, app[SESSIONMAKER], app[LIVE_HUB], app[CLOCK], on_change, app.get(WRITE_GATE)
    )
    task = asyncio.create_task(bridge.run(), name="family-alarm-bridge")
    try:
        yield
    finally:
        await cancel_and_wait([task])
