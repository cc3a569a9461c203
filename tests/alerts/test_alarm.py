"""The alarm state machine: lifecycle, claims, typed refusals, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import (
    Action,
    Actor,
    ActorKind,
    Alarm,
    AlarmClosed,
    AlarmState,
    AlreadyClaimed,
    ClockWentBackwards,
    ContactResult,
    Detection,
    EscalationTarget,
    Explanation,
    InvalidTransition,
    NotClaimed,
    Outcome,
    OutcomeRequired,
    Priority,
    RuleKind,
    accept,
    add_note,
    attach,
    escalate,
    present,
    queue_order,
    raise_alarm,
    reannounce,
    record_contact_attempt,
    resolve,
)

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ANNA = Actor(ActorKind.OPERATOR, "op-anna", "Anna")
BIEL = Actor(ActorKind.OPERATOR, "op-biel", "Biel")
SUPER = Actor(ActorKind.SUPERVISOR, "sup-carla", "Carla")


def detection(
    rule: RuleKind = RuleKind.PANIC, home: str = "home-1", at: datetime = T0, event_id: str = "e1"
) -> Detection:
    return Detection(
        rule=rule,
        home_id=home,
        resident_id="res-1",
        at=at,
        explanation=Explanation.of("panic", source="pendant", time="09:00"),
        event_ids=(event_id,),
    )


def s(n: int) -> datetime:
    return T0 + timedelta(seconds=n)


def test_full_lifecycle_records_who_what_when() -> None:
    alarm = raise_alarm("a1", detection())
    alarm = present(alarm, s(1))
    alarm = accept(alarm, ANNA, s(20))
    alarm = record_contact_attempt(
        alarm, ANNA, s(30), party="resident", result=ContactResult.NO_ANSWER
    )
    alarm = record_contact_attempt(
        alarm, ANNA, s(90), party="c-joan", result=ContactResult.REACHED, notes="son on his way"
    )
    alarm = escalate(alarm, ANNA, s(120), EscalationTarget.KEY_HOLDER, detail="Joan has a key")
    alarm = add_note(alarm, ANNA, s(500), "found on the floor, not hurt")
    alarm = resolve(alarm, ANNA, s(600), Outcome.HELP_SENT, notes="son helped her up")
    assert alarm.state is AlarmState.RESOLVED
    assert alarm.outcome is Outcome.HELP_SENT
    assert alarm.voice_contact_at == s(90)
    assert [e.action for e in alarm.history] == [
        Action.RAISED,
        Action.PRESENTED,
        Action.ACCEPTED,
        Action.CONTACT_ATTEMPT,
        Action.CONTACT_ATTEMPT,
        Action.ESCALATED,
        Action.NOTE,
        Action.RESOLVED,
    ]
    assert [e.seq for e in alarm.history] == list(range(8))
    assert [e.state for e in alarm.history][-3:] == [
        AlarmState.ESCALATED,
        AlarmState.ESCALATED,
        AlarmState.RESOLVED,
    ]
    assert alarm.history[2].actor == ANNA
    assert alarm.history[4].details["notes"] == "son on his way"
    # A note may still be added after resolution; nothing else.
    after = add_note(alarm, SUPER, s(700), "reviewed")
    assert after.state is AlarmState.RESOLVED
    with pytest.raises(AlarmClosed):
        escalate(after, SUPER, s(710), EscalationTarget.FAMILY)


def test_second_operator_cannot_claim_or_act_on_a_taken_alarm() -> None:
    alarm = accept(raise_alarm("a1", detection()), ANNA, s(10))
    with pytest.raises(AlreadyClaimed) as info:
        accept(alarm, BIEL, s(11))
    assert info.value.claimed_by == "op-anna"
    with pytest.raises(AlreadyClaimed):
        resolve(alarm, BIEL, s(12), Outcome.FALSE_ALARM)
    # A supervisor may act on any alarm.
    done = resolve(alarm, SUPER, s(13), Outcome.FALSE_ALARM)
    assert done.outcome is Outcome.FALSE_ALARM


def test_acting_before_accepting_is_refused() -> None:
    alarm = raise_alarm("a1", detection())
    with pytest.raises(NotClaimed, match="accept it"):
        record_contact_attempt(alarm, ANNA, s(5), party="resident", result=ContactResult.BUSY)
    with pytest.raises(NotClaimed):
        resolve(alarm, ANNA, s(5), Outcome.FALSE_ALARM)
    with pytest.raises(NotClaimed):
        accept(alarm, Actor(ActorKind.CONTACT, "c-joan"), s(5))


@pytest.mark.parametrize("outcome", [None, "", "fixed_itself"])
def test_resolving_needs_a_coded_outcome(outcome) -> None:
    alarm = accept(raise_alarm("a1", detection()), ANNA, s(10))
    with pytest.raises(OutcomeRequired):
        resolve(alarm, ANNA, s(20), outcome)
    assert alarm.is_open


def test_system_may_only_cancel_for_the_resident() -> None:
    alarm = raise_alarm("a1", detection())
    resident = Actor(ActorKind.RESIDENT, "res-1")
    with pytest.raises(NotClaimed):
        resolve(alarm, resident, s(5), Outcome.FALSE_ALARM)
    assert resolve(alarm, resident, s(5), "resident_cancelled").outcome is (
        Outcome.RESIDENT_CANCELLED
    )


def test_no_backwards_moves_and_no_double_resolve() -> None:
    alarm = present(raise_alarm("a1", detection()), s(1))
    with pytest.raises(InvalidTransition):
        present(alarm, s(2))
    escalated = escalate(
        alarm, Actor(ActorKind.SYSTEM, "system"), s(180), EscalationTarget.EMERGENCY_112
    )
    # Accepting an escalated alarm claims it but leaves it escalated.
    claimed = accept(escalated, ANNA, s(200))
    assert claimed.state is AlarmState.ESCALATED
    assert claimed.claimed_by == ANNA
    done = resolve(claimed, ANNA, s(300), Outcome.FIRE_BRIGADE)
    with pytest.raises(AlarmClosed):
        resolve(done, ANNA, s(301), Outcome.FIRE_BRIGADE)
    with pytest.raises(AlarmClosed):
        accept(done, BIEL, s(302))


def test_history_cannot_go_back_in_time() -> None:
    alarm = accept(raise_alarm("a1", detection()), ANNA, s(10))
    with pytest.raises(ClockWentBackwards):
        add_note(alarm, ANNA, s(5), "late")


def test_attach_raises_priority_never_lowers_it() -> None:
    low = raise_alarm("a1", detection(RuleKind.INACTIVITY))
    assert low.priority is Priority.HIGH
    up = attach(low, detection(RuleKind.PANIC, event_id="e2"), s(5))
    assert up.priority is Priority.CRITICAL
    assert up.rules == (RuleKind.INACTIVITY, RuleKind.PANIC)
    assert up.event_ids == ("e1", "e2")
    still = attach(up, detection(RuleKind.BASELINE, event_id="e3"), s(6))
    assert still.priority is Priority.CRITICAL


def test_reannounce_only_while_unclaimed() -> None:
    alarm = raise_alarm("a1", detection())
    again = reannounce(alarm, s(60), to_supervisor=True)
    assert again.history[-1].details == {"supervisor": "True"}
    with pytest.raises(InvalidTransition):
        reannounce(accept(again, ANNA, s(61)), s(120), to_supervisor=True)


def test_queue_order_is_priority_then_age() -> None:
    old_low = raise_alarm("low", detection(RuleKind.MEDICATION), s(0))
    new_panic = raise_alarm("panic", detection(RuleKind.PANIC), s(50))
    old_panic = raise_alarm("panic-old", detection(RuleKind.PANIC), s(10))
    done = resolve(
        accept(raise_alarm("x", detection(), s(1)), ANNA, s(2)), ANNA, s(3), Outcome.FALSE_ALARM
    )
    ordered: list[Alarm] = queue_order([old_low, new_panic, done, old_panic])
    assert [a.id for a in ordered] == ["panic-old", "panic", "low"]
