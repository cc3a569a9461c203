"""Reading a referral (health and social notes) is audited, by the API and by the page
(issue 19, medium: reads of personal and health data). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth import Role
from hub.db.models import AuditEntry
from tests.service.helpers import Client, submit

Headers = Callable[..., Awaitable[dict[str, str]]]


async def test_referral_reads_are_audited(
    hub_client: Client,
    auth_headers: Headers,
    hub_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference, _ = await submit(hub_client, health_notes="insulina cada matí")
    worker = await auth_headers(Role.SOCIAL_WORKER, username="sw-referral")
    api = await hub_client.get(f"/api/service/referrals/{reference}", headers=worker)
    assert api.status == 200
    page = await hub_client.get(f"/service/referrals/{reference}", headers=worker)
    assert page.status == 200
    # A reference that does not exist shows nothing and logs nothing.
    missing = await hub_client.get("/api/service/referrals/TA-2027-NOPE", headers=worker)
    assert missing.status == 404
    # The list shows no notes and is not a read of one person's record.
    listing = await hub_client.get("/api/service/referrals", headers=worker)
    assert listing.status == 200
    async with hub_sessionmaker() as session:
        rows = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.object, AuditEntry.details).where(
                    AuditEntry.actor == "sw-referral"
                )
            )
        ).all()
    assert [(a, o) for a, o, _ in rows] == [("service.read", f"service:{reference}")] * 2
    assert all("insulina" not in str(d) for _, _, d in rows)
