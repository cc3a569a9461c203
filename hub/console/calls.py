"""Scheduled wellbeing calls (the service's "agenda"): a worklist of outbound calls.

Calls come from five sources: a coordinator's campaign (hub.console.campaigns: the
campaign's name, script, priority and the operator it was given to travel with the call;
a no-answer is tried again after :data:`RETRY_AFTER`, up to :data:`MAX_ATTEMPTS`),
birthdays (generated on the day), weekly calls for high-risk residents (a
:class:`CallPlan`), the service's care plan (``care_plan``: a call once
``wellbeing_call_every_days`` have passed since the resident's last call of any kind, or
since the service became active), and calls planned by staff (after a hospital
discharge: the day after, after 3 days and after a week). Generation is idempotent (one
call per resident, reason and day) and runs whenever the worklist is read, so no timer is
needed and a restart loses nothing.

``GET /api/console/calls?status=open|done``, ``POST /api/console/calls`` (plan),
``POST /api/console/calls/{id}/outcome``, ``PUT /api/console/residents/{id}/call-plan``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import SYSTEM_ACTOR, record_audit
from hub.auth import Role, current_user, requires
from hub.console.bodies import (
    CALL_CODES,
    OUTCOME_CODES,
    CallOutcome,
    CallPlanBody,
    CallPlanned,
)
from hub.console.models import CallPlan, Campaign, WellbeingCall
from hub.console.residents import LOCAL_ZONE
from hub.db.models import Resident
from hub.http import ApiError, read_checked
from hub.service.models import CarePlanRow, ServiceRow

CALLERS = (Role.OPERATOR, Role.SUPERVISOR)
PLANNERS = (Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
OUTCOMES = ("reached_fine", "reached_follow_up", "no_answer", "declined", "other")
# A campaign call nobody answers is tried again this much later, this many times in all.
RETRY_AFTER = timedelta(hours=2)
MAX_ATTEMPTS = 3
PLANNED_REASONS = ("after_discharge", "other")
DISCHARGE_DAYS = (1, 3, 7)
DEFAULT_HOUR = 11
# A campaign's calls are made during the calling day of its start: they fall overdue at this
# local hour (the next day's when the campaign starts at or after it), not at the start.
CAMPAIGN_DAY_ENDS = time(20)


def campaign_window_end(starts_at: datetime) -> datetime:
    """When a campaign starting at ``starts_at`` should have made its calls (pure): the end
    of the calling day it starts on, or of the next one when it starts after hours."""
    local = starts_at.astimezone(LOCAL_ZONE)
    end = datetime.combine(local.date(), CAMPAIGN_DAY_ENDS, LOCAL_ZONE)
    if local >= end:
        end = datetime.combine(local.date() + timedelta(days=1), CAMPAIGN_DAY_ENDS, LOCAL_ZONE)
    return end


def due_by(call: WellbeingCall, campaign: Campaign | None) -> datetime:
    """The instant after which an open call is overdue (pure): a campaign's call at the end of
    its campaign's window (a retry due later than that, at its retry time); any other call
    at its due time."""
    if campaign is None:
        return call.due_at
    return max(campaign_window_end(campaign.starts_at), call.due_at)


def local_instant(day: date, hour: int) -> datetime:
    """``hour`` o'clock on ``day`` in the service's time zone."""
    return datetime.combine(day, time(hour), LOCAL_ZONE)


async def _add_once(
    session: AsyncSession, resident_id: int, reason: str, due: datetime, notes: str, by: str
) -> WellbeingCall | None:
    day = due.astimezone(LOCAL_ZONE).date()
    exists = await session.scalar(
        select(WellbeingCall.id).where(
            WellbeingCall.resident_id == resident_id,
            WellbeingCall.reason == reason,
            WellbeingCall.due_day == day,
        )
    )
    if exists is not None:
        return None
    call = WellbeingCall(
        resident_id=resident_id, reason=reason, due_at=due, due_day=day, notes=notes, created_by=by
    )
    session.add(call)
    await session.flush()
    return call


async def generate_due_calls(session: AsyncSession, now: datetime) -> int:
    """Create today's birthday and weekly calls that do not exist yet; how many were made."""
    today = now.astimezone(LOCAL_ZONE).date()
    made = 0
    birthdays = (
        await session.scalars(
            select(Resident.id).where(
                extract("month", Resident.birth_date) == today.month,
                extract("day", Resident.birth_date) == today.day,
            )
        )
    ).all()
    for resident_id in birthdays:
        due = local_instant(today, DEFAULT_HOUR)
        made += await _add_once(session, resident_id, "birthday", due, "", SYSTEM_ACTOR) is not None
    plans = (
        await session.scalars(
            select(CallPlan).where(
                CallPlan.weekly.is_(True), CallPlan.weekday == today.isoweekday()
            )
        )
    ).all()
    for plan in plans:
        due = local_instant(today, plan.hour)
        made += (
            await _add_once(session, plan.resident_id, "weekly", due, "", SYSTEM_ACTOR) is not None
        )
    return made + await _care_plan_calls(session, today)


