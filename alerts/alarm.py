"""The alarm and its state machine, with an append-only history (who, what, when).

raised → presented → accepted → in_contact → escalated → resolved. Every function
returns a NEW :class:`Alarm`; a refused action raises an
:class:`~alerts.errors.AlarmError` and changes nothing. No action moves an alarm back
to an earlier state, and only :func:`resolve` with a coded :class:`Outcome` closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.errors import (
    AlarmClosed,
    AlertsValueError,
    AlreadyClaimed,
    ClockWentBackwards,
    InvalidTransition,
    NotClaimed,
    OutcomeRequired,
)
from alerts.i18n import Explanation
from alerts.model import Category, Detection, Priority, RuleKind, category_of


class AlarmState(StrEnum):
    """Where an alarm is in its life; the order of the members is the only way forward."""

    RAISED = "raised"
    PRESENTED = "presented"
    ACCEPTED = "accepted"
    IN_CONTACT = "in_contact"
    ESCALATED = "escalated"
    RESOLVED = "resolved"

    @property
    def rank(self) -> int:
        """Position in the lifecycle (0 = raised)."""
        return _RANK[self]


_RANK = {state: i for i, state in enumerate(AlarmState)}


class Outcome(StrEnum):
    """How an alarm ended (the coded outcome the service reports on)."""

    FALSE_ALARM = "false_alarm"
    RESIDENT_FINE = "resident_fine"
    RESIDENT_CANCELLED = "resident_cancelled"
    HELP_SENT = "help_sent"
    AMBULANCE = "ambulance"
    FIRE_BRIGADE = "fire_brigade"
    POLICE = "police"
    RESIDENT_NOT_FOUND = "resident_not_found"
    TECHNICAL_FIXED = "technical_fixed"
    DUPLICATE = "duplicate"
    OTHER = "other"


class EscalationTarget(StrEnum):
    """Who an alarm is escalated to."""

    KEY_HOLDER = "key_holder"
    FAMILY = "family"
    NEIGHBOUR = "neighbour"
    MOBILE_UNIT = "mobile_unit"
    EMERGENCY_112 = "emergency_112"
    SUPERVISOR = "supervisor"


class ActorKind(StrEnum):
    """Who did something to an alarm."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"
    RESIDENT = "resident"
    CONTACT = "contact"


class ContactResult(StrEnum):
    """What came of one call or message to the resident or a contact."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_NUMBER = "wrong_number"
    FAILED = "failed"


class Action(StrEnum):
    """What a history entry records."""

    RAISED = "raised"
    PRESENTED = "presented"
    ACCEPTED = "accepted"
    EVENT_ATTACHED = "event_attached"
    CONTACT_ATTEMPT = "contact_attempt"
    VOICE_CONNECTED = "voice_connected"  # the operator's speech connection carries voice
    VOICE_CALL = "voice_call"  # how a speech connection with the home went (at its end)
    DIALLED = "dialled"  # the hub placed a phone call for the operator: its outcome (ADR 0143)
    ON_MY_WAY = "on_my_way"  # a contact called out to pressed "1" on the phone
    DIAL_ENDED = "dial_ended"  # an answered call out ended (duration, who hung up)
    UNIT_CALLING = "unit_calling"  # the home's carephone calls the centre for speech
    NOTE = "note"
    ESCALATED = "escalated"
    REANNOUNCED = "reannounced"
    NOTIFIED = "notified"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Actor:
    """A person or the system; ``id`` is the user id, contact id or "system"."""

    kind: ActorKind
    id: str
    name: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise AlertsValueError("an actor needs an id")

    @property
    def is_staff(self) -> bool:
        """Operators and supervisors work alarms."""
        return self.kind in (ActorKind.OPERATOR, ActorKind.SUPERVISOR)


SYSTEM = Actor(ActorKind.SYSTEM, "system")
RESIDENT_PARTY = "resident"


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an alarm's history; ``seq`` counts from 0 without gaps."""

    seq: int
    at: datetime
    actor: Actor
    action: Action
    state: AlarmState  # the state after this entry
    detail: tuple[tuple[str, str], ...] = ()

    @property
    def details(self) -> dict[str, str]:
        """``detail`` as a dict."""
        return dict(self.detail)


