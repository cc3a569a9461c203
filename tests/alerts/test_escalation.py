"""Escalation policy: re-announce to a supervisor, auto-notify contacts, fire-type 112."""

from __future__ import annotations

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
