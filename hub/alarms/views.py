"""JSON views of alarms for the API and the live socket (text in the reader's language)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts import Action, Alarm, EscalationTarget, label
from hub.alarms.models import AlarmHistoryRow


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _emergency(alarm: Alarm) -> dict[str, Any]:
    entries = [
        e
        for e in alarm.entries(Action.ESCALATED)
        if e.details.get("target") == EscalationTarget.EMERGENCY_112
    ]
    if not entries:
        return {"sent": False, "delivered": None, "reference": None}
    last = entries[-1].details
    return {
        "sent": True,
        "delivered": last.get("delivered") == "True",
        "reference": last.get("reference") or None,
    }


def alarm_view(
    alarm: Alarm, language: str, now: datetime, *, history: bool = False
) -> dict[str, Any]:
    """The alarm object of docs/alarms-api.md."""
    claimed = alarm.claimed_by
    view: dict[str, Any] = {
        "id": alarm.id,
        "home_id": alarm.home_id,
        "resident_id": alarm.resident_id,
        "category": alarm.category.value,
        "rule": alarm.rule.value,
        "rule_label": label(alarm.rule, language),
        "rules": [r.value for r in alarm.rules],
        "priority": int(alarm.priority),
        "state": alarm.state.value,
        "state_label": label(alarm.state, language),
        "raised_at": _iso(alarm.raised_at),
        "age_s": max(0, int((now - alarm.raised_at).total_seconds())),
        "explanation": alarm.explanation.to_dict(),
        "explanation_text": alarm.explanation.text(language),
        "claimed_by": (
            {"kind": claimed.kind.value, "id": claimed.id, "name": claimed.name}
            if claimed
            else None
        ),
        "outcome": alarm.outcome.value if alarm.outcome else None,
        "outcome_label": label(alarm.outcome, language) if alarm.outcome else None,
        "voice_contact_at": _iso(alarm.voice_contact_at),
        "supervisor_alerted": any(
            e.details.get("supervisor") == "True" for e in alarm.entries(Action.REANNOUNCED)
        ),
        "emergency": _emergency(alarm),
        "event_ids": list(alarm.event_ids),
    }
    if history:
        view["history"] = [
            {
                "seq": e.seq,
                "at": _iso(e.at),
                "actor": {"kind": e.actor.kind.value, "id": e.actor.id, "name": e.actor.name},
                "action": e.action.value,
                "state": e.state.value,
                "detail": dict(e.detail),
            }
            for e in alarm.history
        ]
    return view


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
