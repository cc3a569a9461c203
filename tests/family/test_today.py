""" "How is she today?" per consent (SQLite and PostgreSQL), its live nudges, and the family
home in Chromium updating without a reload."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect
from sqlalchemy import select

from hub.appkeys import SESSIONMAKER
from hub.clock import ManualClock
from hub.db.models import Device, Resident, StoredEvent
from hub.family.live import LIVE_HUB, LiveHub
from hub.family.models import AgendaItem, AlarmNotice
from hub.family.today import TodaySink
from hub.ingest.events import IngestedEvent
from hub.ingest.keys import EVENT_SINKS
from protocol import CheckIn, MedicationTaken, Motion, Temperature
from tests.family.browser import media_browser, signed_in_page
from tests.family.conftest import Tablet, World

# Monday 23 November 2026, 10:30 in Barcelona (09:30 UTC).
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
pytestmark = pytest.mark.parametrize("clock_start", [NOW])


async def _home_with_sensors(world: World, tablet: Tablet) -> int:
    """A kitchen motion sensor and a pendant in the resident's home; the home's id."""
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, tablet.resident_id)
        assert resident is not None
        home_id = resident.home_id
        for device_id, kind, room in (
            (f"mo-{secrets.token_hex(3)}", "motion", "kitchen"),
            (f"pd-{secrets.token_hex(3)}", "pendant", None),
        ):
            session.add(Device(id=device_id, home_id=home_id, type=kind, room=room))
        await session.commit()
    return home_id


async def _event(world: World, home_id: int, kind: str, at: datetime) -> None:
    """What ingestion stores: movement from the motion sensor, check-ins from the pendant."""
    prefix = "mo-" if kind == "motion" else "pd-"
    async with world.sessionmaker() as session:
        device_id = await session.scalar(
            select(Device.id).where(Device.home_id == home_id, Device.id.startswith(prefix))
        )
        session.add(
            StoredEvent(
                message_id=secrets.token_hex(8),
                device_id=device_id,
                type=kind,
                ts=at,
                received_at=at,
                seq=1,
                body={"type": kind},
            )
        )
        await session.commit()


async def _today(world: World, tablet: Tablet, headers: dict[str, str]) -> Any:
    resp = await world.client.get(
        f"/api/family/residents/{tablet.resident_id}/today", headers=headers
    )
    return resp.status, await resp.json()


async def test_each_person_sees_only_what_the_resident_shares(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    home = await _home_with_sensors(world, maria)
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    jordi = await world.person(name="Jordi")
    await world.link(maria, anna, consent=["activity", "agenda", "alarms"])
    await world.link(maria, pere, consent=[])
    await world.link(maria, jordi, consent=["agenda"])
    # Yesterday evening's check-in does not count for today; movement 20 minutes ago.
    await _event(world, home, "check_in", NOW - timedelta(hours=14))
    await _event(world, home, "motion", NOW - timedelta(minutes=20))
    async with world.sessionmaker() as session:
        for title, at, status in (
            ("Metge", NOW + timedelta(days=1), "confirmed"),
            ("Perruqueria", NOW + timedelta(hours=3), "accepted"),
            ("Visita proposada", NOW + timedelta(hours=1), "pending"),
            ("Ahir", NOW - timedelta(days=1), "confirmed"),
        ):
            session.add(
                AgendaItem(
                    resident_id=maria.resident_id,
                    title=title,
                    kind="appointment",
                    starts_at=at,
                    status=status,
                    created_by=maria.party,
                    created_at=NOW - timedelta(days=2),
                )
            )
        session.add(
            AlarmNotice(
                resident_id=maria.resident_id,
                alarm_ref="A-1",
                event_type="fall",
                state="closed",
                created_at=NOW - timedelta(days=3),
            )
        )
        await session.commit()

    status, body = await _today(world, maria, anna.headers)
    assert status == 200
    assert body["shared"] == ["activity", "agenda", "alarms"]
    assert body["check_in"] == {"done_at": None}
    assert body["last_activity"]["minutes_ago"] == 20
    assert body["next_agenda"]["title"] == "Perruqueria"
    assert body["open_alarm"] is None
    assert "kitchen" not in str(body)  # the room is never told

    # She says "I'm OK" at 09:12 local, and an alarm opens.
    await _event(world, home, "check_in", datetime(2026, 11, 23, 8, 12, tzinfo=UTC))
    async with world.sessionmaker() as session:
        session.add(
            AlarmNotice(
                resident_id=maria.resident_id,
                alarm_ref="A-2",
                event_type="panic",
                state="open",
                created_at=NOW - timedelta(minutes=2),
            )
        )
        await session.commit()
    hub_clock.advance(timedelta(minutes=5))
    await world.sign_in(anna)
    _, body = await _today(world, maria, anna.headers)
    assert body["check_in"]["done_at"] == "2026-11-23T08:12:00+00:00"
    assert body["last_activity"]["minutes_ago"] == 20 + 5
    assert body["open_alarm"]["event_type"] == "panic"
    # A dose confirmed on the tablet a minute ago is activity, as for the inactivity rule.
    await _event(world, home, "medication_taken", NOW + timedelta(minutes=4))
    _, body = await _today(world, maria, anna.headers)
    assert body["last_activity"]["minutes_ago"] == 1

    await world.sign_in(pere)
    _, nothing = await _today(world, maria, pere.headers)
    assert nothing == {"resident_id": maria.resident_id, "name": "Maria", "shared": []}
    await world.sign_in(jordi)
    _, agenda_only = await _today(world, maria, jordi.headers)
    assert set(agenda_only) == {"resident_id", "name", "shared", "next_agenda"}
    stranger = await world.person(name="Xavi")
    status, refused = await _today(world, maria, stranger.headers)
    assert (status, refused["error"]) == (403, "not_linked")
    # The resident's tablet and staff see everything; bad or unknown residents are refused.
    _, own = await _today(world, maria, maria.headers)
    assert own["shared"] == ["activity", "agenda", "alarms"]
    for path, status_code in (("abc", 404), ("99999999999", 404), ("424242", 404)):
        resp = await world.client.get(f"/api/family/residents/{path}/today", headers=world.operator)
        assert resp.status == status_code, path
    world.client.session.cookie_jar.clear()  # the sign-ins above left a session cookie
    anonymous = await world.client.get(f"/api/family/residents/{maria.resident_id}/today")
    assert anonymous.status == 401


class _Recorder(LiveHub):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[list[str], dict[str, Any]]] = []

    def publish(self, parties: Any, event: dict[str, Any]) -> int:
        self.sent.append((sorted(parties), event))
        return 0


async def test_check_ins_nudge_at_once_and_other_activity_once_a_minute(world: World) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    pere = await world.person(name="Pere")
    await world.link(maria, anna, consent=["activity"])
    await world.link(maria, pere, consent=["alarms", "agenda"])
    app = web.Application()
    app[SESSIONMAKER] = world.sessionmaker
    app[LIVE_HUB] = recorder = _Recorder()
    sink = TodaySink(app)

    def event(body: Any, at: datetime, resident: int | None = maria.resident_id) -> IngestedEvent:
        return IngestedEvent(
            device_id="mo-1",
            device_type="motion",
            home_id=1,
            resident_id=resident,
            message_id=secrets.token_hex(4),
            device_ts=at,
            received_at=at,
            seq=1,
            body=body,
        )

    for body, at in (
        (Motion(), NOW),
        (Motion(), NOW + timedelta(seconds=30)),  # too soon: nothing
        (CheckIn(), NOW + timedelta(seconds=40)),  # a check-in always
        (Motion(), NOW + timedelta(seconds=100)),
        (Motion(), NOW + timedelta(seconds=150)),  # 50 s after the last nudge: nothing
        (MedicationTaken(schedule="insulina 08:00"), NOW + timedelta(seconds=170)),
        (Temperature(celsius=21.0), NOW + timedelta(seconds=300)),  # not activity
    ):
        await sink.handle(event(body, at))
    await sink.handle(event(CheckIn(), NOW, resident=None))  # a home without residents
    assert (
        recorder.sent
        == [([anna.party], {"type": "today.changed", "resident_id": maria.resident_id})] * 4
    )


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_family_home_says_how_she_is_and_follows_live(
    world: World, hub_clock: ManualClock
) -> None:
    maria = await world.resident("Maria")
    home = await _home_with_sensors(world, maria)
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["activity", "agenda", "alarms"])
    await _event(world, home, "motion", NOW - timedelta(minutes=20))
    base = str(world.client.make_url("/"))
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, anna.username, "/family", lang="ca")
        card = page.locator(f'.today[data-resident="{maria.resident_id}"]')
        await expect(card.locator("h2")).to_have_text("Com està Maria avui?")
        await expect(card.locator('[data-today="check_in"]')).to_have_text(
            "Encara no ha dit «Estic bé» avui"
        )
        await expect(card.locator('[data-today="last_activity"]')).to_have_text(
            "Activitat a casa fa 20 minuts"
        )
        await expect(card.locator('[data-today="next_agenda"]')).to_have_text(
            "No hi ha res a l'agenda"
        )
        await expect(card.locator('[data-today="open_alarm"]')).to_have_text("Cap alarma oberta")

        # She presses "I'm OK" at 10:29 local time: the ingestion's sink nudges the page.
        await _event(world, home, "check_in", NOW - timedelta(minutes=1))
        [sink] = [s for s in world.client.app[EVENT_SINKS] if isinstance(s, TodaySink)]
        await sink.handle(
            IngestedEvent(
                device_id="pd",
                device_type="pendant",
                home_id=home,
                resident_id=maria.resident_id,
                message_id="m1",
                device_ts=NOW,
                received_at=NOW,
                seq=2,
                body=CheckIn(),
            )
        )
        await expect(card.locator('[data-today="check_in"]')).to_have_text(
            "Ha dit «Estic bé» a les 10:29"
        )
        await expect(card.locator('[data-today="last_activity"]')).to_have_text(
            "Activitat a casa fa 1 minut"
        )
        # An alarm the centre tells the family about shows at once too.
        posted = await world.client.post(
            f"/api/family/residents/{maria.resident_id}/alarm-notices",
            json={"alarm_ref": "A-9", "event_type": "panic"},
            headers=world.operator,
        )
        assert posted.status == 201
        await expect(card.locator('[data-today="open_alarm"]')).to_contain_text(
            "Hi ha una alarma oberta (ha premut el botó d'ajuda)"
        )
        shots = Path(os.environ.get("TELEASSIST_TEST_SHOTS") or tempfile.gettempdir())
        shots.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shots / "family-today-ca-390x844.png"), full_page=True)
        await page.context.close()