@dataclass(frozen=True, slots=True)
class Alarm:
    """An alarm of one home: what raised it, where it is, and everything that happened."""

    id: str
    home_id: str
    resident_id: str
    category: Category
    rule: RuleKind
    priority: Priority
    explanation: Explanation
    raised_at: datetime
    state: AlarmState
    history: tuple[HistoryEntry, ...]
    rules: tuple[RuleKind, ...] = ()
    event_ids: tuple[str, ...] = ()
    claimed_by: Actor | None = None
    outcome: Outcome | None = None
    voice_contact_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not resolved yet."""
        return self.state is not AlarmState.RESOLVED

    @property
    def last_at(self) -> datetime:
        """Time of the last history entry."""
        return self.history[-1].at

    def age(self, now: datetime) -> timedelta:
        """How long since it was raised."""
        return now - self.raised_at

    def entries(self, action: Action) -> tuple[HistoryEntry, ...]:
        """History entries of one kind."""
        return tuple(e for e in self.history if e.action is action)

    def escalated_to(self, target: EscalationTarget) -> bool:
        """Has it been escalated to ``target``?"""
        return any(e.details.get("target") == target for e in self.entries(Action.ESCALATED))

    @property
    def queue_key(self) -> tuple[int, datetime, str]:
        """Queue order: most urgent priority first, then oldest first."""
        return (int(self.priority), self.raised_at, self.id)


def queue_order(alarms: Iterable[Alarm]) -> list[Alarm]:
    """Open alarms as the operators' queue shows them: priority, then age."""
    return sorted((a for a in alarms if a.is_open), key=lambda a: a.queue_key)


def _detail(values: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in values.items() if v is not None and v != "")


def _append(
    alarm: Alarm,
    at: datetime,
    actor: Actor,
    action: Action,
    state: AlarmState,
    detail: Mapping[str, object] | None = None,
    **changes: object,
) -> Alarm:
    if at.tzinfo is None or at.utcoffset() is None:
        raise AlertsValueError(f"history time must be timezone-aware, got {at!r}")
    if at < alarm.last_at:
        raise ClockWentBackwards(
            alarm.id, f"{action} at {at.isoformat()} is before {alarm.last_at.isoformat()}"
        )
    if state.rank < alarm.state.rank:  # pragma: no cover - every caller uses _forward
        raise InvalidTransition(alarm.id, f"{alarm.state} cannot go back to {state}")
    entry = HistoryEntry(len(alarm.history), at, actor, action, state, _detail(detail or {}))
    return replace(alarm, history=(*alarm.history, entry), state=state, **changes)  # type: ignore[arg-type]


def _forward(alarm: Alarm, target: AlarmState) -> AlarmState:
    """The later of the current state and ``target``."""
    return target if target.rank > alarm.state.rank else alarm.state


def _require_open(alarm: Alarm, action: str) -> None:
    if not alarm.is_open:
        raise AlarmClosed(alarm.id, f"cannot {action}: resolved ({alarm.outcome})")


def _require_handler(alarm: Alarm, actor: Actor, action: str) -> None:
    """Staff act on an alarm they accepted; supervisors on any."""
    if actor.kind is ActorKind.SUPERVISOR:
        return
    if not actor.is_staff:
        raise NotClaimed(alarm.id, f"{actor.kind} {actor.id} cannot {action}")
    if alarm.claimed_by is None:
        raise NotClaimed(alarm.id, f"accept it before you {action}")
    if alarm.claimed_by.id != actor.id:
        raise AlreadyClaimed(alarm.id, alarm.claimed_by.id)


