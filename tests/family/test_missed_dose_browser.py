"""A missed dose on the family home in the words of its day (ADR 0152), at phone size, in
ca/es/en: told at 20:45, it reads as tonight's; the next morning it is still there and reads
as yesterday's (in Catalan and Spanish the tense changes too); a day after, it is gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Locator, expect

from alerts import Explanation, MissedDose
from hub.alarms.missed_doses import MISSED_DOSE_SINK
from hub.clock import ManualClock
from hub.db.models import Resident
from tests.family.browser import PHONE, media_browser, signed_in_page
from tests.family.conftest import World

# Wednesday 13 January 2027, 20:45 in Barcelona: the 20:00 dose's 45 minutes are over.
TOLD = datetime(2027, 1, 13, 19, 45, tzinfo=UTC)
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.parametrize("clock_start", [TOLD]),
]

EXPECTED = {
    "ca": (
        "Maria no ha confirmat la dosi «insulina 20:00» (a les 20:00).",
        "Maria no va confirmar ahir la dosi «insulina 20:00» (a les 20:00).",
    ),
    "es": (
        "Maria no ha confirmado la dosis «insulina 20:00» (a las 20:00).",
        "Maria no confirmó ayer la dosis «insulina 20:00» (a las 20:00).",
    ),
    "en": (
        "Maria has not confirmed the dose “insulina 20:00” (due 20:00).",
        "Maria did not confirm yesterday's dose “insulina 20:00” (due 20:00).",
    ),
}


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEASSIST_ALARMS__SCHEDULER", "false")


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
async def test_a_dose_missed_last_night_reads_as_yesterdays_the_next_morning(
    world: World, hub_clock: ManualClock, lang: str
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=["alarms"])
    said = await world.client.put("/api/me/language", json={"language": lang}, headers=anna.headers)
    assert said.status == 200
    async with world.sessionmaker() as session:
        resident = await session.get(Resident, maria.resident_id)
        assert resident is not None
        home = str(resident.home_id)
    due = TOLD - timedelta(minutes=45)
    explanation = Explanation.of("medication", schedule="insulina 20:00", due="20:00", minutes=45)
    dose = MissedDose(home, str(maria.resident_id), "insulina 20:00", due, TOLD, explanation)
    await world.client.app[MISSED_DOSE_SINK].tell(dose)
    base = str(world.client.make_url("/")).rstrip("/")
    tonight, yesterday = EXPECTED[lang]
    async with media_browser() as browser:

        async def notices() -> Locator:
            page = await signed_in_page(
                browser, base, anna.username, "/family", lang=lang, viewport=PHONE, at=hub_clock()
            )
            await expect(page.locator("#conn")).to_have_attribute(
                "data-state", "open", timeout=TIMEOUT_MS
            )
            await page.wait_for_load_state("networkidle")
            return page.locator("#alarm-list li.alarm.dose")

        notice = await notices()
        await expect(notice).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(notice).to_contain_text(tonight)
        # Thursday 10:30, 13 h 45 min after it was told: still shown, as yesterday's.
        hub_clock.advance(timedelta(hours=13, minutes=45))
        notice = await notices()
        await expect(notice).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(notice).to_contain_text(yesterday)
        # Thursday 21:00, a day and a quarter of an hour after: gone.
        hub_clock.advance(timedelta(hours=10, minutes=30))
        notice = await notices()
        await expect(notice).to_have_count(0)
