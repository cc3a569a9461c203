"""The alarm notice on the family home shows each step live, at phone size, in ca/es/en."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from alerts import DeviceType, HomeEvent
from hub.alarms.keys import ALARM_ENGINE
from hub.clock import ManualClock
from hub.db.models import Resident
from protocol import Panic
from tests.family.browser import PHONE, media_browser, signed_in_page
from tests.family.conftest import World
from tests.instants import DEFAULT_START

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 60_000

EXPECTED = {
    "ca": (
        "La central ha rebut l'avís i se n'ocupa.",
        "La central ha parlat amb Maria.",
        "Hi va l'equip de la central.",
        "Tancada: Maria està bé.",
    ),
    "es": (
        "La central ha recibido el aviso y se está ocupando.",
        "La central ha hablado con Maria.",
        "El equipo de la central va para allá.",
        "Cerrada: Maria está bien.",
    ),
    "en": (
        "The centre got the alert and is looking after it.",
        "The centre has spoken with Maria.",
        "The centre's team is on the way.",
        "Closed: Maria is fine.",
    ),
}


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
async def test_the_alarm_notice_shows_each_step_as_it_happens(
    world: World, hub_clock: ManualClock, lang: str, tmp_path: Path
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    # The family pages speak the account's language.
    said = await world.client.put("/api/me/language", json={"language": lang}, headers=anna.headers)
    assert said.status == 200
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    base = str(world.client.make_url("/")).rstrip("/")
    accepted, voice, help_, resolved = EXPECTED[lang]
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, anna.username, "/family", lang=lang, viewport=PHONE
        )
        await expect(page.locator("#conn")).to_have_attribute(
            "data-state", "open", timeout=TIMEOUT_MS
        )
        panic = HomeEvent(
            home_id=home, resident_id=str(maria.resident_id), device_id=f"{home}-pendant",
            device_type=DeviceType.PENDANT, message_id=f"steps-{lang}", at=hub_clock(),
            body=Panic(),
        )  # fmt: skip
        (change,) = await world.client.app[ALARM_ENGINE].handle_event(panic)
        notice = page.locator("#alarm-list li.alarm")
        await expect(notice).to_have_count(1, timeout=TIMEOUT_MS)
        steps = notice.locator("li.step")
        await expect(steps).to_have_count(0)

        async def operator(minutes: int, path: str, body: dict[str, Any]) -> None:
            hub_clock.advance(DEFAULT_START + timedelta(minutes=minutes) - hub_clock())
            done = await world.client.post(
                f"/api/alarms/{change.alarm.id}{path}", json=body, headers=world.operator
            )
            assert done.status in (200, 201), await done.text()

        await operator(1, "/accept", {})
        await expect(steps).to_have_count(1, timeout=TIMEOUT_MS)
        # 09:31 UTC is 10:31 in Barcelona, on a 24-hour clock in every language.
        await expect(steps.nth(0)).to_contain_text("10:31")
        await expect(steps.nth(0)).to_contain_text(accepted)
        await operator(3, "/contact-attempts", {"party": "resident", "result": "reached"})
        await expect(steps.nth(1)).to_contain_text(voice, timeout=TIMEOUT_MS)
        await operator(5, "/escalations", {"target": "mobile_unit", "detail": "Van 3"})
        await expect(steps.nth(2)).to_contain_text(help_, timeout=TIMEOUT_MS)
        await page.screenshot(path=str(tmp_path / f"family-alarm-open-{lang}.png"))
        await operator(12, "/resolve", {"outcome": "resident_fine", "notes": "BP 150/90"})
        await expect(steps.nth(3)).to_contain_text(resolved, timeout=TIMEOUT_MS)
        await expect(steps.nth(3)).to_contain_text("10:42")
        # Closed: no more "I'm on my way"; nothing of the centre's notes on the page.
        await expect(notice.locator("[data-answer]")).to_have_count(0)
        await expect(notice).not_to_contain_text("Van 3")
        await expect(notice).not_to_contain_text("150/90")
        await page.screenshot(path=str(tmp_path / f"family-alarm-closed-{lang}.png"))
