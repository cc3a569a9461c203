"""JSON views of alarms for the API and the live socket (text in the reader's language)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from alerts import Action, Alarm, EscalationTarget, label
from alerts.escalation import WARNING_DETAIL, handoff_112_state
from hub.alarms.models import AlarmHistoryRow

# The alarm object (docs/alarms-api.md) as structs: the views are built from them and the
# OpenAPI document describes them from them (hub/api/openapi.py).


class ActorView(msgspec.Struct, kw_only=True, frozen=True):
    """Who did something: ``kind`` (system, operator, supervisor, resident…), id, name."""

    kind: str
    id: str
    name: str


class EmergencyView(msgspec.Struct, kw_only=True, frozen=True):
    """The last 112 hand-off: sent at all, delivered, and 112's reference."""

    sent: bool
    delivered: bool | None
    reference: str | None
    # The automatic hand-off (docs/adr/0036): sending | delivered | retrying | failed.
    handoff: str | None = None
    attempts: int = 0
    next_attempt_at: str | None = None
    # The operator was warned the alarm goes to 112 by itself at this time (still standing).
    auto_112_at: str | None = None


class ExplanationView(msgspec.Struct, kw_only=True, frozen=True):
    """Why: a message key with its parameters, and more clauses of the same shape."""

    key: str
    params: dict[str, str]
    clauses: list[ExplanationView]


class HistoryView(msgspec.Struct, kw_only=True, frozen=True):
    """One line of the alarm's history (``detail`` values are strings)."""

    seq: int
    at: str
    actor: ActorView
    action: str
    state: str
    detail: dict[str, str]


class AlarmView(msgspec.Struct, kw_only=True, frozen=True):
    """The alarm object of the API and the live socket."""

    id: str
    home_id: str
    resident_id: str
    category: Literal["care", "technical"]
    rule: str
    rule_label: str
    rules: list[str]
    priority: int
    state: str
    state_label: str
    raised_at: str
    age_s: int
    explanation: ExplanationView
    explanation_text: str
    claimed_by: ActorView | None
    outcome: str | None
    outcome_label: str | None
    voice_contact_at: str | None
    supervisor_alerted: bool
    emergency: EmergencyView
    event_ids: list[str]
    # Only in GET /api/alarms/{id}.
    history: list[HistoryView] | msgspec.UnsetType = msgspec.UNSET


class CodeLabel(msgspec.Struct, kw_only=True, frozen=True):
    """A coded value with its label in the reader's language."""

    code: str
    label: str


class AlarmCodes(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /api/alarms/codes``: the coded values an operator picks from."""

    outcomes: list[CodeLabel]
    targets: list[CodeLabel]
    contact_results: list[CodeLabel]
    rules: list[CodeLabel]
    states: list[CodeLabel]


class AlarmList(msgspec.Struct, kw_only=True, frozen=True):
    """``GET /api/alarms``: alarms in queue order, without their history."""

    alarms: list[AlarmView]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _emergency(alarm: Alarm) -> EmergencyView:
    entries = [
        e
        for e in alarm.entries(Action.ESCALATED)
        if e.details.get("target") == EscalationTarget.EMERGENCY_112
    ]
    handoff = handoff_112_state(alarm)
    progress: dict[str, Any] = (
        {
            "handoff": handoff.state,
            "attempts": handoff.attempts,
            "next_attempt_at": _iso(handoff.next_attempt_at),
        }
        if handoff is not None
        else {}
    )
    if not entries:
        warnings = [e for e in alarm.entries(Action.NOTE) if e.details.get(WARNING_DETAIL)]
        standing = alarm.is_open and alarm.voice_contact_at is None and warnings
        return EmergencyView(
            sent=False,
            delivered=None,
            reference=None,
            auto_112_at=warnings[-1].details.get("deadline") if standing else None,
            **progress,
        )
    last = entries[-1].details
    return EmergencyView(
        sent=True,
        delivered=last.get("delivered") == "True",
        reference=last.get("reference") or None,
        **progress,
    )


def alarm_view(
    alarm: Alarm, language: str, now: datetime, *, history: bool = False
) -> dict[str, Any]:
    """The alarm object of docs/alarms-api.md (built as an :class:`AlarmView`)."""
    built: dict[str, Any] = msgspec.to_builtins(alarm_struct(alarm, language, now, history=history))
    return built


def _explanation(data: dict[str, Any]) -> ExplanationView:
    return msgspec.convert(data, ExplanationView)


def alarm_struct(alarm: Alarm, language: str, now: datetime, *, history: bool = False) -> AlarmView:
    """The alarm object as a struct."""
    claimed = alarm.claimed_by
    return AlarmView(
        id=alarm.id,
        home_id=alarm.home_id,
        resident_id=alarm.resident_id,
        category=alarm.category.value,
        rule=alarm.rule.value,
        rule_label=label(alarm.rule, language),
        rules=[r.value for r in alarm.rules],
        priority=int(alarm.priority),
        state=alarm.state.value,
        state_label=label(alarm.state, language),
        raised_at=_iso(alarm.raised_at) or "",
        age_s=max(0, int((now - alarm.raised_at).total_seconds())),
        explanation=_explanation(alarm.explanation.to_dict()),
        explanation_text=alarm.explanation.text(language),
        claimed_by=(
            ActorView(kind=claimed.kind.value, id=claimed.id, name=claimed.name)
            if claimed
            else None
        ),
        outcome=alarm.outcome.value if alarm.outcome else None,
        outcome_label=label(alarm.outcome, language) if alarm.outcome else None,
        voice_contact_at=_iso(alarm.voice_contact_at),
        supervisor_alerted=any(
            e.details.get("supervisor") == "True" for e in alarm.entries(Action.REANNOUNCED)
        ),
        emergency=_emergency(alarm),
        event_ids=list(alarm.event_ids),
        history=(
            [
                HistoryView(
                    seq=e.seq,
                    at=_iso(e.at) or "",
                    actor=ActorView(kind=e.actor.kind.value, id=e.actor.id, name=e.actor.name),
                    action=e.action.value,
                    state=e.state.value,
                    detail=dict(e.detail),
                )
                for e in alarm.history
            ]
            if history
            else msgspec.UNSET
        ),
    )


def stored_history_view(rows: list[AlarmHistoryRow]) -> list[dict[str, Any]]:
    """History as stored in the insert-only table (for audits and tests)."""
    return [
        {
            "seq": r.seq,
            "at": _iso(r.at),
            "actor": {"kind": r.actor_kind, "id": r.actor_id, "name": r.actor_name},
            "action": r.action,
            "state": r.state,
            "detail": r.detail,
        }
        for r in rows
    ]
