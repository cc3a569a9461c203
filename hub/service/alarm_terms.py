"""The service's side of the alarm engine's port (:class:`hub.alarms.plans.CareService`):
what a resident's current service says that the alarm rules use, and whether it is paused.

The alarm context asks; this module answers from the service's tables. ``setup`` of
``hub.service.app`` fills ``CARE_SERVICE`` with :class:`AlarmTerms`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import CarePlan
from alerts.careplan import CheckInSettings, MedicationSchedule, MedicationSettings, TimeWindow
from hub.alarms.plans import ServiceTerms
from hub.service.codes import OPEN_STATES
from hub.service.models import CarePlanRow, ServiceRow
from hub.service.queries import is_service_paused, was_service_paused
from hub.service.rules import SENSITIVITY_THRESHOLDS, ResidentRules, effective_rules

LIVE_STATES = frozenset({"active", "suspended"})


@dataclass(frozen=True, slots=True)
class PlanTerms:
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

    def applied_to(self, plan: CarePlan) -> CarePlan:
        """``plan`` with these rules (pure)."""
        return with_rules(plan, self)


def with_rules(plan: CarePlan, service: PlanTerms) -> CarePlan:
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
            missed_to=rules.medication_missed_to,
        ),
    )


class AlarmTerms:
    """The service context's answers to the alarm engine (fills ``CARE_SERVICE``)."""

    async def terms(
        self, session: AsyncSession, resident_ids: Sequence[int]
    ) -> Mapping[int, ServiceTerms]:
        """The current care plan of each resident with an open service (one query)."""
        plans = await session.execute(
            select(ServiceRow.resident_id, ServiceRow.state, CarePlanRow)
            .join(CarePlanRow, CarePlanRow.service_id == ServiceRow.id)
            .where(ServiceRow.resident_id.in_(resident_ids))
            .where(ServiceRow.state.in_(sorted(OPEN_STATES)))
            .order_by(CarePlanRow.version)
        )
        services: dict[int, ServiceTerms] = {}
        for resident_id, state, version in plans:  # newest version last: it wins
            if resident_id is None:
                continue
            hours, minutes = (int(x) for x in version.check_in_deadline.split(":"))
            deadline = time(hours, minutes)
            services[resident_id] = PlanTerms(
                deadline,
                "tablet" in version.devices,
                state in LIVE_STATES,
                timedelta(minutes=version.escalate_to_contact_after_min),
                timedelta(minutes=version.escalate_to_112_after_min),
                effective_rules(deadline, version.rules),
            )
        return services

    async def is_paused(self, session: AsyncSession, resident_id: int, at: datetime) -> bool:
        """:func:`hub.service.queries.is_service_paused`."""
        return await is_service_paused(session, resident_id, at)

    async def was_paused(
        self, session: AsyncSession, resident_id: int, start: datetime, end: datetime
    ) -> bool:
        """:func:`hub.service.queries.was_service_paused`."""
        return await was_service_paused(session, resident_id, start, end)

    async def medication_listed_since(
        self, session: AsyncSession, resident_id: int
    ) -> datetime | None:
        """When the resident's care plan first listed medication (None: never through a care
        plan, e.g. an engine plan of its own): adherence counts doses from then."""
        versions = await session.execute(
            select(CarePlanRow.created_at, CarePlanRow.rules)
            .join(ServiceRow, ServiceRow.id == CarePlanRow.service_id)
            .where(ServiceRow.resident_id == resident_id)
            .order_by(CarePlanRow.created_at)
        )
        return next((at for at, rules in versions if (rules or {}).get("medications")), None)
