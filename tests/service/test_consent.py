"""Consent to the social record in the service lifecycle (SQLite and PostgreSQL): the
service and device events of a resident without it never reach the outbox, and the centre
withdraws or gives it on the resident's behalf, with a reason, audited."""

from __future__ import annotations

from datetime import timedelta
from html import unescape
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry
from hub.outbox import OutboxRow
from tests.hub.fixtures import TEST_PASSWORD
from tests.service.helpers import Client, install, post, submit

Headers = Any


async def outbox_rows(
    sessionmaker: async_sessionmaker[AsyncSession], resident_id: int | None = None
) -> list[tuple[str, str]]:
    """(kind, state) of the outbox rows, oldest first (of one resident if given)."""
    query = select(OutboxRow.kind, OutboxRow.state).order_by(OutboxRow.id)
    if resident_id is not None:
        query = query.where(OutboxRow.resident_id == str(resident_id))
    async with sessionmaker() as session:
        return [(k, s) for k, s in (await session.execute(query)).all()]


async def _active_service(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    auth_headers: Headers,
    *,
    social_record: bool,
) -> tuple[str, int]:
    """A referral taken to active (gateway, pendant, tablet reported); reference, resident."""
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(client, consent_social_record=social_record)
    order_id = await install(client, sessions, coordinator, installer, reference, clock())
    detail = await post(client, f"/api/service/work-orders/{order_id}/confirm", installer)
    assert detail["service_state"] == "active"
    service = await (
        await client.get(f"/api/service/referrals/{reference}", headers=coordinator)
    ).json()
    return reference, int(service["resident_id"])


def _resume_on(clock: ManualClock) -> str:
    return (clock() + timedelta(days=10)).date().isoformat()


async def _run_the_service(
    client: Client, reference: str, clock: ManualClock, auth_headers: Headers
) -> None:
    """A device added and one removed, a hospital stay, back home, discharged."""
    installer = await auth_headers(Role.INSTALLER)
    coordinator = await auth_headers(Role.COORDINATOR)
    base = f"/api/service/referrals/{reference}"
    smoke = f"sm-{reference.lower()}"
    await post(client, f"{base}/devices", installer, {"kind": "smoke_detector", "device_id": smoke})
    removed = await client.delete(f"{base}/devices/{smoke}", headers=installer)
    assert removed.status == 200, await removed.text()
    await post(
        client,
        f"{base}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": _resume_on(clock)},
    )
    await post(client, f"{base}/resume", coordinator)
    await post(client, f"{base}/discharge", coordinator, {"reason": "withdrew"})


