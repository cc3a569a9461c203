"""Social-record events of the lifecycle go to the wSocial outbox (``hub.outbox``) in
the caller's transaction: the change and its event commit together or not at all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.outbox import OutboxRow, enqueue
from integrations.wsocial.events import AnySocialEvent, decode_event


async def emit(session: AsyncSession, event: AnySocialEvent, now: datetime) -> None:
    """Put ``event`` in the outbox within ``session``'s transaction.

    ``enqueue`` maps the event to FHIR first, so an event that cannot become a valid
    resource raises here and the caller's change rolls back with it.
    """
    await enqueue(session, event, now=now)


async def stored_events(
    session: AsyncSession, resident_id: str | None = None
) -> list[AnySocialEvent]:
    """Events in the outbox, oldest first (optionally of one resident)."""
    query = select(OutboxRow).order_by(OutboxRow.id)
    if resident_id is not None:
        query = query.where(OutboxRow.resident_id == resident_id)
    return [decode_event(row.payload) for row in await session.scalars(query)]
