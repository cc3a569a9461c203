"""Loading a resident's visor from the hub database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.codec import alarm_from_json
from hub.alarms.models import AlarmRow
from hub.db.models import Home, Resident
from hub.family.models import MEMBER_ACCEPTED, Group, GroupMember
from hub.outbox.alarms import social_events_for_alarm
from hub.outbox.models import OutboxRow
from integrations.wsocial.events import AnySocialEvent, EventDecodeError, decode_event
from integrations.wsocial.visor import GroupMembership, VisorView, build_visor


@dataclass(frozen=True)
class ResidentCard:
    """The few facts the visor header shows."""

    id: int
    name: str
    area: str
    lives_alone: bool


async def load_resident(session: AsyncSession, resident_id: int) -> ResidentCard | None:
    """The resident's header facts, or ``None`` if there is no such resident."""
    row = (
        await session.execute(
            select(Resident.id, Resident.name, Resident.lives_alone, Home.abss_area)
            .join(Home, Resident.home_id == Home.id)
            .where(Resident.id == resident_id)
        )
    ).first()
    if row is None:
        return None
    return ResidentCard(row.id, row.name, row.abss_area or "", row.lives_alone)


async def load_visor(session: AsyncSession, resident_id: int) -> VisorView:
    """The visor read model of ``resident_id`` (outbox events + group memberships)."""
    key = str(resident_id)
    events: list[AnySocialEvent] = []
    for (payload,) in await session.execute(
        select(OutboxRow.payload).where(OutboxRow.resident_id == key).order_by(OutboxRow.id)
    ):
        try:
            events.append(decode_event(payload))
        except EventDecodeError:
            continue  # a record the worker will have marked dead; nothing to show
    # Resolved alarms straight from the alarms table too, in case the alarm engine has not
    # put them in the outbox (yet); the read model keeps one row per alarm id.
    for (data,) in await session.execute(
        select(AlarmRow.data).where(AlarmRow.resident_id == key, AlarmRow.is_open.is_(False))
    ):
        try:
            events.extend(social_events_for_alarm(alarm_from_json(data)))
        except (ValueError, KeyError, TypeError):
            continue  # an alarm stored by an older version we cannot read: skip it
    groups = [
        GroupMembership(name, joined)
        for name, joined in await session.execute(
            select(Group.name, GroupMember.joined_at)
            .join(Group, Group.id == GroupMember.group_id)
            .where(GroupMember.resident_id == resident_id, GroupMember.status == MEMBER_ACCEPTED)
        )
    ]
    return build_visor(key, events, groups)
