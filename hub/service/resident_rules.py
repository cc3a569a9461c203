"""A resident's alarm rules from the resident card (the supervisor's view of a person).

``GET /api/service/residents/{resident_id}/rules``: the rules of the resident's open service
(in force, what people changed, the care level's defaults). ``POST`` the same path with
``{"rules": {...}}``: a new care-plan version, exactly as the coordinator's edit on the
service pages (:func:`hub.service.store.edit_plan`: checked, audited), applied to the alarm
rules of every hub worker at once (``resident_changed``: the engine reloads the plan and
the other workers hear of it through the database's fanout, ADR 0038).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER, resident_changed
from hub.auth import Role, current_user, requires
from hub.http import ApiError, read_checked
from hub.service import bodies, store
from hub.service.api import api_error, plan_rules_json
from hub.service.codes import OPEN_STATES
from hub.service.errors import ServiceError
from hub.service.models import CarePlanRow, ServiceRow

# Who sees a resident's rules (the card's readers and the coordinator), and who changes them
# there (the supervisor; the coordinator also on the service pages).
RULE_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
RULE_EDITORS = (Role.SUPERVISOR, Role.COORDINATOR)


def _resident_id(request: web.Request) -> int:
    try:
        return int(request.match_info["resident_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resident") from None


async def _open_service(
    session: AsyncSession, resident_id: int, *, for_update: bool = False
) -> ServiceRow:
    query = select(ServiceRow).where(
        ServiceRow.resident_id == resident_id, ServiceRow.state.in_(sorted(OPEN_STATES))
    )
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query.order_by(ServiceRow.id.desc()).limit(1))
    if row is None:
        raise ApiError(404, "no_service", "this resident has no open service with a care plan")
    return row


async def _rules_view(session: AsyncSession, row: ServiceRow, role: Role) -> dict[str, Any]:
    plan: CarePlanRow | None = await store.latest_plan(session, row.id)
    if plan is None:
        raise ApiError(404, "no_service", "this resident has no open service with a care plan")
    return {
        "reference": row.reference,
        "version": plan.version,
        "care_level": plan.care_level,
        "editable": role in RULE_EDITORS,
        **plan_rules_json(plan),
    }


@requires(*RULE_READERS)
async def get_rules(request: web.Request) -> web.Response:
    """The resident's alarm rules."""
    async with request.app[SESSIONMAKER]() as session:
        row = await _open_service(session, _resident_id(request))
        view = await _rules_view(session, row, current_user(request).role)
    return web.json_response(view)


@requires(*RULE_EDITORS)
async def edit_rules(request: web.Request) -> web.Response:
    """Change some of the resident's alarm rules (``null`` puts the level's default back)."""
    data = await read_checked(request, bodies.RulesEdit)
    if set(data) != {"rules"}:
        raise ApiError(400, "invalid_request", 'send {"rules": {...}} and nothing else')
    user = current_user(request)
    resident_id = _resident_id(request)
    async with request.app[SESSIONMAKER]() as session:
        try:
            async with session.begin():
                row = await _open_service(session, resident_id, for_update=True)
                await store.edit_plan(
                    session,
                    row,
                    {"rules": data["rules"]},
                    actor=user.username,
                    now=request.app[CLOCK](),
                )
        except ServiceError as err:
            raise api_error(request, err) from None
        view = await _rules_view(session, row, user.role)
    # The running alarm rules take the new plan now, on every worker.
    await resident_changed(request.app, resident_id)
    return web.json_response(view)
