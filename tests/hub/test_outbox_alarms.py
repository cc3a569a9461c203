"""Resolved alarms become social-record events (and reach the outbox once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import Actor, ActorKind, EscalationTarget, accept, escalate, raise_alarm, resolve
from alerts.alarm import Action
from alerts.model import Detection, Explanation, RuleKind
from hub.db import make_engine, make_sessionmaker
from hub.outbox import SqlOutboxStore
from hub.outbox.alarms import enqueue_resolved_alarm, social_events_for_alarm
from integrations.wsocial.events import AlarmHandled, Escalation112
from integrations.wsocial.mapping import to_resources
from tests.hub.residents import add_resident

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ANNA = Actor(ActorKind.OPERATOR, "op-anna", "Anna")


def _alarm(rule: RuleKind = RuleKind.FALL, resident_id: str = "7"):  # type: ignore[no-untyped-def]
    detection = Detection(
        rule=rule,
        home_id="home-1",
        resident_id=resident_id,
        at=T0,
        explanation=Explanation.of("fall", source="pendant", time="09:00"),
        event_ids=("e1",),
    )
    return raise_alarm("al-1", detection)


def test_a_fall_sent_to_112_gives_both_events() -> None:
    alarm = accept(_alarm(), ANNA, T0 + timedelta(seconds=22))
    alarm = escalate(alarm, ANNA, T0 + timedelta(minutes=2), EscalationTarget.EMERGENCY_112)
    assert social_events_for_alarm(alarm) == []  # still open: nothing yet
    alarm = resolve(alarm, ANNA, T0 + timedelta(minutes=40), "ambulance")
    handled, escalation = social_events_for_alarm(alarm)
    assert isinstance(handled, AlarmHandled)
    assert isinstance(escalation, Escalation112)
    assert (handled.alarm_kind, handled.outcome, handled.resident_id) == (
        "fall",
        "emergency_services",
        "7",
    )
    assert handled.answered_at == T0 + timedelta(seconds=22)
    assert escalation.escalated_at == T0 + timedelta(minutes=2)
    for event in (handled, escalation):
        to_resources(event)  # valid FHIR


@pytest.mark.parametrize(
    ("rule", "outcome", "kind", "code"),
    [
        (RuleKind.PANIC, "resident_not_found", "panic", "no_contact"),
        (RuleKind.LOW_BATTERY, "technical_fixed", "technical", "resolved_by_phone"),
        (RuleKind.SMOKE, "false_alarm", "smoke", "false_alarm"),
    ],
)
def test_kinds_and_outcomes_are_grouped(rule: RuleKind, outcome: str, kind: str, code: str) -> None:
    alarm = accept(_alarm(rule), ANNA, T0 + timedelta(seconds=10))
    (handled,) = social_events_for_alarm(resolve(alarm, ANNA, T0 + timedelta(minutes=5), outcome))
    assert isinstance(handled, AlarmHandled)
    assert (handled.alarm_kind, handled.outcome) == (kind, code)


def test_help_sent_through_the_mobile_unit_is_reported_as_such() -> None:
    alarm = accept(_alarm(RuleKind.PANIC), ANNA, T0 + timedelta(seconds=10))
    alarm = escalate(alarm, ANNA, T0 + timedelta(minutes=1), EscalationTarget.MOBILE_UNIT)
    (handled,) = social_events_for_alarm(resolve(alarm, ANNA, T0 + timedelta(hours=1), "help_sent"))
    assert isinstance(handled, AlarmHandled)
    assert handled.outcome == "mobile_unit"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def _to_112(resident_id: str):  # type: ignore[no-untyped-def]
    alarm = accept(_alarm(resident_id=resident_id), ANNA, T0 + timedelta(seconds=22))
    alarm = escalate(alarm, ANNA, T0 + timedelta(minutes=2), EscalationTarget.EMERGENCY_112)
    return resolve(alarm, ANNA, T0 + timedelta(minutes=40), "ambulance")


async def _resident(sessions: async_sessionmaker[AsyncSession], social_record: bool) -> str:
    async with sessions() as session:
        resident = await add_resident(session, social_record=social_record)
        await session.commit()
        return str(resident.id)


async def test_resolving_twice_enqueues_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    alarm = _to_112(await _resident(sessions, social_record=True))
    for _ in range(2):
        async with sessions() as session:
            assert await enqueue_resolved_alarm(session, alarm) == 2
            await session.commit()
    assert (await SqlOutboxStore(sessions).counts())["pending"] == 2


async def test_no_alarm_or_112_event_of_a_resident_without_consent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alarm = _to_112(await _resident(sessions, social_record=False))
    async with sessions() as session:
        assert await enqueue_resolved_alarm(session, alarm) == 0
        await session.commit()
    assert sum((await SqlOutboxStore(sessions).counts()).values()) == 0


def test_the_social_record_says_whether_voice_contact_was_made() -> None:
    from alerts import record_voice_call, record_voice_connected
    from integrations.wsocial.mapping import EXT_ALARM_VOICE

    alarm = accept(_alarm(), ANNA, T0 + timedelta(seconds=10))
    silent = resolve(alarm, ANNA, T0 + timedelta(minutes=5), "resident_not_found")
    [handled] = social_events_for_alarm(silent)
    assert isinstance(handled, AlarmHandled)
    assert handled.voice_contact_at is None  # no voice contact made
    urls = [e["url"] for e in to_resources(handled)[0].as_json()["extension"]]
    assert EXT_ALARM_VOICE not in urls

    spoken = record_voice_connected(alarm, ANNA, T0 + timedelta(seconds=31), call_id="9")
    spoken = record_voice_call(
        spoken,
        ANNA,
        T0 + timedelta(seconds=90),
        call_id="9",
        started_at=T0 + timedelta(seconds=25),
        connected_at=T0 + timedelta(seconds=31),
        ended_at=T0 + timedelta(seconds=90),
        ended_by="Anna",
    )
    assert spoken.voice_contact_at == T0 + timedelta(seconds=31)
    assert spoken.entries(Action.VOICE_CALL)[0].details["duration_s"] == "59"
    spoken = resolve(spoken, ANNA, T0 + timedelta(minutes=5), "resident_fine")
    [handled] = social_events_for_alarm(spoken)
    assert isinstance(handled, AlarmHandled)
    assert handled.voice_contact_at == T0 + timedelta(seconds=31)
    extensions = {e["url"]: e for e in to_resources(handled)[0].as_json()["extension"]}
    assert extensions[EXT_ALARM_VOICE]["valueDateTime"].startswith("2026-")