def raise_alarm(alarm_id: str, detection: Detection, at: datetime | None = None) -> Alarm:
    """A new alarm from ``detection`` (``at`` defaults to the detection's time)."""
    if not alarm_id:
        raise AlertsValueError("an alarm needs an id")
    when = at or detection.at
    if when.tzinfo is None or when.utcoffset() is None:
        raise AlertsValueError(f"alarm time must be timezone-aware, got {when!r}")
    entry = HistoryEntry(
        0,
        when,
        SYSTEM,
        Action.RAISED,
        AlarmState.RAISED,
        _detail({"rule": detection.rule, "events": ",".join(detection.event_ids)}),
    )
    return Alarm(
        id=alarm_id,
        home_id=detection.home_id,
        resident_id=detection.resident_id,
        category=category_of(detection.rule),
        rule=detection.rule,
        priority=detection.priority,
        explanation=detection.explanation,
        raised_at=when,
        state=AlarmState.RAISED,
        history=(entry,),
        rules=(detection.rule,),
        event_ids=detection.event_ids,
    )


def present(alarm: Alarm, at: datetime) -> Alarm:
    """The alarm reached the operators' screens."""
    _require_open(alarm, "present")
    if alarm.state is not AlarmState.RAISED:
        raise InvalidTransition(alarm.id, f"already {alarm.state}")
    return _append(alarm, at, SYSTEM, Action.PRESENTED, AlarmState.PRESENTED)


def accept(alarm: Alarm, actor: Actor, at: datetime) -> Alarm:
    """``actor`` claims the alarm, so no other operator calls the same person."""
    _require_open(alarm, "accept")
    if not actor.is_staff:
        raise NotClaimed(alarm.id, f"{actor.kind} {actor.id} cannot accept alarms")
    if alarm.claimed_by is not None:
        raise AlreadyClaimed(alarm.id, alarm.claimed_by.id)
    state = _forward(alarm, AlarmState.ACCEPTED)
    return _append(alarm, at, actor, Action.ACCEPTED, state, claimed_by=actor)


def record_contact_attempt(
    alarm: Alarm,
    actor: Actor,
    at: datetime,
    *,
    party: str,
    result: ContactResult,
    channel: str = "phone",
    notes: str = "",
) -> Alarm:
    """One call/message to the resident (``party="resident"``) or a contact id."""
    _require_open(alarm, "record a contact attempt")
    _require_handler(alarm, actor, "record a contact attempt")
    if not party:
        raise AlertsValueError("a contact attempt needs the party called")
    result = ContactResult(result)
    voice = alarm.voice_contact_at
    if voice is None and result is ContactResult.REACHED and channel in ("phone", "voice"):
        voice = at
    return _append(
        alarm,
        at,
        actor,
        Action.CONTACT_ATTEMPT,
        _forward(alarm, AlarmState.IN_CONTACT),
        {"party": party, "result": result, "channel": channel, "notes": notes},
        voice_contact_at=voice,
    )


def record_voice_connected(alarm: Alarm, actor: Actor, at: datetime, *, call_id: str) -> Alarm:
    """The operator's speech connection with the home's tablet carries voice.

    The first one is the alarm's moment of voice contact (``voice_contact_at``). Recorded
    in any state: it is a fact about the alarm, like a note.
    """
    return _append(
        alarm,
        at,
        actor,
        Action.VOICE_CONNECTED,
        _forward(alarm, AlarmState.IN_CONTACT),
        {"call": call_id},
        voice_contact_at=alarm.voice_contact_at or at,
    )


def record_voice_call(
    alarm: Alarm,
    actor: Actor,
    at: datetime,
    *,
    call_id: str,
    started_at: datetime,
    connected_at: datetime | None,
    ended_at: datetime | None,
    ended_by: str = "",
    failure: str = "",
) -> Alarm:
    """How one speech connection with the home went, recorded when it ended.

    ``result`` is ``connected`` when voice flowed, else ``failed`` with ``failure``
    (tablet_offline, no_answer, media_failed, hub_restart).
    """
    end = ended_at or at
    duration = int((end - connected_at).total_seconds()) if connected_at is not None else 0
    detail: dict[str, object] = {
        "call": call_id,
        "result": "connected" if connected_at is not None else "failed",
        "started_at": started_at.isoformat(),
        "connected_at": connected_at.isoformat() if connected_at else None,
        "duration_s": max(0, duration),
        "ended_by": ended_by,
        "failure": failure,
    }
    return _append(alarm, at, actor, Action.VOICE_CALL, alarm.state, detail)


