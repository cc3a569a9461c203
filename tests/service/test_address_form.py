"""How a person is addressed (issue 23, ADR 0170): a referral takes it, the referral and
the resident keep it; a form nobody stated is "unknown", phrased neutrally, and the
migration gives every existing person that."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.db import make_engine, upgrade_to_head
from hub.db.migrate import downgrade_to, upgrade_to
from hub.db.models import AuditEntry, Resident
from tests.service.helpers import Client, post, submit

Headers = object


async def test_an_unknown_form_of_address_is_refused(hub_client: Client) -> None:
    from tests.service.helpers import application

    resp = await hub_client.post(
        "/api/service/applications", json=application(address_form="senyora")
    )
    assert resp.status == 422
    body = await resp.json()
    assert "address_form" in str(body)
    assert "err_choice" in str(body) or "choice" in str(body).lower()


@pytest.mark.parametrize("form", ["feminine", "masculine", "neutral", None])
async def test_the_referral_and_the_resident_keep_it(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: object,
    form: str | None,
) -> None:
    """The referral keeps the form (not stated: "unknown") and the resident made at
    assessment takes it."""
    changes = {} if form is None else {"address_form": form}
    reference, _ = await submit(hub_client, **changes)
    coordinator = await auth_headers(Role.COORDINATOR)  # type: ignore[operator]
    detail = await (
        await hub_client.get(f"/api/service/referrals/{reference}", headers=coordinator)
    ).json()
    assert detail["address_form"] == (form or "unknown")
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/assess",
        coordinator,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    async with hub_sessionmaker() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.name == "Núria Puig i Soler")
        )
    assert resident is not None
    assert resident.address_form == (form or "unknown")


async def test_the_migration_keeps_every_person_and_states_no_form(
    empty_database_url: str,
) -> None:
    await upgrade_to(empty_database_url, "ingest_0002")
    engine = make_engine(empty_database_url)
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO homes (id, address, abss_area, access_notes, created_at)"
                    " VALUES (1, 'x', '', '', :at)"
                ),
                {"at": at},
            )
            await conn.execute(
                text(
                    "INSERT INTO residents (id, home_id, name, language, medical_notes,"
                    " lives_alone, consent, created_at)"
                    " VALUES (1, 1, 'Montserrat', 'ca', 'Diabetis', true, '{}', :at)"
                ),
                {"at": at},
            )
            await conn.execute(
                text("INSERT INTO service_referrals (reference, check_hash, state, applicant_kind,"
                     " applicant_name, applicant_phone, applicant_email, referred_by,"
                     " person_name, person_key, id_document, phone, language, street, postcode,"
                     " municipality, abss_area, lives_alone, mobility, falls_last_year,"
                     " health_notes, social_notes, contacts, consent, possible_duplicates,"
                     " referred_at, updated_at) VALUES ('TA-1', 'h', 'referred', 'relative', '',"
                     " '', '', 'public', 'Pere', 'p', '', '', 'es', 's', '08012', 'B', '', true,"
                     " 'independent', 0, '', '', '[]', '{}', '[]', :at, :at)"),
                {"at": at},
            )  # fmt: skip
        await upgrade_to_head(empty_database_url)
        async with engine.connect() as conn:
            resident = (await conn.execute(text(
                "SELECT name, medical_notes, lives_alone, address_form FROM residents"
            ))).one()  # fmt: skip
            referral = (await conn.execute(text(
                "SELECT person_name, language, address_form FROM service_referrals"
            ))).one()  # fmt: skip
        assert tuple(resident) == ("Montserrat", "Diabetis", True, "unknown")
        assert tuple(referral) == ("Pere", "es", "unknown")
        await downgrade_to(empty_database_url, "ingest_0002")
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM residents"))).scalars().all()
            columns = (await conn.execute(text("SELECT * FROM residents"))).keys()
        assert names == ["Montserrat"]
        assert "address_form" not in columns
    finally:
        await engine.dispose()


async def _assessed(client: Client, headers: dict[str, str], **changes: object) -> str:
    reference, _ = await submit(client, **changes)
    await post(
        client,
        f"/api/service/referrals/{reference}/assess",
        headers,
        {"care_level": "basic", "abss_area": "BCN-03", "confirm_new_person": True},
    )
    return reference


async def test_a_coordinator_or_a_supervisor_changes_it_on_the_resident_too_and_audited(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: object,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR, username="laia")  # type: ignore[operator]
    supervisor = await auth_headers(Role.SUPERVISOR, username="marc")  # type: ignore[operator]
    reference = await _assessed(hub_client, coordinator, address_form="feminine")
    path = f"/api/service/referrals/{reference}/address-form"
    body = await post(hub_client, path, coordinator, {"address_form": "masculine"})
    assert body["result"] == {"address_form": "masculine", "was": "feminine"}
    await post(hub_client, path, supervisor, {"address_form": "neutral"})
    async with hub_sessionmaker() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.name == "Núria Puig i Soler")
        )
        entries = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "service.address_form")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert resident is not None
    assert resident.address_form == "neutral"
    assert [(e.actor, e.object, e.details) for e in entries] == [
        ("laia", f"service:{reference}", {"from": "feminine", "to": "masculine"}),
        ("marc", f"service:{reference}", {"from": "masculine", "to": "neutral"}),
    ]


async def test_a_bad_form_of_address_is_refused_with_a_clear_error(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    auth_headers: object,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)  # type: ignore[operator]
    reference = await _assessed(hub_client, coordinator, address_form="feminine")
    path = f"/api/service/referrals/{reference}/address-form?lang=ca"
    refused = await post(hub_client, path, coordinator, {"address_form": "senyora"}, status=422)
    assert refused["errors"] == [
        {"field": "address_form", "code": "err_choice", "message": "Trieu una de les opcions."}
    ]
    await post(hub_client, path, coordinator, {}, status=400)  # missing is not "unknown"
    await post(hub_client, path, coordinator, {"address_form": 3}, status=400)
    installer = await auth_headers(Role.INSTALLER)  # type: ignore[operator]
    await post(hub_client, path, installer, {"address_form": "masculine"}, status=403)
    async with hub_sessionmaker() as session:
        resident = await session.scalar(
            select(Resident).where(Resident.name == "Núria Puig i Soler")
        )
        audited = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "service.address_form")
        )
    assert resident is not None
    assert resident.address_form == "feminine"
    assert audited is None


async def test_the_referral_page_shows_it_with_the_words_that_follow_it(
    hub_client: Client, auth_headers: object
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)  # type: ignore[operator]
    reference, _ = await submit(hub_client, address_form="masculine")
    page = await hub_client.get(f"/service/referrals/{reference}?lang=ca", headers=coordinator)
    html = await page.text()
    assert '<dd id="svc-address-form">Masculí (senyor)</dd>' in html
    assert '<dd id="svc-lives-alone">Viu sol</dd>' in html
    assert 'id="address-form-form"' in html
    es = await (
        await hub_client.get(f"/service/referrals/{reference}?lang=es", headers=coordinator)
    ).text()
    assert '<dd id="svc-lives-alone">Vive solo</dd>' in es
