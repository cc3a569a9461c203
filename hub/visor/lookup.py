"""Finding a person for the visor: by name, DNI/NIE, CIP, social-services file number or
the resident number (issue 23).

:func:`parse_query` checks what was typed (a DNI/NIE by its control letter, a CIP by its
shape) and names the error in the visor's catalogue; :func:`find` looks the person up.
The routes audit every search that is run, whatever it finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Home, Resident
from hub.http import is_int32_id
from hub.service.models import ServiceRow
from hub.service.referral import normalise_name, valid_dni

By = Literal["name", "dni", "cip", "file", "number"]
KINDS: tuple[By, ...] = ("name", "dni", "cip", "file", "number")
MAX_MATCHES = 20
MIN_NAME = 3

# CatSalut's CIP: four letters (from the surnames) and ten digits.
_CIP = re.compile(r"^[A-Z]{4}[0-9]{10}$")
# A social-services file number: letters, digits and / - . (formats differ by council).
_FILE = re.compile(r"^[A-Z0-9][A-Z0-9/.\-]{2,31}$")


class QueryRefused(ValueError):
    """What was typed cannot be what it says it is; ``key`` is the visor's error text."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Match:
    """A person a search found."""

    id: int
    name: str
    birth_date: date | None
    area: str


def parse_query(by: str, raw: str) -> tuple[By, str]:
    """``(kind, normalised value)``, or :class:`QueryRefused` naming what is wrong."""
    text = raw.strip()
    if by not in KINDS:
        raise QueryRefused("error_by")
    if by == "number":
        if not is_int32_id(text):
            raise QueryRefused("error_resident_id")
        return "number", text
    if by == "name":
        name = normalise_name(text)
        if len(name.replace(" ", "")) < MIN_NAME or len(text) > 200:
            raise QueryRefused("error_name_short")
        return "name", name
    compact = re.sub(r"[\s.\-]", "", text).upper() if by != "file" else text.upper()
    if by == "dni":
        if not valid_dni(compact):
            raise QueryRefused("error_dni")
        return "dni", compact
    if by == "cip":
        if not _CIP.match(compact):
            raise QueryRefused("error_cip")
        return "cip", compact
    if not _FILE.match(compact):
        raise QueryRefused("error_file")
    return "file", compact


async def find(session: AsyncSession, by: By, value: str) -> list[Match]:
    """The people matching ``value`` (at most :data:`MAX_MATCHES`, by name)."""
    query = select(Resident.id, Resident.name, Resident.birth_date, Home.abss_area).join(
        Home, Resident.home_id == Home.id
    )
    if by == "number":
        query = query.where(Resident.id == int(value))
    elif by in ("dni", "cip", "file"):
        column = {"dni": ServiceRow.id_document, "cip": ServiceRow.cip,
                  "file": ServiceRow.social_file}[by]  # fmt: skip
        ids = select(ServiceRow.resident_id).where(
            column == value, ServiceRow.resident_id.is_not(None)
        )
        query = query.where(Resident.id.in_(ids))
    rows = (await session.execute(query.order_by(Resident.name, Resident.id))).all()
    if by == "name":
        # Accents and case do not matter ("nuria puig" finds "Núria Puig i Soler"); every
        # word typed must be in the name. The names are few enough to read them all.
        words = value.split()
        rows = [r for r in rows if all(w in normalise_name(r.name) for w in words)]
    return [Match(r.id, r.name, r.birth_date, r.abss_area or "") for r in rows[:MAX_MATCHES]]
