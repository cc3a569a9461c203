"""A demo resident for the visor (tests, screenshots, the embedded demo).

Everything goes through the real paths: the weekly signals are computed by
:mod:`integrations.wsocial.signals` from simulated weeks, and every event is written with
:func:`hub.outbox.enqueue`, exactly as the hub's jobs would.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import Role, create_user
from hub.db.models import Home, Resident
from hub.family.models import Conversation, Group, GroupMember
from hub.outbox import enqueue
from hub.service.models import ServiceRow
from hub.service.store import person_key
from integrations.wsocial.events import (
    AlarmHandled,
    AnySocialEvent,
    CheckInSummary,
    DeviceEvent,
    Escalation112,
    ServiceEvent,
)
from integrations.wsocial.population import SimResident, simulate_weeks
from integrations.wsocial.signals import assess_resident

DEMO_DNI = "12345678Z"
DEMO_CIP = "PUSO0380314003"
DEMO_FILE = "SS-BCN-2024/0815"


async def seed_visor_demo(session: AsyncSession, now: datetime) -> int:
    """Add a resident whose social contact fell away, with history; return its id."""
    home = Home(address="Carrer de la Riera 12, 2n 1a", abss_area="ABSS-BCN-01")
    session.add(home)
    await session.flush()
    resident = Resident(
        home_id=home.id,
        name="Montserrat Puig i Soler",
        lives_alone=True,
        address_form="feminine",  # "Viu sola" (ADR 0170)
        consent={"wsocial_export": True, "share_with_family": True},
    )
    session.add(resident)
    await session.flush()
    # Her service, with the identifiers the visor finds people by (DNI, CIP, file number).
    session.add(
        ServiceRow(
            reference=f"TA-DEMO-{resident.id}",
            check_hash="-",
            state="active",
            applicant_kind="social_worker",
            person_name=resident.name,
            person_key=person_key(resident.name, None),
            id_document=DEMO_DNI,
            cip=DEMO_CIP,
            social_file=DEMO_FILE,
            abss_area=home.abss_area or "",
            lives_alone=True,
            address_form="feminine",
            resident_id=resident.id,
            referred_at=now - timedelta(days=402),
            updated_at=now,
        )
    )
    facilitator = await create_user(
        session, f"facilitator-{secrets.token_hex(3)}", secrets.token_urlsafe(16), Role.FACILITATOR
    )
    conversation = Conversation(kind="group")
    session.add(conversation)
    await session.flush()
    group = Group(
        name="Cafè del dimecres", facilitator_id=facilitator.id, conversation_id=conversation.id
    )
    session.add(group)
    await session.flush()
    start = now - timedelta(days=400)
    session.add(GroupMember(group_id=group.id, resident_id=resident.id, joined_at=start))
    rid = str(resident.id)

    events: list[AnySocialEvent] = [
        ServiceEvent(
            resident_id=rid,
            occurred_at=start,
            service_id=f"svc-{rid}",
            status="active",
            started_at=start,
            care_level="medium",
        ),
    ]
    for device_id, kind in (("gw", "gateway"), ("pd", "pendant"), ("fd", "fall_detector")):
        events.append(
            DeviceEvent(
                resident_id=rid,
                occurred_at=start,
                device_id=f"{device_id}-{rid}",
                device_kind=kind,  # type: ignore[arg-type]
                installed_at=start + timedelta(days=2),
            )
        )
    events.append(
        DeviceEvent(
            resident_id=rid,
            occurred_at=start + timedelta(days=200),
            device_id=f"tab-{rid}",
            device_kind="tablet",
            installed_at=start + timedelta(days=2),
            removed_at=start + timedelta(days=200),
        )
    )

    # Sixteen weeks ending last Sunday: the resident's social contact falls away at week 10.
    this_monday = (now - timedelta(days=now.weekday())).date()
    first = this_monday - timedelta(weeks=16)
    sim = SimResident(rid, home.abss_area, True, "isolating", 10, start.date())
    weeks = simulate_weeks(sim, first, 16, seed=11)
    assessment = assess_resident(rid, weeks, lives_alone=True)
    for week, result in zip(weeks, assessment.weeks, strict=True):
        events.append(
            CheckInSummary(
                resident_id=rid,
                occurred_at=now,
                week_start=week.week_start,
                expected=week.check_ins_expected,
                done=max(
                    0,
                    week.check_ins_done
                    - (2 if week.week_start >= first + timedelta(weeks=13) else 0),
                ),
            )
        )
        events.extend(result.raised)
        events.extend(result.flag_changes)

    alarms = [
        (now - timedelta(days=3, hours=5), "panic", "resolved_by_phone", 18, False),
        (now - timedelta(days=12, hours=2), "fall", "emergency_services", 21, True),
        (now - timedelta(days=40), "missed_check_in", "contact_visit", 35, False),
        (now - timedelta(days=75), "smoke", "false_alarm", 27, False),
    ]
    for number, (raised, kind, outcome, answer, escalate) in enumerate(alarms):
        alarm_id = f"al-{rid}-{number}"
        events.append(
            AlarmHandled(
                resident_id=rid,
                occurred_at=raised + timedelta(minutes=30),
                alarm_id=alarm_id,
                alarm_kind=kind,  # type: ignore[arg-type]
                raised_at=raised,
                answered_at=raised + timedelta(seconds=answer),
                closed_at=raised + timedelta(minutes=30),
                outcome=outcome,  # type: ignore[arg-type]
            )
        )
        if escalate:
            events.append(
                Escalation112(
                    resident_id=rid,
                    occurred_at=raised + timedelta(minutes=2),
                    alarm_id=alarm_id,
                    alarm_kind=kind,  # type: ignore[arg-type]
                    escalated_at=raised + timedelta(minutes=2),
                )
            )
    for event in events:
        await enqueue(session, event, now=now)
    await session.flush()
    return resident.id
