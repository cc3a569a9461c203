"""The lifecycle API on SQLite and PostgreSQL: every transition and every refused one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry, Contact, Home, Resident
from hub.service.outbox import stored_events
from hub.service.queries import is_service_paused
from integrations.wsocial.events import DeviceEvent, ServiceEvent
from tests.service.helpers import Client, application, install, post, submit

Headers = Any


async def outbox_events(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Any]:
    async with sessionmaker() as session:
        return await stored_events(session)


async def test_public_application_and_status_page(hub_client: Client) -> None:
    reference, check = await submit(hub_client)
    resp = await hub_client.post(
        "/api/service/applications/status",
        json={"reference": reference.lower(), "check": check},
        headers={"Accept-Language": "es"},
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["state"] == "referred"
    assert body["state_text"] == "Solicitud recibida"
    assert set(body) == {"reference", "state", "state_text", "updated_at"}  # no personal data
    wrong = await hub_client.post(
        "/api/service/applications/status", json={"reference": reference, "check": "000000x"}
    )
    unknown = await hub_client.post(
        "/api/service/applications/status", json={"reference": "TA-2026-ZZZZZZ", "check": check}
    )
    assert wrong.status == unknown.status == 404
    assert (await wrong.json()) == (await unknown.json())


async def test_invalid_application_is_refused_with_messages_and_nothing_stored(
    hub_client: Client, auth_headers: Headers
) -> None:
    resp = await hub_client.post(
        "/api/service/applications",
        json=application(postcode="8014", consent_data=False, contacts=[]),
        headers={"Accept-Language": "ca"},
    )
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "referral_invalid"
    by_field = {e["field"]: e["message"] for e in body["errors"]}
    assert by_field["postcode"] == "El codi postal té 5 xifres."
    assert set(by_field) == {"postcode", "consent_data", "contacts"}
    not_json = await hub_client.post("/api/service/applications", data="nope")
    assert not_json.status == 400
    listing = await hub_client.get(
        "/api/service/referrals", headers=await auth_headers(Role.COORDINATOR)
    )
    assert (await listing.json())["services"] == []


async def test_the_public_form_does_not_tell_who_is_already_known(
    hub_client: Client, auth_headers: Headers
) -> None:
    """Issue 19: a known DNI or name + birth date got 409 (or a duplicate flag), which told
    anyone who is a client. Now every application gets the same answer and is kept."""
    coordinator = await auth_headers(Role.COORDINATOR)
    first = await hub_client.post(
        "/api/service/applications", json=application(id_document="12345678-z")
    )
    by_name = await hub_client.post(
        "/api/service/applications",
        json=application(person_name="NURIA PUIG I SOLER", applicant_phone="+34 611 000 111"),
    )
    by_document = await hub_client.post(
        "/api/service/applications",
        json=application(person_name="Nuri Puig", birth_date="1941-05-18", id_document="12345678Z"),
    )
    stranger = await hub_client.post(
        "/api/service/applications",
        json=application(person_name="Pere Serra", birth_date="1939-01-02"),
    )
    answers = [first, by_name, by_document, stranger]
    bodies = [await r.json() for r in answers]
    assert [r.status for r in answers] == [201] * 4, bodies
    assert all(set(b) == {"reference", "check_value", "state"} for b in bodies), bodies
    assert all(b["state"] == "referred" for b in bodies)
    assert len({b["reference"] for b in bodies}) == 4
    original = bodies[0]["reference"]
    # Nothing is lost: both repeats are stored, flagged with the open referral.
    for body in bodies[1:3]:
        detail = await (
            await hub_client.get(f"/api/service/referrals/{body['reference']}", headers=coordinator)
        ).json()
        assert detail["possible_duplicates"] == [[original, "open_referral"]], detail
    repeat = f"/api/service/referrals/{bodies[1]['reference']}"
    repeat_detail = await (await hub_client.get(repeat, headers=coordinator)).json()
    assert repeat_detail["applicant_phone"] == "+34 611 000 111"
    # The centre reconciles: the repeat cannot be assessed as it is; it can be withdrawn.
    body = await post(
        hub_client, f"{repeat}/assess", coordinator, {"care_level": "basic"}, status=409
    )
    assert body["error"] == "duplicate_unresolved"
    await post(hub_client, f"{repeat}/discharge", coordinator, {"reason": "withdrew"})
    # Staff may know: their own referral of the same person is refused with the reference.
    staff = await hub_client.post(
        "/api/service/referrals",
        json=application(applicant_kind="social_worker"),
        headers=await auth_headers(Role.SOCIAL_WORKER),
    )
    assert staff.status == 409
    assert (await staff.json())["existing"] == original


async def test_the_public_form_does_not_tell_who_is_a_resident(
    hub_client: Client, hub_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with hub_sessionmaker() as session, session.begin():
        home = Home(address="Carrer Gran 1")
        session.add(home)
        await session.flush()
        session.add(
            Resident(home_id=home.id, name="Núria Puig i Soler", birth_date=date(1941, 5, 17))
        )
    known = await hub_client.post("/api/service/applications", json=application())
    unknown = await hub_client.post(
        "/api/service/applications", json=application(person_name="Pere Serra")
    )
    assert known.status == unknown.status == 201
    assert set(await known.json()) == set(await unknown.json()) == {
        "reference", "check_value", "state",
    }  # fmt: skip


async def test_full_lifecycle_with_outbox_and_audit(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    order_id = await install(
        hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock()
    )
    hub_clock.advance(timedelta(hours=1))
    installer = await auth_headers(Role.INSTALLER)
    coordinator = await auth_headers(Role.COORDINATOR)
    detail = await post(hub_client, f"/api/service/work-orders/{order_id}/confirm", installer)
    assert detail["missing"] == []
    assert detail["service_state"] == "active"
    assert detail["due_status"] == "done_on_time"
    assert all(d["first_message_at"] for d in detail["devices"])

    service = await (
        await hub_client.get(f"/api/service/referrals/{reference}", headers=coordinator)
    ).json()
    resident_id = service["resident_id"]
    assert service["state"] == "active"
    assert [h["action"] for h in service["history"]] == [
        "refer",
        "assess",
        "order",
        "start_installation",
        "activate",
    ]
    async with hub_sessionmaker() as session:
        resident = await session.get(Resident, resident_id)
        assert resident is not None
        assert resident.name == "Núria Puig i Soler"
        home = await session.get(Home, resident.home_id)
        assert home is not None
        assert home.abss_area == "BCN-03"
        assert home.key_safe_code_enc not in (None, "4321")  # stored encrypted
        contacts = list(
            await session.scalars(select(Contact).where(Contact.resident_id == resident_id))
        )
        assert [c.name for c in contacts] == ["Marta Puig"]

    hub_clock.advance(timedelta(days=1))
    coordinator = await auth_headers(Role.COORDINATOR)
    resume_on = (hub_clock() + timedelta(days=10)).date().isoformat()
    await post(
        hub_client,
        f"/api/service/referrals/{reference}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": resume_on},
    )
    async with hub_sessionmaker() as session:
        assert await is_service_paused(session, resident_id, hub_clock())
        assert not await is_service_paused(session, resident_id, hub_clock() - timedelta(hours=1))
    paused = await hub_client.get(
        f"/api/service/residents/{resident_id}/paused", headers=await auth_headers(Role.OPERATOR)
    )
    assert (await paused.json()) == {"paused": True}
    hub_clock.advance(timedelta(days=3))
    coordinator = await auth_headers(Role.COORDINATOR)
    await post(hub_client, f"/api/service/referrals/{reference}/resume", coordinator)
    hub_clock.advance(timedelta(days=30))
    coordinator = await auth_headers(Role.COORDINATOR)
    done = await post(
        hub_client,
        f"/api/service/referrals/{reference}/discharge",
        coordinator,
        {"reason": "moved_to_care_home"},
    )
    assert done["state"] == "discharged"
    assert len(done["result"]["devices_to_collect"]) == 3  # basic: gateway, pendant, tablet

    events = await outbox_events(hub_sessionmaker)
    statuses = [e.status for e in events if isinstance(e, ServiceEvent)]
    assert statuses == ["active", "suspended", "active", "ended"]
    ended = [e for e in events if isinstance(e, ServiceEvent)][-1]
    assert ended.discharge_reason == "moved_to_care_home"
    assert ended.service_id == reference
    assert ended.resident_id == str(resident_id)
    assert sum(isinstance(e, DeviceEvent) for e in events) == 3
    async with hub_sessionmaker() as session:
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object == f"service:{reference}")
            )
        )
    assert {
        "service.refer",
        "service.assess",
        "service.activate",
        "service.suspend",
        "service.resume",
        "service.discharge",
        "service.first_message",
    } <= actions


async def test_invalid_transitions_are_refused(
    hub_client: Client, hub_sessionmaker: async_sessionmaker[AsyncSession], auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    base = f"/api/service/referrals/{reference}"
    body = await post(hub_client, f"{base}/work-order", coordinator, status=409)
    assert body["error"] == "assessment_required"
    await post(
        hub_client,
        f"{base}/suspend",
        coordinator,
        {"reason": "hospital_stay", "resume_on": "2099-01-01"},
        status=409,
    )
    await post(hub_client, f"{base}/assess", coordinator, {"care_level": "platinum"}, status=409)
    await post(hub_client, f"{base}/assess", coordinator, {"care_level": "medium"})
    await post(hub_client, f"{base}/assess", coordinator, {"care_level": "medium"}, status=409)
    order = await post(hub_client, f"{base}/work-order", coordinator)
    order_id = order["result"]["work_order"]
    # Pairing before the installer started: refused.
    await post(
        hub_client,
        f"/api/service/work-orders/{order_id}/devices",
        installer,
        {"kind": "pendant", "device_id": "pd-1"},
        status=409,
    )
    await post(hub_client, f"/api/service/work-orders/{order_id}/start", installer)
    bad_id = await post(
        hub_client,
        f"/api/service/work-orders/{order_id}/devices",
        installer,
        {"kind": "pendant", "device_id": "has/slash"},
        status=422,
    )
    assert bad_id["error"] == "invalid_device_id"
    not_installer = await post(
        hub_client, f"/api/service/work-orders/{order_id}/items/test_alarm", installer, status=409
    )
    assert "not an installer item" in not_installer["detail"]
    for reason in (None, "", "bored"):
        refused = await post(
            hub_client, f"{base}/discharge", coordinator, {"reason": reason}, status=422
        )
        assert refused["error"] == "reason_required"
    await post(hub_client, f"{base}/discharge", coordinator, {"reason": "withdrew"})
    await post(hub_client, f"{base}/discharge", coordinator, {"reason": "withdrew"}, status=409)
    await post(
        hub_client,
        "/api/service/referrals/TA-2026-NOPE00/assess",
        coordinator,
        {"care_level": "basic"},
        status=404,
    )
    # Roles: an installer does not assess; nobody unsigned reads the list.
    await post(hub_client, f"{base}/assess", installer, {"care_level": "basic"}, status=403)
    assert (await hub_client.get("/api/service/referrals")).status == 401
    # Nothing of the refused calls was stored.
    service = await (await hub_client.get(base, headers=coordinator)).json()
    assert [h["action"] for h in service["history"]] == [
        "refer",
        "assess",
        "order",
        "start_installation",
        "discharge",
    ]


async def test_resident_duplicate_is_flagged_and_must_be_resolved(
    hub_client: Client, hub_sessionmaker: async_sessionmaker[AsyncSession], auth_headers: Headers
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    async with hub_sessionmaker() as session, session.begin():
        home = Home(address="Carrer Gran 1")
        session.add(home)
        await session.flush()
        resident = Resident(
            home_id=home.id,
            name="NÚRIA PUIG I SOLER",
            birth_date=application()["birth_date"] and None,
        )
        session.add(resident)
    async with hub_sessionmaker() as session, session.begin():
        from datetime import date

        stored = await session.get(Resident, resident.id)
        assert stored is not None
        stored.birth_date = date(1941, 5, 17)
    # Staff typing the referral are told at once; the public form is not (see above).
    resp = await hub_client.post(
        "/api/service/referrals",
        json=application(applicant_kind="social_worker"),
        headers=await auth_headers(Role.SOCIAL_WORKER),
    )
    assert (await resp.json())["flagged_as_possible_duplicate"] is True
    reference = (await resp.json())["reference"]
    base = f"/api/service/referrals/{reference}"
    detail = await (await hub_client.get(base, headers=coordinator)).json()
    assert detail["possible_duplicates"] == [
        [f"resident:{resident.id}", "same_name_and_birth_date"]
    ]
    body = await post(
        hub_client, f"{base}/assess", coordinator, {"care_level": "basic"}, status=409
    )
    assert body["error"] == "duplicate_unresolved"
    linked = await post(
        hub_client,
        f"{base}/assess",
        coordinator,
        {"care_level": "basic", "link_resident_id": resident.id},
    )
    assert linked["resident_id"] == resident.id
    async with hub_sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Resident)) == 1


async def test_care_plan_versions_level_change_and_review(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    worker = await auth_headers(Role.SOCIAL_WORKER)
    reference, _ = await submit(hub_client)
    base = f"/api/service/referrals/{reference}"
    await post(
        hub_client, f"{base}/assess", worker, {"care_level": "basic", "confirm_new_person": True}
    )
    v2 = await post(
        hub_client,
        f"{base}/care-plan",
        worker,
        {"wellbeing_call_every_days": 7, "check_in_deadline": "10:30", "notes": "hard of hearing"},
    )
    assert v2["result"]["care_plan_version"] == 2
    bad = await post(
        hub_client, f"{base}/care-plan", worker, {"review_every_days": 900}, status=422
    )
    assert bad["error"] == "invalid_care_plan"
    for bad_value in (
        {"wellbeing_call_every_days": None},
        {"notes": 3},
        {"devices": "pendant"},
        {"wellbeing_call_every_days": True},
    ):
        typed = await post(hub_client, f"{base}/care-plan", worker, bad_value, status=422)
        assert typed["error"] == "invalid_care_plan"
    bad_time = await post(
        hub_client, f"{base}/care-plan", worker, {"check_in_deadline": "25:00"}, status=422
    )
    assert bad_time["error"] == "invalid_care_plan"
    v3 = await post(hub_client, f"{base}/care-level", worker, {"care_level": "high"})
    assert v3["care_level"] == "high"
    detail = await (await hub_client.get(base, headers=worker)).json()
    plans = detail["care_plans"]
    assert [p["version"] for p in plans] == [1, 2, 3]
    assert plans[0]["wellbeing_call_every_days"] == 30  # the old version is kept as it was
    assert plans[1]["check_in_deadline"] == "10:30"
    assert plans[2]["notes"] == "hard of hearing"
    assert "bed_sensor" in plans[2]["devices"]
    # A review only makes sense on a running service.
    await post(hub_client, f"{base}/review", worker, {"notes": "fine"}, status=409)


async def test_faults_become_maintenance_orders_with_48h_due(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    coordinator = await auth_headers(Role.COORDINATOR)
    installer = await auth_headers(Role.INSTALLER)
    reference, _ = await submit(hub_client)
    await install(hub_client, hub_sessionmaker, coordinator, installer, reference, hub_clock())
    await post(hub_client, "/api/service/work-orders/1/confirm", installer)
    device = f"{reference.lower()}-1"
    base = f"/api/service/referrals/{reference}"
    order = await post(
        hub_client, f"{base}/faults", installer, {"device_id": device, "fault": "no_signal"}
    )
    maintenance_id = order["result"]["maintenance_order"]
    await post(
        hub_client,
        f"{base}/faults",
        installer,
        {"device_id": "elsewhere", "fault": "no_signal"},
        status=404,
    )
    await post(
        hub_client,
        f"{base}/faults",
        installer,
        {"device_id": device, "fault": "grumpy"},
        status=409,
    )
    hub_clock.advance(timedelta(hours=49))
    installer = await auth_headers(Role.INSTALLER)
    coordinator = await auth_headers(Role.COORDINATOR)
    listing = await (await hub_client.get("/api/service/maintenance", headers=installer)).json()
    assert listing["orders"][0]["status"] == "overdue"
    repaired = await post(
        hub_client,
        f"/api/service/maintenance/{maintenance_id}/repair",
        installer,
        {"note": "new battery"},
    )
    assert repaired["status"] == "done_late"
    await post(
        hub_client, f"/api/service/maintenance/{maintenance_id}/repair", installer, status=409
    )
    figures = await (await hub_client.get("/api/service/figures", headers=coordinator)).json()
    assert figures["faults_repaired"] == 1
    assert figures["repaired_within_target_share"] == 0.0
    assert figures["active_by_level"] == {"basic": 1}
    assert figures["active_by_area"] == {"BCN-03": 1}
    assert figures["installations"] == 1
    assert figures["install_within_target_share"] == 1.0


async def test_two_writers_from_the_same_state_store_one_transition(
    hub_client: Client,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
    auth_headers: Headers,
) -> None:
    import pytest

    from hub.service import lifecycle as lc
    from hub.service import store

    reference, _ = await submit(hub_client)
    now = hub_clock()
    async with hub_sessionmaker() as first, hub_sessionmaker() as second:
        row_a = await store.get_service(first, reference)
        row_b = await store.get_service(second, reference)
        t_a = lc.discharge(await store.as_domain(first, row_a), "withdrew", now)
        t_b = lc.assess(await store.as_domain(second, row_b), "basic", now)
        await store.apply(first, row_a, t_a, "anna")
        await first.commit()
        with pytest.raises(store.ConcurrentChange):
            await store.apply(second, row_b, t_b, "joan")
        await second.rollback()
    detail = await (
        await hub_client.get(
            f"/api/service/referrals/{reference}", headers=await auth_headers(Role.COORDINATOR)
        )
    ).json()
    assert detail["state"] == "discharged"
    assert [h["action"] for h in detail["history"]] == ["refer", "discharge"]
