"""What a social worker may read outside the visor (issue 19; docs/adr/0105).

The social worker is the visor's role: a resident's record and history are shown in
``/visor`` only, after a coded reason, each showing audited (ADR 0063), and without
consent to the social record the alarm history stays out. In the console the role follows
the live queue read-only; through the API it must not get round the visor: the history of
closed alarms, and a resident's card and photo when no alarm of theirs is open, are
refused with ``403 use_the_visor``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.alarms.models import AlarmRow
from hub.auth.roles import Role
from hub.http import ApiError

VISOR_ROLE = Role.SOCIAL_WORKER


def use_the_visor() -> ApiError:
    """403 for a social worker asking the API for what only the visor shows."""
    return ApiError(
        403,
        "use_the_visor",
        "a resident's record and alarm history are read in the visor (/visor), with a reason",
    )


async def has_open_alarm(session: AsyncSession, resident_id: int | str) -> bool:
    """Whether ``resident_id`` has an alarm open now (the console follows it)."""
    found = await session.scalar(
        select(AlarmRow.id)
        .where(AlarmRow.resident_id == str(resident_id), AlarmRow.is_open.is_(True))
        .limit(1)
    )
    return found is not None
