"""The shell's JavaScript in real Chromium: live socket reconnect + refetch, token refresh,
language switch."""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import WSMsgType, web
from playwright.async_api import Browser, Page, expect

import hub.web
from hub.web import Pages
from hub.web.serve import serving

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LIVE_JS = """
import { LiveSocket, api, showConnection, pageData } from "/static/web/ta.js";
window.opens = 0;
window.messages = [];
window.apiResults = [];
const conn = document.getElementById("conn");
new LiveSocket("/ws", {
  silenceMs: pageData().silence_ms,
  onOpen: async () => {
    window.opens += 1;
    window.apiResults.push(await api("/api/protected"));
  },
  onMessage: (m) => window.messages.push(m),
  onState: (s) => showConnection(conn, s),
});
"""

PAGE = """{% extends "base.html" %}
{% block status %}<span id="conn" class="conn">-</span>{% endblock %}
{% block main %}<p>test</p>{% endblock %}
{% block scripts %}<script type="module" src="/static/test/live.js"></script>{% endblock %}
"""

SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
REFRESHES: web.AppKey[list[int]] = web.AppKey("refreshes")


def make_app_factory(tmp: Path):  # type: ignore[no-untyped-def]
    (tmp / "static").mkdir()
    (tmp / "static" / "live.js").write_text(LIVE_JS, encoding="utf-8")
    (tmp / "page.html").write_text(PAGE, encoding="utf-8")
    pages = Pages(tmp)

    async def page(request: web.Request) -> web.Response:
        silence = int(request.query.get("silence", "45000"))
        return pages.render(
            request,
            "page.html",
            {"page_data": {"silence_ms": silence}},
            js_texts=["conn_connecting", "conn_open", "conn_reconnecting", "error_network"],
        )

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        request.app[SOCKETS].add(ws)
        if request.query.get("mute") is None:
            await ws.send_str(json.dumps({"type": "hello"}))
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        return ws

    async def protected(request: web.Request) -> web.Response:
        if request.cookies.get("tok") != "good":
            return web.json_response({"error": "token_expired", "message": "x"}, status=401)
        return web.json_response({"ok": True})

    async def refresh(request: web.Request) -> web.Response:
        request.app[REFRESHES].append(1)
        response = web.json_response({"ok": True})
        response.set_cookie("tok", "good", path="/")
        return response

    async def login(request: web.Request) -> web.Response:
        # Only "good" signs in here; anything else is the 404 the refusal test expects.
        if (await request.json()).get("username") != "good":
            raise web.HTTPNotFound()
        return web.json_response({"user": {"role": "operator", "language": "en"}})

    async def make() -> web.Application:
        app = web.Application()
        app[SOCKETS] = weakref.WeakSet()
        app[REFRESHES] = []
        hub.web.setup(app)
        app.router.add_static("/static/test", tmp / "static")
        app.router.add_get("/test", page)
        app.router.add_get("/ws", websocket)
        app.router.add_get("/api/protected", protected)
        app.router.add_post("/api/auth/refresh", refresh)
        app.router.add_post("/api/auth/login", login)
        return app

    return make


@dataclass
class Server:
    url: str
    app: web.Application


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    app = await make_app_factory(tmp_path_factory.mktemp("shell"))()
    async with serving(app) as url:
        yield Server(url, app)


