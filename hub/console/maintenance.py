"""The maintenance workflow of technical alarms: acknowledged → visit planned → fixed.

``GET /api/console/maintenance`` (tickets), ``PUT /api/console/maintenance/{alarm_id}``
``{"status": "acknowledged" | "visit_planned" | "fixed", "visit_at": ISO time, "notes": ""}``.
A ticket only moves forward; every step is in the audit log. Closing the alarm itself
(outcome ``technical_fixed``) goes through the alarms API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import TICKET_CODES, TicketStep
from hub.console.models import MaintenanceTicket
from hub.http import ApiError, read_checked

STEPS = ("acknowledged", "visit_planned", "fixed")
READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.ADMIN)
WORKERS = (Role.OPERATOR, Role.SUPERVISOR)


def ticket_view(ticket: MaintenanceTicket) -> dict[str, Any]:
    """A ticket as JSON."""
    return {
        "alarm_id": ticket.alarm_id,
        "status": ticket.status,
        "visit_at": ticket.visit_at.isoformat() if ticket.visit_at else None,
        "notes": ticket.notes,
        "updated_by": ticket.updated_by,
        "updated_at": ticket.updated_at.isoformat(),
    }


@requires(*READERS)
async def list_tickets(request: web.Request) -> web.Response:
    """Every maintenance ticket, newest first."""
    async with request.app[SESSIONMAKER]() as session:
        rows = (
            await session.scalars(
                select(MaintenanceTicket).order_by(MaintenanceTicket.updated_at.desc()).limit(500)
            )
        ).all()
    return web.json_response({"tickets": [ticket_view(t) for t in rows]})


def _visit_at(value: object) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, "visit_required", "a planned visit needs 'visit_at'")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "visit_required", "'visit_at' must be an ISO date and time") from None
    if moment.tzinfo is None:
        raise ApiError(400, "visit_required", "'visit_at' needs a time zone offset")
    return moment


@requires(*WORKERS)
async def update_ticket(request: web.Request) -> web.Response:
    """Move a technical alarm's ticket forward."""
    from hub.alarms.models import AlarmRow

    user = current_user(request)
    data = await read_checked(request, TicketStep, TICKET_CODES)
    status = data.get("status")
    if status not in STEPS:
        raise ApiError(400, "invalid_status", f"status must be one of: {', '.join(STEPS)}")
    notes = data.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 2000:
        raise ApiError(400, "invalid_request", "'notes' must be text (at most 2000 characters)")
    visit_at = _visit_at(data.get("visit_at")) if status == "visit_planned" else None
    alarm_id = request.match_info["alarm_id"]
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        alarm = await session.get(AlarmRow, alarm_id)
        if alarm is None:
            raise ApiError(404, "not_found", "no such alarm")
        if alarm.category != "technical":
            raise ApiError(409, "not_technical", "only technical alarms have maintenance")
        ticket = await session.get(MaintenanceTicket, alarm_id)
        if ticket is not None and STEPS.index(status) < STEPS.index(ticket.status):
            raise ApiError(409, "backwards", f"the ticket is already {ticket.status}")
        if ticket is None:
            ticket = MaintenanceTicket(alarm_id=alarm_id, status=status, updated_by=user.username)
            session.add(ticket)
        ticket.status = status
        if visit_at is not None:
            ticket.visit_at = visit_at.astimezone(UTC)
        if notes:
            ticket.notes = (ticket.notes + "\n" + notes).strip() if ticket.notes else notes
        ticket.updated_by = user.username
        ticket.updated_at = now
        details: dict[str, Any] = {"status": status}
        if visit_at is not None:
            details["visit_at"] = visit_at.isoformat()
        await record_audit(
            session, user.username, f"maintenance.{status}", f"alarm:{alarm_id}", details
        )
        await session.commit()
        view = ticket_view(ticket)
    return web.json_response(view)
