"""The service pages render in every language, and staff pages need the right role."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from tests.service.helpers import Client, install, post, submit

Headers = Any


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ca", "Enviar la sol·licitud"),
        ("es", "Enviar la solicitud"),
        ("en", "Send the application"),
    ],
)
async def test_public_pages_in_each_language(hub_client: Client, lang: str, text: str) -> None:
    resp = await hub_client.get(f"/service/apply?lang={lang}")
    assert resp.status == 200
    assert text in await resp.text()
    assert (await hub_client.get(f"/service/status?lang={lang}")).status == 200
    assert (await hub_client.get("/static/service/service.js")).status == 200


async def test_staff_pages_need_sign_in_and_role(hub_client: Client, auth_headers: Headers) -> None:
    resp = await hub_client.get("/service", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/login?next=/service"
    family = await auth_headers(Role.FAMILY)
    assert (await hub_client.get("/service", headers=family)).status == 403
    installer = await auth_headers(Role.INSTALLER)
    resp = await hub_client.get("/service", headers=installer, allow_redirects=False)
    assert resp.headers["Location"] == "/service/work-orders"
    assert (await hub_client.get("/service/figures", headers=installer)).status == 403


async def test_staff_pages_show_the_lifecycle(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    waiting, _ = await submit(hub_client, person_name="Pere Vidal", birth_date="1938-02-02")
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    page = await (await hub_client.get("/service?lang=en", headers=coordinator)).text()
    assert waiting in page
    assert reference in page
    assert "Done on time" in page
    detail = await (
        await hub_client.get(f"/service/referrals/{reference}?lang=en", headers=coordinator)
    ).text()
    assert "Care plan (version 1)" in detail
    assert "Service active" in detail
    assert "Change the level" in detail
    assert "Edit the plan" in detail
    order = await (
        await hub_client.get(f"/service/work-orders/{order_id}?lang=ca", headers=installer)
    ).text()
    assert "Primer missatge rebut" in order
    assert "Instal·lació completa" in order
    figures = await (await hub_client.get("/service/figures?lang=es", headers=coordinator)).text()
    assert "Instalados en 72 h" in figures
    assert "100\xa0%" in figures  # Babel's percent sign for Spanish
    missing = await hub_client.get("/service/referrals/TA-2026-NOPE00", headers=coordinator)
    assert missing.status == 404


async def test_figures_count_an_overdue_installation_and_write_numbers_the_local_way(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    """Issue 23: "Installed within 72 h: 100 %" beside an installation past its 72 h."""
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    done, _ = await submit(hub_client)
    late, _ = await submit(hub_client, person_name="Pere Vidal", birth_date="1938-02-02")
    await install(hub_client, hub_sessionmaker, coordinator, installer, done, hub_clock())
    await post(
        hub_client,
        f"/api/service/referrals/{late}/assess",
        coordinator,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    await post(hub_client, f"/api/service/referrals/{late}/work-order", coordinator)
    hub_clock.advance(timedelta(hours=73))
    coordinator = await auth_headers(Role.COORDINATOR)  # the first sign-in has expired
    ca = await (await hub_client.get("/service/figures?lang=ca", headers=coordinator)).text()
    assert 'id="fig-install-share">50\xa0%' in ca
    assert "inclou 1 instal·lació pendent fora de termini" in ca
    assert re.search(r"\b0,\d\b", ca)  # the median hours with a decimal comma
    en = await (await hub_client.get("/service/figures?lang=en", headers=coordinator)).text()
    assert 'id="fig-install-share">50%' in en
    assert "counts 1 installation still waiting past 72 h" in en
    assert re.search(r"\b0\.\d\b", en)
    listing = await (await hub_client.get("/service?lang=en", headers=coordinator)).text()
    assert "Overdue" in listing  # the list and the figure now agree


@pytest.mark.parametrize(
    ("lang", "overdue"),
    [
        ("ca", "0 fora de termini (obertes més de 48 h)"),
        ("es", "0 fuera de plazo (abiertas más de 48 h)"),
        ("en", "0 overdue (open over 48 h)"),
    ],
)
async def test_the_open_faults_card_says_what_each_number_is(
    hub_client: Client, auth_headers: Headers, lang: str, overdue: str
) -> None:
    """Issue 23: the card showed an unlabelled "0 (0)"; the second number is said in words."""
    coordinator = await auth_headers(Role.COORDINATOR)
    page = await (await hub_client.get(f"/service/figures?lang={lang}", headers=coordinator)).text()
    assert 'id="fig-faults-open">0</p>' in page
    assert f'id="fig-faults-open-overdue">{overdue}</p>' in page
    assert "0 <span" not in page  # no bare number in brackets beside the count


async def test_the_overdue_faults_are_counted_once_on_the_figures_page(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    """Issue 23: a fault open past 48 h was counted on the open faults' card and again under
    the repair share beside it ("1 overdue" and "counts 1 fault still open past 48 h"); the
    number is said once, and the share's note says what it counts without repeating it."""
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    await install(hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock())
    await post(hub_client, "/api/service/work-orders/1/confirm", installer)
    fault = {"device_id": f"{reference.lower()}-1", "fault": "no_signal"}
    await post(hub_client, f"/api/service/referrals/{reference}/faults", installer, fault)
    hub_clock.advance(timedelta(hours=49))
    coordinator = await auth_headers(Role.COORDINATOR)  # the first sign-in has expired
    expected = {
        "ca": ("1 fora de termini (oberta més de 48 h)", "inclou les avaries obertes fora"),
        "es": ("1 fuera de plazo (abierta más de 48 h)", "incluye las averías abiertas fuera"),
        "en": ("1 overdue (open over 48 h)", "counts the faults still open past 48 h"),
    }
    for lang, (overdue, counted) in expected.items():
        page = await (
            await hub_client.get(f"/service/figures?lang={lang}", headers=coordinator)
        ).text()
        assert f'id="fig-faults-open-overdue">{overdue}</p>' in page
        share_note = re.search(r'id="fig-faults-share-overdue">([^<]*)</p>', page)
        assert share_note is not None, lang
        assert share_note.group(1).startswith(counted)
        assert not re.search(r"\d", share_note.group(1).replace("48 h", ""))  # no 2nd count
        assert page.count(overdue.split(" (")[0]) == 1, lang


@pytest.mark.parametrize(
    ("lang", "public", "automatic", "who"),
    [
        ("ca", "Formulari públic", "Automàtic", "Qui"),
        ("es", "Formulario público", "Automático", "Quién"),
        ("en", "Public form", "Automatic", "Who"),
    ],
)
async def test_the_history_says_who_in_words(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
    lang: str,
    public: str,
    automatic: str,
    who: str,
) -> None:
    """The referral's history names the public form and the hub in the reader's language,
    not by the words the code stores them under ("public", "system"); accounts by name."""
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    await install(hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock())
    page = await (
        await hub_client.get(f"/service/referrals/{reference}?lang={lang}", headers=coordinator)
    ).text()
    history = page[page.index('id="history"') :]
    history = history[: history.index("</table>")]
    cells = re.findall(r'<td class="muted" data-actor="([^"]*)">([^<]*)</td>', history)
    stored = {name for name, _ in cells}
    assert {"public", "system"} <= stored, cells  # a public application, activated by the hub
    shown = dict(cells)
    assert shown["public"] == public
    assert shown["system"] == automatic
    assert all(words == name for name, words in cells if name not in {"public", "system"})
    assert f'<th scope="col">{who}</th>' in history
    assert not re.search(r">\s*(public|system)\s*<", history)
