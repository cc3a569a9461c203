"""Social-record events of the lifecycle, written in the caller's transaction.

INTERIM: the wSocial outbox (``hub.outbox.enqueue``) is not on main yet, so events go
to this package's own ``service_outbox`` table, with the same entry shape
(:func:`integrations.wsocial.outbox.new_entry`: event id, kind, resident, ordering key,
JSON payload). Switching to ``hub.outbox.enqueue`` changes only :func:`emit` and
:func:`stored_events`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.service.models import ServiceOutboxRow
from integrations.wsocial.events import AnySocialEvent, decode_event
from integrations.wsocial.outbox import new_entry


async def emit(session: AsyncSession, event: AnySocialEvent, now: datetime) -> None:
    """Put ``event`` in the outbox within ``session``'s transaction.

    ``new_entry`` maps the event to FHIR first, so an event that cannot become a valid
    resource raises here and the caller's change rolls back with it.
    """
    entry = new_entry(event)
    session.add(
        ServiceOutboxRow(
            event_id=entry.event_id,
            kind=entry.kind,
            resident_id=entry.resident_id,
            ordering_key=entry.ordering_key,
            payload=entry.payload.decode("utf-8"),
            created_at=now,
        )
    )
    await session.flush()


async def stored_events(session: AsyncSession) -> list[AnySocialEvent]:
    """Every event written so far, oldest first (tests and the admin page)."""
    rows = await session.scalars(select(ServiceOutboxRow).order_by(ServiceOutboxRow.id))
    return [decode_event(row.payload) for row in rows]
