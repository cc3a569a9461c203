"""The centre edits its operator protocols (issue 22, item 6; admin and coordinator).

``GET /api/console/protocols/edit``: every kind with its steps in ca/es/en, whether it is
the centre's own, and the shipped steps to go back to; ``PUT /api/console/protocols/{kind}``
with ``{"steps": [{"key", "ca", "es", "en"}]}`` stores the centre's own (1 to 12 steps,
unique keys); ``DELETE`` goes back to the shipped protocol. Audited; in force on the next
alarm card read on any worker (hub.console.protocols reads them per request). Kinds are the
shipped ones and the alarm rules (a rule that shares a protocol, such as ``co``, follows it).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import select

from alerts import RuleKind, label
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import PROTOCOL_CODES, ProtocolEdit
from hub.console.models import ProtocolOverride
from hub.console.protocols import SAME_AS, Step, current_protocols, protocols
from hub.http import ApiError, read_checked
from protocol.i18n import LANGUAGES

EDITORS = (Role.ADMIN, Role.COORDINATOR)


def editable_kinds() -> list[str]:
    """The shipped kinds, then the other alarm rules (not those that share a protocol)."""
    shipped = list(protocols())
    rules = sorted(r.value for r in RuleKind if r.value not in SAME_AS and r.value not in shipped)
    return shipped + rules


def _steps(steps: tuple[Step, ...]) -> list[dict[str, str]]:
    return [{"key": s.key, **{lang: s.texts[lang] for lang in LANGUAGES}} for s in steps]


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in editable_kinds():
        raise ApiError(404, "unknown_kind", f"no alarm kind {kind!r}")
    return kind


@requires(*EDITORS)
async def list_protocols(request: web.Request) -> web.Response:
    """Every kind's protocol as the console uses it, and the shipped one."""
    shipped = protocols()
    language = current_user(request).language
    async with request.app[SESSIONMAKER]() as session:
        table = await current_protocols(session)
        own = {row.kind: row for row in await session.scalars(select(ProtocolOverride))}
    kinds: list[dict[str, Any]] = []
    for kind in editable_kinds():
        current = table.get(kind) or table["default"]
        row = own.get(kind)
        kinds.append(
            {
                "kind": kind,
                # The kind in the reader's language ("default": the page words it).
                "name": label(kind, language),
                "steps": _steps(current),
                "shipped": _steps(shipped.get(kind) or shipped["default"]),
                "own": row is not None,
                "updated_by": row.updated_by if row else None,
                "updated_at": row.updated_at.isoformat() if row else None,
            }
        )
    return web.json_response({"kinds": kinds})


@requires(*EDITORS)
async def put_protocol(request: web.Request) -> web.Response:
    """Store the centre's own protocol for a kind."""
    kind = _kind(request)
    data = await read_checked(request, ProtocolEdit, PROTOCOL_CODES)
    body = msgspec.convert(data, ProtocolEdit, strict=True)
    keys = [s.key for s in body.steps]
    if len(keys) != len(set(keys)):
        raise ApiError(400, "duplicate_step", "each step needs its own key")
    steps = [
        {"key": s.key, **{lang: " ".join(getattr(s, lang).split()) for lang in LANGUAGES}}
        for s in body.steps
    ]
    user, now = current_user(request), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(ProtocolOverride, kind)
        if row is None:
            row = ProtocolOverride(kind=kind)
            session.add(row)
        row.steps, row.updated_by, row.updated_at = steps, user.username, now
        await record_audit(
            session, user.username, "protocol.edit", f"protocol:{kind}", {"steps": keys}, at=now
        )
        await session.commit()
    return web.json_response(
        {"kind": kind, "steps": steps, "own": True, "updated_by": user.username,
         "updated_at": now.isoformat()}
    )  # fmt: skip


@requires(*EDITORS)
async def reset_protocol(request: web.Request) -> web.Response:
    """Go back to the shipped protocol for a kind (404 when the centre had none)."""
    kind = _kind(request)
    user, now = current_user(request), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(ProtocolOverride, kind)
        if row is None:
            raise ApiError(404, "not_found", "this kind has the shipped protocol already")
        await session.delete(row)
        await record_audit(session, user.username, "protocol.reset", f"protocol:{kind}", at=now)
        await session.commit()
    return web.Response(status=204)