@pytest_asyncio.fixture(loop_scope="session")
async def page(chromium: Browser) -> AsyncIterator[Page]:
    # Our CSP forbids eval; Playwright's wait_for_function needs it in the test only.
    context = await chromium.new_context(locale="en-GB", bypass_csp=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    await context.close()
    assert errors == []


async def _close_all(app: web.Application) -> int:
    sockets = list(app[SOCKETS])
    for ws in sockets:
        await ws.close()
    return len(sockets)


async def test_live_socket_refetches_after_every_reconnect(server: Server, page: Page) -> None:
    # The server is the module's: count only this test's refreshes.
    refreshed_before = len(server.app[REFRESHES])
    await page.goto(server.url + "/test?lang=en")
    conn = page.locator("#conn")
    await expect(conn).to_have_text("Live")
    # onOpen counts the socket, then awaits its API call: wait for the call's result too.
    await page.wait_for_function(
        "window.opens === 1 && window.messages.length === 1 && window.apiResults.length === 1"
    )
    # The expired token was refreshed once and the call retried.
    assert await page.evaluate("window.apiResults") == [{"ok": True}]
    assert len(server.app[REFRESHES]) - refreshed_before == 1

    assert await _close_all(server.app) == 1
    # Back by itself, and the page refetched everything on reconnect.
    await page.wait_for_function(
        "window.opens === 2 && window.apiResults.length === 2", timeout=20000
    )
    await expect(conn).to_have_text("Live")
    assert await page.evaluate("window.opens") == 2


async def test_reconnecting_is_shown_plainly(server: Server, page: Page) -> None:
    await page.goto(server.url + "/test?lang=en")
    await expect(page.locator("#conn")).to_have_text("Live")
    await page.evaluate(
        "() => { window._WS = window.WebSocket;"
        " window.WebSocket = function () { throw new Error('down'); }; }"
    )
    await _close_all(server.app)
    await expect(page.locator("#conn")).to_have_text("Reconnecting… data may be out of date")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    await page.evaluate("() => { window.WebSocket = window._WS; }")
    await expect(page.locator("#conn")).to_have_text("Live", timeout=20000)


async def test_a_socket_in_back_off_reconnects_at_once_when_the_hub_is_back(
    server: Server, page: Page
) -> None:
    """The console's health check says "ta:hub-ready" when its banner clears; a socket
    waiting out its back-off (up to 12.5 s) must not keep the queue stale that long."""
    await page.goto(server.url + "/test?lang=en")
    await expect(page.locator("#conn")).to_have_text("Live")
    # The hub goes away, and the back-off's timers never fire: only the event can bring
    # the socket back (the 45 s silence watchdog is dropped too).
    await page.evaluate(
        "() => { window._WS = window.WebSocket;"
        " window.WebSocket = function () { throw new Error('down'); };"
        " const later = window.setTimeout;"
        " window.setTimeout = (fn, ms, ...rest) => ms >= 100 ? 0 : later(fn, ms, ...rest); }"
    )
    await _close_all(server.app)
    await expect(page.locator("#conn")).to_have_text("Reconnecting… data may be out of date")
    await page.evaluate("() => { window.WebSocket = window._WS; }")
    await page.evaluate("() => window.dispatchEvent(new Event('ta:hub-ready'))")
    await expect(page.locator("#conn")).to_have_text("Live")
    await page.wait_for_function("window.opens === 2")


async def test_a_silent_socket_is_treated_as_dead(server: Server, page: Page) -> None:
    await page.goto(server.url + "/test?lang=en&silence=1500")
    await page.wait_for_function("window.opens >= 2", timeout=20000)


async def test_language_switch_sets_the_cookie_and_reloads(server: Server, page: Page) -> None:
    await page.goto(server.url + "/login")
    await expect(page.locator("html")).to_have_attribute("lang", "en")  # from Accept-Language
    await page.get_by_role("button", name="CA").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ca")
    await expect(page.locator("h1")).to_have_text("Entrada")
    await expect(page.get_by_role("button", name="CA")).to_have_attribute("aria-pressed", "true")
    await page.get_by_role("button", name="ES").click()
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.locator("h1")).to_have_text("Entrada")


async def test_signin_form_explains_refusals(server: Server, page: Page) -> None:
    await page.goto(server.url + "/login?lang=en")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signin-error")).to_have_text("Enter your username and password.")
    await page.get_by_label("Username").fill("anna")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    # This test app has no login endpoint: the 404 is reported, not swallowed.
    await expect(page.locator("#signin-error")).to_contain_text("That did not work")


async def _sign_in_from(page: Page, url: str) -> None:
    # The page first tries the refresh cookie and goes to ``next`` at once if it works
    # (it does in this test app); otherwise the form is filled in.
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    if "/login" in page.url:
        await page.get_by_label("Username").fill("good")
        await page.get_by_label("Password").fill("whatever")
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(lambda now: "/login" not in now)
    await page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    "next_",
    [
        "/\\evil.example",
        "/\\/evil.example",
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "https://evil.example/",
        "/%5Cevil.example",
    ],
)
async def test_signing_in_never_leaves_the_site(server: Server, page: Page, next_: str) -> None:
    from urllib.parse import quote, urlsplit

    await _sign_in_from(page, server.url + "/login?lang=en&next=" + quote(next_, safe=""))
    assert urlsplit(page.url).netloc == urlsplit(server.url).netloc


async def test_signing_in_goes_to_the_page_asked_for(server: Server, page: Page) -> None:
    await _sign_in_from(page, server.url + "/login?lang=en&next=%2Ftest%3Flang%3Den")
    assert page.url == server.url + "/test?lang=en"
