"""Loading a resident's visor from the hub database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.codec import alarm_from_json
from hub.alarms.models import AlarmRow
from hub.db.models import Home, Resident
from hub.family.models import MEMBER_ACCEPTED, Group, GroupMember
from hub.outbox.alarms import social_events_for_alarm
from hub.outbox.consent import WITHDRAWN, social_record_consent
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
    # Consent to the social record, and when it last changed (``None``: as on the referral).
    consent_given: bool = True
    consent_changed_at: datetime | None = None
    # How the person is addressed (ADR 0170): "Viu sola" / "Viu sol" / "Viu a soles".
    address_form: str = "unknown"


async def load_resident(session: AsyncSession, resident_id: int) -> ResidentCard | None:
    """The resident's header facts, or ``None`` if there is no such resident."""
    row = (
        await session.execute(
            select(
                Resident.id,
                Resident.name,
                Resident.lives_alone,
                Resident.consent,
                Resident.address_form,
                Home.abss_area,
            )
            .join(Home, Resident.home_id == Home.id)
            .where(Resident.id == resident_id)
        )
    ).first()
    if row is None:
        return None
    consent = social_record_consent(row.consent)
    return ResidentCard(
        row.id,
        row.name,
        row.abss_area or "",
        row.lives_alone,
        consent.given,
        consent.changed_at,
        row.address_form,
    )


async def load_visor(
    session: AsyncSession, resident_id: int, *, consent_given: bool = True
) -> VisorView:
    """The visor read model of ``resident_id`` (outbox events + group memberships).

    Only what the social record got or will get: events withheld by a withdrawal of consent
    are left out, and without consent the alarms table adds nothing.
    """
    key = str(resident_id)
    events: list[AnySocialEvent] = []
    for (payload,) in await session.execute(
        select(OutboxRow.payload)
        .where(OutboxRow.resident_id == key, OutboxRow.state != WITHDRAWN)
        .order_by(OutboxRow.id)
    ):
        try:
            events.append(decode_event(payload))
        except EventDecodeError:
            continue  # a record the worker will have marked dead; nothing to show
    # Resolved alarms straight from the alarms table too, in case the alarm engine has not
    # put them in the outbox (yet); the read model keeps one row per alarm id.
    closed_alarms: list[dict[str, Any]] = []
    if consent_given:
        closed_alarms = list(
            await session.scalars(
                select(AlarmRow.data).where(
                    AlarmRow.resident_id == key, AlarmRow.is_open.is_(False)
                )
            )
        )
    for data in closed_alarms:
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
