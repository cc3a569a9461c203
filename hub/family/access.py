"""Who may see or do what in the family network (one place for every rule).

- A resident's data: the resident (tablet), staff, and the members of their circle.
- Managing a circle (codes, consent, removal): the resident (tablet) and staff.
- Contacting someone directly: resident ↔ circle member, two members of one circle,
  facilitator ↔ member of their group.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Resident
from hub.family.consent import Scope, decode_scopes
from hub.family.models import (
    MEMBER_ACCEPTED,
    CircleLink,
    ConversationMember,
    Group,
    GroupMember,
)
from hub.family.parties import resident_of, user_of
from hub.family.principal import Principal
from hub.http import ApiError


async def resident_exists(session: AsyncSession, resident_id: int) -> bool:
    """Whether the registry knows the resident."""
    return await session.get(Resident, resident_id) is not None


async def link_of(session: AsyncSession, resident_id: int, party: str) -> CircleLink | None:
    """The circle link of ``party`` to the resident, if any."""
    return (
        await session.execute(
            select(CircleLink).where(
                CircleLink.resident_id == resident_id, CircleLink.member == party
            )
        )
    ).scalar_one_or_none()


def _not_linked() -> ApiError:
    return ApiError(403, "not_linked", "you are not in this resident's circle")


async def require_reader(
    session: AsyncSession, who: Principal, resident_id: int
) -> frozenset[Scope]:
    """Allow the resident, staff and circle members; return the scopes they may see.

    People outside the circle get the same 403 whether the resident exists or not.
    """
    if who.resident_id == resident_id or who.is_staff:
        if not await resident_exists(session, resident_id):
            raise ApiError(404, "resident_unknown", "no such resident")
        return frozenset(Scope)
    link = await link_of(session, resident_id, who.party)
    if link is None:
        raise _not_linked()
    return decode_scopes(link.consent)


async def require_manager(session: AsyncSession, who: Principal, resident_id: int) -> None:
    """Allow only the resident (their tablet) and staff to manage the circle."""
    if who.resident_id == resident_id or who.is_staff:
        if not await resident_exists(session, resident_id):
            raise ApiError(404, "resident_unknown", "no such resident")
        return
    raise ApiError(
        403, "forbidden", "only the resident or the centre's staff can manage this circle"
    )


async def shares_group_with_facilitator(
    session: AsyncSession, facilitator_user: int, resident_id: int
) -> bool:
    """Whether the resident accepted to be in a group the user leads."""
    query = select(
        exists().where(
            GroupMember.group_id == Group.id,
            Group.facilitator_id == facilitator_user,
            GroupMember.resident_id == resident_id,
            GroupMember.status == MEMBER_ACCEPTED,
        )
    )
    return bool(await session.scalar(query))


async def may_contact(session: AsyncSession, a: str, b: str) -> bool:
    """Whether parties ``a`` and ``b`` may have a direct conversation or call."""
    if a == b:
        return False
    for x, y in ((a, b), (b, a)):
        rid = resident_of(x)
        if rid is not None:
            if await link_of(session, rid, y) is not None:
                return True
            uid = user_of(y)
            if uid is not None and await shares_group_with_facilitator(session, uid, rid):
                return True
    # Two people in the same circle (a daughter and a grandson of one resident).
    mine = select(CircleLink.resident_id).where(CircleLink.member == a)
    query = select(
        exists().where(CircleLink.member == b, CircleLink.resident_id.in_(mine.scalar_subquery()))
    )
    return bool(await session.scalar(query))


async def require_member(session: AsyncSession, who: Principal, conversation_id: int) -> None:
    """403 ``not_member`` unless the caller takes part in the conversation."""
    found = await session.get(ConversationMember, (conversation_id, who.party))
    if found is None:
        raise ApiError(403, "not_member", "you are not a member of this conversation")
