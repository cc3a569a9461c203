"""Reminders on the tablet before agenda items start.

A loop owned by the hub app looks every ``reminder_poll_s`` for accepted/confirmed items
whose reminder time has come, sends the resident's tablet a ``protocol.Reminder`` command
over MQTT (through a :class:`CommandSender` port) and a live ``agenda.reminder`` event,
and marks the item so it is reminded once. Rebuilt from stored state after a restart:
nothing is held only in memory. With several hub workers each item is claimed in the
database (a conditional UPDATE committed before anything is sent) so one worker sends it;
a send that fails gives the claim back and a later pass tries again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.agenda import item_view
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.models import AgendaItem, TabletCredential
from hub.family.parties import party_names, resident_party
from hub.family.settings import FAMILY_SETTINGS
from hub.ingest import delivery
from hub.ingest.commands import NotConnected
from hub.ingest.keys import DEVICE_COMMANDS
from hub.tasks import cancel_and_wait
from protocol import (
    CommandBody,
    Reminder,
    new_message_id,
)

_LOGGER = logging.getLogger(__name__)


class CommandSender(Protocol):
    """Sends one command to one device (the hub's :class:`~hub.ingest.commands.DeviceCommands`)."""

    @property
    def connected(self) -> bool:
        """Whether commands can be sent now (a worker without ingestion never can)."""
        ...

    async def send(
        self,
        device_id: str,
        body: CommandBody,
        now: datetime | None = None,
        message_id: str | None = None,
    ) -> str:
        """Deliver ``body`` to ``device_id`` (QoS 1) as command ``message_id``, or raise."""
        ...


class ReminderService:
    """Finds due reminders and sends them; :meth:`run_due` is one pass."""

    def __init__(self, live: LiveHub, sender: CommandSender) -> None:
        self.live = live
        self.sender = sender
        # Set when the hub's database is open (reminders_ctx).
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None

    async def run_due(self, now: datetime) -> int:
        """Send every reminder due at ``now``; return how many were sent."""
        if self.sessionmaker is None:
            raise RuntimeError("the reminder service runs only while the hub is started")
        if not self.sender.connected:
            # A worker without a broker connection (`--no-ingest`) leaves reminders to one
            # that has it, instead of claiming them and failing.
            return 0
        async with self.sessionmaker() as session:
            candidates = list(
                await session.scalars(
                    select(AgendaItem).where(
                        AgendaItem.reminded_at.is_(None),
                        AgendaItem.status.in_(("accepted", "confirmed")),
                        AgendaItem.starts_at > now,
                        AgendaItem.starts_at <= now + timedelta(days=7, minutes=1),
                    )
                )
            )
            due = [
                i for i in candidates if i.starts_at - timedelta(seconds=i.remind_before_s) <= now
            ]
            sent = 0
            for item in due:
                if not await _claim(session, item.id, now):
                    continue  # another worker sends this one
                tablets = list(
                    await session.scalars(
                        select(TabletCredential.device_id).where(
                            TabletCredential.resident_id == item.resident_id
                        )
                    )
                )
                body = Reminder(
                    reminder_id=f"agenda-{item.id}", text=item.title[:500], due=item.starts_at,
                    kind="appointment",
                )  # fmt: skip
                for device_id in tablets:
                    # Followed on the resident's card (ADR 0163): recorded before it is sent.
                    command_id = new_message_id()
                    await delivery.record(
                        session,
                        delivery.Outgoing(
                            command_id, device_id, item.resident_id, "reminder",
                            item.title, now, item.starts_at,
                        ),
                    )  # fmt: skip
                    await session.commit()
                    try:
                        await self.sender.send(device_id, body, message_id=command_id)
                    except (NotConnected, OSError) as err:
                        # The live event below still reaches an online tablet; retry next pass.
                        _LOGGER.warning("reminder %s to %s not sent: %s", item.id, device_id, err)
                        await delivery.forget(session, command_id)
                        await _unclaim(session, item.id, now)
                        break
                else:
                    sent += 1
                names = await party_names(session, [item.created_by])
                self.live.publish(
                    [resident_party(item.resident_id)],
                    {"type": "agenda.reminder", "item": item_view(item, names)},
                )
            await session.commit()
        return sent


async def _claim(session: AsyncSession, item_id: int, now: datetime) -> bool:
    """Mark the item reminded (committed) unless another worker did; True if this one did."""
    claimed = await session.execute(
        update(AgendaItem)
        .where(AgendaItem.id == item_id, AgendaItem.reminded_at.is_(None))
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def _unclaim(session: AsyncSession, item_id: int, now: datetime) -> None:
    """Give a claim back after a failed send (the next pass tries again)."""
    await session.execute(
        update(AgendaItem)
        .where(AgendaItem.id == item_id, AgendaItem.reminded_at == now)
        .values(reminded_at=None)
        .execution_options(synchronize_session=False)
    )
    await session.commit()


REMINDERS = web.AppKey("family_reminders", ReminderService)


async def _loop(app: web.Application) -> None:
    service = app[REMINDERS]
    interval = app[FAMILY_SETTINGS].reminder_poll_s
    while True:
        try:
            await service.run_due(app[CLOCK]())
        except Exception:  # keep reminding after a database hiccup
            _LOGGER.exception("reminder pass failed")
        await asyncio.sleep(interval)


async def reminders_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the reminder loop: start it with the app, cancel and await it at shutdown."""
    app[REMINDERS].sessionmaker = app[SESSIONMAKER]
    task = asyncio.create_task(_loop(app))
    try:
        yield
    finally:
        await cancel_and_wait([task])


def make_reminders(app: web.Application) -> ReminderService:
    """The service over the hub's one command sender, hence the broker the hub reads from
    (its session factory is set at start-up)."""
    return ReminderService(app[LIVE_HUB], app[DEVICE_COMMANDS])
