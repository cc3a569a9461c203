"""The alarm engine → the family circle.

A task owned by the family app looks every ``alarm_poll_s`` at the alarm engine's table
(``alarms``): a care alarm raised in the last day that has no family notice yet becomes
an :class:`~hub.family.models.AlarmNotice` pushed to the circle members whose consent
includes ``alarms``; a notice whose alarm was resolved is marked closed. Reading stored
state (not the engine's in-process events) keeps it right after a restart and with
several hub workers. The reverse path ("I'm on my way" → a note on the alarm) is
:func:`hub.family.alarms.note_on_my_way`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.alarms.models import AlarmRow
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.alarms import notify_family
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.models import AlarmNotice
from hub.family.settings import FAMILY_SETTINGS

_LOGGER = logging.getLogger(__name__)

LOOKBACK = timedelta(days=1)


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
        await notify_family(session, live, int(alarm.resident_id), alarm.id, alarm.rule, state, now)
        changed += 1
    return changed


async def _loop(app: web.Application) -> None:
    interval = app[FAMILY_SETTINGS].alarm_poll_s
    while True:
        try:
            async with app[SESSIONMAKER]() as session:
                await sync_alarm_notices(session, app[LIVE_HUB], app[CLOCK]())
        except Exception:  # a database hiccup: try again next round
            _LOGGER.exception("syncing family alarm notices failed")
        await asyncio.sleep(interval)


async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the polling task for the app's lifetime."""
    task = asyncio.create_task(_loop(app))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
