"""A resident in the hub's tables with a given consent to the social record (wSocial)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Home, Resident


async def add_resident(
    session: AsyncSession, *, social_record: bool = True, name: str = "Rosa Vidal"
) -> Resident:
    """A resident (with a home of their own) who agreed, or not, to the social record.

    The caller commits. The social events of a resident are keyed by ``str(resident.id)``.
    """
    home = Home(address=f"Carrer {name} 1", abss_area="ABSS-BCN-01")
    session.add(home)
    await session.flush()
    resident = Resident(
        home_id=home.id,
        name=name,
        consent={"wsocial_export": social_record, "share_with_family": True},
    )
    session.add(resident)
    await session.flush()
    return resident
