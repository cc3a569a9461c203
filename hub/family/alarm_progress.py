"""What a relative may see of how the centre is handling an alarm: its steps.

The steps are taken from the alarm's history, keeping only facts a relative can
understand and nothing else: never an operator's name, a note, a contact's result
notes, an escalation's free text or reference. Who help was sent to and how the alarm
ended are codes; the family app words them (hub/family/i18n.toml, ``step_*``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.alarm import Action, Alarm, ContactResult
from hub.alarms.store import load_alarm
from hub.http import iso

# Escalations a relative hears of; a supervisor is the centre's own business.
FAMILY_TARGETS = frozenset({"key_holder", "family", "neighbour", "mobile_unit", "emergency_112"})
# Outcomes worded for the family; anything else reads as "the centre closed it".
FAMILY_OUTCOMES = frozenset(
    {
        "false_alarm", "resident_fine", "resident_cancelled", "help_sent", "ambulance",
        "fire_brigade", "police", "resident_not_found", "technical_fixed", "duplicate",
    }
)  # fmt: skip


def _reached_the_home(detail: dict[str, str]) -> bool:
    """A call with the resident that got through (a contact's call is not the resident's)."""
    return (
        detail.get("party") == "resident"
        and detail.get("result") == ContactResult.REACHED
        and detail.get("channel", "phone") in ("phone", "voice")
    )


def alarm_steps(alarm: Alarm) -> list[dict[str, Any]]:
    """The alarm's steps for the family, oldest first: accepted, voice, help (each), resolved."""
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in alarm.history:
        detail = dict(entry.detail)
        if entry.action is Action.ACCEPTED and "accepted" not in seen:
            seen.add("accepted")
            steps.append({"kind": "accepted", "at": iso(entry.at)})
        elif "voice" not in seen and (
            entry.action is Action.VOICE_CONNECTED
            or (entry.action is Action.CONTACT_ATTEMPT and _reached_the_home(detail))
        ):
            seen.add("voice")
            steps.append({"kind": "voice", "at": iso(entry.at)})
        elif entry.action is Action.ESCALATED and detail.get("target") in FAMILY_TARGETS:
            target = detail["target"]
            if f"help:{target}" not in seen:  # the same help sent twice is one step
                seen.add(f"help:{target}")
                steps.append({"kind": "help", "target": target, "at": iso(entry.at)})
        elif entry.action is Action.RESOLVED:
            outcome = detail.get("outcome", "")
            steps.append(
                {
                    "kind": "resolved",
                    "outcome": outcome if outcome in FAMILY_OUTCOMES else "other",
                    "at": iso(entry.at),
                }
            )
    return steps


async def steps_of(
    session: AsyncSession, alarm_ref: str, alarm: Alarm | None
) -> list[dict[str, Any]]:
    """The steps of the notice's alarm (loaded unless given); none for a notice without one."""
    if alarm is None:
        loaded = await load_alarm(session, alarm_ref)
        if loaded is None:  # a notice posted by staff through the API, with no engine alarm
            return []
        alarm = loaded[1]
    return alarm_steps(alarm)
