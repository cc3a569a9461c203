"""The alarm rules' care plan and escalation policy of each resident, from what the hub
already knows about them: the resident's language, the service's current care plan
(check-in deadline, the devices installed) and the contact list.

A plan stored for the engine itself (``alarm_care_plans``: per-rule tuning) is used as
it is; otherwise the plan is derived here. Either way, a policy with no contacts of its own
takes the resident's contact list, in priority order, so the operator's list and the
automatic notifications are the same people.

What the care service says of a resident (the terms of its current care plan, whether it is
paused) comes through a port, :class:`CareService`, that the service context fills at setup
(``hub.service.alarm_terms``, under :data:`CARE_SERVICE`): the alarm context reads no table of
the service's. A hub without the service context has :data:`NO_CARE_SERVICE`: nobody has a
service, and nobody's is paused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import CarePlan, EscalationPolicy
from alerts.alarm import EscalationTarget
from alerts.escalation import Contact
from hub.db.models import Contact as ContactRow
from hub.db.models import Resident
from protocol.i18n import as_language

# The basic care level's "escalate to a contact after" (hub/service/care.py).
DEFAULT_CONTACT_AFTER = timedelta(minutes=15)


class ServiceTerms(Protocol):
    """What a resident's current service says that the rules use (the service context's
    :class:`hub.service.alarm_terms.PlanTerms`)."""

    @property
    def contact_after(self) -> timedelta:
        """An alarm still open this long after it was raised goes to the contacts."""
        ...

    @property
    def emergency_after(self) -> timedelta | None:
        """A critical alarm without voice contact goes to 112 after this (None: never)."""
        ...

    def applied_to(self, plan: CarePlan) -> CarePlan:
        """``plan`` with the rules of the service's care plan (pure)."""
        ...


class CareService(Protocol):
    """The port: what the alarm context asks of the care service about residents."""

    async def terms(
        self, session: AsyncSession, resident_ids: Sequence[int]
    ) -> Mapping[int, ServiceTerms]:
        """The current terms of those residents that have an open service."""
        ...

    async def is_paused(self, session: AsyncSession, resident_id: int, at: datetime) -> bool:
        """Whether the resident's service is suspended at ``at``."""
        ...

    async def was_paused(
        self, session: AsyncSession, resident_id: int, start: datetime, end: datetime
    ) -> bool:
        """Whether the resident's service was suspended at any moment in ``[start, end)``."""
        ...

    async def medication_listed_since(
        self, session: AsyncSession, resident_id: int
    ) -> datetime | None:
        """When the resident's care plan first listed medication (None: never)."""
        ...


class NoCareService:
    """A hub without the service context: no resident has a service; none is paused."""

    async def terms(
        self, session: AsyncSession, resident_ids: Sequence[int]
    ) -> Mapping[int, ServiceTerms]:
        """Nobody's."""
        return {}

    async def is_paused(self, session: AsyncSession, resident_id: int, at: datetime) -> bool:
        """Never."""
        return False

    async def was_paused(
        self, session: AsyncSession, resident_id: int, start: datetime, end: datetime
    ) -> bool:
        """Never."""
        return False

    async def medication_listed_since(
        self, session: AsyncSession, resident_id: int
    ) -> datetime | None:
        """Never through a care plan."""
        return None


NO_CARE_SERVICE: CareService = NoCareService()

# Filled by the service context at setup (hub.service.app); read through care_service().
CARE_SERVICE: web.AppKey[CareService] = web.AppKey("care_service")


def care_service(app: web.Application) -> CareService:
    """The app's care-service port (:data:`NO_CARE_SERVICE` when no context filled it)."""
    return app.get(CARE_SERVICE, NO_CARE_SERVICE)


@dataclass(frozen=True, slots=True)
class KnownResident:
    """A resident as the hub's other tables describe them."""

    language: str
    service: ServiceTerms | None
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
                plan = known.service.applied_to(plan)
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
    session: AsyncSession, resident_ids: Collection[str], service: CareService
) -> dict[str, KnownResident]:
    """Language, current service terms and contacts of residents, in a few queries."""
    numbers = sorted({int(r) for r in resident_ids if r.isdigit()})
    if not numbers:
        return {}
    languages: dict[int, str] = {
        rid: lang
        for rid, lang in await session.execute(
            select(Resident.id, Resident.language).where(Resident.id.in_(numbers))
        )
    }
    services = await service.terms(session, numbers)
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
