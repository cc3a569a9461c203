"""A resident's structured health and care data (issue 22, item 7).

``GET /api/console/residents/{id}/health`` (the card's readers; every read audited, as the
card's) and ``PUT`` the same path (supervisors and social workers; the audit names the
fields changed, never their values). Lists are short phrases (an allergy, a condition, a
medicine with its dose, a mobility aid). The record is :mod:`hub.db.health`, whose
``summary_for_112`` is what the 112 hand-off carries in the person's medical notes (EIDO/CAP
have one free-text place for it).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import HealthBody
from hub.console.residents import _resident_id
from hub.db.health import ResidentHealth
from hub.db.models import Resident
from hub.http import ApiError, read_checked

READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER)
WRITERS = (Role.SUPERVISOR, Role.SOCIAL_WORKER)
LISTS = ("allergies", "conditions", "medication", "mobility_aids")
TEXTS = ("hearing", "sight", "gp", "health_centre")
LONG_TEXTS = ("advance_directive", "notes")
MAX_ITEMS, MAX_ITEM, MAX_TEXT, MAX_LONG = 30, 120, 200, 4000
FIELDS = (*LISTS, *TEXTS, "dnr", *LONG_TEXTS)


def health_json(row: ResidentHealth | None) -> dict[str, Any]:
    """The record as the API shows it (empty fields when there is none)."""
    if row is None:
        empty: dict[str, Any] = {name: [] for name in LISTS}
        empty.update(dict.fromkeys((*TEXTS, *LONG_TEXTS), ""))
        return empty | {"dnr": False, "updated_by": "", "updated_at": None}
    body: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
    body["updated_by"] = row.updated_by
    body["updated_at"] = row.updated_at.isoformat() if row.updated_at else None
    return body


def parse_health(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``PUT`` (only those sent), checked; ApiError 400 naming the field."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown fields: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name in LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(400, "invalid_field", f"{name} must be a list of texts", field=name)
            items = [" ".join(v.split()) for v in value if v.strip()]
            if len(items) > MAX_ITEMS or any(len(v) > MAX_ITEM for v in items):
                raise ApiError(
                    400,
                    "invalid_field",
                    f"{name}: at most {MAX_ITEMS} items of {MAX_ITEM} characters",
                    field=name,
                )
            out[name] = items
        elif name == "dnr":
            if not isinstance(value, bool):
                raise ApiError(400, "invalid_field", "dnr must be true or false", field=name)
            out[name] = value
        else:
            limit = MAX_LONG if name in LONG_TEXTS else MAX_TEXT
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise ApiError(
                    400, "invalid_field", f"{name} must be text of at most {limit}", field=name
                )
            out[name] = value.strip()
    return out


@requires(*READERS)
async def get_health(request: web.Request) -> web.Response:
    """The resident's health record (the read is audited)."""
    resident_id = _resident_id(request)
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(Resident, resident_id) is None:
            raise ApiError(404, "not_found", "no such resident")
        row = await session.get(ResidentHealth, resident_id)
        body = health_json(row)
        await record_audit(
            session,
            current_user(request).username,
            "resident.read",
            f"resident:{resident_id}",
            {"view": "health"},
            at=request.app[CLOCK](),
        )
        await session.commit()
    body["editable"] = current_user(request).role in WRITERS
    return web.json_response(body)


@requires(*WRITERS)
async def put_health(request: web.Request) -> web.Response:
    """Change fields of the record (those sent); audited with the fields' names."""
    changes = parse_health(await read_checked(request, HealthBody))
    resident_id = _resident_id(request)
    user, now = current_user(request), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(Resident, resident_id) is None:
            raise ApiError(404, "not_found", "no such resident")
        row = await session.get(ResidentHealth, resident_id)
        if row is None:
            row = ResidentHealth(resident_id=resident_id)
            session.add(row)
            for name in FIELDS:  # the Python defaults, before a flush gives them
                setattr(row, name, [] if name in LISTS else False if name == "dnr" else "")
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_by, row.updated_at = user.username, now
        await record_audit(
            session,
            user.username,
            "resident.health",
            f"resident:{resident_id}",
            {"fields": sorted(changes)},
            at=now,
        )
        await session.commit()
        body = health_json(row)
    body["editable"] = True
    return web.json_response(body)
