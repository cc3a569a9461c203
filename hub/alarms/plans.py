"""The alarm rules' care plan and escalation policy of each resident, from what the hub
already knows about them: the resident's language, the service's current care plan
(check-in deadline, the devices installed) and the contact list.

A plan stored for the engine itself (``alarm_care_plans``: per-rule tuning) is used as
it is; otherwise the plan is derived here. Either way, a policy with no contacts of its own
takes the resident's contact list, in priority order, so the operator's list and the
automatic notifications are the same people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import CarePlan, EscalationPolicy
from alerts.alarm import EscalationTarget
from alerts.careplan import CheckInSettings, MedicationSchedule, MedicationSettings, TimeWindow
from alerts.escalation import Contact
from hub.db.models import Contact as ContactRow
from hub.db.models import Resident
from hub.service.codes import OPEN_STATES
from hub.service.models import CarePlanRow as ServicePlanRow
from hub.service.models import ServiceRow
from hub.service.rules import SENSITIVITY_THRESHOLDS, ResidentRules, effective_rules
from protocol.i18n import as_language

LIVE_STATES = frozenset({"active", "suspended"})
# The basic care level's "escalate to a contact after" (hub/service/care.py).
DEFAULT_CONTACT_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """What the service's current care plan says that the rules use."""

    check_in_deadline: time
    has_tablet: bool
    # Installed and running (or paused): before that there is nothing to press "I'm OK" on.
    live: bool
    # An alarm still open this long after it was raised goes to the contacts.
    contact_after: timedelta = timedelta(minutes=15)
    # A critical alarm about the person still without voice contact goes to 112 after this
    # (the plan's escalate_to_112_after_min; docs/adr/0036).
    emergency_after: timedelta | None = None
    # The rules people set on the care plan (None: the level's defaults, from the deadline).
    rules: ResidentRules | None = None


@dataclass(frozen=True, slots=True)
class KnownResident:
    """A resident as the hub's other tables describe them."""

    language: str
    service: ServiceSettings | None
    contacts: tuple[Contact, ...]


def rule_plan(
    resident_id: str,
    known: KnownResident | None,
    stored: tuple[CarePlan, EscalationPolicy] | None,
) -> tuple[CarePlan, EscalationPolicy]:
    """The plan and policy the engine applies (pure)."""
    if stored is not None:
        plan, policy = stored
    else:
        plan, policy = CarePlan(resident_id), EscalationPolicy()
        if known is not None:
            plan = replace(plan, language=as_language(known.language))
            if known.service is not None:
                plan = with_rules(plan, known.service)
    if (
        known is not None
        and known.service is not None
        and known.service.emergency_after is not None
        and policy.critical_112_after is None
    ):
        policy = replace(policy, critical_112_after=known.service.emergency_after)
    if known is not None and not policy.contacts and known.contacts:
        # The operator calls the resident first; the family hears of an alarm that is still
        # open after the plan's "escalate to a contact" time, not of every press.
        delay = known.service.contact_after if known.service else DEFAULT_CONTACT_AFTER
        policy = replace(
            policy, contacts=known.contacts, notify_delay=max(policy.notify_delay, delay)
        )
    return plan, policy


def with_rules(plan: CarePlan, service: ServiceSettings) -> CarePlan:
    """``plan`` with the rules of the service's care plan (pure)."""
    rules = service.rules or effective_rules(service.check_in_deadline, None)
    low_ratio, sigmas = SENSITIVITY_THRESHOLDS[rules.baseline_sensitivity]
    return replace(
        plan,
        inactivity=replace(
            plan.inactivity,
            enabled=rules.inactivity,
            windows=(TimeWindow(rules.morning_start, rules.morning_end),),
        ),
        # "I'm OK" is pressed on the tablet: no tablet, no missed check-in alarm.
        check_in=CheckInSettings(
            enabled=rules.check_in and service.has_tablet and service.live,
            deadlines=rules.check_in_deadlines,
        ),
        night=replace(
            plan.night,
            window=TimeWindow(rules.night_start, rules.night_end),
            door_alarm=rules.night_door,
            bed_alarm=rules.bed,
            bed_return=timedelta(minutes=rules.bed_return_min),
        ),
        temperature=replace(
            plan.temperature,
            enabled=rules.temperature,
            low=rules.temperature_low,
            high=rules.temperature_high,
        ),
        baseline=replace(plan.baseline, enabled=rules.baseline, low_ratio=low_ratio, sigmas=sigmas),
        # Each dose: a reminder on the tablet at its time, an alarm if not confirmed within
        # the grace (MedicationTaken from the tablet or a dispenser).
        medication=MedicationSettings(
            schedules=tuple(
                MedicationSchedule(m.dose_key(t), t, m.days, m.start, m.end)
                for m in rules.medications
                for t in m.times
            ),
            ack_timeout=timedelta(minutes=rules.medication_grace_min),
            remind=True,
        ),
    )


