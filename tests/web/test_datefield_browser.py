"""Date and time fields in the page's language (hub/web/static/datefield.js, ADR 0172), in
real Chromium whose own locale is American English: a native date input would show
mm/dd/yyyy and a 12-hour clock there; the page's fields show and take dd/mm/aaaa and
24 h, say what is wrong in the page's language, and the form still posts ISO values."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, expect

import hub.web
from hub.web import Pages
from hub.web.serve import serving
from protocol.i18n import Catalog

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SCRIPT = """
import { dateFields, instantOf } from "/static/web/datefield.js";
dateFields(document.getElementById("form"));
window.instantOf = instantOf;
"""

# A form that posts natively (no script of its own): what reaches the server is what the
# hidden ISO inputs hold.
PAGE = """{% extends "base.html" %}
{% block main %}
<form id="form" method="post" action="/echo">
  <div class="field"><label for="born">{{ t("born") }}</label>
    <input type="date" id="born" name="born" value="1940-03-25" required></div>
  <div class="field"><label for="visit">{{ t("visit") }}</label>
    <input type="datetime-local" id="visit" name="visit" data-visit="v1"></div>
  <div class="field"><input type="time" name="at" aria-label="{{ t('at') }}"></div>
  <button type="submit">OK</button>
</form>
{% endblock %}
{% block scripts %}<script type="module" src="/static/test/page.js"></script>{% endblock %}
"""

LABELS = {
    "born": {"ca": "Data de naixement", "es": "Fecha de nacimiento", "en": "Date of birth"},
    "visit": {"ca": "Visita", "es": "Visita", "en": "Visit"},
    "at": {"ca": "Hora", "es": "Hora", "en": "Time"},
}


def _make_app(tmp: Path) -> web.Application:
    (tmp / "static").mkdir()
    (tmp / "static" / "page.js").write_text(SCRIPT, encoding="utf-8")
    (tmp / "page.html").write_text(PAGE, encoding="utf-8")
    catalog = tmp / "i18n.toml"
    lines = []
    for key, texts in LABELS.items():
        lines += [f"[{key}]", *(f"{lang} = {json.dumps(text)}" for lang, text in texts.items())]
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pages = Pages(tmp, Catalog.load(catalog))

    async def page(request: web.Request) -> web.Response:
        return pages.render(request, "page.html")

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(dict(await request.post()))

    app = web.Application()
    hub.web.setup(app)
    app.router.add_static("/static/test", tmp / "static")
    app.router.add_get("/form", page)
    app.router.add_post("/echo", echo)
    return app


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with serving(_make_app(tmp_path_factory.mktemp("datefield"))) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def page(chromium: Browser) -> AsyncIterator[Page]:
    # An American browser in New York: its own date format and zone are not the page's.
    context = await chromium.new_context(
        locale="en-US", timezone_id="America/New_York", bypass_csp=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    await context.close()
    assert errors == []


async def test_a_catalan_page_shows_and_takes_day_month_year_and_posts_iso(
    server: str, page: Page
) -> None:
    await page.goto(server + "/form?lang=ca")
    born = page.get_by_label("Data de naixement")
    await expect(born).to_have_value("25/03/1940")  # the page's value, in the page's order
    await expect(born).to_have_attribute("placeholder", "dd/mm/aaaa")
    await expect(born).to_have_accessible_description("Format: dd/mm/aaaa, rellotge de 24 hores.")
    await born.fill("7/12/2026")
    await born.press("Tab")
    await expect(born).to_have_value("07/12/2026")
    visit = page.get_by_label("Visita")
    await expect(visit).to_have_attribute("placeholder", "dd/mm/aaaa hh:mm")
    await visit.fill("8/1/2027 16:30")
    await page.get_by_label("Hora").fill("9.05")
    await page.get_by_label("Hora").press("Tab")
    await expect(page.get_by_label("Hora")).to_have_value("09:05")
    await page.get_by_role("button", name="OK").click()
    await page.wait_for_url("**/echo")
    posted = json.loads(await page.locator("body").inner_text())
    assert posted == {"born": "2026-12-07", "visit": "2027-01-08T16:30", "at": "09:05"}


async def test_an_impossible_date_is_refused_in_words_and_nothing_is_sent(
    server: str, page: Page
) -> None:
    await page.goto(server + "/form?lang=ca")
    born = page.get_by_label("Data de naixement")
    await born.fill("31/02/2026")  # no 31 February
    await born.press("Tab")
    message = "No és una data vàlida. Escriviu-la com a dd/mm/aaaa, per exemple 25/03/1940."
    await expect(born).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#born-error")).to_have_text(message)
    await expect(page.locator("#born-error")).to_be_visible()
    await expect(born).to_have_accessible_description(
        "Format: dd/mm/aaaa, rellotge de 24 hores. " + message
    )
    # mm/dd (the browser's order) is no date either: 12/31 has no month 31.
    await born.fill("12/31/2026")
    await page.get_by_role("button", name="OK").click()
    await expect(page.locator("#born-error")).to_have_text(message)
    await expect(born).to_be_focused()
    assert page.url.endswith("/form?lang=ca")  # not posted
    # Corrected, the error goes.
    await born.fill("31/12/2026")
    await born.press("Tab")
    await expect(page.locator("#born-error")).to_be_hidden()
    await expect(born).not_to_have_attribute("aria-invalid", "true")


@pytest.mark.parametrize(
    ("lang", "pattern", "typed", "iso"),
    [
        ("es", "dd/mm/aaaa", "03/04/2026", "2026-04-03"),
        ("en", "dd/mm/yyyy", "03/04/2026", "2026-04-03"),  # British order: 3 April
    ],
)
async def test_spanish_and_english_pages_read_day_first(
    server: str, page: Page, lang: str, pattern: str, typed: str, iso: str
) -> None:
    await page.goto(server + f"/form?lang={lang}")
    born = page.locator("#born")
    await expect(born).to_have_attribute("placeholder", pattern)
    await born.fill(typed)
    await born.press("Tab")
    assert await page.locator("#born-iso").input_value() == iso


async def test_arrow_keys_step_the_part_under_the_cursor(server: str, page: Page) -> None:
    await page.goto(server + "/form?lang=ca")
    born = page.get_by_label("Data de naixement")
    await born.focus()
    await born.evaluate("el => el.setSelectionRange(1, 1)")  # in the day
    await born.press("ArrowUp")
    await expect(born).to_have_value("26/03/1940")
    await born.evaluate("el => el.setSelectionRange(4, 4)")  # in the month
    await born.press("ArrowDown")
    await expect(born).to_have_value("26/02/1940")
    assert await page.locator("#born-iso").input_value() == "1940-02-26"


async def test_a_date_and_time_is_the_centres_wall_clock_not_the_browsers(
    server: str, page: Page
) -> None:
    await page.goto(server + "/form?lang=en")
    # 10:00 in Madrid (summer time, UTC+2), on a browser in New York.
    instant = await page.evaluate("window.instantOf('2026-07-01T10:00').toISOString()")
    assert instant == "2026-07-01T08:00:00.000Z"
