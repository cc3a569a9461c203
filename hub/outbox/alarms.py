"""Resolved alarms (``alerts.Alarm``) as social-record events.

The alarm engine calls :func:`enqueue_resolved_alarm` in the transaction that resolves an
alarm; the visor also uses :func:`social_events_for_alarm` to show alarms straight from
the alarms table. Grouping: the social worker sees what kind of situation it was and how
it ended, not the rule that fired (``low_battery`` and ``tamper`` are both "technical").
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from alerts import Alarm
from alerts.alarm import Action, EscalationTarget, Outcome
from alerts.model import RuleKind
from hub.outbox.store import enqueue
from integrations.wsocial.events import (
    AlarmHandled,
    AlarmKind,
    AlarmOutcomeCode,
    AnySocialEvent,
    Escalation112,
    event_kind,
)

_KIND: dict[RuleKind, AlarmKind] = {
    RuleKind.PANIC: "panic",
    RuleKind.PROMPT_HELP: "panic",
    RuleKind.FALL: "fall",
    RuleKind.SMOKE: "smoke",
    RuleKind.CO: "co",
    # The social record's kinds predate gas detectors; a gas leak is a home hazard like CO.
    RuleKind.GAS: "other",
    RuleKind.FLOOD: "flood",
    RuleKind.TEMPERATURE: "temperature",
    RuleKind.INACTIVITY: "inactivity",
    RuleKind.BED_NOT_RETURNED: "inactivity",
    RuleKind.BASELINE: "inactivity",
    RuleKind.MISSED_CHECK_IN: "missed_check_in",
    RuleKind.NIGHT_DOOR: "other",
    RuleKind.MEDICATION: "other",
    RuleKind.DEVICE_OFFLINE: "technical",
    RuleKind.LOW_BATTERY: "technical",
    RuleKind.TAMPER: "technical",
    RuleKind.POWER_LOST: "technical",
    RuleKind.DEVICE_FAULT: "technical",
    RuleKind.MEDICAL: "panic",
    RuleKind.FIRE: "smoke",
    RuleKind.UNIT_EVENT: "technical",
}

_OUTCOME: dict[Outcome, AlarmOutcomeCode] = {
    Outcome.FALSE_ALARM: "false_alarm",
    Outcome.RESIDENT_CANCELLED: "false_alarm",
    Outcome.DUPLICATE: "false_alarm",
    Outcome.RESIDENT_FINE: "resolved_by_phone",
    Outcome.TECHNICAL_FIXED: "resolved_by_phone",
    Outcome.OTHER: "resolved_by_phone",
    Outcome.HELP_SENT: "contact_visit",
    Outcome.AMBULANCE: "emergency_services",
    Outcome.FIRE_BRIGADE: "emergency_services",
    Outcome.POLICE: "emergency_services",
    Outcome.RESIDENT_NOT_FOUND: "no_contact",
}


def social_events_for_alarm(alarm: Alarm) -> list[AnySocialEvent]:
    """``AlarmHandled`` (and ``Escalation112`` if it went to 112) of a resolved alarm.

    An open alarm gives nothing: the record gets it once, with its outcome.
    """
    resolved = alarm.entries(Action.RESOLVED)
    if alarm.outcome is None or not resolved:
        return []
    kind = _KIND.get(alarm.rule, "other")
    outcome = _OUTCOME.get(alarm.outcome, "resolved_by_phone")
    escalations = [
        e
        for e in alarm.entries(Action.ESCALATED)
        if e.details.get("target") == EscalationTarget.EMERGENCY_112
    ]
    if outcome == "contact_visit" and alarm.escalated_to(EscalationTarget.MOBILE_UNIT):
        outcome = "mobile_unit"
    accepted = alarm.entries(Action.ACCEPTED)
    closed_at = resolved[-1].at
    answered_at = accepted[0].at if accepted and accepted[0].at <= closed_at else None
    voice = alarm.voice_contact_at
    events: list[AnySocialEvent] = [
        AlarmHandled(
            resident_id=alarm.resident_id,
            occurred_at=closed_at,
            alarm_id=alarm.id,
            alarm_kind=kind,
            raised_at=alarm.raised_at,
            answered_at=answered_at,
            closed_at=closed_at,
            outcome=outcome,
            voice_contact_at=voice if voice is not None and voice <= closed_at else None,
        )
    ]
    if escalations:
        events.append(
            Escalation112(
                resident_id=alarm.resident_id,
                occurred_at=escalations[0].at,
                alarm_id=alarm.id,
                alarm_kind=kind,
                escalated_at=escalations[0].at,
            )
        )
    return events


async def enqueue_resolved_alarm(session: AsyncSession, alarm: Alarm) -> int:
    """Put a resolved alarm's events in the outbox (caller's transaction); how many.

    None for a resident without consent to the social record (see :func:`enqueue`).
    """
    added = 0
    for event in social_events_for_alarm(alarm):
        # A stable event id: resolving twice (a retried request) enqueues once.
        event_id = f"{event_kind(event)}-{alarm.id}"[:64]
        if await enqueue(session, event, event_id=event_id) is not None:
            added += 1
    return added
