"""Read-side queries other parts call, the figures' loader, review reminders, retention.

``is_service_paused(session, resident_id, at)`` is THE question the alerts engine asks
before raising a check-in or inactivity alarm: while a service is suspended (hospital
stay, holiday), alarms and check-in rules of the resident are paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import SYSTEM_ACTOR, record_audit
from hub.db.values import one_of
from hub.service.care import MAX_REVIEW_DAYS
from hub.service.codes import SERVICE_STATES
from hub.service.figures import FaultFacts, Figures, ServiceFacts, compute_figures
from hub.service.models import CarePlanRow, MaintenanceOrderRow, ServiceRow, SuspensionRow
from hub.service.retention import RetentionPolicy, must_erase
from hub.service.sla import next_review_due, review_reminder


async def is_service_paused(session: AsyncSession, resident_id: int, at: datetime) -> bool:
    """Whether the resident's service is suspended at ``at`` (alarms/check-ins paused).

    True from the suspension's start until it is resumed (or the service discharged),
    even past the planned resume date: until someone confirms the person is home, the
    check-in rules must not fire. False for residents with no service row at all.
    """
    found = await session.scalar(
        select(SuspensionRow.id)
        .join(ServiceRow, ServiceRow.id == SuspensionRow.service_id)
        .where(
            ServiceRow.resident_id == resident_id,
            SuspensionRow.started_at <= at,
            (SuspensionRow.ended_at.is_(None)) | (SuspensionRow.ended_at > at),
        )
        .limit(1)
    )
    return found is not None


async def was_service_paused(
    session: AsyncSession, resident_id: int, start: datetime, end: datetime
) -> bool:
    """Whether the resident's service was suspended at any moment in ``[start, end)``
    (the alerts engine asks before its activity baseline learns a day)."""
    found = await session.scalar(
        select(SuspensionRow.id)
        .join(ServiceRow, ServiceRow.id == SuspensionRow.service_id)
        .where(
            ServiceRow.resident_id == resident_id,
            SuspensionRow.started_at < end,
            (SuspensionRow.ended_at.is_(None)) | (SuspensionRow.ended_at > start),
        )
        .limit(1)
    )
    return found is not None


async def load_figures(session: AsyncSession, now: datetime) -> Figures:
    """The managers' figures from every service and maintenance order."""
    services = [
        ServiceFacts(
            state=one_of(r.state, SERVICE_STATES, "services.state"),
            care_level=r.care_level,
            abss_area=r.abss_area,
            referred_at=r.referred_at,
            granted_at=r.granted_at,
            activated_at=r.activated_at,
        )
        for r in await session.scalars(select(ServiceRow))
    ]
    faults = [
        FaultFacts(m.reported_at, m.repaired_at)
        for m in await session.scalars(select(MaintenanceOrderRow))
    ]
    return compute_figures(services, faults, now)


@dataclass(frozen=True)
class ReviewDue:
    """A service whose periodic review is due soon or late."""

    reference: str
    person_name: str
    due_at: datetime
    overdue: bool


async def reviews_due(session: AsyncSession, now: datetime) -> list[ReviewDue]:
    """Active or suspended services whose review is due within 30 days, or late."""
    due: list[ReviewDue] = []
    rows = await session.scalars(
        select(ServiceRow).where(ServiceRow.state.in_(("active", "suspended")))
    )
    for row in rows:
        assert row.activated_at is not None
        days = await session.scalar(
            select(CarePlanRow.review_every_days)
            .where(CarePlanRow.service_id == row.id)
            .order_by(CarePlanRow.version.desc())
            .limit(1)
        )
        interval = timedelta(days=min(days or MAX_REVIEW_DAYS, MAX_REVIEW_DAYS))
        at = next_review_due(row.activated_at, row.last_review_at, interval)
        if review_reminder(at, now):
            due.append(ReviewDue(row.reference, row.person_name, at, now > at))
    return sorted(due, key=lambda r: r.due_at)


ERASED = "—"


async def apply_retention(
    session: AsyncSession, now: datetime, policy: RetentionPolicy | None = None
) -> list[str]:
    """Erase personal data of closed referrals past their retention time (see
    :mod:`hub.service.retention`); returns the references erased. Audited."""
    policy = policy or RetentionPolicy()
    erased: list[str] = []
    rows = await session.scalars(
        select(ServiceRow).where(
            ServiceRow.state == "discharged", ServiceRow.personal_data_erased_at.is_(None)
        )
    )
    for row in rows:
        if not must_erase(row.discharged_at, row.activated_at is not None, False, now, policy):
            continue
        row.applicant_name = row.applicant_phone = row.applicant_email = ""
        row.person_name = ERASED
        row.person_key = f"erased|{row.reference}"
        row.birth_date = None
        row.id_document = row.phone = row.street = ""
        row.health_notes = row.social_notes = ""
        row.contacts = []
        row.possible_duplicates = []
        row.personal_data_erased_at = now
        erased.append(row.reference)
        await record_audit(
            session, SYSTEM_ACTOR, "service.retention_erase", f"service:{row.reference}", {}, at=now
        )
    return erased