async def _care_plan_calls(session: AsyncSession, today: date) -> int:
    """Today's calls of running services whose care plan's ``wellbeing_call_every_days``
    have passed since the resident's last call (any reason: a birthday or weekly call is a
    wellbeing call too), or since activation when there was none."""
    rows = await session.execute(
        select(
            ServiceRow.resident_id, ServiceRow.activated_at, CarePlanRow.wellbeing_call_every_days
        )
        .join(CarePlanRow, CarePlanRow.service_id == ServiceRow.id)
        .where(ServiceRow.state == "active", ServiceRow.resident_id.is_not(None))
        .order_by(CarePlanRow.version)
    )
    # The newest plan version comes last and wins.
    every = {rid: (days, activated) for rid, activated, days in rows if rid is not None}
    if not every:
        return 0
    last: dict[int, date] = {
        rid: day
        for rid, day in await session.execute(
            select(WellbeingCall.resident_id, func.max(WellbeingCall.due_day))
            .where(WellbeingCall.resident_id.in_(sorted(every)))
            .group_by(WellbeingCall.resident_id)
        )
    }
    made = 0
    for resident_id, (days, activated) in sorted(every.items()):
        since = last.get(resident_id) or (
            activated.astimezone(LOCAL_ZONE).date() if activated is not None else None
        )
        if since is None or since + timedelta(days=days) > today:
            continue
        due = local_instant(today, DEFAULT_HOUR)
        call = await _add_once(session, resident_id, "care_plan", due, "", SYSTEM_ACTOR)
        made += call is not None
    return made