def contact_of(row: ContactRow) -> Contact:
    """An escalation contact from the resident's contact list.

    Key holders and family with a phone or an e-mail are notified automatically of the
    most urgent alarms (the policy's ``notify_priority``), besides the operator's calls.
    """
    relation = EscalationTarget.KEY_HOLDER if row.is_key_holder else _relation(row.relationship_)
    reachable = bool(row.phone or row.email)
    return Contact(
        contact_id=f"contact-{row.id}",
        name=row.name,
        relation=relation,
        priority=max(1, row.priority),
        language=as_language(row.language),
        phone=row.phone or None,
        email=row.email or None,
        has_key=row.is_key_holder,
        auto_notify=reachable and relation is not EscalationTarget.NEIGHBOUR,
        channels=tuple(c for c, v in (("email", row.email), ("sms", row.phone)) if v),
    )


def _relation(text: str) -> EscalationTarget:
    lowered = text.lower()
    if any(word in lowered for word in ("neighbour", "neighbor", "veí", "vecin", "volunt")):
        return EscalationTarget.NEIGHBOUR
    return EscalationTarget.FAMILY


async def known_residents(
    session: AsyncSession, resident_ids: Collection[str]
) -> dict[str, KnownResident]:
    """Language, current service plan and contacts of residents, in three queries."""
    numbers = sorted({int(r) for r in resident_ids if r.isdigit()})
    if not numbers:
        return {}
    languages: dict[int, str] = {
        rid: lang
        for rid, lang in await session.execute(
            select(Resident.id, Resident.language).where(Resident.id.in_(numbers))
        )
    }
    plans = await session.execute(
        select(ServiceRow.resident_id, ServiceRow.state, ServicePlanRow)
        .join(ServicePlanRow, ServicePlanRow.service_id == ServiceRow.id)
        .where(ServiceRow.resident_id.in_(numbers))
        .where(ServiceRow.state.in_(sorted(OPEN_STATES)))
        .order_by(ServicePlanRow.version)
    )
    services: dict[int, ServiceSettings] = {}
    for resident_id, state, version in plans:  # newest version last: it wins
        if resident_id is None:
            continue
        hours, minutes = (int(x) for x in version.check_in_deadline.split(":"))
        deadline = time(hours, minutes)
        services[resident_id] = ServiceSettings(
            deadline,
            "tablet" in version.devices,
            state in LIVE_STATES,
            timedelta(minutes=version.escalate_to_contact_after_min),
            timedelta(minutes=version.escalate_to_112_after_min),
            effective_rules(deadline, version.rules),
        )
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for row in await session.scalars(
        select(ContactRow)
        .where(ContactRow.resident_id.in_(numbers))
        .order_by(ContactRow.priority, ContactRow.id)
    ):
        contacts[row.resident_id].append(contact_of(row))
    return {
        str(n): KnownResident(languages[n], services.get(n), tuple(contacts.get(n, ())))
        for n in numbers
        if n in languages
    }


def plans_for(
    resident_ids: Sequence[str],
    known: dict[str, KnownResident],
    stored: dict[str, tuple[CarePlan, EscalationPolicy]],
) -> dict[str, tuple[CarePlan, EscalationPolicy]]:
    """:func:`rule_plan` for each resident."""
    return {rid: rule_plan(rid, known.get(rid), stored.get(rid)) for rid in resident_ids}
