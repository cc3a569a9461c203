"""Residents with several weeks of stored records, for the weekly-signals tests.

Everything is written straight into the hub's tables, the way ingestion, the alarm engine,
the family network and the service lifecycle leave it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import CarePlan, EscalationPolicy
from alerts.careplan import CheckInSettings
from hub.alarms.models import AlarmRow
from hub.alarms.store import save_plan
from hub.db.models import Device, Home, Resident, StoredEvent, User
from hub.family.models import (
    CallRecord,
    Conversation,
    ConversationMember,
    Group,
    GroupMember,
    Message,
)
from hub.service.models import ServiceRow, SuspensionRow

MADRID = ZoneInfo("Europe/Madrid")
FIRST_WEEK = date(2026, 10, 5)  # eight weeks of records: 5 October to 29 November 2026
WEEKS = 8
_ids = itertools.count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A local Madrid time as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID).astimezone(UTC)


@dataclass(frozen=True)
class Week:
    """How the resident lived one week."""

    active_hours: int = 10
    check_ins: int = 7
    messages: int = 12
    calls: int = 3
    group_posts: int = 1
    falls: int = 0


STEADY = Week()
WITHDRAWN = Week(active_hours=4, check_ins=3, messages=0, calls=0, group_posts=0)
ALONE = Week(messages=0, calls=0, group_posts=0)


async def add_resident(
    session: AsyncSession,
    name: str,
    weeks: list[Week],
    *,
    consent: bool = True,
    lives_alone: bool = False,
    group: Group | None = None,
    sensors: bool = True,
    first_week: date = FIRST_WEEK,
) -> Resident:
    """A resident registered before ``first_week`` whose weeks went as ``weeks`` say."""
    home = Home(address=f"Carrer {name} 1", abss_area="ABSS-BCN-01")
    session.add(home)
    await session.flush()
    resident = Resident(
        home_id=home.id,
        name=name,
        lives_alone=lives_alone,
        consent={"wsocial_export": consent, "share_with_family": True},
        created_at=local(first_week - timedelta(days=1), 12),
    )
    relative = User(username=f"relative-{name}", password_hash="x", role="family")
    session.add_all([resident, relative])
    await session.flush()
    motion = Device(id=f"pir-{resident.id}", home_id=home.id, type="motion", room="living")
    bed = Device(id=f"bed-{resident.id}", home_id=home.id, type="bed", room="bedroom")
    tablet = Device(
        id=f"tab-{resident.id}", home_id=home.id, type="tablet", resident_id=resident.id
    )
    session.add_all([motion, bed, tablet] if sensors else [tablet])
    plan = CarePlan(str(resident.id), check_in=CheckInSettings(enabled=True, deadlines=(time(11),)))
    await save_plan(session, plan, EscalationPolicy(), local(first_week, 0))
    chat = Conversation(kind="direct", direct_key=f"r:{resident.id}|u:{relative.id}")
    session.add(chat)
    await session.flush()
    session.add_all(
        [
            ConversationMember(conversation_id=chat.id, party=f"r:{resident.id}"),
            ConversationMember(conversation_id=chat.id, party=f"u:{relative.id}"),
        ]
    )
    if group is not None:
        session.add(GroupMember(group_id=group.id, resident_id=resident.id))
    rows: list[object] = []
    stored: list[dict[str, Any]] = []

    def event(device: Device, kind: str, at: datetime) -> None:
        number = next(_ids)
        stored.append(
            {
                "message_id": f"m-{number}",
                "device_id": device.id,
                "type": kind,
                "ts": at,
                "received_at": at,
                "seq": number,
                "body": {"type": kind},
            }
        )

    for index, week in enumerate(weeks):
        monday = first_week + timedelta(weeks=index)
        for offset in range(7):
            day = monday + timedelta(days=offset)
            if sensors:
                for hour in range(8, 8 + week.active_hours):
                    event(motion, "motion", local(day, hour, 15))
                event(bed, "bed_exit", local(day + timedelta(days=1), 3))
            if offset < week.check_ins:
                event(tablet, "check_in", local(day, 9, 30))
        for number in range(week.messages):
            sender = f"r:{resident.id}" if number % 2 else f"u:{relative.id}"
            at = local(monday + timedelta(days=number % 7), 18, number % 60)
            rows.append(Message(conversation_id=chat.id, sender=sender, kind="text", created_at=at))
        for number in range(week.calls):
            at = local(monday + timedelta(days=number * 2), 17)
            rows.append(
                CallRecord(
                    caller=f"u:{relative.id}",
                    callee=f"r:{resident.id}",
                    status="ended",
                    started_at=at,
                    answered_at=at + timedelta(seconds=5),
                    ended_at=at + timedelta(minutes=10),
                )
            )
        if group is not None:
            for number in range(week.group_posts):
                rows.append(
                    Message(
                        conversation_id=group.conversation_id,
                        sender=f"r:{resident.id}",
                        kind="text",
                        created_at=local(monday + timedelta(days=2 + number), 11),
                    )
                )
        for number in range(week.falls):
            at = local(monday + timedelta(days=3), 7, number)
            rows.append(
                AlarmRow(
                    id=f"al-{resident.id}-{index}-{number}",
                    home_id=str(home.id),
                    resident_id=str(resident.id),
                    category="care",
                    rule="fall",
                    priority=1,
                    state="resolved",
                    is_open=False,
                    raised_at=at,
                    updated_at=at,
                    data={},
                )
            )
        # A technical alarm every week: never counted as an alarm of the resident.
        at = local(monday + timedelta(days=1), 4)
        rows.append(
            AlarmRow(
                id=f"tech-{resident.id}-{index}",
                home_id=str(home.id),
                resident_id=str(resident.id),
                category="technical",
                rule="low_battery",
                priority=5,
                state="resolved",
                is_open=False,
                raised_at=at,
                updated_at=at,
                data={},
            )
        )
    session.add_all(rows)
    await session.flush()
    await session.execute(insert(StoredEvent), stored)  # thousands of rows: one executemany
    return resident


async def add_group(session: AsyncSession) -> Group:
    """A group with its chat and a facilitator."""
    facilitator = User(username="facilitator", password_hash="x", role="facilitator")
    chat = Conversation(kind="group")
    session.add_all([facilitator, chat])
    await session.flush()
    group = Group(name="Cafè del dimecres", facilitator_id=facilitator.id, conversation_id=chat.id)
    session.add(group)
    await session.flush()
    chat.group_id = group.id
    return group


async def suspend(session: AsyncSession, resident: Resident, start: datetime) -> None:
    """An active service for ``resident`` that has been suspended since ``start``."""
    service = ServiceRow(
        reference=f"TA-{resident.id}",
        check_hash="x",
        state="suspended",
        applicant_kind="social_worker",
        person_name=resident.name,
        person_key=resident.name.lower(),
        resident_id=resident.id,
        referred_at=local(FIRST_WEEK - timedelta(days=30), 9),
        activated_at=local(FIRST_WEEK - timedelta(days=2), 9),
        updated_at=start,
    )
    session.add(service)
    await session.flush()
    session.add(
        SuspensionRow(
            service_id=service.id,
            reason="hospital_stay",
            started_at=start,
            resume_on=(start + timedelta(days=20)).date(),
        )
    )
    await session.flush()
