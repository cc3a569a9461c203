"""Escalation policy: what the system does by itself while an alarm waits.

- nobody accepted within ``acceptance_timeout``: re-announce, and raise to a supervisor;
- contacts marked for it are notified automatically (push, e-mail, SMS);
- fire-type alarms go to 112 if nobody has had voice contact within ``fire_112_after``.

:func:`due_actions` is pure: the hub performs the actions and records them on the
alarm (:func:`alerts.alarm.reannounce`, :func:`~alerts.alarm.record_notification`,
:func:`~alerts.alarm.escalate`), which is what makes them happen once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.alarm import Action, Alarm, EscalationTarget
from alerts.errors import CarePlanError
from alerts.i18n import LANGUAGES, Language
from alerts.model import FIRE_TYPE_RULES, Category, Priority, RuleKind

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

    def __post_init__(self) -> None:
        if self.acceptance_timeout < timedelta(seconds=5):
            raise CarePlanError("acceptance_timeout must be at least 5 s")
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
    """Hand the incident to 112 (fire-type alarm with no voice contact)."""

    alarm_id: str
    due: datetime


EscalationAction = Reannounce | NotifyContact | Escalate112


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
    fire = _fire_112_due(policy, alarm)
    if fire is not None and fire <= now:
        actions.append(Escalate112(alarm.id, fire))
    return tuple(actions)


def next_deadline(policy: EscalationPolicy, alarm: Alarm) -> datetime | None:
    """When :func:`due_actions` has something to do next for this alarm."""
    candidates = [_reannounce_due(policy, alarm), _fire_112_due(policy, alarm)]
    if _notify_targets(policy, alarm):
        candidates.append(alarm.raised_at + policy.notify_delay)
    present = [c for c in candidates if c is not None]
    return min(present) if present else None
