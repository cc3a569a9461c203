"""Demo content for the family network: a resident, her circle, chats, agenda and a group.

The people are the console demo's (``hub.console.demo_data``, the screenshots' one story,
issue 23; tests/family/test_demo.py checks they stay the same): Montserrat Puig i Ferrer,
who lives alone in Gràcia; her son Jordi and her niece Núria in her circle; Laia Serra,
who runs the Tuesday group at the Casal de Gràcia that she and her neighbour Josep go to.

Seeded through the hub's own API (so every rule applies), used by the screenshots and
available to the demo. Needs a running hub, an operator account and people created with
:func:`create_demo_people`.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import Role, create_user
from hub.db.models import Home, Resident
from hub.family.models import Message

DEMO_PASSWORD = "demo-family-password-1"  # noqa: S105 - a demo account on a throwaway hub
# The story's resident (name, birth date, language, address) and her son and niece, as the
# console demo has them.
RESIDENT = ("Montserrat Puig i Ferrer", date(1938, 3, 14), "ca",
            "C/ de Verdi 48, 3r 1a, 08012 Barcelona")  # fmt: skip
CIRCLE = ("Jordi Puig", "Núria Ferrer")


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
    name, born, language, address = RESIDENT
    son, niece = CIRCLE
    home = Home(address=address, abss_area="Gràcia")
    # Her neighbour from the Tuesday group lives across the street.
    across = Home(address="C/ de Verdi 51, 1r 2a, 08012 Barcelona", abss_area="Gràcia")
    session.add_all([home, across])
    await session.flush()
    resident = Resident(home_id=home.id, name=name, birth_date=born, language=language)
    josep = Resident(home_id=across.id, name="Josep Ferrer", language="ca")
    session.add_all([resident, josep])
    await session.flush()
    demo.resident_id, demo.friend_id = resident.id, josep.id
    for username, role, display in [
        ("jordi", Role.FAMILY, son),
        ("nuria", Role.FAMILY, niece),
        ("laia", Role.FACILITATOR, "Laia Serra"),
        ("operadora", Role.OPERATOR, "Operadora"),
    ]:
        user = await create_user(session, username, DEMO_PASSWORD, role, display_name=display)
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
        her = tablets[demo.resident_id]
        demo.tablet_token = her["Authorization"].split(" ", 1)[1]
        people = {name: await _login(http, base, name) for name in ("jordi", "nuria", "laia")}
        for name, relationship, consent in [
            ("jordi", "fill", ["alarms", "activity", "agenda"]),
            ("nuria", "neboda", ["alarms", "agenda"]),
        ]:
            code = await _call(
                http,
                "POST",
                f"{api}/residents/{demo.resident_id}/linking-codes",
                her,
                json={"consent": consent},
            )
            link = await _call(
                http,
                "POST",
                f"{api}/links",
                people[name],
                json={"code": code["code"], "relationship": relationship},
            )
            if name == "jordi":
                demo.conversation_id = link["conversation_id"]
        cid = demo.conversation_id
        messages = f"{api}/conversations/{cid}/messages"
        await _call(http, "POST", messages, her, json={"text": "Bon dia, Jordi! Ja he esmorzat."})
        await _call(
            http,
            "POST",
            messages,
            people["jordi"],
            json={"text": "Bon dia, mare! Dissabte venim a dinar amb la Júlia."},
        )
        photo = await _call(
            http, "POST", f"{api}/media?kind=photo", people["jordi"], data=demo_photo()
        )
        await _call(
            http,
            "POST",
            messages,
            people["jordi"],
            json={"media_id": photo["media_id"], "text": "Mira quin dia fa al Montseny ☀️"},
        )
        await _call(http, "POST", messages, her, json={"text": "Que bonic! Petons a tots."})
        await _call(
            http, "POST", f"{api}/conversations/{cid}/read", people["jordi"], json={"up_to": 10**9}
        )
        # The story's week (teleassist/screenshots/_story.AGENDA, which the tablet's demo shows
        # too): tomorrow at 11:00 the doctor, the day after lunch with Jordi and Júlia at 14:00
        # (his message says "Saturday" in the story), Núria's walk on the fifth day at 16:00,
        # while it is light in December. Hours in UTC: Barcelona's winter time is UTC+1.
        tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        agenda = f"{api}/residents/{demo.resident_id}/agenda"
        await _call(
            http,
            "POST",
            agenda,
            her,
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
            people["jordi"],
            json={
                "title": "Dinar amb en Jordi i la Júlia",
                "kind": "visit",
                "starts_at": (tomorrow + timedelta(days=1, hours=4)).isoformat(),
            },
        )
        await _call(
            http, "POST", f"{api}/agenda/{visit['id']}/respond", her, json={"answer": "accept"}
        )
        await _call(
            http,
            "POST",
            agenda,
            people["nuria"],
            json={
                "title": "Passeig pel parc del Guinardó",
                "kind": "visit",
                "starts_at": (tomorrow + timedelta(days=4, hours=6)).isoformat(),
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
            her,
            json={"text": "Fins dimarts!"},
        )
        await _call(
            http,
            "POST",
            f"{api}/residents/{demo.resident_id}/alarm-notices",
            staff,
            json={"alarm_ref": "AL-2041", "event_type": "panic"},
        )


# When the demo's chat messages were written, before "now": a morning's conversation,
# not four messages in the same minute (the screenshots showed every one at one time).
DEMO_MESSAGE_AGO = (
    timedelta(hours=3, minutes=12),
    timedelta(hours=2, minutes=47),
    timedelta(hours=2, minutes=46),
    timedelta(minutes=38),
)


async def spread_demo_messages(session: AsyncSession, conversation_id: int, now: datetime) -> None:
    """Give the seeded conversation's messages the times of a real morning (oldest first);
    the caller commits. Only the demo does this: real messages keep the time they came."""
    rows = list(
        await session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
    )
    for message, ago in zip(rows, DEMO_MESSAGE_AGO, strict=False):
        message.created_at = now - ago
