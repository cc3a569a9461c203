"""The shared web shell: static files, sign-in page, languages, escaping, catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import hub.web
from hub.web import WEB_CATALOG, Pages, PageUser, accept_language
from hub.web.pages import SHELL_JS_KEYS
from protocol.i18n import Catalog, MissingTranslation


@pytest.fixture
async def client(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    app = web.Application()
    hub.web.setup(app)
    return await aiohttp_client(app)


def test_web_catalog_is_complete() -> None:
    assert WEB_CATALOG.check() == []


def test_every_role_has_a_name_and_a_home() -> None:
    for role in hub.web.HOME_BY_ROLE:
        for lang in ("ca", "es", "en"):
            assert WEB_CATALOG.text(f"role_{role}", lang)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-ES,es;q=0.9,en;q=0.8", "es"),
        ("fr-FR, en;q=0.5", "en"),
        ("en;q=0.2, ca;q=0.9", "ca"),
        ("de, fr", None),
        ("", None),
        ("en;q=banana, es;q=0.1", "es"),
        ("es;q=0", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert accept_language(header) == expected


async def test_static_files_are_served(client: TestClient) -> None:
    for name, kind in (
        ("web.css", "text/css"),
        ("ta.js", "javascript"),
        ("signin.js", "javascript"),
    ):
        response = await client.get(f"/static/web/{name}")
        assert response.status == 200, name
        assert kind in response.headers["Content-Type"]
    assert (await client.get("/static/web/nope.css")).status == 404
    # No escaping the static folder.
    assert (await client.get("/static/web/../pages.py")).status in {403, 404}


async def test_signin_page_language_order(client: TestClient) -> None:
    async def title(**kwargs: object) -> str:
        response = await client.get("/login", **kwargs)  # type: ignore[arg-type]
        assert response.status == 200
        text = await response.text()
        found = re.search(r"<title>(.*?)</title>", text)
        assert found
        return found.group(1)

    assert (await title()).startswith("Entrada")  # default Catalan
    assert (await title(headers={"Accept-Language": "en-GB,en"})).startswith("Sign in")
    assert (await title(headers={"Accept-Language": "en", "Cookie": "ta_lang=es"})).startswith(
        "Entrada"
    )
    assert (await title(params={"lang": "en"}, headers={"Cookie": "ta_lang=es"})).startswith(
        "Sign in"
    )
    assert (await title(params={"lang": "xx"})).startswith("Entrada")


async def test_pages_are_not_cached_and_have_a_strict_policy(client: TestClient) -> None:
    response = await client.get("/login", params={"lang": "en"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Language"] == "en"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    text = await response.text()
    # No external resources anywhere.
    assert "http://" not in text
    assert "https://" not in text
    data = re.search(r'<script id="ta-data" type="application/json">(.*?)</script>', text)
    assert data
    assert json.loads(data.group(1))["home_by_role"]["operator"] == "/console"


def test_area_pages_extend_the_shell(tmp_path: Path) -> None:
    (tmp_path / "hello.html").write_text(
        '{% extends "base.html" %}{% block main %}<p id="x">{{ t("hello", name=who) }}</p>'
        "<p>{{ t('sign_out') }}</p>{% endblock %}",
        encoding="utf-8",
    )
    catalog = Catalog({"hello": {"ca": "Hola {name}", "es": "Hola {name}", "en": "Hi {name}"}})
    pages = Pages(tmp_path, catalog)
    user = PageUser(1, "anna", "operator", "en", "Anna Puig")
    html = pages.render_text(
        "hello.html",
        "en",
        {"who": "<b>Joan</b>", "page_data": {"x": "</script><script>alert(1)"}},
        user=user,
        js_texts=["hello", "conn_open"],
    )
    # Context is escaped; the area's text and the shell's text both resolve.
    assert '<p id="x">Hi &lt;b&gt;Joan&lt;/b&gt;</p>' in html
    assert "Sign out" in html
    # The role is a span of its own: the console hides it on a laptop (issue 23).
    assert 'Anna Puig<span class="who-role"> · Operator</span>' in html
    assert "</script><script>alert(1)" not in html
    texts = re.search(r'<script id="ta-texts" type="application/json">(.*?)</script>', html)
    assert texts
    # The keys asked for, and the date fields' texts every page's script gets (ADR 0172).
    english = WEB_CATALOG.for_language("en")
    shell = {key: english[key] for key in SHELL_JS_KEYS}
    assert "df_date_pattern" in shell
    assert json.loads(texts.group(1)) == {"hello": "Hi {name}", "conn_open": "Live", **shell}


def test_unknown_texts_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("{{ t('no_such_key') }}", encoding="utf-8")
    (tmp_path / "undefined.html").write_text("{{ nothing_here }}", encoding="utf-8")
    pages = Pages(tmp_path)
    with pytest.raises(MissingTranslation):
        pages.render_text("bad.html", "ca")
    with pytest.raises(MissingTranslation):
        pages.render_text("base.html", "ca", js_texts=["no_such_key"])
    with pytest.raises(jinja2.UndefinedError):
        pages.render_text("undefined.html", "ca")
