"""The citizen visor through the real HTTP API: role, reason, audit, content, languages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.clock import ManualClock
from hub.db.models import AuditEntry
from hub.visor.demo import seed_visor_demo

Client = TestClient[Any, Any]
Headers = Callable[..., Awaitable[dict[str, str]]]


async def _seed(sessions: async_sessionmaker[AsyncSession], clock: ManualClock) -> int:
    async with sessions() as session:
        resident_id = await seed_visor_demo(session, clock())
        await session.commit()
    return resident_id


async def _audit(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == "visor.view")
        return list((await session.scalars(query)).all())


async def test_only_social_workers_may_look(hub_client: Client, auth_headers: Headers) -> None:
    anonymous = await hub_client.get("/visor", allow_redirects=False)
    assert anonymous.status == 302
    assert anonymous.headers["Location"].startswith("/login?next=/visor")
    for role in (Role.OPERATOR, Role.ADMIN, Role.FAMILY, Role.SUPERVISOR):
        headers = await auth_headers(role)
        assert (await hub_client.get("/visor", headers=headers)).status == 403
        posted = await hub_client.post(
            "/visor/view", data={"resident": "1", "reason": "follow_up"}, headers=headers
        )
        assert posted.status == 403
    ok = await hub_client.get("/visor?lang=en", headers=await auth_headers(Role.SOCIAL_WORKER))
    assert ok.status == 200
    html = await ok.text()
    assert "Reason for looking" in html
    assert 'src="https://' not in html  # no CDN
    assert ok.headers["Cache-Control"] == "no-store"


async def test_a_reason_is_required_and_refusals_are_not_audited(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    resident = await _seed(hub_sessionmaker, hub_clock)
    headers = await auth_headers(Role.SOCIAL_WORKER)
    cases = [
        ({"resident": str(resident), "reason": ""}, "Choose the reason for looking."),
        ({"resident": str(resident), "reason": "other", "note": "x"}, "at least 5 characters"),
        ({"resident": "abc", "reason": "follow_up"}, "digits only"),
        ({"resident": "999999", "reason": "follow_up"}, "There is no resident with this number."),
        ({"resident": str(resident), "reason": "curiosity"}, "Choose the reason"),
    ]
    for form, message in cases:
        resp = await hub_client.post("/visor/view?lang=en", data=form, headers=headers)
        assert resp.status == 400, form
        html = await resp.text()
        assert message in html, form
        assert "Montserrat" not in html
    assert await _audit(hub_sessionmaker) == []


async def test_the_record_shows_services_alarms_check_ins_and_flags_and_is_audited(
    hub_client: Client,
    make_user: Callable[..., Awaitable[Any]],
    token_for: Callable[..., Awaitable[str]],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    resident = await _seed(hub_sessionmaker, hub_clock)
    token = await token_for(Role.SOCIAL_WORKER, username="nuria")
    headers = {"Authorization": f"Bearer {token}"}
    form = {"resident": str(resident), "reason": "other", "note": "Revisió trimestral"}
    resp = await hub_client.post("/visor/view?lang=ca", data=form, headers=headers)
    assert resp.status == 200
    html = unescape(await resp.text())
    assert "Montserrat Puig i Soler" in html
    assert "ABSS-BCN-01" in html
    # Service table: teleassistance, devices (one removed), the group.
    assert "Monitoratge per telemedicina (teleassistència)" in html
    assert "Medalló d'alarma" in html
    assert "Tauleta de la persona usuària" in html
    assert "Grup: Cafè del dimecres" in html
    assert html.count('data-status="ended"') == 1
    assert "Retirat del pla d'atenció" in html  # the ended row says why (issue 23)
    # Alarm history with outcomes and the 112 escalation.
    assert "Caiguda detectada" in html
    assert "Serveis d'emergència (112) enviats" in html
    assert "Resolta per telèfon" in html
    # Check-ins, standing flags, this week's signals with SSM-Cat domains.
    assert "de les confirmacions previstes" in html
    assert "Aïllament social" in html
    assert "Viu sola/sol" in html  # the signal's explanation
    # She is addressed in the feminine (ADR 0170): the header and the flag say so.
    assert '<span id="visor-lives-alone">Viu sola</span>' in html
    assert '<span class="badge warn">Viu sola</span>' in html
    assert "Xarxa social" in html
    assert "Revisió trimestral" in html

    (entry,) = await _audit(hub_sessionmaker)
    assert entry.actor == "nuria"
    assert entry.object == f"resident:{resident}"
    assert entry.details == {"reason": "other", "note": "Revisió trimestral"}

    english = await hub_client.post(
        "/visor/view?lang=en",
        data={"resident": str(resident), "reason": "incident"},
        headers=headers,
    )
    text = await english.text()
    assert "Alarm history" in text
    assert "Fall detected" in text
    assert "Social isolation" in text
    assert "Telehealth monitoring" in text
    assert "(regime/therapy)" not in text  # SNOMED's semantic tag is not for people
    assert "Removed from the care plan" in text
    assert len(await _audit(hub_sessionmaker)) == 2  # every look-up is an entry


async def test_the_visor_is_read_only(hub_client: Client, auth_headers: Headers) -> None:
    headers = await auth_headers(Role.SOCIAL_WORKER)
    for method in ("PUT", "DELETE", "PATCH"):
        resp = await hub_client.request(method, "/visor/view", headers=headers)
        assert resp.status == 405


async def test_resolved_alarms_from_the_alarms_table_are_shown(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    from datetime import timedelta

    from alerts import Actor, ActorKind, accept, raise_alarm, resolve
    from alerts.model import Detection, Explanation, RuleKind
    from hub.alarms.store import insert_alarm

    resident = await _seed(hub_sessionmaker, hub_clock)
    at = hub_clock() - timedelta(days=1)
    anna = Actor(ActorKind.OPERATOR, "op-anna", "Anna")
    detection = Detection(
        rule=RuleKind.FLOOD,
        home_id="h",
        resident_id=str(resident),
        at=at,
        explanation=Explanation.of("flood", source="kitchen", time="09:00"),
    )
    alarm = accept(raise_alarm("tbl-1", detection), anna, at + timedelta(seconds=40))
    alarm = resolve(alarm, anna, at + timedelta(minutes=20), "resident_not_found")
    async with hub_sessionmaker() as session:
        await insert_alarm(session, alarm, None, hub_clock())
        await session.commit()
    resp = await hub_client.post(
        "/visor/view?lang=en",
        data={"resident": str(resident), "reason": "incident"},
        headers=await auth_headers(Role.SOCIAL_WORKER),
    )
    html = unescape(await resp.text())
    assert "Water leak detected" in html
    assert "Resident could not be reached or found" in html
    assert "40 s" in html


async def test_after_a_withdrawal_the_visor_says_so_and_shows_only_what_was_sent(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    from sqlalchemy import update

    from alerts import Actor, ActorKind, accept, raise_alarm, resolve
    from alerts.model import Detection, Explanation, RuleKind
    from hub.alarms.store import insert_alarm
    from hub.db.models import Resident
    from hub.outbox import OutboxRow
    from hub.outbox.consent import set_social_record_consent

    resident = await _seed(hub_sessionmaker, hub_clock)
    anna = Actor(ActorKind.OPERATOR, "op-anna", "Anna")
    at = hub_clock() - timedelta(days=1)
    detection = Detection(
        rule=RuleKind.FLOOD,
        home_id="h",
        resident_id=str(resident),
        at=at,
        explanation=Explanation.of("flood", source="kitchen", time="09:00"),
    )
    alarm = accept(raise_alarm("tbl-2", detection), anna, at + timedelta(seconds=40))
    alarm = resolve(alarm, anna, at + timedelta(minutes=20), "resident_not_found")
    async with hub_sessionmaker() as session:
        await insert_alarm(session, alarm, None, hub_clock())
        # The service and device records went out; everything else still waits.
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.kind.in_(("service", "device")))
            .values(state="delivered", delivered_at=hub_clock())
        )
        row = await session.get(Resident, resident)
        assert row is not None
        await set_social_record_consent(
            session, row, False, actor="sonia", reason="asked at the review", now=hub_clock()
        )
        await session.commit()
    resp = await hub_client.post(
        "/visor/view?lang=en",
        data={"resident": str(resident), "reason": "follow_up"},
        headers=await auth_headers(Role.SOCIAL_WORKER),
    )
    html = unescape(await resp.text())
    day = hub_clock().astimezone(ZoneInfo("Europe/Madrid")).strftime("%d/%m/%Y")
    assert f"This person withdrew consent to the social record on {day}." in html
    assert "Pendant alarm button" in html  # sent before the withdrawal: shown
    assert "Fall detected" not in html  # waited, withheld: never in the record
    assert "Water leak detected" not in html  # only in the alarms table: not the record
    assert "Social isolation" not in html


async def _search_audit(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == "visor.search")
        return list((await session.scalars(query)).all())


async def test_find_a_person_by_name_dni_cip_or_file_number_every_search_audited(
    hub_client: Client,
    token_for: Callable[..., Awaitable[str]],
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    from hub.visor.demo import DEMO_CIP, DEMO_DNI, DEMO_FILE

    resident = await _seed(hub_sessionmaker, hub_clock)
    headers = {"Authorization": f"Bearer {await token_for(Role.SOCIAL_WORKER, username='pau')}"}
    found = [
        ("name", "montserrat PUIG"),  # case and accents do not matter, every word must match
        ("dni", DEMO_DNI.lower().replace("z", "-z")),  # typed as people type it
        ("cip", DEMO_CIP[:4] + " " + DEMO_CIP[4:]),
        ("file", DEMO_FILE.lower()),
    ]
    for by, query in found:
        form = {"by": by, "query": query, "reason": "follow_up"}
        resp = await hub_client.post("/visor/view?lang=en", data=form, headers=headers)
        assert resp.status == 200, by
        assert "Montserrat Puig i Soler" in unescape(await resp.text()), by
    searches = await _search_audit(hub_sessionmaker)
    assert [(e.actor, e.details["by"], e.details["found"]) for e in searches] == [
        ("pau", "name", 1), ("pau", "dni", 1), ("pau", "cip", 1), ("pau", "file", 1)
    ]  # fmt: skip
    assert searches[1].details["query"] == DEMO_DNI  # the normalised value
    views = await _audit(hub_sessionmaker)
    assert [e.object for e in views] == [f"resident:{resident}"] * 4
    # A search that finds nobody says so, and is audited too; nothing of anyone is shown.
    nobody = await hub_client.post(
        "/visor/view?lang=en",
        data={"by": "dni", "query": "00000000T", "reason": "incident"},
        headers=headers,
    )
    assert nobody.status == 400
    assert "Nobody found with these details." in await nobody.text()
    assert (await _search_audit(hub_sessionmaker))[-1].details["found"] == 0


async def test_several_matches_are_listed_to_choose_from(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    first = await _seed(hub_sessionmaker, hub_clock)
    second = await _seed(hub_sessionmaker, hub_clock)
    headers = await auth_headers(Role.SOCIAL_WORKER)
    resp = await hub_client.post(
        "/visor/view?lang=ca",
        data={"by": "name", "query": "Puig Soler", "reason": "follow_up"},
        headers=headers,
    )
    assert resp.status == 200
    html = unescape(await resp.text())
    assert "Coincidències (2): trieu la persona" in html
    assert f'name="query" value="{first}"' in html
    assert f'name="query" value="{second}"' in html
    assert "Historial d'alarmes" not in html  # nobody's record until one is chosen
    assert await _audit(hub_sessionmaker) == []


async def test_bad_search_input_gets_a_clear_error_and_no_audit(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
    hub_clock: ManualClock,
) -> None:
    await _seed(hub_sessionmaker, hub_clock)
    headers = await auth_headers(Role.SOCIAL_WORKER)
    cases = [
        ("dni", "12345678A", "check the letter"),  # wrong control letter
        ("dni", "X1234567A", "check the letter"),  # NIE with a wrong letter
        ("dni", "1234", "check the letter"),
        ("cip", "PUSO03803140", "4 letters and 10 digits"),
        ("cip", "1234567890ABCD", "4 letters and 10 digits"),
        ("file", "x", "3 to 32 letters"),
        ("file", "SS<script>", "3 to 32 letters"),
        ("name", "Mo", "at least 3 letters"),
        ("name", "  ", "at least 3 letters"),
        ("number", "12a", "digits only"),
        ("passport", "AB123", "Choose what to search by."),
    ]
    for by, query, message in cases:
        form = {"by": by, "query": query, "reason": "follow_up"}
        resp = await hub_client.post("/visor/view?lang=en", data=form, headers=headers)
        assert resp.status == 400, (by, query)
        html = await resp.text()
        assert message in html, (by, query)
        assert "Montserrat" not in html
    assert await _search_audit(hub_sessionmaker) == []
    assert await _audit(hub_sessionmaker) == []
