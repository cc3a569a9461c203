"""Social-record events of the lifecycle go to the wSocial outbox in the caller's
transaction (``hub.outbox.enqueue``): the change and its event commit together."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.outbox import enqueue
from integrations.wsocial.events import AnySocialEvent


async def emit(session: AsyncSession, event: AnySocialEvent, now: datetime) -> None:
    """Put ``event`` in the outbox within ``session``'s transaction."""
    await enqueue(session, event, now=now)