DIAL_OUTCOMES = frozenset(
    {"answered", "busy", "declined", "no_answer", "media_failed", "failed", "cancelled"}
)


def record_dial_outcome(
    alarm: Alarm, actor: Actor, at: datetime, *, call_id: str, party: str, outcome: str
) -> Alarm:
    """How a call the operator placed through the hub (click-to-call) was answered.

    ``party`` is ``resident``, ``carephone`` or a contact id. An answered call to the
    resident or the home's carephone is voice contact; to a contact it is a contact
    reached. Recorded in any state: a fact about the alarm, like a note.
    """
    if outcome not in DIAL_OUTCOMES:
        raise AlertsValueError(f"unknown call outcome {outcome!r}")
    if not party:
        raise AlertsValueError("a call out needs the party called")
    answered = outcome == "answered"
    voice = alarm.voice_contact_at
    if voice is None and answered and party in (RESIDENT_PARTY, "carephone"):
        voice = at
    state = _forward(alarm, AlarmState.IN_CONTACT) if answered else alarm.state
    detail = {"call": call_id, "party": party, "outcome": outcome}
    return _append(alarm, at, actor, Action.DIALLED, state, detail, voice_contact_at=voice)


def record_on_my_way(alarm: Alarm, actor: Actor, at: datetime, *, call_id: str) -> Alarm:
    """The contact on a call out confirmed by a key that they are on their way."""
    return _append(alarm, at, actor, Action.ON_MY_WAY, alarm.state, {"call": call_id})


def record_dial_ended(
    alarm: Alarm,
    actor: Actor,
    at: datetime,
    *,
    call_id: str,
    party: str,
    duration_s: int,
    ended_by: str,
) -> Alarm:
    """An answered call out ended: how long it lasted and who hung up."""
    detail = {
        "call": call_id, "party": party, "duration_s": max(0, duration_s), "ended_by": ended_by
    }  # fmt: skip
    return _append(alarm, at, actor, Action.DIAL_ENDED, alarm.state, detail)


def record_unit_calling(
    alarm: Alarm,
    at: datetime,
    *,
    call_id: str,
    device_id: str,
    ended: bool = False,
    status: str = "",
    by: str = "",
    bye: str = "",
) -> Alarm:
    """The home's carephone called the centre for speech (its call rings, waiting for the
    operator), or what became of that call: ``status`` ``answered`` (``by`` the operator who
    accepted the alarm, ``voice``, or the hub at its ``timeout``, which plays the hold
    message), ``cancelled`` (the unit hung up before it was answered), ``declined`` (``by``
    ``resolved``: refused with 603 while it rang, the alarm resolved) or ``ended`` (``by``
    the ``operator`` hanging up, ``resolved`` with the alarm, or ``link_failed``: the
    operator's audio link failed; ``bye``: what the unit answered the centre's BYE — ``ok``,
    ``gone`` when it had ended the call already, ``refused``, ``no_answer``)."""
    detail: dict[str, object] = {"call": call_id, "device": device_id}
    status = "ended" if ended else status
    if status:
        detail["status"] = status
    if by:
        detail["by"] = by
    if bye:
        detail["bye"] = bye
    return _append(alarm, at, SYSTEM, Action.UNIT_CALLING, alarm.state, detail)


