"""``enqueue`` (inside the caller's transaction) and the SQL outbox store."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from hub.clock import utc_now
from hub.outbox.consent import WITHDRAWN, consenting_residents, exports_to_social_record
from hub.outbox.models import OutboxRow
from integrations.wsocial.events import AnySocialEvent
from integrations.wsocial.outbox import OUTBOX_STATES, OutboxRecord, OutboxState, new_entry

_LOGGER = logging.getLogger(__name__)


async def enqueue(
    session: AsyncSession,
    event: AnySocialEvent,
    *,
    event_id: str | None = None,
    now: datetime | None = None,
) -> OutboxRow | None:
    """Add ``event`` to the outbox in ``session``'s transaction; the caller commits.

    Maps the event first, so an event that cannot become valid FHIR raises
    (:class:`~integrations.wsocial.mapping.MappingError`) and the caller's change rolls
    back with it. The same ``event_id`` twice is stored once.

    An event of a resident who has not agreed to the social record (``wsocial_export``
    consent, :mod:`hub.outbox.consent`) is not stored at all: ``None``. Every producer goes
    through here, so none can send what the resident did not allow.
    """
    entry = new_entry(event, event_id)
    if not await exports_to_social_record(session, entry.resident_id):
        _LOGGER.debug("%s event of resident %s left out: no consent", entry.kind, entry.resident_id)
        return None
    if event_id is not None:
        existing = await session.scalar(select(OutboxRow).where(OutboxRow.event_id == event_id))
        if existing is not None:
            return existing
    at = now or utc_now()
    row = OutboxRow(
        event_id=entry.event_id,
        kind=entry.kind,
        resident_id=entry.resident_id,
        ordering_key=entry.ordering_key,
        payload=entry.payload.decode("utf-8"),
        state="pending",
        attempts=0,
        created_at=at,
        next_attempt_at=at,
    )
    session.add(row)
    await session.flush()
    return row


def _record(row: OutboxRow) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        event_id=row.event_id,
        kind=row.kind,
        resident_id=row.resident_id,
        ordering_key=row.ordering_key,
        payload=row.payload.encode("utf-8"),
        state=cast(OutboxState, row.state),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )


class SqlOutboxStore:
    """:class:`~integrations.wsocial.outbox.OutboxStore` over the hub's database.

    Several hub workers may deliver at once: the worst case is the same record sent twice,
    which the conditional update on the endpoint makes harmless.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessionmaker

    async def due(self, now: datetime, limit: int) -> list[OutboxRecord]:
        """Pending, due, and first in their line (no older pending record, same key).

        A record whose resident no longer agrees to the social record (consent withdrawn
        after it was queued) is marked ``withdrawn`` here instead of being returned.
        """
        older = aliased(OutboxRow)
        blocked = (
            select(older.id)
            .where(
                older.ordering_key == OutboxRow.ordering_key,
                older.state == "pending",
                older.id < OutboxRow.id,
            )
            .exists()
        )
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.state == "pending", OutboxRow.next_attempt_at <= now, ~blocked)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = [_record(row) for row in (await session.scalars(stmt)).all()]
            allowed = await consenting_residents(session, (row.resident_id for row in rows))
            refused = [row.id for row in rows if row.resident_id not in allowed]
            if refused:
                await session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(refused), OutboxRow.state == "pending")
                    .values(state=WITHDRAWN)
                )
                await session.commit()
                _LOGGER.info("%d outbox records withheld: consent withdrawn", len(refused))
            return [row for row in rows if row.resident_id in allowed]

    async def mark_delivered(self, record_id: int, at: datetime) -> None:
        """See :meth:`OutboxStore.mark_delivered`."""
        async with self._sessions() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == record_id)
                .values(state="delivered", attempts=OutboxRow.attempts + 1, delivered_at=at)
            )
            await session.commit()

    async def mark_failed(
        self, record_id: int, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        """See :meth:`OutboxStore.mark_failed`."""
        async with self._sessions() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == record_id)
                .values(
                    state="dead" if dead else "pending",
                    attempts=OutboxRow.attempts + 1,
                    last_error=error[:1000],
                    next_attempt_at=next_attempt_at,
                )
            )
            await session.commit()

    async def list(self, state: OutboxState, limit: int = 100) -> list[OutboxRecord]:
        """See :meth:`OutboxStore.list`."""
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.state == state)
            .order_by(OutboxRow.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_record(row) for row in (await session.scalars(stmt)).all()]

    async def replay(self, record_id: int, now: datetime) -> bool:
        """See :meth:`OutboxStore.replay`."""
        async with self._sessions() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == record_id, OutboxRow.state == "dead")
                .values(state="pending", attempts=0, next_attempt_at=now)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def counts(self) -> dict[OutboxState, int]:
        """See :meth:`OutboxStore.counts`."""
        stmt = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
        result: dict[OutboxState, int] = dict.fromkeys(OUTBOX_STATES, 0)
        async with self._sessions() as session:
            for state, count in (await session.execute(stmt)).all():
                if state in result:
                    result[state] = int(count)
        return result
