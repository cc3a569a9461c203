"""Party keys (``u:3``, ``r:7``; ``c:5``, a care-plan contact answering an alarm by SMS)
and their display names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Contact, Resident, User
from hub.http import ApiError


def user_party(user_id: int) -> str:
    """The party key of a user."""
    return f"u:{user_id}"


def resident_party(resident_id: int) -> str:
    """The party key of a resident."""
    return f"r:{resident_id}"


def parse_party(value: object) -> tuple[str, int]:
    """``"r:7"`` → ``("r", 7)``; a 400 ``party_invalid`` for anything else."""
    if isinstance(value, str):
        kind, _, number = value.partition(":")
        if kind in ("u", "r") and number.isdigit() and 0 < len(number) <= 12:
            return kind, int(number)
    raise ApiError(400, "party_invalid", f"{value!r} is not a party such as 'u:3' or 'r:7'")


def resident_of(party: str) -> int | None:
    """The resident id of an ``r:`` party, else ``None``."""
    kind, _, number = party.partition(":")
    return int(number) if kind == "r" and number.isdigit() else None


def user_of(party: str) -> int | None:
    """The user id of a ``u:`` party, else ``None``."""
    kind, _, number = party.partition(":")
    return int(number) if kind == "u" and number.isdigit() else None


async def party_names(session: AsyncSession, parties: Iterable[str]) -> dict[str, str]:
    """Display names of ``parties`` (unknown ones map to their key)."""
    wanted = set(parties)
    users = [u for p in wanted if (u := user_of(p)) is not None]
    residents = [r for p in wanted if (r := resident_of(p)) is not None]
    contacts = [int(p[2:]) for p in wanted if p.startswith("c:") and p[2:].isdigit()]
    names = {p: p for p in wanted}
    if contacts:
        for cid, name in await session.execute(
            select(Contact.id, Contact.name).where(Contact.id.in_(contacts))
        ):
            names[f"c:{cid}"] = name
    if users:
        for uid, display, username in await session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(users))
        ):
            names[user_party(uid)] = display or username
    if residents:
        for rid, name in await session.execute(
            select(Resident.id, Resident.name).where(Resident.id.in_(residents))
        ):
            names[resident_party(rid)] = name
    return names


def party_view(party: str, names: dict[str, str]) -> dict[str, Any]:
    """``{"party", "name"}`` for JSON answers."""
    return {"party": party, "name": names.get(party, party)}
