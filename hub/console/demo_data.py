"""Demo residents for the console's tests, screenshots and the demo: homes, residents,
contacts, devices with state and battery, a day of activity, and staff accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import Role, create_user
from hub.db.crypto import KeySafeCipher
from hub.db.models import Contact, Device, Home, Resident, StoredEvent

DEMO_PASSWORD = "teleassist-demo"  # noqa: S105 - demo accounts only, documented


@dataclass
class DemoIds:
    """Ids of what :func:`seed_demo` created."""

    residents: list[int] = field(default_factory=list)
    homes: list[int] = field(default_factory=list)
    devices: dict[int, list[str]] = field(default_factory=dict)  # by resident
    users: dict[str, int] = field(default_factory=dict)  # username -> id


_PEOPLE = [
    # name, birth, language, address, access, notes, key safe, contacts, form of address
    (
        "Montserrat Puig i Ferrer",
        date(1938, 3, 14),
        "ca",
        "C/ de Verdi 48, 3r 1a, 08012 Barcelona",
        "Porter automàtic: 3-1. Ascensor. La veïna del 3r 2a té clau.",
        "Diabetis tipus 2 (insulina al matí i al vespre). Marcapassos (2019). "
        "Al·lèrgia a la penicil·lina. "
        "Camina amb caminador; hipoacúsia lleu (parlar a poc a poc).",
        "4821",
        [
            ("Jordi Puig", "+34 611 234 567", "son", True),
            ("Núria Ferrer", "+34 622 345 678", "niece", False),
            ("Carme Vidal", "+34 933 456 789", "volunteer_neighbour_f", True),
        ],
        "feminine",
    ),
    (
        "Antonio García López",
        date(1941, 11, 2),
        "es",
        "Carrer de Sants 201, 1r 2a, 08028 Barcelona",
        "Timbre 1-2. Sin ascensor.",
        "EPOC: oxígeno nocturno. Vive solo desde 2024. Anticoagulado (Sintrom).",
        None,
        [
            ("María García", "+34 633 111 222", "daughter", True),
            ("Pedro García", "+34 644 222 333", "son", False),
        ],
        "masculine",
    ),
    (
        "Margaret Wilson",
        date(1936, 7, 21),
        "en",
        "Passeig de Gràcia 77, 5è, 08008 Barcelona",
        "Concierge until 20:00. Key safe at the door.",
        "Early Alzheimer's; may be disoriented at night. Hearing aid (left).",
        "7310",
        [("James Wilson", "+44 7700 900123", "son", True)],
        "feminine",
    ),
]


async def seed_demo(
    session: AsyncSession, cipher: KeySafeCipher, now: datetime, *, with_users: bool = True
) -> DemoIds:
    """Add the demo records (the caller commits); activity is spread over the last 24 h."""
    ids = DemoIds()
    for index, person in enumerate(_PEOPLE):
        name, birth, lang, address, access, notes, code, contacts, form = person
        home = Home(address=address, access_notes=access, abss_area="BCN-2", lat=41.40, lon=2.16)
        home.set_key_safe_code(cipher, code)
        session.add(home)
        await session.flush()
        resident = Resident(
            home_id=home.id,
            name=name,
            birth_date=birth,
            language=lang,
            medical_notes=notes,
            lives_alone=True,
            address_form=form,  # the card says "Viu sola" / "Viu sol" (ADR 0170)
            consent={"share_with_family": True},
        )
        session.add(resident)
        await session.flush()
        for priority, (cname, phone, rel, key) in enumerate(contacts, start=1):
            session.add(
                Contact(
                    resident_id=resident.id,
                    name=cname,
                    phone=phone,
                    relationship_=rel,
                    is_key_holder=key,
                    priority=priority,
                    language=lang,
                )
            )
        prefix = f"demo-r{resident.id}"
        devices = [
            Device(id=f"{prefix}-pendant", home_id=home.id, type="pendant", room=None, battery=87),
            Device(id=f"{prefix}-gateway", home_id=home.id, type="gateway", room="hall"),
            Device(id=f"{prefix}-pir-living", home_id=home.id, type="motion", room="living"),
            Device(id=f"{prefix}-door", home_id=home.id, type="door", room="hall", battery=64),
            Device(id=f"{prefix}-smoke", home_id=home.id, type="smoke", room="kitchen"),
        ]
        for device in devices:
            device.state = "online"
            device.last_seen = now - timedelta(minutes=2)
            device.battery = device.battery if device.battery is not None else 95
        if index == 1:
            devices[3].battery = 12
            devices[4].state = "offline"
            devices[4].last_seen = now - timedelta(hours=5)
        session.add_all(devices)
        await session.flush()
        ids.devices[resident.id] = [d.id for d in devices]
        # A plausible day: quiet night, busy morning and evening.
        seq = 0
        for hours_ago in range(24, 0, -1):
            at = now - timedelta(hours=hours_ago)
            hour = (at.hour + 1) % 24  # roughly local time
            busy = 0 if hour < 7 else (4 if hour in (8, 9, 13, 19, 20) else 2)
            for n in range(busy + (index + hours_ago) % 2):
                seq += 1
                session.add(
                    StoredEvent(
                        message_id=secrets.token_hex(12),
                        device_id=f"{prefix}-pir-living",
                        type="motion",
                        ts=at + timedelta(minutes=7 * n),
                        received_at=at + timedelta(minutes=7 * n),
                        seq=seq,
                        body={"type": "motion", "room": "living"},
                    )
                )
        ids.homes.append(home.id)
        ids.residents.append(resident.id)
    if with_users:
        staff = [
            ("anna", Role.OPERATOR, "Anna Soler", "ca"),
            ("marc", Role.OPERATOR, "Marc Ruiz", "es"),
            ("laia", Role.SUPERVISOR, "Laia Martí", "ca"),
            ("sergi", Role.SOCIAL_WORKER, "Sergi Pons", "ca"),
            ("admin", Role.ADMIN, "Administració", "en"),
            ("eva", Role.COORDINATOR, "Eva Roca", "ca"),
        ]
        for username, role, display, lang in staff:
            user = await create_user(
                session, username, DEMO_PASSWORD, role, display_name=display, language=lang
            )
            ids.users[username] = user.id
    await session.flush()
    return ids


async def raise_demo_alarm(
    app: Any, resident_id: int, device_id: str, body: Any, at: datetime | None = None
) -> list[str]:
    """Feed one device event to the hub's alarm engine (as ingestion does); alarm ids raised.

    Needs ``hub.alarms`` (the alerts engineer's engine) in the app.
    """
    from alerts import DeviceType, HomeEvent
    from hub.alarms.keys import ALARM_ENGINE
    from hub.appkeys import CLOCK, SESSIONMAKER

    async with app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise LookupError(f"no resident {resident_id}")
        device = await session.get(Device, device_id)
        known = {t.value for t in DeviceType}
        kind = DeviceType(device.type) if device and device.type in known else DeviceType.OTHER
    event = HomeEvent(
        home_id=str(resident.home_id),
        resident_id=str(resident_id),
        device_id=device_id,
        device_type=kind,
        message_id=secrets.token_hex(12),
        at=at or app[CLOCK](),
        body=body,
    )
    changes = await app[ALARM_ENGINE].handle_event(event)
    return [change.alarm.id for change in changes]