async def test_without_consent_no_service_or_device_event_enters_the_outbox(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    reference, resident = await _active_service(
        hub_client, hub_sessionmaker, hub_clock, auth_headers, social_record=False
    )
    await _run_the_service(hub_client, reference, hub_clock, auth_headers)
    assert await outbox_rows(hub_sessionmaker) == []
    # The same life with consent fills the outbox: the producers really ran.
    other, resident = await _active_service(
        hub_client, hub_sessionmaker, hub_clock, auth_headers, social_record=True
    )
    await _run_the_service(hub_client, other, hub_clock, auth_headers)
    kinds = [k for k, _ in await outbox_rows(hub_sessionmaker, resident)]
    assert kinds.count("service") == 4  # active, suspended, active, ended
    assert kinds.count("device") == 3 + 2  # three installed; the smoke detector in and out


async def test_the_centre_withdraws_consent_and_nothing_more_is_sent(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    reference, resident = await _active_service(
        hub_client, hub_sessionmaker, hub_clock, auth_headers, social_record=True
    )
    waiting = await outbox_rows(hub_sessionmaker, resident)
    assert waiting
    assert all(state == "pending" for _, state in waiting)
    url = f"/api/service/referrals/{reference}/consent/social-record?lang=en"

    for role in (Role.INSTALLER, Role.OPERATOR, Role.FAMILY, Role.SUPERVISOR):
        refused = await hub_client.post(
            url, json={"given": False, "reason": "a good reason"}, headers=await auth_headers(role)
        )
        assert refused.status == 403, role
    social_worker = await auth_headers(Role.SOCIAL_WORKER, username="sonia")
    for body, status, code in (
        ({"given": False}, 422, "consent_reason_required"),
        ({"given": False, "reason": " ok  "}, 422, "consent_reason_required"),
        ({"given": "no", "reason": "a good reason"}, 400, "invalid_field"),
        ({"reason": "a good reason"}, 400, "invalid_field"),
    ):
        resp = await hub_client.post(url, json=body, headers=social_worker)
        assert resp.status == status, body
        answer = await resp.json()
        assert answer["error"] == code
    assert "at least 5 characters" in answer["message"] or code == "invalid_field"
    missing = await hub_client.post(
        "/api/service/referrals/TA-2026-ZZZZZZ/consent/social-record",
        json={"given": False, "reason": "a good reason"},
        headers=social_worker,
    )
    assert missing.status == 404

    hub_clock.advance(timedelta(days=3))
    social_worker = await auth_headers(Role.SOCIAL_WORKER, username="sonia2")
    resp = await hub_client.post(
        url, json={"given": False, "reason": "She told me at the review"}, headers=social_worker
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["social_record"] == {
        "given": False,
        "changed_at": hub_clock().isoformat(),
        "withheld_events": len(waiting),
    }
    assert {s for _, s in await outbox_rows(hub_sessionmaker, resident)} == {"withdrawn"}
    coordinator = await auth_headers(Role.COORDINATOR, username="carles")
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": _resume_on(hub_clock)},
    )
    assert len(await outbox_rows(hub_sessionmaker, resident)) == len(waiting)  # nothing new

    # The referral page says so, in the reader's language.
    page = await hub_client.get(f"/service/referrals/{reference}?lang=en", headers=coordinator)
    html = unescape(await page.text())
    assert "Has not agreed to the social record: nothing is sent to it." in html
    assert "Record consent to the social record" in html

    # Given again: from now on events go.
    again = await hub_client.post(
        url, json={"given": True, "reason": "Signed the form again"}, headers=coordinator
    )
    assert again.status == 200
    await post(hub_client, f"/api/service/referrals/{reference}/resume", coordinator)
    rows = await outbox_rows(hub_sessionmaker, resident)
    assert rows[-1] == ("service", "pending")
    assert [s for _, s in rows[:-1]] == ["withdrawn"] * len(waiting)

    async with hub_sessionmaker() as session:
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("consent.social_record.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(a.actor, a.action, a.details["reason"]) for a in audit] == [
        ("sonia2", "consent.social_record.withdraw", "She told me at the review"),
        ("carles", "consent.social_record.give", "Signed the form again"),
    ]
    assert all(a.object == f"resident:{resident}" for a in audit)


async def test_consent_of_a_referral_without_a_resident_yet(
    hub_client: Client, auth_headers: Headers
) -> None:
    """Before the assessment creates the resident, the referral keeps the answer."""
    reference, _ = await submit(hub_client, consent_social_record=True)
    coordinator = await auth_headers(Role.COORDINATOR)
    resp = await hub_client.post(
        f"/api/service/referrals/{reference}/consent/social-record",
        json={"given": False, "reason": "Phoned to say no"},
        headers=coordinator,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["social_record"]["given"] is False
    detail = await (
        await hub_client.get(f"/api/service/referrals/{reference}", headers=coordinator)
    ).json()
    assert detail["consent"]["wsocial_export"] is False


async def test_the_centre_changes_the_circle_on_the_residents_behalf(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
    make_user: Any,
) -> None:
    from hub.family.models import CircleLink

    coordinator = await auth_headers(Role.COORDINATOR, username="carme")
    references = []
    for name in ("Núria Puig i Soler", "Pere Mas"):
        reference, _ = await submit(hub_client, person_name=name, birth_date="1940-01-01")
        detail = await post(
            hub_client,
            f"/api/service/referrals/{reference}/assess",
            coordinator,
            {"care_level": "basic", "confirm_new_person": True},
        )
        references.append((reference, int(detail["resident_id"])))
    (mine, resident), (_, other) = references
    anna = await make_user(Role.FAMILY, username="anna-c", display_name="Anna")
    async with hub_sessionmaker() as session:
        link = CircleLink(
            resident_id=resident,
            member=f"u:{anna.id}",
            relationship_="filla",
            consent="alarms",
            created_at=hub_clock(),
        )
        elsewhere = CircleLink(
            resident_id=other,
            member=f"u:{anna.id}",
            relationship_="neboda",
            consent="",
            created_at=hub_clock(),
        )
        session.add_all([link, elsewhere])
        await session.commit()
    url = f"/api/service/referrals/{mine}/circle/{link.id}"
    good = {"consent": ["activity", "agenda"], "reason": "Asked at the review"}
    for role in (Role.INSTALLER, Role.OPERATOR, Role.FAMILY, Role.SUPERVISOR):
        refused = await hub_client.put(url, json=good, headers=await auth_headers(role))
        assert refused.status == 403, role
    for body, status, code in (
        ({"consent": ["agenda"]}, 422, "consent_reason_required"),
        ({"consent": ["photos"], "reason": "Asked at the review"}, 400, "consent_invalid"),
        ({"consent": "agenda", "reason": "Asked at the review"}, 400, "consent_invalid"),
    ):
        resp = await hub_client.put(url, json=body, headers=coordinator)
        assert resp.status == status, body
        assert (await resp.json())["error"] == code
    for wrong in (
        f"/api/service/referrals/{mine}/circle/{elsewhere.id}",  # another resident's member
        f"/api/service/referrals/{mine}/circle/999999",
        f"/api/service/referrals/{mine}/circle/abc",
        f"/api/service/referrals/TA-2026-ZZZZZZ/circle/{link.id}",
    ):
        assert (await hub_client.put(wrong, json=good, headers=coordinator)).status == 404
    ok = await hub_client.put(url, json=good, headers=coordinator)
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["consent"] == ["activity", "agenda"]
    page = await hub_client.get(f"/service/referrals/{mine}?lang=en", headers=coordinator)
    html = unescape(await page.text())
    assert "Family circle: who may see what" in html
    assert "Take Anna out of the circle" in html

    assert (await hub_client.delete(url, headers=coordinator)).status == 422  # no reason
    gone = await hub_client.delete(url, json={"reason": "Court order"}, headers=coordinator)
    assert gone.status == 200
    assert (
        await hub_client.delete(url, json={"reason": "again!"}, headers=coordinator)
    ).status == 404
    async with hub_sessionmaker() as session:
        assert await session.get(CircleLink, link.id) is None
        assert await session.get(CircleLink, elsewhere.id) is not None
        audit = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(("family.consent_change", "family.link_remove")))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [
        (a.actor, a.action, a.details["reason"], a.details["on_behalf_of_resident"]) for a in audit
    ] == [
        ("carme", "family.consent_change", "Asked at the review", True),
        ("carme", "family.link_remove", "Court order", True),
    ]


async def test_the_centre_makes_a_linking_code_on_the_residents_behalf(
    hub_client: Client, auth_headers: Headers, make_user: Any
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR, username="carme")
    waiting, _ = await submit(hub_client, person_name="Rosa Vidal", birth_date="1938-03-03")
    reference, _ = await submit(hub_client)
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "basic", "confirm_new_person": True},
    )
    url = f"/api/service/referrals/{reference}/circle/codes"
    good = {"consent": ["alarms", "activity"], "reason": "She asked by phone"}
    for role in (Role.INSTALLER, Role.OPERATOR, Role.FAMILY):
        assert (
            await hub_client.post(url, json=good, headers=await auth_headers(role))
        ).status == 403
    for body, status, code in (
        ({"consent": ["alarms"]}, 422, "consent_reason_required"),
        ({"consent": ["x"], "reason": "She asked by phone"}, 400, "consent_invalid"),
        ({"consent": "alarms", "reason": "She asked by phone"}, 400, "consent_invalid"),
    ):
        resp = await hub_client.post(url, json=body, headers=coordinator)
        assert resp.status == status, body
        assert (await resp.json())["error"] == code
    not_yet = await hub_client.post(
        f"/api/service/referrals/{waiting}/circle/codes", json=good, headers=coordinator
    )
    assert not_yet.status == 409
    made = await hub_client.post(url, json=good, headers=coordinator)
    assert made.status == 201, await made.text()
    code = await made.json()
    assert code["consent"] == ["activity", "alarms"]
    await make_user(Role.FAMILY, username="pau-s", display_name="Pau")
    login = await hub_client.post(
        "/api/auth/login", json={"username": "pau-s", "password": TEST_PASSWORD}
    )
    token = (await login.json())["access_token"]
    joined = await hub_client.post(
        "/api/family/links",
        json={"code": code["code"], "relationship": "fill"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert joined.status == 201
    assert (await joined.json())["consent"] == ["activity", "alarms"]
