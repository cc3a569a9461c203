"""Admin view of the wSocial outbox: handlers only (wired, with the delivery worker's
lifetime, by :mod:`hub.outbox.app`).

- ``GET /api/wsocial/outbox?state=dead&limit=100``: records in a state (admin, supervisor).
- ``GET /api/wsocial/outbox/counts``: how many in each state.
- ``POST /api/wsocial/outbox/{id}/replay``: put a dead record back in line (admin; audited).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.http import ApiError
from hub.outbox.keys import OUTBOX_WORKER
from hub.outbox.models import OutboxRow
from hub.outbox.store import SqlOutboxStore
from integrations.wsocial.outbox import OUTBOX_STATES, OutboxRecord


def _store(request: web.Request) -> SqlOutboxStore:
    return SqlOutboxStore(request.app[SESSIONMAKER])


def _as_json(record: OutboxRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "event_id": record.event_id,
        "kind": record.kind,
        "resident_id": record.resident_id,
        "state": record.state,
        "attempts": record.attempts,
        "created_at": record.created_at.isoformat(),
        "next_attempt_at": record.next_attempt_at.isoformat(),
        "last_error": record.last_error,
        "delivered_at": record.delivered_at.isoformat() if record.delivered_at else None,
    }


@requires(Role.ADMIN, Role.SUPERVISOR)
async def list_records(request: web.Request) -> web.Response:
    """Records in ``state`` (default ``dead``), newest first."""
    state = request.query.get("state", "dead")
    if state not in OUTBOX_STATES:
        raise ApiError(400, "invalid_state", f"state must be one of {', '.join(OUTBOX_STATES)}")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be a whole number") from None
    if not 1 <= limit <= 1000:
        raise ApiError(400, "invalid_limit", "limit must be between 1 and 1000")
    records = await _store(request).list(state, limit)
    return web.json_response({"records": [_as_json(r) for r in records]})


@requires(Role.ADMIN, Role.SUPERVISOR)
async def counts(request: web.Request) -> web.Response:
    """How many records are pending, delivered and dead."""
    return web.json_response(await _store(request).counts())


@requires(Role.ADMIN)
async def replay(request: web.Request) -> web.Response:
    """Put a dead record back in line; 404 if unknown, 409 if it is not dead."""
    try:
        record_id = int(request.match_info["record_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such outbox record") from None
    now = request.app[CLOCK]()
    store = _store(request)
    if not await store.replay(record_id, now):
        async with request.app[SESSIONMAKER]() as session:
            row = await session.get(OutboxRow, record_id)
        if row is None:
            raise ApiError(404, "not_found", "no such outbox record")
        raise ApiError(409, "not_dead", f"record {record_id} is {row.state}, not dead")
    user = current_user(request)
    async with request.app[SESSIONMAKER]() as session:
        await record_audit(session, user.username, "wsocial.outbox.replay", f"outbox:{record_id}")
        await session.commit()
    if OUTBOX_WORKER in request.app:
        request.app[OUTBOX_WORKER].wake()
    return web.json_response({"id": record_id, "state": "pending"})
