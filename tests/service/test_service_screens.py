"""The service pages as their users need them (issue 23): a work order that does not call a
tablet provisioned before it is paired, what the installer needs at the door, the list's
search, filters and New referral, and dates, phones and numbers in the reader's language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.service.checklist import mark_item, new_checklist, pair_device
from hub.service.errors import TabletNotPaired
from tests.instants import DEFAULT_START
from tests.service.helpers import Client, install, post, submit

Headers = Any

ACCESS = "Porter automàtic 3r 1a. Si no contesta, la veïna del 3r 2a té clau."


def test_tablet_provisioned_waits_for_the_tablet_to_be_paired() -> None:
    checklist = new_checklist(("gateway", "pendant", "tablet"))
    with pytest.raises(TabletNotPaired):
        mark_item(checklist, "tablet_provisioned", DEFAULT_START)
    paired = pair_device(checklist, "tablet", "tab-1", DEFAULT_START)
    done = mark_item(paired, "tablet_provisioned", DEFAULT_START)
    assert done.tablet_provisioned_at == DEFAULT_START
    # A plan without a tablet (a carephone home) ticks it as before.
    assert mark_item(new_checklist(("carephone",)), "tablet_provisioned", DEFAULT_START)


async def _ordered(
    client: Client, coordinator: Headers, installer: Headers, **assess: Any
) -> tuple[str, int]:
    reference, _ = await submit(
        client,
        phone="932184007",
        contacts=[
            {"name": "Pere Puig", "phone": "611234567", "relationship": "fill"},
            {"name": "Anna Puig", "phone": "+34600111222", "key_holder": True},
        ],
    )
    body = {"care_level": "basic", "abss_area": "BCN-06", "confirm_new_person": True, **assess}
    await post(client, f"/api/service/referrals/{reference}/assess", coordinator, body)
    order = await post(client, f"/api/service/referrals/{reference}/work-order", coordinator)
    order_id: int = order["result"]["work_order"]
    await post(client, f"/api/service/work-orders/{order_id}/start", installer)
    return reference, order_id


async def test_the_work_order_does_not_call_an_unpaired_tablet_provisioned(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    _, order_id = await _ordered(hub_client, coordinator, installer)
    page = await (
        await hub_client.get(f"/service/work-orders/{order_id}?lang=en", headers=installer)
    ).text()
    assert 'id="wo-tablet-first"' in page
    assert "Can be ticked once the tablet is paired" in page
    refused = await post(
        hub_client,
        f"/api/service/work-orders/{order_id}/items/tablet_provisioned?lang=ca",
        installer,
        status=409,
    )
    assert refused["error"] == "tablet_not_paired"
    assert "aparellar la tauleta" in refused["message"]
    await post(
        hub_client,
        f"/api/service/work-orders/{order_id}/devices",
        installer,
        {"kind": "tablet", "device_id": "tab-0001"},
    )
    ticked = await post(
        hub_client, f"/api/service/work-orders/{order_id}/items/tablet_provisioned", installer
    )
    assert ticked["items"]["tablet_provisioned"] is not None
    assert ticked["tablet_paired"] is True


async def test_the_installer_sees_what_is_needed_at_the_door(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    _, order_id = await _ordered(hub_client, coordinator, installer, access_notes=f"  {ACCESS} ")
    order = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    door = order["at_door"]
    assert door["phone"] == "932184007"
    assert door["access_notes"] == ACCESS
    assert door["has_key_safe"] is False
    # Key holders first, then the others in call order.
    assert [c["name"] for c in door["contacts"]] == ["Anna Puig", "Pere Puig"]
    assert door["contacts"][1]["relationship"] == "son"  # coded (ADR 0164)
    page = await (
        await hub_client.get(f"/service/work-orders/{order_id}?lang=ca", headers=installer)
    ).text()
    assert 'href="tel:+34932184007"' in page
    assert "Truca al 932 18 40 07" in page
    assert ACCESS in page
    assert 'href="tel:+34600111222">+34 600 11 12 22</a>' in page
    assert "Té claus" in page
    # The installer's list counts what is open with the plural the language needs.
    listing = await (await hub_client.get("/service/work-orders?lang=ca", headers=installer)).text()
    assert "Falten 7 punts" in listing


async def test_a_work_order_without_notes_or_phone_says_what_to_do(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "basic", "confirm_new_person": True},
    )
    order = await post(hub_client, f"/api/service/referrals/{reference}/work-order", coordinator)
    page = await (
        await hub_client.get(
            f"/service/work-orders/{order['result']['work_order']}?lang=en", headers=installer
        )
    ).text()
    assert "No home phone: call a contact" in page
    assert "No notes: call before you go" in page


async def test_access_notes_are_refused_when_too_long(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await submit(hub_client)
    resp = await hub_client.post(
        f"/api/service/referrals/{reference}/assess",
        json={"care_level": "basic", "confirm_new_person": True, "access_notes": "x" * 2001},
        headers=coordinator,
    )
    assert resp.status in (400, 422), await resp.text()


async def test_the_list_searches_filters_and_offers_a_new_referral(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    rosa, _ = await submit(
        hub_client, person_name="Rosa Martí Pons", birth_date="1940-02-14", id_document="12345678Z"
    )
    enric, _ = await submit(hub_client, person_name="Enric Roca", birth_date="1935-09-30")
    waiting, _ = await submit(hub_client, person_name="Montserrat Vidal", birth_date="1947-01-09")
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, rosa, hub_clock()
    )
    await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    resume = (hub_clock() + timedelta(days=10)).date().isoformat()
    await post(
        hub_client,
        f"/api/service/referrals/{rosa}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": resume},
    )
    await post(
        hub_client, f"/api/service/referrals/{enric}/discharge", coordinator, {"reason": "withdrew"}
    )

    # A suspended or discharged service says why and until when on its page.
    paused = await (
        await hub_client.get(f"/service/referrals/{rosa}?lang=en", headers=coordinator)
    ).text()
    assert "Service suspended since 14 Jan 2027: Hospital stay." in paused
    assert "Planned to resume on 24 Jan 2027" in paused
    ended = await (
        await hub_client.get(f"/service/referrals/{enric}?lang=ca", headers=coordinator)
    ).text()
    assert "Baixa el 14 de gen. del 2027. Motiu: Renúncia." in ended

    async def listing(query: str) -> str:
        resp = await hub_client.get(f"/service?lang=en&{query}", headers=coordinator)
        assert resp.status == 200
        return await resp.text()

    suspended = await listing("state=suspended")
    assert rosa in suspended
    assert enric not in suspended
    assert waiting not in suspended
    discharged = await listing("state=discharged")
    assert enric in discharged
    assert rosa not in discharged
    assert waiting in await listing("state=referred")
    assert 'data-filter="suspended" aria-current="true"' in suspended
    # Search by a word of the name (any case), the DNI, the reference; with a filter too.
    assert rosa in await listing("q=mart%C3%AD")
    assert enric not in await listing("q=mart%C3%AD")
    assert rosa in await listing("q=12345678z")
    assert enric in await listing(f"q={enric.lower()}")
    assert rosa not in await listing("q=rosa&state=discharged")
    nothing = await listing("q=100%25_")  # LIKE wildcards are searched as text
    assert 'id="no-match"' in nothing
    assert "100%_" in nothing
    # An unknown filter is refused, not silently shown as everything.
    assert (await hub_client.get("/service?state=asleep", headers=coordinator)).status == 400
    # New referral: for those who may refer, a staff form that posts to the staff API.
    assert 'href="/service/referrals/new"' in await listing("")
    form = await (
        await hub_client.get("/service/referrals/new?lang=ca", headers=coordinator)
    ).text()
    assert 'data-api="/api/service/referrals"' in form
    assert 'data-then="referred"' in form
    assert "Registrar la sol·licitud" in form
    supervisor = await auth_headers(Role.SUPERVISOR)
    assert (
        'href="/service/referrals/new"'
        not in await (await hub_client.get("/service", headers=supervisor)).text()
    )
    assert (await hub_client.get("/service/referrals/new", headers=supervisor)).status == 403


async def test_referral_page_dates_and_phones_in_the_readers_language(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await submit(hub_client, phone="932184007")
    ca = await (
        await hub_client.get(f"/service/referrals/{reference}?lang=ca", headers=coordinator)
    ).text()
    assert "17 de maig del 1941" in ca  # not 1941-05-17
    assert '<a href="tel:+34932184007">932 18 40 07</a>' in ca
    assert '<a href="tel:+34600111222">600 11 12 22</a>' in ca  # the contact's
    assert '<a href="tel:+34600111222">+34 600 11 12 22</a>' in ca  # the applicant's
    es = await (
        await hub_client.get(f"/service/referrals/{reference}?lang=es", headers=coordinator)
    ).text()
    assert "17 may 1941" in es
    assert "14 de gen. del 2027, 10:30" in ca  # the history: the test clock's start, Madrid
    # The list's narrow columns: day first, numeric, 24-hour, in each language's way.
    en = await (await hub_client.get("/service?lang=en", headers=coordinator)).text()
    assert "14/01/2027 10:30" in en
    ca_list = await (await hub_client.get("/service?lang=ca", headers=coordinator)).text()
    assert "14/1/2027 10:30" in ca_list


async def test_a_days_count_takes_the_plural_its_language_needs(
    hub_client: Client, auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    reference, _ = await submit(hub_client)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "high", "confirm_new_person": True},
    )
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/care-plan",
        coordinator,
        {"wellbeing_call_every_days": 1},
    )
    page = await (
        await hub_client.get(f"/service/referrals/{reference}?lang=ca", headers=coordinator)
    ).text()
    assert "<dd>1 dia</dd>" in page  # the daily call, not "1 dies"
    assert "<dd>180 dies</dd>" in page  # the high level's review
