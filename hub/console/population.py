"""Who a campaign calls: residents selected by care-plan filters (issue 22, item 5).

:func:`matches` is the pure test of one resident against :class:`Filters`; :func:`select`
reads the candidates (resident, home area, the service's care level, mobility and state)
and keeps those that match. Residents whose service is suspended or ended are never
selected; residents without a service record (set up before the service lifecycle) are,
when the filters do not ask for a care level or mobility.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import msgspec
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.console.bodies import CampaignFilters
from hub.db.models import Home, Resident
from hub.service.models import ServiceRow

# A service in these states leaves its resident out of every campaign.
NOT_CALLED_STATES = frozenset({"suspended", "discharged"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the filters look at for one resident."""

    resident_id: int
    name: str
    birth_date: date | None
    lives_alone: bool
    language: str
    area: str
    care_level: str | None
    mobility: str | None

    def age(self, today: date) -> int | None:
        """Age in whole years on ``today`` (None without a birth date)."""
        if self.birth_date is None:
            return None
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def matches(candidate: Candidate, filters: CampaignFilters, today: date) -> bool:
    """Whether ``candidate`` is in the population ``filters`` describe (pure)."""
    if filters.min_age is not None:
        age = candidate.age(today)
        if age is None or age < filters.min_age:
            return False
    if filters.lives_alone is not None and candidate.lives_alone != filters.lives_alone:
        return False
    if filters.areas is not None and candidate.area not in filters.areas:
        return False
    if filters.care_levels is not None and candidate.care_level not in filters.care_levels:
        return False
    if filters.mobility is not None and candidate.mobility not in filters.mobility:
        return False
    return filters.languages is None or candidate.language in filters.languages


def as_dict(filters: CampaignFilters) -> dict[str, object]:
    """The filters given (those left out are not stored)."""
    return {k: v for k, v in msgspec.structs.asdict(filters).items() if v is not None}


async def candidates(session: AsyncSession) -> list[Candidate]:
    """Every resident who may be called, with their newest service's data."""
    rows = await session.execute(
        sql_select(Resident, Home.abss_area).join(Home, Home.id == Resident.home_id)
    )
    services: dict[int, ServiceRow] = {}
    for service in await session.scalars(
        sql_select(ServiceRow)
        .where(ServiceRow.resident_id.is_not(None))
        .order_by(ServiceRow.referred_at, ServiceRow.id)
    ):
        assert service.resident_id is not None
        services[service.resident_id] = service  # the newest one wins
    out = []
    for resident, area in rows:
        found = services.get(resident.id)
        if found is not None and service.state in NOT_CALLED_STATES:
            continue
        out.append(
            Candidate(
                resident_id=resident.id,
                name=resident.name,
                birth_date=resident.birth_date,
                lives_alone=resident.lives_alone,
                language=resident.language,
                area=area or "",
                care_level=found.care_level if found else None,
                mobility=found.mobility if found else None,
            )
        )
    return out


async def select(session: AsyncSession, filters: CampaignFilters, today: date) -> list[Candidate]:
    """The residents ``filters`` select, oldest first (they are called first)."""
    chosen = [c for c in await candidates(session) if matches(c, filters, today)]
    return sorted(chosen, key=lambda c: (c.birth_date or date.max, c.resident_id))


async def areas(session: AsyncSession) -> list[str]:
    """The social-services areas homes are in (for the campaign form)."""
    found = await session.scalars(
        sql_select(Home.abss_area).where(Home.abss_area != "").distinct().order_by(Home.abss_area)
    )
    return list(found)
