"""Escalation policy: re-announce to a supervisor, auto-notify contacts, fire-type 112."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts import (
    SYSTEM,
    Actor,
    ActorKind,
    CarePlanError,
    Contact,
    ContactResult,
    Detection,
    Escalate112,
    EscalationPolicy,
    EscalationTarget,
    Explanation,
    NotifyContact,
    Reannounce,
    RuleKind,
    accept,
    due_actions,
    escalate,
    raise_alarm,
    reannounce,
    record_contact_attempt,
    record_notification,
)
from alerts.escalation import next_deadline

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ANNA = Actor(ActorKind.OPERATOR, "op-anna")
JOAN = Contact(
    "c-joan", "Joan", EscalationTarget.FAMILY, priority=2, auto_notify=True, language="es"
)
MARTA = Contact("c-marta", "Marta", EscalationTarget.KEY_HOLDER, priority=1, has_key=True)


def alarm(rule: RuleKind = RuleKind.PANIC):
    return raise_alarm(
        "a1",
        Detection(
            rule=rule, home_id="h", resident_id="r", at=T0, explanation=Explanation.of("never")
        ),
    )


def s(n: int) -> datetime:
    return T0 + timedelta(seconds=n)


def test_unaccepted_alarm_is_reannounced_to_a_supervisor_every_timeout() -> None:
    policy = EscalationPolicy()
    a = alarm(RuleKind.MEDICATION)
    assert next_deadline(policy, a) == s(60)
    assert due_actions(policy, a, s(59)) == ()
    (action,) = due_actions(policy, a, s(60))
    assert action == Reannounce("a1", True, s(60))
    a = reannounce(a, s(60), to_supervisor=True)
    assert due_actions(policy, a, s(100)) == ()
    assert next_deadline(policy, a) == s(120)
    a = accept(a, ANNA, s(110))
    assert due_actions(policy, a, s(500)) == ()
    assert next_deadline(policy, a) is None


def test_contacts_in_priority_order_and_auto_notification_once() -> None:
    policy = EscalationPolicy(contacts=(JOAN, MARTA))
    assert [c.contact_id for c in policy.ordered_contacts()] == ["c-marta", "c-joan"]
    a = accept(alarm(), ANNA, s(1))
    (notify,) = due_actions(policy, a, s(1))
    assert isinstance(notify, NotifyContact)
    assert notify.contact is JOAN
    a = record_notification(a, s(2), contact_id="c-joan", channel="push", delivered=True)
    assert due_actions(policy, a, s(3)) == ()


def test_low_priority_alarms_do_not_notify_family() -> None:
    policy = EscalationPolicy(contacts=(JOAN,))
    a = accept(alarm(RuleKind.BASELINE), ANNA, s(1))
    assert due_actions(policy, a, s(10)) == ()


def test_fire_type_alarm_goes_to_112_without_voice_contact() -> None:
    policy = EscalationPolicy()
    a = accept(alarm(RuleKind.SMOKE), ANNA, s(20))
    a = record_contact_attempt(a, ANNA, s(40), party="resident", result=ContactResult.NO_ANSWER)
    assert next_deadline(policy, a) == s(180)
    (action,) = due_actions(policy, a, s(180))
    assert action == Escalate112("a1", s(180))
    a = escalate(a, SYSTEM, s(181), EscalationTarget.EMERGENCY_112)
    assert due_actions(policy, a, s(400)) == ()


def test_voice_contact_stops_the_fire_auto_escalation() -> None:
    policy = EscalationPolicy()
    a = accept(alarm(RuleKind.CO), ANNA, s(20))
    a = record_contact_attempt(a, ANNA, s(40), party="resident", result=ContactResult.REACHED)
    assert due_actions(policy, a, s(400)) == ()
    panic = accept(alarm(RuleKind.PANIC), ANNA, s(20))
    assert due_actions(policy, panic, s(4000)) == ()


def test_policy_values_are_checked() -> None:
    with pytest.raises(CarePlanError):
        EscalationPolicy(acceptance_timeout=timedelta(seconds=1))
    with pytest.raises(CarePlanError):
        EscalationPolicy(contacts=(JOAN, JOAN))
    with pytest.raises(CarePlanError):
        Contact("c", "X", EscalationTarget.EMERGENCY_112)


def test_a_critical_alarm_is_warned_then_goes_to_112_after_the_plans_time() -> None:
    from alerts.escalation import Warn112, warn_112, warned_112

    policy = EscalationPolicy(
        critical_112_after=timedelta(minutes=10), warn_112_before=timedelta(minutes=2)
    )
    a = accept(alarm(RuleKind.FALL), ANNA, s(20))
    a = record_contact_attempt(a, ANNA, s(40), party="resident", result=ContactResult.NO_ANSWER)
    assert next_deadline(policy, a) == s(480)
    assert due_actions(policy, a, s(479)) == ()
    (warn,) = due_actions(policy, a, s(480))
    assert warn == Warn112("a1", s(480), s(600))
    a = warn_112(a, s(480), warn.deadline)
    assert warned_112(a)
    assert a.history[-1].details["deadline"] == s(600).isoformat()
    assert "120 s" in a.history[-1].details["text"]
    assert due_actions(policy, a, s(599)) == ()  # warned once
    assert next_deadline(policy, a) == s(600)
    (action,) = due_actions(policy, a, s(600))
    assert action == Escalate112("a1", s(600))
    a = escalate(a, SYSTEM, s(601), EscalationTarget.EMERGENCY_112)
    assert due_actions(policy, a, s(4000)) == ()
    assert next_deadline(policy, a) is None


def test_voice_contact_or_an_outcome_cancels_the_plans_112() -> None:
    from alerts import Outcome, resolve

    policy = EscalationPolicy(critical_112_after=timedelta(minutes=10))
    a = accept(alarm(RuleKind.PANIC), ANNA, s(20))
    spoken = record_contact_attempt(a, ANNA, s(500), party="resident", result=ContactResult.REACHED)
    assert due_actions(policy, spoken, s(4000)) == ()
    assert next_deadline(policy, spoken) is None
    closed = resolve(a, ANNA, s(30), Outcome.FALSE_ALARM)
    assert due_actions(policy, closed, s(4000)) == ()


@pytest.mark.parametrize(
    "rule", [RuleKind.FLOOD, RuleKind.INACTIVITY, RuleKind.MISSED_CHECK_IN, RuleKind.LOW_BATTERY]
)
def test_only_critical_person_alarms_go_to_112_by_the_plan(rule: RuleKind) -> None:
    policy = EscalationPolicy(critical_112_after=timedelta(minutes=10))
    assert due_actions(policy, alarm(rule), s(4000)) in ((), (Reannounce("a1", True, s(60)),))
    assert all(not isinstance(x, Escalate112) for x in due_actions(policy, alarm(rule), s(4000)))


def test_no_plan_time_no_automatic_112_for_a_panic() -> None:
    assert all(
        not isinstance(x, Escalate112)
        for x in due_actions(EscalationPolicy(), alarm(RuleKind.PANIC), s(40000))
    )


def test_the_plans_112_values_are_checked() -> None:
    with pytest.raises(CarePlanError):
        EscalationPolicy(critical_112_after=timedelta(0))
    with pytest.raises(CarePlanError):
        EscalationPolicy(warn_112_before=timedelta(seconds=-1))


def test_a_failed_automatic_112_is_retried_with_a_growing_pause_then_given_up() -> None:
    from alerts.escalation import (
        MAX_112_ATTEMPTS,
        handoff_112_state,
        mark_112_sending,
        pending_112,
        retry_backoff,
    )

    assert [retry_backoff(n).total_seconds() for n in (1, 2, 3, 4, 5, 6)] == [
        30,
        60,
        120,
        240,
        300,
        300,
    ]
    policy = EscalationPolicy()
    a = accept(alarm(RuleKind.SMOKE), ANNA, s(10))
    at = s(180)
    a = mark_112_sending(a, at, 1)
    first = pending_112(a)
    assert first is not None
    assert first.at == at
    sending = handoff_112_state(a)
    assert sending is not None
    assert sending.state == "sending"
    for attempt in range(1, MAX_112_ATTEMPTS + 1):
        a = escalate(a, SYSTEM, at, EscalationTarget.EMERGENCY_112, detail="auto: FAILED")
        last = a.history[-1]
        a = replace(
            a,
            history=(*a.history[:-1], replace(last, detail=(*last.detail, ("delivered", "False")))),
        )
        assert pending_112(a) == first  # the retry keeps the first attempt's identity
        state = handoff_112_state(a)
        assert state is not None
        assert state.attempts == attempt
        if attempt == MAX_112_ATTEMPTS:
            assert state.state == "failed"
            assert [
                x for x in due_actions(policy, a, s(100000)) if isinstance(x, Escalate112)
            ] == []
            break
        assert state.state == "retrying"
        assert state.next_attempt_at == at + retry_backoff(attempt)
        assert next_deadline(policy, a) == at + retry_backoff(attempt)
        assert all(
            not isinstance(x, Escalate112)
            for x in due_actions(policy, a, at + retry_backoff(attempt) - timedelta(seconds=1))
        )
        (retry,) = [
            x
            for x in due_actions(policy, a, at + retry_backoff(attempt))
            if isinstance(x, Escalate112)
        ]
        assert retry.attempt == attempt + 1
        at = at + retry_backoff(attempt)
        a = mark_112_sending(a, at, attempt + 1)
        assert handoff_112_state(a).state == "sending"  # type: ignore[union-attr]
