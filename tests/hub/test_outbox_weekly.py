"""The weekly job: last week's summaries, signals and flags, enqueued once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import make_engine, make_sessionmaker
from hub.outbox import SqlOutboxStore
from hub.signals.job import DEFAULT_HISTORY_WEEKS, MIN_HISTORY_WEEKS
from hub.signals.weekly import enqueue_week, week_events
from integrations.wsocial.events import RiskFlag, RiskKind
from integrations.wsocial.signals import WeeklyInputs
from tests.hub.residents import add_resident

FIRST = date(2026, 6, 1)


def _week(index: int, **changes: object) -> WeeklyInputs:
    base = WeeklyInputs(
        week_start=FIRST + timedelta(weeks=index),
        active_hours_per_day=6.0,
        night_events_per_night=1.0,
        check_ins_expected=7,
        check_ins_done=7,
        alarms=0,
        falls=0,
        messages=12,
        calls=3,
        group_sessions=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_week_an_isolation_is_confirmed_carries_the_flag() -> None:
    weeks = [_week(i) for i in range(6)]
    weeks += [_week(6 + i, messages=0, calls=0, group_sessions=0) for i in range(2)]
    kinds = [event.__struct_config__.tag for _, event in week_events("9", weeks, lives_alone=False)]
    assert kinds[:2] == ["check_in_summary", "activity_summary"]
    assert "risk_signal" in kinds
    assert "risk_flag" in kinds
    quiet = [e for _, e in week_events("9", weeks[:6], lives_alone=False)]
    assert [e.__struct_config__.tag for e in quiet] == ["check_in_summary", "activity_summary"]
    assert week_events("9", [], lives_alone=False) == []


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_running_the_job_twice_enqueues_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    weeks = [_week(i) for i in range(6)]
    weeks += [_week(6 + i, messages=0, calls=0, group_sessions=0) for i in range(2)]
    async with sessions() as session:
        rid = str((await add_resident(session)).id)
        await session.commit()
    counts = []
    for _ in range(2):
        async with sessions() as session:
            counts.append(await enqueue_week(session, rid, weeks, lives_alone=True))
            await session.commit()
    assert counts[0] == counts[1] == len(week_events(rid, weeks, lives_alone=True)) > 0
    # The same ids the second time: stored once.
    assert (await SqlOutboxStore(sessions).counts())["pending"] == counts[0]


async def test_a_resident_without_consent_gets_no_weekly_events(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    weeks = [_week(i) for i in range(8)]
    async with sessions() as session:
        rid = str((await add_resident(session, social_record=False)).id)
        assert week_events(rid, weeks, lives_alone=True)  # there would be some
        assert await enqueue_week(session, rid, weeks, lives_alone=True) == 0
        await session.commit()
    assert sum((await SqlOutboxStore(sessions).counts()).values()) == 0


def _flags_sent(weeks: list[WeeklyInputs], history: int) -> list[tuple[date, str, bool]]:
    """What the weekly job sends over the weeks, each run seeing ``history`` weeks back."""
    sent = []
    for index in range(len(weeks)):
        window = weeks[max(0, index - history) : index + 1]
        for _, event in week_events("9", window, lives_alone=False):
            if isinstance(event, RiskFlag):
                sent.append((window[-1].week_start, event.risk, event.active))
    return sent


def test_the_default_history_lets_a_falls_flag_clear() -> None:
    weeks = [_week(i, falls=1 if i == 4 else 0) for i in range(24)]
    fell = FIRST + timedelta(weeks=4)
    cleared = fell + timedelta(weeks=MIN_HISTORY_WEEKS)
    assert _flags_sent(weeks, DEFAULT_HISTORY_WEEKS) == [
        (fell, "at_risk_for_falls", True),
        (cleared, "at_risk_for_falls", False),
    ]
    # One week shorter and the run that should clear it no longer sees it set: it stays on.
    assert _flags_sent(weeks, MIN_HISTORY_WEEKS - 1) == [(fell, "at_risk_for_falls", True)]


def test_a_standing_flag_never_sent_is_sent_with_the_id_of_its_week() -> None:
    weeks = [_week(i) for i in range(6)]
    weeks += [_week(6 + i, messages=0, calls=0, group_sessions=0) for i in range(4)]
    set_week = FIRST + timedelta(weeks=7)  # the second quiet week confirms it
    since = datetime.combine(set_week + timedelta(weeks=1), time(0), tzinfo=UTC)
    flag_id = f"flag-social_isolation-on-9-{set_week:%Y%m%d}"

    def flags(sent: dict[RiskKind, RiskFlag] | None) -> dict[str, RiskFlag]:
        return {
            i: e
            for i, e in week_events("9", weeks, lives_alone=False, flags_sent=sent)
            if isinstance(e, RiskFlag)
        }

    assert flags(None) == {}  # the caller does not know: only this week's changes
    (sent,) = flags({}).items()
    assert sent[0] == flag_id
    assert (sent[1].active, sent[1].since) == (True, since)
    on = sent[1]
    assert flags({"social_isolation": on}) == {}
    earlier = since - timedelta(weeks=10)
    cleared_before = RiskFlag(
        resident_id="9",
        occurred_at=since,
        risk="social_isolation",
        active=False,
        since=earlier,
        until=earlier + timedelta(weeks=2),
    )
    assert set(flags({"social_isolation": cleared_before})) == {flag_id}
    cleared_after = RiskFlag(
        resident_id="9",
        occurred_at=since,
        risk="social_isolation",
        active=False,
        since=since,
        until=since + timedelta(weeks=1),
    )
    assert flags({"social_isolation": cleared_after}) == {}