def call_view(
    call: WellbeingCall, name: str, campaign: Campaign | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A worklist entry (with its campaign's name and script, for a campaign call); ``due_by``
    and ``overdue`` (at ``now``, the hub's clock) say whether an open call is late."""
    deadline = due_by(call, campaign)
    return {
        "id": call.id,
        "resident_id": call.resident_id,
        "resident_name": name,
        "reason": call.reason,
        "due_at": call.due_at.isoformat(),
        "notes": call.notes,
        "done_at": call.done_at.isoformat() if call.done_at else None,
        "done_by": call.done_by,
        "outcome": call.outcome,
        "outcome_notes": call.outcome_notes,
        "priority": call.priority,
        "attempts": call.attempts,
        "assigned_to": call.assigned_to,
        "campaign_id": call.campaign_id,
        "campaign_name": campaign.name if campaign else None,
        "campaign_script": campaign.script if campaign else None,
        "due_by": deadline.isoformat(),
        "overdue": call.done_at is None and now is not None and now >= deadline,
    }


def default_who(role: str) -> str:
    """Whose open calls a user sees unless they ask (pure): an operator their own (and those
    given to nobody), everyone else (supervisors, coordinators, social workers) all."""
    return "mine" if role == Role.OPERATOR.value else "all"


@requires(*READERS)
async def worklist(request: web.Request) -> web.Response:
    """Open calls due by tomorrow (``status=open``) or the last 200 done (``status=done``).

    ``who=mine`` lists only the open calls given to the signed-in user or to nobody,
    ``who=all`` everyone's; without it, an operator gets ``mine`` and other roles ``all``.
    The answer says which (``who``) and how many open calls the filter left out
    (``hidden``)."""
    status = request.query.get("status", "open")
    if status not in ("open", "done"):
        raise ApiError(400, "invalid_request", "status must be open or done")
    user = current_user(request)
    who = request.query.get("who") or default_who(user.role.value)
    if who not in ("mine", "all"):
        raise ApiError(400, "invalid_request", "who must be mine or all")
    now = request.app[CLOCK]()
    hidden = 0
    async with request.app[SESSIONMAKER]() as session:
        if await generate_due_calls(session, now):
            await session.commit()
        query = (
            select(WellbeingCall, Resident.name, Campaign)
            .join(Resident, Resident.id == WellbeingCall.resident_id)
            .outerjoin(Campaign, Campaign.id == WellbeingCall.campaign_id)
        )
        if status == "open":
            horizon = now.astimezone(LOCAL_ZONE).date() + timedelta(days=1)
            is_open = (WellbeingCall.done_at.is_(None), WellbeingCall.due_day <= horizon)
            others = WellbeingCall.assigned_to.is_not(None) & (
                WellbeingCall.assigned_to != user.username
            )
            if who == "mine":
                hidden = (
                    await session.scalar(
                        select(func.count()).select_from(WellbeingCall).where(*is_open, others)
                    )
                ) or 0
                query = query.where(~others)
            # Higher priorities first (a high-priority campaign before the rest).
            query = query.where(*is_open).order_by(
                WellbeingCall.priority.desc(), WellbeingCall.due_at, WellbeingCall.id
            )
        else:
            query = query.where(WellbeingCall.done_at.is_not(None)).order_by(
                WellbeingCall.done_at.desc()
            )
        rows = (await session.execute(query.limit(200))).all()
    views = [call_view(call, name, campaign, now) for call, name, campaign in rows]
    return web.json_response({"calls": views, "who": who, "hidden": hidden})


def _due(value: object) -> datetime:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_due", "'due_at' must be an ISO date and time with offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_due", "'due_at' must be an ISO date and time") from None
    if moment.tzinfo is None:
        raise ApiError(400, "invalid_due", "'due_at' needs a time zone offset")
    return moment


@requires(*PLANNERS)
async def plan_call(request: web.Request) -> web.Response:
    """Plan calls: ``after_discharge`` makes three (day 1, 3 and 7), ``other`` one."""
    user = current_user(request)
    data = await read_checked(request, CallPlanned, CALL_CODES)
    reason = data.get("reason")
    if reason not in PLANNED_REASONS:
        raise ApiError(
            400, "invalid_reason", f"reason must be one of: {', '.join(PLANNED_REASONS)}"
        )
    resident_id = data.get("resident_id")
    if not isinstance(resident_id, int):
        raise ApiError(400, "invalid_request", "'resident_id' must be a number")
    notes = data.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 2000:
        raise ApiError(400, "invalid_request", "'notes' must be text (at most 2000 characters)")
    start = _due(data.get("due_at"))
    dues = (
        [start + timedelta(days=d) for d in DISCHARGE_DAYS]
        if reason == "after_discharge"
        else [start]
    )
    async with request.app[SESSIONMAKER]() as session:
        resident = await session.get(Resident, resident_id)
        if resident is None:
            raise ApiError(404, "not_found", "no such resident")
        made = []
        for due in dues:
            call = await _add_once(session, resident_id, reason, due, notes, user.username)
            if call is not None:
                made.append(call)
        if not made:
            raise ApiError(409, "already_planned", "these calls are already in the agenda")
        await record_audit(
            session,
            user.username,
            "wellbeing_call.plan",
            f"resident:{resident_id}",
            {"reason": reason, "calls": [c.id for c in made]},
        )
        await session.commit()
        views = [call_view(c, resident.name, None, request.app[CLOCK]()) for c in made]
    return web.json_response({"calls": views}, status=201)


@requires(*CALLERS)
async def record_outcome(request: web.Request) -> web.Response:
    """Record how a call went (once; a campaign call nobody answered stays in the agenda,
    due again :data:`RETRY_AFTER` later, until its last attempt)."""
    user = current_user(request)
    data = await read_checked(request, CallOutcome, OUTCOME_CODES)
    outcome = data.get("outcome")
    if outcome not in OUTCOMES:
        raise ApiError(400, "invalid_outcome", f"outcome must be one of: {', '.join(OUTCOMES)}")
    notes = data.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 2000:
        raise ApiError(400, "invalid_request", "'notes' must be text (at most 2000 characters)")
    try:
        call_id = int(request.match_info["call_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such call") from None
    async with request.app[SESSIONMAKER]() as session:
        call = await session.get(WellbeingCall, call_id)
        if call is None:
            raise ApiError(404, "not_found", "no such call")
        if call.done_at is not None:
            raise ApiError(409, "already_done", "this call already has an outcome")
        campaign = None
        if call.campaign_id is not None:
            campaign = await session.get(Campaign, call.campaign_id)
        now = request.app[CLOCK]()
        if campaign is not None and outcome == "no_answer":
            call.attempts += 1
        if campaign is not None and outcome == "no_answer" and call.attempts < MAX_ATTEMPTS:
            call.due_at = now + RETRY_AFTER  # tried again later: it stays in the agenda
            call.outcome_notes = notes
        else:
            call.done_at, call.done_by = now, user.username
            call.outcome, call.outcome_notes = outcome, notes
        await record_audit(
            session,
            user.username,
            "wellbeing_call.outcome",
            f"call:{call.id}",
            {"outcome": outcome, "attempts": call.attempts},
        )
        await session.commit()
        resident = await session.get(Resident, call.resident_id)
        view = call_view(call, resident.name if resident else "", campaign, now)
    return web.json_response(view)


@requires(*PLANNERS)
async def set_call_plan(request: web.Request) -> web.Response:
    """Weekly calls for a high-risk resident: ``{"weekly": true, "weekday": 1-7, "hour": 0-23}``."""
    user = current_user(request)
    data = await read_checked(request, CallPlanBody)
    weekly, weekday, hour = (
        data.get("weekly"),
        data.get("weekday", 1),
        data.get("hour", DEFAULT_HOUR),
    )
    if not isinstance(weekly, bool):
        raise ApiError(400, "invalid_request", "'weekly' must be true or false")
    if not isinstance(weekday, int) or not 1 <= weekday <= 7:
        raise ApiError(400, "invalid_request", "'weekday' must be 1 (Monday) to 7 (Sunday)")
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ApiError(400, "invalid_request", "'hour' must be 0 to 23")
    try:
        resident_id = int(request.match_info["resident_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such resident") from None
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(Resident, resident_id) is None:
            raise ApiError(404, "not_found", "no such resident")
        plan = await session.get(CallPlan, resident_id)
        if plan is None:
            plan = CallPlan(resident_id=resident_id)
            session.add(plan)
        plan.weekly, plan.weekday, plan.hour = weekly, weekday, hour
        plan.updated_by, plan.updated_at = user.username, request.app[CLOCK]()
        await record_audit(
            session,
            user.username,
            "wellbeing_call.plan_weekly",
            f"resident:{resident_id}",
            {"weekly": weekly, "weekday": weekday, "hour": hour},
        )
        await session.commit()
    return web.json_response(
        {"resident_id": resident_id, "weekly": weekly, "weekday": weekday, "hour": hour}
    )
