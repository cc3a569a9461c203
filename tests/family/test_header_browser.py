"""The family app's top bar at phone size, in Chromium (issue 23): sign-out stays on the
row of the connection and the language buttons (at 390 px "Tanca la sessió" took a row of
its own), and is still a button with a name; a wide screen keeps the whole words."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.family.browser import media_browser, signed_in_page
from tests.family.conftest import World

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 30_000
SHORT = {"ca": "Surt", "es": "Salir", "en": "Sign out"}
LONG = {"ca": "Tanca la sessió", "es": "Cerrar sesión", "en": "Sign out"}
ROW_TOPS = """(bar) => [...bar.children]
  .filter((el) => el.offsetParent !== null)
  .map((el) => el.getBoundingClientRect())
  .map((box) => Math.round(box.top + box.height / 2))"""


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
async def test_sign_out_shares_the_phone_top_bar_row(world: World, lang: str) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    await world.link(maria, anna, consent=[])
    resp = await world.client.put("/api/me/language", json={"language": lang}, headers=anna.headers)
    assert resp.status in (200, 204), await resp.text()
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(browser, base, anna.username, "/family", lang=lang)
        sign_out = page.get_by_role("button", name=SHORT[lang], exact=True)
        await expect(sign_out).to_be_visible(timeout=TIMEOUT_MS)
        bar = page.locator(".topbar-right")
        centres = await bar.evaluate(ROW_TOPS)
        assert len(centres) == 3, centres  # connection, languages, sign-out
        assert max(centres) - min(centres) <= 4, (lang, centres)  # one row
        right = await bar.evaluate("(bar) => bar.getBoundingClientRect().right")
        assert right <= 390
        wide = await signed_in_page(
            browser, base, anna.username, "/family", lang=lang,
            viewport={"width": 1366, "height": 768},
        )  # fmt: skip
        await expect(wide.get_by_role("button", name=LONG[lang], exact=True)).to_be_visible(
            timeout=TIMEOUT_MS
        )
