"""Consent to the social record at the outbox: nothing of a resident without it goes in,
and a withdrawal withholds what was still waiting (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import make_engine, make_sessionmaker
from hub.db.models import AuditEntry, Resident
from hub.outbox import OutboxRow, SqlOutboxStore, enqueue
from hub.outbox.consent import (
    consenting_residents,
    exports_to_social_record,
    gives_social_record_consent,
    set_social_record_consent,
    social_record_consent,
)
from tests.hub.residents import add_resident
from tests.integrations.samples import T0, sample_events


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _resident(sessions: async_sessionmaker[AsyncSession], social_record: bool) -> int:
    async with sessions() as session:
        resident = await add_resident(session, social_record=social_record)
        await session.commit()
        return resident.id


async def _states(sessions: async_sessionmaker[AsyncSession], resident: int) -> list[str]:
    async with sessions() as session:
        query = select(OutboxRow.state).where(OutboxRow.resident_id == str(resident))
        return list((await session.scalars(query.order_by(OutboxRow.id))).all())


@pytest.mark.parametrize(
    ("consent", "given"),
    [
        ({"wsocial_export": True}, True),
        ({"wsocial_export": False}, False),
        ({"wsocial_export": "yes"}, False),  # only a real true counts
        ({"wsocial_export": 1}, False),
        ({"share_with_family": True}, False),  # never asked: no
        ({}, False),
        (None, False),
    ],
)
def test_only_an_explicit_yes_is_consent(consent: dict[str, object] | None, given: bool) -> None:
    assert gives_social_record_consent(consent) is given


async def test_events_of_a_resident_without_consent_never_enter_the_outbox(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    yes = await _resident(sessions, social_record=True)
    no = await _resident(sessions, social_record=False)
    async with sessions() as session:
        for event in sample_events(str(no)):
            assert await enqueue(session, event, now=T0) is None
        # No such resident, or a key that is no resident's number: no consent either.
        for key in ("999999", "res-1", "0x10", "1" * 30):
            assert not await exports_to_social_record(session, key)
            assert await enqueue(session, sample_events(key)[0], now=T0) is None
        stored = [await enqueue(session, e, now=T0) for e in sample_events(str(yes))]
        await session.commit()
    assert all(row is not None for row in stored)
    assert await _states(sessions, no) == []
    assert await _states(sessions, yes) == ["pending"] * len(sample_events())
    async with sessions() as session:
        assert await consenting_residents(session, [str(yes), str(no), "x", "424242"]) == {str(yes)}
        assert await consenting_residents(session, []) == set()


async def test_withdrawing_withholds_what_waits_keeps_what_was_sent_and_is_audited(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rid = await _resident(sessions, social_record=True)
    events = sample_events(str(rid))
    async with sessions() as session:
        rows = [await enqueue(session, e, now=T0) for e in events[:3]]
        await session.commit()
    store = SqlOutboxStore(sessions)
    first, second, _ = (row.id for row in rows if row is not None)
    await store.mark_delivered(first, T0)
    await store.mark_failed(second, "HTTP 500", T0, dead=True)

    at = T0 + timedelta(days=2)
    async with sessions() as session:
        resident = await session.get(Resident, rid)
        assert resident is not None
        withheld = await set_social_record_consent(
            session, resident, False, actor="coord", reason="she said so at the review", now=at
        )
        # The same answer again changes nothing and is not audited twice.
        assert (
            await set_social_record_consent(
                session, resident, False, actor="coord", reason="again", now=at
            )
            == 0
        )
        # Later in the same transaction: already refused.
        assert await enqueue(session, events[3], now=at) is None
        await session.commit()
    assert withheld == 2
    assert await _states(sessions, rid) == ["delivered", "withdrawn", "withdrawn"]
    assert await store.due(at + timedelta(days=1), 10) == []
    assert not await store.replay(second, at)  # a withheld record cannot be replayed
    assert (await store.counts())["withdrawn"] == 2
    async with sessions() as session:
        resident = await session.get(Resident, rid)
        assert resident is not None
        assert social_record_consent(resident.consent).changed_at == at
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("consent.social_record.%"))
            )
        ).all()
    assert [(a.actor, a.action, a.object, a.details) for a in audit] == [
        (
            "coord",
            "consent.social_record.withdraw",
            f"resident:{rid}",
            {"reason": "she said so at the review", "withheld_events": 2},
        )
    ]

    # Given again: what happens from now on goes; what was withheld stays withheld.
    async with sessions() as session:
        resident = await session.get(Resident, rid)
        assert resident is not None
        assert (
            await set_social_record_consent(
                session, resident, True, actor="sw", reason="signed again", now=at
            )
            == 0
        )
        assert await enqueue(session, events[4], now=at) is not None
        await session.commit()
    assert await _states(sessions, rid) == ["delivered", "withdrawn", "withdrawn", "pending"]


async def test_delivery_withholds_a_record_whose_resident_withdrew_after_it_was_queued(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A producer that read the consent just before a withdrawal committed its event: the
    delivery store asks again before sending, so the event still never leaves."""
    rid = await _resident(sessions, social_record=True)
    other = await _resident(sessions, social_record=True)
    async with sessions() as session:
        for key in (rid, other):
            await enqueue(session, sample_events(str(key))[0], now=T0)
        await session.commit()
        # The consent changes behind the outbox's back (no call to withdraw the rows).
        await session.execute(
            update(Resident).where(Resident.id == rid).values(consent={"wsocial_export": False})
        )
        await session.commit()
    due = await SqlOutboxStore(sessions).due(T0, 10)
    assert [r.resident_id for r in due] == [str(other)]
    assert await _states(sessions, rid) == ["withdrawn"]
    assert await _states(sessions, other) == ["pending"]
