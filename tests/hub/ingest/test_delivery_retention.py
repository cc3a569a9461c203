"""What was sent to tablets is kept for a stated time after it ended, then dropped by the alarm
engine's housekeeping (issue 22): a row goes once both its expiry and its last state are older
than the retention (``[alarms] delivery_retention_days``, 90 by default). Fixed clock; SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.alarms.engine import AlarmEngine, NoEffects
from hub.alarms.live import AlarmLive
from hub.alarms.settings import AlarmSettings
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from hub.ingest import delivery
from hub.ingest.delivery import Outgoing, TabletDelivery

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _sent(command_id: str, sent_at: datetime, expires: timedelta) -> Outgoing:
    return Outgoing(command_id, "tab-ret", 7, "message", "Hola", sent_at, sent_at + expires)


async def test_housekeeping_drops_deliveries_past_their_retention(database_url: str) -> None:
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(NOW)
    try:
        async with sessions() as session:
            # Sent 100 days ago, expired 12 h later, never answered: past 90 days, dropped.
            await delivery.record(
                session, _sent("old-expired", NOW - 100 * DAY, timedelta(hours=12))
            )
            # Sent 100 days ago but acknowledged 89 days ago: kept (its last state is recent).
            await delivery.record(session, _sent("old-acked-late", NOW - 100 * DAY, 30 * DAY))
            # Sent 89 days ago: kept.
            await delivery.record(session, _sent("recent", NOW - 89 * DAY, timedelta(hours=12)))
            # Exactly at the edge (its expiry 90 days ago to the second): kept.
            edge = NOW - 90 * DAY - timedelta(hours=12)
            await delivery.record(session, _sent("edge", edge, timedelta(hours=12)))
            await session.commit()
        async with sessions() as session:
            row = await session.get(TabletDelivery, "old-acked-late")
            assert row is not None
            row.state, row.state_at = "acknowledged", NOW - 89 * DAY
            await session.commit()

        engine = AlarmEngine(sessions, clock, AlarmLive(), NoEffects())
        assert engine.delivery_retention == timedelta(days=90)
        await engine.run_due()  # the scheduler's pass runs the housekeeping

        async def kept() -> set[str]:
            async with sessions() as session:
                return set(await session.scalars(select(TabletDelivery.command_id)))

        assert await kept() == {"old-acked-late", "recent", "edge"}
        # A shorter retention, configured: 30 days.
        short = AlarmEngine(sessions, clock, AlarmLive(), NoEffects(), delivery_retention=30 * DAY)
        await short.forget_old_processed(NOW)
        assert await kept() == set()
        # Nothing left to drop: nothing happens.
        await short.forget_old_processed(NOW + DAY)
    finally:
        await db.dispose()


@pytest.mark.parametrize("days", [0, -1, 3661])
def test_a_retention_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="delivery_retention_days"):
        AlarmSettings(delivery_retention_days=days)
    assert AlarmSettings().delivery_retention_days == 90
