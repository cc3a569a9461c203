"""The demo's simulated neighbourhood: seeded hub records and homes that live their day.

Homes come from :func:`firmware_sim.standard_home` and their days from
:func:`firmware_sim.simulate_days`; the trace is replayed over MQTT ``speed`` times faster
than real time and re-stamped with the current time, so the hub's clock checks accept it.
A short script of incidents (a help button, a fall, smoke) makes sure a newcomer sees
alarms within the first minute or two, whatever the seeds draw.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
import paho.mqtt.client as mqtt
from sqlalchemy.ext.asyncio import AsyncSession

import protocol
from firmware_sim import DeviceType, HomeSpec, IncidentKind, IncidentSpec, simulate_days
from firmware_sim import standard_home as _standard_home
from hub.auth import Role, create_user
from hub.console.demo_data import DEMO_PASSWORD
from hub.db.crypto import KeySafeCipher
from hub.db.models import Contact, Device, Home, Resident
from hub.family.consent import Scope, encode_scopes
from hub.family.models import CircleLink, Conversation, Group, GroupMember

_LOGGER = logging.getLogger(__name__)

PROFILES = ("active", "frail", "cognitive_decline")
_FIRST = [
    "Montserrat",
    "Josep",
    "Rosa",
    "Antonio",
    "Carme",
    "Joan",
    "Dolors",
    "Manuel",
    "Teresa",
    "Francesc",
    "Mercè",
    "Pilar",
    "Jordi",
    "Núria",
    "Ramon",
    "Isabel",
]
_LAST = [
    "Puig",
    "García",
    "Ferrer",
    "Vidal",
    "Soler",
    "Martí",
    "López",
    "Serra",
    "Pons",
    "Roca",
    "Font",
    "Casas",
    "Sala",
    "Riera",
    "Mas",
    "Torres",
]
_STREETS = [
    "C/ de Verdi",
    "C/ de Sants",
    "C/ Gran de Gràcia",
    "Pg. de Sant Joan",
    "C/ de Provença",
    "C/ de la Marina",
    "C/ del Consell de Cent",
    "Rbla. del Poblenou",
]
_AREAS = ["BCN-1A", "BCN-2B", "BCN-3C", "BCN-4D"]


@dataclass(frozen=True)
class Account:
    """A seeded sign-in the demo prints."""

    username: str
    role: Role
    display_name: str
    language: str


ACCOUNTS = (
    Account("operadora", Role.OPERATOR, "Anna Soler", "ca"),
    Account("operator", Role.OPERATOR, "Marc Ruiz", "en"),
    Account("supervisora", Role.SUPERVISOR, "Laia Martí", "ca"),
    Account("social", Role.SOCIAL_WORKER, "Sergi Pons", "ca"),
    Account("coordinadora", Role.COORDINATOR, "Eva Roca", "ca"),
    Account("installer", Role.INSTALLER, "Pau Mas", "es"),
    Account("familia", Role.FAMILY, "Jordi Puig", "ca"),
    Account("dinamitzadora", Role.FACILITATOR, "Mireia Font", "ca"),
    Account("admin", Role.ADMIN, "Administració", "en"),
)


@dataclass
class SeededHome:
    """A simulated home and the hub ids it was given."""

    spec: HomeSpec
    profile: str
    home_id: int
    resident_id: int
    resident_name: str


@dataclass
class Neighbourhood:
    """What :func:`seed_neighbourhood` created."""

    homes: list[SeededHome] = field(default_factory=list)
    accounts: tuple[Account, ...] = ACCOUNTS
    password: str = DEMO_PASSWORD


async def seed_neighbourhood(
    session: AsyncSession, cipher: KeySafeCipher, count: int, now: datetime, seed: int = 2026
) -> Neighbourhood:
    """Homes, residents, contacts, devices and one account per role (the caller commits)."""
    rng = random.Random(seed)
    result = Neighbourhood()
    for index in range(count):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {rng.choice(_LAST)}"
        language = "es" if index % 4 == 1 else "ca"
        home = Home(
            address=f"{rng.choice(_STREETS)} {rng.randint(1, 250)}, {rng.randint(1, 6)}r"
            f" {rng.randint(1, 4)}a, 080{rng.randint(10, 42)} Barcelona",
            abss_area=_AREAS[index % len(_AREAS)],
            access_notes="Clau a la caixa de seguretat de la porta." if index % 3 == 0 else "",
            lat=41.38 + rng.random() * 0.05,
            lon=2.13 + rng.random() * 0.07,
        )
        home.set_key_safe_code(cipher, f"{rng.randint(0, 9999):04d}" if index % 3 == 0 else None)
        session.add(home)
        await session.flush()
        resident = Resident(
            home_id=home.id,
            name=name,
            birth_date=date(1930 + rng.randint(0, 25), rng.randint(1, 12), rng.randint(1, 28)),
            language=language,
            medical_notes=rng.choice(
                [
                    "Hipertensió.",
                    "Diabetis tipus 2.",
                    "Artrosi; camina amb bastó.",
                    "Deteriorament cognitiu lleu.",
                    "MPOC; oxigen nocturn.",
                    "",
                ]
            ),
            lives_alone=True,
            # The demo's residents agreed to the social record on their referral, so their
            # alarms and service events reach it (ADR 0065: without it nothing is exported).
            consent={"share_with_family": True, "wsocial_export": True},
        )
        session.add(resident)
        await session.flush()
        family_name = name.split()[1]
        for priority, (who, relationship, key_holder) in enumerate(
            [
                (f"{rng.choice(_FIRST)} {family_name}", "son", True),
                (
                    f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                    "volunteer_neighbour_m",
                    index % 2 == 0,
                ),
            ],
            start=1,
        ):
            session.add(
                Contact(
                    resident_id=resident.id,
                    name=who,
                    phone=_phone(rng),
                    relationship_=relationship,
                    is_key_holder=key_holder,
                    priority=priority,
                    language=language,
                )
            )
        spec = _standard_home(f"demo{index + 1:03d}", str(resident.id))
        for device in spec.devices:
            session.add(
                Device(
                    id=device.device_id,
                    home_id=home.id,
                    resident_id=resident.id,
                    type=device.device_type.value,
                    room=device.room,
                    battery=rng.randint(55, 100),
                    state="unknown",
                )
            )
        result.homes.append(
            SeededHome(spec, PROFILES[index % len(PROFILES)], home.id, resident.id, name)
        )
    await session.flush()
    users = {}
    for account in ACCOUNTS:
        user = await create_user(
            session,
            account.username,
            DEMO_PASSWORD,
            account.role,
            display_name=account.display_name,
            language=account.language,
        )
        users[account.username] = user.id
    # The family member is linked to the first resident and sees their alarms.
    first = result.homes[0]
    session.add(
        CircleLink(
            resident_id=first.resident_id,
            member=f"u:{users['familia']}",
            relationship_="fill",
            consent=encode_scopes([Scope.ALARMS, Scope.ACTIVITY, Scope.AGENDA]),
            created_at=now,
        )
    )
    # A Vincles-style group of the first few residents led by the facilitator.
    conversation = Conversation(kind="group", created_at=now)
    session.add(conversation)
    await session.flush()
    group = Group(
        name="Grup de conversa del barri",
        facilitator_id=users["dinamitzadora"],
        conversation_id=conversation.id,
        created_at=now,
    )
    session.add(group)
    await session.flush()
    for member in result.homes[:6]:
        session.add(GroupMember(group_id=group.id, resident_id=member.resident_id, joined_at=now))
    await session.flush()
    return result


def _phone(rng: random.Random) -> str:
    return f"+34 6{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


def _scripted(home: SeededHome, index: int) -> Sequence[tuple[float, protocol.EventBody, str]]:
    """Incidents at fixed demo seconds, so alarms show up early whatever the seeds draw."""
    script: list[tuple[float, protocol.EventBody, DeviceType]] = []
    if index == 0:
        script.append((15.0, protocol.Panic(source="pendant"), DeviceType.PENDANT))
    elif index == 1:
        script.append(
            (45.0, protocol.Fall(room="bathroom", confidence=0.93), DeviceType.FALL_DETECTOR)
        )
    elif index == 2:
        script.append((90.0, protocol.Smoke(room="kitchen"), DeviceType.SMOKE))
    out = []
    for at, body, kind in script:
        device = home.spec.find(kind)
        if device is not None:
            out.append((at, body, device.device_id))
    return out


class HomeReplay:
    """Replays one home's simulated day over MQTT, ``speed`` times faster than real time."""

    def __init__(
        self, home: SeededHome, index: int, speed: float, start: date, script_scale: float = 1.0
    ) -> None:
        self.home = home
        self.index = index
        self.speed = speed
        # Tests shrink the scripted incidents' times (1.0: 15 s, 45 s, 90 s).
        self.script_scale = script_scale
        self.trace = simulate_days(
            home.spec,
            home.profile,
            start,
            1,
            seed=index,
            incidents=self._incidents(index),
        )
        self.seq: dict[str, int] = {}
        self.published = 0

    @staticmethod
    def _incidents(index: int) -> list[IncidentSpec]:
        if index % 10 == 3:
            return [IncidentSpec(IncidentKind.FALL)]
        if index % 10 == 7:
            return [IncidentSpec(IncidentKind.NIGHT_WANDERING)]
        return []

    def _envelope(self, device_id: str, body: object) -> protocol.Envelope[object]:
        seq = self.seq.get(device_id, 0) + 1
        self.seq[device_id] = seq
        return protocol.envelope(body, id=protocol.new_message_id(), ts=datetime.now(UTC), seq=seq)

    def publish(self, client: mqtt.Client, device_id: str, body: object) -> None:
        """Publish one record now, with a fresh id and the current time."""
        channel = (
            protocol.Channel.TELEMETRY
            if isinstance(body, protocol.Telemetry)
            else protocol.Channel.STATUS
            if isinstance(body, protocol.Status)
            else protocol.Channel.EVENT
        )
        envelope = self._envelope(device_id, body)
        qos = 0 if channel is protocol.Channel.TELEMETRY else 1
        client.publish(
            protocol.device_topic(device_id, channel),
            protocol.encode(envelope),
            qos=qos,
            retain=channel is protocol.Channel.STATUS,
        )
        self.published += 1

    async def run(self, client: mqtt.Client, stop: asyncio.Event, started: float) -> None:
        """Publish the scripted incidents and the day, paced by ``speed``."""
        loop = asyncio.get_running_loop()
        for device in self.home.spec.devices:
            self.publish(client, device.device_id, protocol.Status(state="online"))
        # The day starts at the current local time of day, so the replay matches the clock.
        day_start = self.trace.records[0].ts if self.trace.records else datetime.now(UTC)
        offset = (datetime.now(UTC) - day_start.replace(hour=0, minute=0, second=0)).total_seconds()
        items: list[tuple[float, str, object]] = [
            (at * self.script_scale, device_id, body)
            for at, body, device_id in _scripted(self.home, self.index)
        ]
        for record in self.trace.records:
            sim_s = (record.ts - day_start).total_seconds()
            if sim_s < offset:
                continue
            items.append(((sim_s - offset) / self.speed, record.device_id, record.body))
        items.sort(key=lambda item: item[0])
        for at, device_id, body in items:
            delay = started + at - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    return
                except TimeoutError:
                    pass
            elif stop.is_set():
                return
            if isinstance(body, protocol.Status) and body.state == "offline":
                continue  # a replayed Will would make the demo home look broken
            self.publish(client, device_id, body)


def to_json(value: object) -> str:
    """Compact JSON for the demo's console output."""
    return msgspec.json.encode(value).decode()


def demo_start_date() -> date:
    """Today in Barcelona (the day the replay follows)."""
    return (datetime.now(UTC) + timedelta(hours=1)).date()
