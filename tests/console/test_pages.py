"""Console pages: sign-in redirects, role refusals, texts in every language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from markupsafe import escape

from hub.auth import Role
from hub.console.pages import CONSOLE_CATALOG, CONSOLE_PAGES
from hub.web import PageUser

Headers = Callable[..., Awaitable[dict[str, str]]]


def test_console_catalog_is_complete() -> None:
    assert CONSOLE_CATALOG.check() == []


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_queue_page_renders_in_every_language(lang: str) -> None:
    user = PageUser(1, "anna", "operator", lang, "Anna")
    html = CONSOLE_PAGES.render_text(
        "queue.html",
        lang,  # type: ignore[arg-type]
        {"nav": [("nav_queue", "/console", "queue")], "current": "queue", "console_static": "/s"},
        user=user,
    )
    assert f'<html lang="{lang}">' in html
    assert 'aria-current="page"' in html
    assert escape(CONSOLE_CATALOG.text("queue_heading", lang)) in html
    assert escape(CONSOLE_CATALOG.text("shortcuts", lang)) in html
    # Listening in is a supervisor's shortcut only.
    assert "<kbd>I</kbd>" not in html
    supervisor = PageUser(2, "sara", "supervisor", lang, "Sara")
    html = CONSOLE_PAGES.render_text(
        "queue.html",
        lang,  # type: ignore[arg-type]
        {"nav": [("nav_queue", "/console", "queue")], "current": "queue", "console_static": "/s"},
        user=supervisor,
    )
    assert "<kbd>I</kbd>" in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_pages_need_a_signed_in_staff_member(
    hub_client: TestClient[Any, Any], auth_headers: Headers
) -> None:
    response = await hub_client.get("/console?x=1", allow_redirects=False)
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/console?x=1"]
    family = await hub_client.get("/console", headers=await auth_headers(Role.FAMILY))
    assert family.status == 403
    assert escape("El teu rol no permet fer això.") in await family.text()
    operator = await hub_client.get(
        "/console",
        headers={**await auth_headers(Role.OPERATOR, language="en"), "Accept-Language": "es"},
    )
    assert operator.status == 200
    text = await operator.text()
    assert "Alarm queue" in text
    assert "/static/console/queue.js" in text
    for name in ("queue.js", "alarms.js", "card.js", "chime.js", "console.css"):
        assert (await hub_client.get(f"/static/console/{name}")).status == 200, name
