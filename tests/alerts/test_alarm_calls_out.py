"""Calls the hub places for the operator, and the carephone's own call, in an alarm's
history (ADR 0143): outcomes, "on my way", the end, and what is refused."""

from __future__ import annotations

import pytest

from alerts import (
    SYSTEM,
    Action,
    Actor,
    ActorKind,
    Alarm,
    AlarmState,
    AlertsValueError,
    accept,
    present,
    raise_alarm,
    record_dial_ended,
    record_dial_outcome,
    record_on_my_way,
    record_unit_calling,
)
from tests.alerts.test_alarm import ANNA, detection, s

LAIA = Actor(ActorKind.CONTACT, "7", "Laia")


def accepted() -> Alarm:
    return accept(present(raise_alarm("a1", detection()), s(1)), ANNA, s(10))


def test_an_answered_call_to_a_contact_then_on_my_way_then_its_end() -> None:
    alarm = accepted()
    alarm = record_dial_outcome(alarm, ANNA, s(20), call_id="c1", party="7", outcome="answered")
    assert alarm.state is AlarmState.IN_CONTACT
    assert alarm.voice_contact_at is None  # a contact, not the resident
    alarm = record_on_my_way(alarm, LAIA, s(30), call_id="c1")
    alarm = record_dial_ended(
        alarm, ANNA, s(50), call_id="c1", party="7", duration_s=30, ended_by="Anna"
    )
    tail = alarm.history[-3:]
    assert [e.action for e in tail] == [Action.DIALLED, Action.ON_MY_WAY, Action.DIAL_ENDED]
    assert tail[0].details == {"call": "c1", "party": "7", "outcome": "answered"}
    assert (tail[1].actor, tail[1].details) == (LAIA, {"call": "c1"})
    assert tail[2].details == {"call": "c1", "party": "7", "duration_s": "30", "ended_by": "Anna"}


def test_reaching_the_resident_or_the_carephone_is_voice_contact() -> None:
    for party in ("resident", "carephone"):
        alarm = record_dial_outcome(
            accepted(), ANNA, s(20), call_id="c", party=party, outcome="answered"
        )
        assert alarm.voice_contact_at == s(20)


def test_an_unanswered_call_changes_no_state() -> None:
    before = accepted()
    for outcome in ("busy", "declined", "no_answer", "media_failed", "failed", "cancelled"):
        alarm = record_dial_outcome(before, ANNA, s(20), call_id="c", party="7", outcome=outcome)
        assert (alarm.state, alarm.voice_contact_at) == (before.state, None)
        assert alarm.history[-1].details["outcome"] == outcome


def test_unknown_outcomes_and_missing_parties_are_refused() -> None:
    with pytest.raises(AlertsValueError):
        record_dial_outcome(accepted(), ANNA, s(20), call_id="c", party="7", outcome="maybe")
    with pytest.raises(AlertsValueError):
        record_dial_outcome(accepted(), ANNA, s(20), call_id="c", party="", outcome="busy")


def test_the_carephone_calling_and_hanging_up() -> None:
    alarm = record_unit_calling(accepted(), s(20), call_id="u1", device_id="cp-1")
    alarm = record_unit_calling(alarm, s(40), call_id="u1", device_id="cp-1", ended=True)
    first, last = alarm.history[-2:]
    assert (first.action, first.actor, first.details) == (
        Action.UNIT_CALLING,
        SYSTEM,
        {"call": "u1", "device": "cp-1"},
    )
    assert last.details == {"call": "u1", "device": "cp-1", "status": "ended"}