def add_note(
    alarm: Alarm,
    actor: Actor,
    at: datetime,
    text: str,
    *,
    extra: Mapping[str, str] | None = None,
) -> Alarm:
    """A free-text note; allowed in every state, also after resolution. ``extra`` adds
    coded details a reader words in its own language (a relative's answer: ``family_answer``).

    An operator does not write in an alarm another person holds (supervisors, the
    system and family notices may); an alarm nobody holds yet takes anyone's note.
    """
    if not text.strip():
        raise AlertsValueError("a note needs text")
    holder = alarm.claimed_by
    if actor.kind is ActorKind.OPERATOR and holder is not None and holder.id != actor.id:
        raise AlreadyClaimed(alarm.id, holder.id)
    detail = {**(extra or {}), "text": text.strip()}
    return _append(alarm, at, actor, Action.NOTE, alarm.state, detail)


def escalate(
    alarm: Alarm,
    actor: Actor,
    at: datetime,
    target: EscalationTarget,
    *,
    detail: str = "",
    reference: str = "",
) -> Alarm:
    """Escalate to a key holder, family, mobile unit, 112 or a supervisor.

    The system may escalate on its own (the fire-type 112 policy); staff must hold
    the alarm (or be a supervisor).
    """
    _require_open(alarm, "escalate")
    if actor.kind is not ActorKind.SYSTEM:
        _require_handler(alarm, actor, "escalate")
    target = EscalationTarget(target)
    return _append(
        alarm,
        at,
        actor,
        Action.ESCALATED,
        _forward(alarm, AlarmState.ESCALATED),
        {"target": target, "detail": detail, "reference": reference},
    )


def reannounce(alarm: Alarm, at: datetime, *, to_supervisor: bool) -> Alarm:
    """Nobody accepted in time: the alarm is announced again (and to a supervisor)."""
    _require_open(alarm, "re-announce")
    if alarm.claimed_by is not None:
        raise InvalidTransition(alarm.id, f"already accepted by {alarm.claimed_by.id}")
    return _append(
        alarm, at, SYSTEM, Action.REANNOUNCED, alarm.state, {"supervisor": to_supervisor}
    )


def record_notification(
    alarm: Alarm,
    at: datetime,
    *,
    contact_id: str,
    channel: str,
    delivered: bool,
    detail: str = "",
) -> Alarm:
    """An automatic notification to a contact (push, e-mail, SMS) and whether it went out."""
    return _append(
        alarm,
        at,
        SYSTEM,
        Action.NOTIFIED,
        alarm.state,
        {"contact": contact_id, "channel": channel, "delivered": delivered, "detail": detail},
    )


def attach(alarm: Alarm, detection: Detection, at: datetime) -> Alarm:
    """A related event of the same home joins the open alarm (priority only rises)."""
    _require_open(alarm, "attach an event")
    priority = min(alarm.priority, detection.priority)
    rules = alarm.rules if detection.rule in alarm.rules else (*alarm.rules, detection.rule)
    return _append(
        alarm,
        at,
        SYSTEM,
        Action.EVENT_ATTACHED,
        alarm.state,
        {
            "rule": detection.rule,
            "events": ",".join(detection.event_ids),
            "cancels": detection.cancels or None,
            "restores": detection.restores or None,
            "explanation": detection.explanation.key,
        },
        priority=priority,
        rules=rules,
        event_ids=(*alarm.event_ids, *detection.event_ids),
    )


def resolve(
    alarm: Alarm, actor: Actor, at: datetime, outcome: Outcome | str | None, notes: str = ""
) -> Alarm:
    """Close the alarm with a coded ``outcome`` (required) and notes."""
    _require_open(alarm, "resolve")
    if outcome is None or outcome == "":
        raise OutcomeRequired(alarm.id, "an outcome is required to resolve an alarm")
    try:
        code = Outcome(outcome)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise OutcomeRequired(alarm.id, f"unknown outcome {outcome!r} (one of {allowed})") from None
    if actor.is_staff:
        _require_handler(alarm, actor, "resolve")
    elif code is not Outcome.RESIDENT_CANCELLED:
        raise NotClaimed(alarm.id, f"{actor.kind} {actor.id} can only cancel, not resolve")
    return _append(
        alarm,
        at,
        actor,
        Action.RESOLVED,
        AlarmState.RESOLVED,
        {"outcome": code, "notes": notes},
        outcome=code,
    )
