"""Escalation policy: what the system does by itself while an alarm waits.

- nobody accepted within ``acceptance_timeout``: re-announce, and raise to a supervisor;
- contacts marked for it are notified automatically (push, e-mail, SMS);
- fire-type alarms go to 112 if nobody has had voice contact within ``fire_112_after``;
- a critical alarm about the person (panic, fall, "help" on the tablet, a carephone's
  medical alarm) still open and without voice contact goes to 112 after the care plan's
  ``critical_112_after`` (``escalate_to_112_after_min``), the operator warned
  ``warn_112_before`` ahead by a note on the alarm (docs/adr/0036).

:func:`due_actions` is pure: the hub performs the actions and records them on the
alarm (:func:`alerts.alarm.reannounce`, :func:`~alerts.alarm.record_notification`,
:func:`~alerts.alarm.escalate`), which is what makes them happen once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from alerts.alarm import SYSTEM, Action, Alarm, EscalationTarget, HistoryEntry, add_note
from alerts.errors import CarePlanError
from alerts.i18n import LANGUAGES, Language
from alerts.model import FIRE_TYPE_RULES, Category, Priority, RuleKind

# Critical alarms about the person that go to 112 by themselves after the plan's time
# (a flood is critical for the home, not for her life: it goes to the key holder).
PERSON_112_RULES = frozenset(
    {RuleKind.PANIC, RuleKind.FALL, RuleKind.PROMPT_HELP, RuleKind.MEDICAL}
)
# The history detail marking the system's warning that 112 is about to be called.
WARNING_DETAIL = "warning"
WARNING_112 = "112"
# The history detail of the system's "112 hand-off: sending (attempt n)" notes.
HANDOFF_DETAIL = "handoff"
# The history detail of a hand-off attempt whose outcome is unknown (the hub stopped while
# sending): its wait has already been spent finding that out, so it is retried at once.
INTERRUPTED_DETAIL = "interrupted"
# An automatic hand-off that fails (or whose outcome is unknown) is sent again, with the
# same message identity (112 deduplicates by it), after a growing pause, at most this often.
MAX_112_ATTEMPTS = 6
RETRY_112_FIRST = timedelta(seconds=30)
RETRY_112_MAX = timedelta(minutes=5)

CONTACT_RELATIONS = (
    EscalationTarget.KEY_HOLDER,
    EscalationTarget.FAMILY,
    EscalationTarget.NEIGHBOUR,
)


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone to call or notify for a resident, in ``priority`` order (1 first)."""

    contact_id: str
    name: str
    relation: EscalationTarget
    priority: int = 1
    language: Language = "ca"
    phone: str | None = None
    email: str | None = None
    has_key: bool = False
    # Notified by the system (push/e-mail/SMS) without waiting for the operator.
    auto_notify: bool = False
    channels: tuple[str, ...] = ("push",)

    def __post_init__(self) -> None:
        if not self.contact_id or not self.name:
            raise CarePlanError("a contact needs an id and a name")
        if self.relation not in CONTACT_RELATIONS:
            raise CarePlanError(f"contact relation {self.relation!r} is not a person's role")
        if self.language not in LANGUAGES:
            raise CarePlanError(f"contact language {self.language!r} is not one of {LANGUAGES}")
        if self.priority < 1:
            raise CarePlanError("contact priority starts at 1")


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Per-resident escalation settings (defaults are the service's)."""

    acceptance_timeout: timedelta = timedelta(seconds=60)
    supervisor_on_timeout: bool = True
    contacts: tuple[Contact, ...] = ()
    # Alarms at least this urgent notify the auto_notify contacts.
    notify_priority: Priority = Priority.CRITICAL
    notify_delay: timedelta = timedelta(0)
    fire_112_after: timedelta = timedelta(minutes=3)
    auto_112_rules: frozenset[RuleKind] = field(default_factory=lambda: FIRE_TYPE_RULES)
    # Critical person alarms still without voice contact go to 112 this long after they
    # were raised (None: never by themselves; the care plan's escalate_to_112_after_min).
    critical_112_after: timedelta | None = None
    critical_112_rules: frozenset[RuleKind] = field(default_factory=lambda: PERSON_112_RULES)
    # The operator is warned on the alarm this long before an automatic 112 hand-off.
    warn_112_before: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if self.acceptance_timeout < timedelta(seconds=5):
            raise CarePlanError("acceptance_timeout must be at least 5 s")
        if self.critical_112_after is not None and self.critical_112_after <= timedelta(0):
            raise CarePlanError("critical_112_after must be positive (or None: off)")
        if self.warn_112_before < timedelta(0):
            raise CarePlanError("warn_112_before cannot be negative")
        if self.notify_delay < timedelta(0) or self.fire_112_after < timedelta(0):
            raise CarePlanError("notify_delay and fire_112_after cannot be negative")
        ids = [c.contact_id for c in self.contacts]
        if len(ids) != len(set(ids)):
            raise CarePlanError(f"contact ids must be unique: {ids}")

    def ordered_contacts(self) -> tuple[Contact, ...]:
        """Contacts in the order the operator calls them."""
        return tuple(sorted(self.contacts, key=lambda c: (c.priority, c.contact_id)))


@dataclass(frozen=True, slots=True)
class Reannounce:
    """Announce the alarm again; tell a supervisor if ``to_supervisor``."""

    alarm_id: str
    to_supervisor: bool
    due: datetime


@dataclass(frozen=True, slots=True)
class NotifyContact:
    """Send ``contact`` an automatic notification (in the contact's language)."""

    alarm_id: str
    contact: Contact
    due: datetime


@dataclass(frozen=True, slots=True)
class Escalate112:
    """Hand the incident to 112 (no voice contact in time); ``attempt`` > 1: a retry."""

    alarm_id: str
    due: datetime
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Warn112:
    """Warn the operator on the alarm that it goes to 112 at ``deadline`` by itself."""

    alarm_id: str
    due: datetime
    deadline: datetime


EscalationAction = Reannounce | NotifyContact | Escalate112 | Warn112


def _reannounce_due(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    if not alarm.is_open or alarm.claimed_by is not None:
        return None
    done = alarm.entries(Action.REANNOUNCED)
    if not done:
        return alarm.raised_at + policy.acceptance_timeout
    # From the last announcement, so a late start does not fire a burst of repeats.
    return done[-1].at + policy.acceptance_timeout


def _notify_targets(policy: EscalationPolicy, alarm: Alarm) -> list[Contact]:
    if not alarm.is_open or alarm.category is not Category.CARE:
        return []
    if alarm.priority > policy.notify_priority:
        return []
    notified = {e.details.get("contact") for e in alarm.entries(Action.NOTIFIED)}
    return [c for c in policy.ordered_contacts() if c.auto_notify and c.contact_id not in notified]


def _fire_112_due(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    if not alarm.is_open or alarm.voice_contact_at is not None:
        return None
    if not policy.auto_112_rules.intersection(alarm.rules):
        return None
    if alarm.escalated_to(EscalationTarget.EMERGENCY_112):
        return None
    return alarm.raised_at + policy.fire_112_after


def _critical_112_due(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    if policy.critical_112_after is None:
        return None
    if not alarm.is_open or alarm.voice_contact_at is not None:
        return None
    if not policy.critical_112_rules.intersection(alarm.rules or (alarm.rule,)):
        return None
    if alarm.escalated_to(EscalationTarget.EMERGENCY_112):
        return None
    return alarm.raised_at + policy.critical_112_after


def auto_112_due(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    """When the alarm goes to 112 by itself (None: it does not, or not any more)."""
    present = [
        d for d in (_fire_112_due(policy, alarm), _critical_112_due(policy, alarm)) if d is not None
    ]
    return min(present) if present else None


def warned_112(alarm: Alarm) -> bool:
    """Has the operator been warned that this alarm is about to go to 112?"""
    return any(e.details.get(WARNING_DETAIL) == WARNING_112 for e in alarm.entries(Action.NOTE))


def _warning_due(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    # Only the care plan's hand-off is announced: a fire goes out within minutes anyway.
    deadline = _critical_112_due(policy, alarm)
    if (
        deadline is None
        or deadline != auto_112_due(policy, alarm)
        or policy.warn_112_before <= timedelta(0)
        or warned_112(alarm)
    ):
        return None
    return max(alarm.raised_at, deadline - policy.warn_112_before)


def warn_112(alarm: Alarm, now: datetime, deadline: datetime) -> Alarm:
    """The system's note that the alarm goes to 112 at ``deadline`` without voice contact."""
    seconds = max(0, round((deadline - now).total_seconds()))
    text = (
        f"112 in {seconds} s by itself: no voice contact yet"
        f" (at {deadline.isoformat(timespec='seconds')})"
    )
    noted = add_note(alarm, SYSTEM, now, text)
    last = noted.history[-1]
    marked = replace(
        last,
        detail=(*last.detail, (WARNING_DETAIL, WARNING_112), ("deadline", deadline.isoformat())),
    )
    return replace(noted, history=(*noted.history[:-1], marked))


def mark_112_sending(alarm: Alarm, now: datetime, attempt: int) -> Alarm:
    """The system's note that the automatic hand-off is going out (attempt ``attempt``).

    Written before anything is sent: the first one fixes the message's identity (its
    ``seq`` and time), which every retry of it repeats, so 112 sees one incident.
    """
    noted = add_note(alarm, SYSTEM, now, f"112 hand-off: sending (attempt {attempt})")
    last = noted.history[-1]
    marked = replace(
        last, detail=(*last.detail, (HANDOFF_DETAIL, "sending"), ("attempt", str(attempt)))
    )
    return replace(noted, history=(*noted.history[:-1], marked))


def _is_auto_112(entry: HistoryEntry) -> bool:
    details = entry.details
    return (
        entry.action is Action.ESCALATED
        and details.get("target") == EscalationTarget.EMERGENCY_112
        and details.get("detail", "").startswith("auto:")
    )


def pending_112(alarm: Alarm) -> HistoryEntry | None:
    """The note that opened the automatic hand-off in progress (None: none, or delivered)."""
    first: HistoryEntry | None = None
    for entry in alarm.history:
        details = entry.details
        if details.get(HANDOFF_DETAIL) == "sending" and details.get("attempt") == "1":
            first = entry
        elif first is not None and _is_auto_112(entry) and details.get("delivered") == "True":
            first = None
    return first


def retry_backoff(failures: int) -> timedelta:
    """The pause after the ``failures``-th failed attempt (30 s, 60 s, … at most 5 min)."""
    factor: int = 2 ** max(0, failures - 1)
    return min(RETRY_112_MAX, RETRY_112_FIRST * factor)


def _failed_112(alarm: Alarm, first: HistoryEntry) -> list[HistoryEntry]:
    return [
        e
        for e in alarm.history[first.seq + 1 :]
        if _is_auto_112(e) and e.details.get("delivered") == "False"
    ]


def _retry_112_due(alarm: Alarm) -> tuple[int, datetime] | None:
    """(attempt, when) of the next try of a failed automatic hand-off, if one is due."""
    if not alarm.is_open:
        return None
    first = pending_112(alarm)
    if first is None:
        return None
    failures = _failed_112(alarm, first)
    if not failures or len(failures) >= MAX_112_ATTEMPTS:
        return None
    last = failures[-1]
    if last.details.get(INTERRUPTED_DETAIL) == "True":
        return len(failures) + 1, last.at
    return len(failures) + 1, last.at + retry_backoff(len(failures))


@dataclass(frozen=True, slots=True)
class HandoffState:
    """What the card shows of the automatic 112 hand-off."""

    state: str  # sending | delivered | retrying | failed
    attempts: int
    next_attempt_at: datetime | None = None


def handoff_112_state(alarm: Alarm) -> HandoffState | None:
    """The automatic hand-off's state (None: the alarm has none)."""
    first = pending_112(alarm)
    if first is None:
        delivered = [e for e in alarm.history if _is_auto_112(e)]
        if delivered and delivered[-1].details.get("delivered") == "True":
            return HandoffState("delivered", 1)
        return None
    failures = _failed_112(alarm, first)
    sending = [e for e in alarm.history[first.seq :] if e.details.get(HANDOFF_DETAIL) == "sending"]
    if len(sending) > len(failures):
        return HandoffState("sending", len(sending))
    retry = _retry_112_due(alarm)
    if retry is None:
        return HandoffState("failed", len(failures))
    return HandoffState("retrying", len(failures), retry[1])


def due_actions(
    policy: EscalationPolicy, alarm: Alarm, now: datetime
) -> tuple[EscalationAction, ...]:
    """The actions due at ``now`` (at most one re-announce per call)."""
    actions: list[EscalationAction] = []
    due = _reannounce_due(policy, alarm)
    if due is not None and due <= now:
        actions.append(Reannounce(alarm.id, policy.supervisor_on_timeout, due))
    notify_at = alarm.raised_at + policy.notify_delay
    if notify_at <= now:
        actions.extend(
            NotifyContact(alarm.id, c, notify_at) for c in _notify_targets(policy, alarm)
        )
    retry = _retry_112_due(alarm)
    if retry is not None and retry[1] <= now:
        actions.append(Escalate112(alarm.id, retry[1], retry[0]))
    hand_off = auto_112_due(policy, alarm)
    if hand_off is not None and hand_off <= now:
        actions.append(Escalate112(alarm.id, hand_off))
    elif hand_off is not None:
        # Only ahead of a hand-off still to come: a warning at the moment of it says nothing.
        warn = _warning_due(policy, alarm)
        if warn is not None and warn <= now:
            actions.append(Warn112(alarm.id, warn, hand_off))
    return tuple(actions)


def next_deadline(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    """When :func:`due_actions` has something to do next for this alarm."""
    candidates = [_reannounce_due(policy, alarm), auto_112_due(policy, alarm)]
    warn = _warning_due(policy, alarm)
    if warn is not None and candidates[1] is not None and warn < candidates[1]:
        candidates.append(warn)
    retry = _retry_112_due(alarm)
    if retry is not None:
        candidates.append(retry[1])
    if _notify_targets(policy, alarm):
        candidates.append(alarm.raised_at + policy.notify_delay)
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
