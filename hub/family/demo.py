"""Demo content for the family network: a resident, her circle, chats, agenda and a group.

Seeded through the hub's own API (so every rule applies), used by the screenshots and
available to the demo. Needs a running hub, an operator account and people created with
:func:`create_demo_people`.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import Role, create_user
from hub.db.models import Home, Resident

DEMO_PASSWORD = "demo-family-password-1"  # noqa: S105 - a demo account on a throwaway hub


@dataclass
class DemoFamily:
    """Who was created and the ids the screens need."""

    resident_id: int = 0
    friend_id: int = 0
    users: dict[str, int] = field(default_factory=dict)
    conversation_id: int = 0
    group_id: int = 0
    tablet_token: str = ""


def demo_photo(width: int = 960, height: int = 720) -> bytes:
    """A sunny landscape (a JPEG the hub accepts as a photo)."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=(int(90 + 120 * shade), int(160 + 60 * shade), 235))
    draw.ellipse([width * 0.7, height * 0.1, width * 0.85, height * 0.3], fill=(255, 214, 90))
    for k, colour in enumerate([(86, 160, 90), (60, 130, 70)]):
        points = [
            (x, height * (0.62 + 0.08 * k) + 40 * math.sin(x / (90 + 40 * k)))
            for x in range(0, width + 10, 10)
        ]
        draw.polygon([(0, height), *points, (width, height)], fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def create_demo_people(session: AsyncSession) -> DemoFamily:
    """Residents and accounts (the caller commits)."""
    demo = DemoFamily()
    home = Home(address="C/ de Verdi 12, Barcelona", abss_area="Gràcia")
    session.add(home)
    await session.flush()
    maria = Resident(home_id=home.id, name="Maria Puig", language="ca")
    josep = Resident(home_id=home.id, name="Josep Ferrer", language="ca")
    session.add_all([maria, josep])
    await session.flush()
    demo.resident_id, demo.friend_id = maria.id, josep.id
    for username, role, name in [
        ("anna", Role.FAMILY, "Anna Puig"),
        ("pere", Role.FAMILY, "Pere Puig"),
        ("laia", Role.FACILITATOR, "Laia Serra"),
        ("operadora", Role.OPERATOR, "Operadora"),
    ]:
        user = await create_user(session, username, DEMO_PASSWORD, role, display_name=name)
        demo.users[username] = user.id
    return demo


async def _login(http: aiohttp.ClientSession, base: str, username: str) -> dict[str, str]:
    async with http.post(
        f"{base}/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    ) as resp:
        resp.raise_for_status()
        token = (await resp.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kw: Any
) -> Any:
    async with http.request(method, url, headers=headers, **kw) as resp:
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url}: {resp.status} {await resp.text()}")
        return await resp.json() if resp.status != 204 else None


async def seed_demo_family(base: str, demo: DemoFamily, now: datetime | None = None) -> None:
    """Links, chats (text, photo), agenda, a group and an alarm notice, through the API."""
    now = now or datetime.now(UTC)
    api = f"{base}/api/family"
    async with aiohttp.ClientSession() as http:
        staff = await _login(http, base, "operadora")
        tablets = {}
        for rid in (demo.resident_id, demo.friend_id):
            # As an installer would: a setup code, typed on the tablet's pad.
            setup = await _call(
                http, "POST", f"{base}/api/residents/{rid}/tablet-setup-codes", staff
            )
            paired = await _call(
                http, "POST", f"{base}/api/tablet/pair", {}, json={"code": setup["code"]}
            )
            tablets[rid] = {"Authorization": f"Bearer {paired['api_token']}"}
        maria = tablets[demo.resident_id]
        demo.tablet_token = maria["Authorization"].split(" ", 1)[1]
        people = {name: await _login(http, base, name) for name in ("anna", "pere", "laia")}
        for name, relationship, consent in [
            ("anna", "filla", ["alarms", "activity", "agenda"]),
            ("pere", "fill", ["alarms", "agenda"]),
        ]:
            code = await _call(
                http,
                "POST",
                f"{api}/residents/{demo.resident_id}/linking-codes",
                maria,
                json={"consent": consent},
            )
            link = await _call(
                http,
                "POST",
                f"{api}/links",
                people[name],
                json={"code": code["code"], "relationship": relationship},
            )
            if name == "anna":
                demo.conversation_id = link["conversation_id"]
        cid = demo.conversation_id
        messages = f"{api}/conversations/{cid}/messages"
        await _call(http, "POST", messages, maria, json={"text": "Bon dia, Anna! Ja he esmorzat."})
        await _call(
            http,
            "POST",
            messages,
            people["anna"],
            json={"text": "Bon dia, mama! Dissabte venim a dinar amb la Júlia."},
        )
        photo = await _call(
            http, "POST", f"{api}/media?kind=photo", people["anna"], data=demo_photo()
        )
        await _call(
            http,
            "POST",
            messages,
            people["anna"],
            json={"media_id": photo["media_id"], "text": "Mira quin dia fa a Montserrat ☀️"},
        )
        await _call(http, "POST", messages, maria, json={"text": "Que bonic! Petons a tots."})
        await _call(
            http, "POST", f"{api}/conversations/{cid}/read", people["anna"], json={"up_to": 10**9}
        )
        tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        agenda = f"{api}/residents/{demo.resident_id}/agenda"
        await _call(
            http,
            "POST",
            agenda,
            maria,
            json={
                "title": "Metge de capçalera (CAP Vila de Gràcia)",
                "kind": "appointment",
                "starts_at": (tomorrow + timedelta(hours=1)).isoformat(),
            },
        )
        visit = await _call(
            http,
            "POST",
            agenda,
            people["anna"],
            json={
                "title": "Dinar amb l'Anna i la Júlia",
                "kind": "visit",
                "starts_at": (tomorrow + timedelta(days=2, hours=4)).isoformat(),
            },
        )
        await _call(
            http, "POST", f"{api}/agenda/{visit['id']}/respond", maria, json={"answer": "accept"}
        )
        await _call(
            http,
            "POST",
            agenda,
            people["pere"],
            json={
                "title": "Passeig pel parc del Guinardó",
                "kind": "visit",
                "starts_at": (tomorrow + timedelta(days=4, hours=8)).isoformat(),
            },
        )
        group = await _call(
            http,
            "POST",
            f"{api}/groups",
            people["laia"],
            json={"name": "Casal de Gràcia · Dimarts"},
        )
        demo.group_id = group["id"]
        for rid in (demo.resident_id, demo.friend_id):
            # Laia asks; each resident accepts on their tablet (membership needs consent).
            await _call(
                http,
                "POST",
                f"{api}/groups/{group['id']}/members",
                people["laia"],
                json={"resident_id": rid},
            )
            await _call(
                http,
                "POST",
                f"{api}/groups/{group['id']}/respond",
                tablets[rid],
                json={"answer": "accept"},
            )
        await _call(
            http,
            "POST",
            f"{api}/conversations/{group['conversation_id']}/messages",
            maria,
            json={"text": "Fins dimarts!"},
        )
        await _call(
            http,
            "POST",
            f"{api}/residents/{demo.resident_id}/alarm-notices",
            staff,
            json={"alarm_ref": "AL-2041", "event_type": "panic"},
        )
