"""Proactive campaigns of wellbeing calls (issue 22, item 5; ADR 0151).

A coordinator (or a supervisor) picks a population with care-plan filters
(:mod:`hub.console.population`: "over 80, living alone, these areas"), previews who is in
it, and creates the campaign with a name, a script and a priority. Its calls go into the one
wellbeing-call agenda (:mod:`hub.console.calls`, ``reason = "campaign"``), shared out among
the chosen operators, where operators see the campaign's name and script and record the
outcome as for any call; a no-answer is retried (:data:`MAX_ATTEMPTS`). The campaign's
page follows its completion: done, pending, no answer, per operator. Closing it marks the
calls not made as ``not_called`` (they leave the agenda).

``GET /api/console/campaigns``, ``POST /api/console/campaigns/preview``,
``POST /api/console/campaigns``, ``GET /api/console/campaigns/{id}``,
``POST /api/console/campaigns/{id}/close``.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.console import population
from hub.console.bodies import CAMPAIGN_CODES, CampaignCreate, CampaignPreview
from hub.console.models import Campaign, WellbeingCall
from hub.console.residents import LOCAL_ZONE
from hub.db.models import Resident, User
from hub.http import ApiError, read_checked

MANAGERS = (Role.COORDINATOR, Role.SUPERVISOR)
# Who may be given campaign calls (the roles that record call outcomes).
CALLER_ROLES = frozenset({Role.OPERATOR.value, Role.SUPERVISOR.value})
PRIORITIES = {"high": 2, "normal": 1, "low": 0}
REASON = "campaign"
MAX_POPULATION = 5000
PREVIEW_ROWS = 200
DETAIL_ROWS = 1000
# Final outcomes that mean the resident was not reached.
NOT_REACHED = frozenset({"no_answer", "not_called"})
PROGRESS_KEYS = (
    *("total", "pending", "retrying", "done", "no_answer", "not_called"),
    *("reached_fine", "reached_follow_up", "declined", "other"),
)


def progress(calls: list[WellbeingCall]) -> dict[str, int]:
    """How far the campaign's calls are (pure): pending (not tried yet), retrying (no answer
    so far, tried again later), done (reached or declined), no_answer (gave up after the
    last attempt), not_called (the campaign closed first), and the reached outcomes."""
    out = Counter(total=len(calls))
    for call in calls:
        if call.outcome is None:
            out["retrying" if call.attempts else "pending"] += 1
        elif call.outcome in NOT_REACHED:
            out[call.outcome] += 1
        else:
            out["done"] += 1
            out[call.outcome] += 1
    return {k: out[k] for k in PROGRESS_KEYS}


def per_operator(calls: list[WellbeingCall]) -> list[dict[str, Any]]:
    """Per operator (pure): calls given to them, done by them, still pending for them
    (``operator`` None: calls given to nobody)."""
    rows: dict[str | None, Counter[str]] = {}
    for call in calls:
        if call.outcome is None:
            rows.setdefault(call.assigned_to, Counter())["pending"] += 1
        elif call.outcome != "not_called":
            kind = "no_answer" if call.outcome in NOT_REACHED else "done"
            rows.setdefault(call.done_by, Counter())[kind] += 1
        if call.assigned_to is not None:
            rows.setdefault(call.assigned_to, Counter())["assigned"] += 1
    return [
        {
            "operator": who,
            "assigned": n["assigned"],
            "done": n["done"],
            "no_answer": n["no_answer"],
            "pending": n["pending"],
        }
        for who, n in sorted(rows.items(), key=lambda item: (item[0] is None, item[0] or ""))
    ]


def campaign_view(campaign: Campaign, calls: list[WellbeingCall]) -> dict[str, Any]:
    """A campaign with its progress."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "script": campaign.script,
        "filters": campaign.filters,
        "priority": next(k for k, v in PRIORITIES.items() if v == campaign.priority),
        "starts_at": campaign.starts_at.isoformat(),
        "created_by": campaign.created_by,
        "created_at": campaign.created_at.isoformat(),
        "closed_at": campaign.closed_at.isoformat() if campaign.closed_at else None,
        "closed_by": campaign.closed_by,
        "progress": progress(calls),
    }


def _today(request: web.Request) -> date:
    return request.app[CLOCK]().astimezone(LOCAL_ZONE).date()


def _entry(c: population.Candidate, today: date) -> dict[str, Any]:
    return {"id": c.resident_id, "name": c.name, "age": c.age(today), "area": c.area}


async def _campaign_calls(session: AsyncSession, campaign_ids: list[int]) -> list[WellbeingCall]:
    if not campaign_ids:
        return []
    found = await session.scalars(
        select(WellbeingCall).where(WellbeingCall.campaign_id.in_(campaign_ids))
    )
    return list(found)


@requires(*MANAGERS)
async def list_campaigns(request: web.Request) -> web.Response:
    """Every campaign, open ones first then newest first, with its progress; and the areas
    homes are in and the people who may be given calls (for the form)."""
    async with request.app[SESSIONMAKER]() as session:
        campaigns = list(
            await session.scalars(
                select(Campaign)
                .order_by(Campaign.closed_at.is_not(None), Campaign.created_at.desc())
                .limit(200)
            )
        )
        calls = await _campaign_calls(session, [c.id for c in campaigns])
        areas = await population.areas(session)
        callers = (
            await session.execute(
                select(User.username, User.display_name)
                .where(User.active.is_(True), User.role.in_(CALLER_ROLES))
                .order_by(User.username)
            )
        ).all()
    by_campaign: dict[int, list[WellbeingCall]] = {}
    for call in calls:
        by_campaign.setdefault(call.campaign_id or 0, []).append(call)
    views = [campaign_view(c, by_campaign.get(c.id, [])) for c in campaigns]
    operators = [{"username": u, "display_name": d or u} for u, d in callers]
    return web.json_response({"campaigns": views, "areas": areas, "operators": operators})


@requires(*MANAGERS)
async def preview(request: web.Request) -> web.Response:
    """Who the filters select: how many, and the first of them (oldest first)."""
    data = await read_checked(request, CampaignPreview, CAMPAIGN_CODES)
    filters = msgspec.convert(data, CampaignPreview, strict=True).filters
    today = _today(request)
    async with request.app[SESSIONMAKER]() as session:
        chosen = await population.select(session, filters, today)
    return web.json_response(
        {"count": len(chosen), "residents": [_entry(c, today) for c in chosen[:PREVIEW_ROWS]]}
    )


async def _callers(session: AsyncSession, names: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    found = set(
        await session.scalars(
            select(User.username).where(
                User.username.in_(wanted), User.active.is_(True), User.role.in_(CALLER_ROLES)
            )
        )
    )
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ApiError(
            400, "unknown_operator", f"not an active operator or supervisor: {', '.join(unknown)}"
        )
    return wanted


@requires(*MANAGERS)
async def create(request: web.Request) -> web.Response:
    """Create a campaign and put its calls into the agenda."""
    user = current_user(request)
    data = await read_checked(request, CampaignCreate, CAMPAIGN_CODES)
    body = msgspec.convert(data, CampaignCreate, strict=True)
    name = " ".join(body.name.split())
    now = request.app[CLOCK]()
    starts = _start(body.starts_at, now)
    today = _today(request)
    async with request.app[SESSIONMAKER]() as session:
        same = await session.scalar(
            select(Campaign.id).where(
                func.lower(Campaign.name) == name.lower(), Campaign.closed_at.is_(None)
            )
        )
        if same is not None:
            raise ApiError(409, "duplicate_campaign", f"an open campaign is called {name!r}")
        operators = await _callers(session, body.operators)
        chosen = await population.select(session, body.filters, today)
        if not chosen:
            raise ApiError(400, "empty_population", "these filters select nobody")
        if len(chosen) > MAX_POPULATION:
            raise ApiError(
                400, "population_too_large", f"{len(chosen)} residents; at most {MAX_POPULATION}"
            )
        day = starts.astimezone(LOCAL_ZONE).date()
        # One campaign call per resident and day (the agenda's rule): a resident already
        # called by another campaign that day is left out and named in the answer.
        busy = set(
            await session.scalars(
                select(WellbeingCall.resident_id).where(
                    WellbeingCall.reason == REASON, WellbeingCall.due_day == day
                )
            )
        )
        callable_ = [c for c in chosen if c.resident_id not in busy]
        if not callable_:
            raise ApiError(409, "already_called", "everyone selected has a campaign call that day")
        campaign = Campaign(
            name=name,
            script=body.script.strip(),
            filters=population.as_dict(body.filters),
            priority=PRIORITIES[body.priority],
            starts_at=starts,
            created_by=user.username,
            created_at=now,
        )
        session.add(campaign)
        await session.flush()
        calls = [
            WellbeingCall(
                resident_id=c.resident_id,
                reason=REASON,
                due_at=starts,
                due_day=day,
                notes="",
                created_by=user.username,
                created_at=now,
                campaign_id=campaign.id,
                priority=campaign.priority,
                attempts=0,
                assigned_to=operators[i % len(operators)] if operators else None,
                outcome_notes="",
            )
            for i, c in enumerate(callable_)
        ]
        session.add_all(calls)
        await record_audit(
            session,
            user.username,
            "campaign.create",
            f"campaign:{campaign.id}",
            {"name": name, "filters": campaign.filters, "calls": len(calls)},
            at=now,
        )
        await session.commit()
        view = campaign_view(campaign, calls)
    view["left_out"] = sorted(c.resident_id for c in chosen if c.resident_id in busy)
    return web.json_response(view, status=201)


def _start(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise ApiError(400, "invalid_start", "'starts_at' needs a time zone offset")
    return value


def _campaign_id(request: web.Request) -> int:
    try:
        return int(request.match_info["campaign_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such campaign") from None


async def _detail(session: AsyncSession, campaign: Campaign) -> dict[str, Any]:
    rows = (
        await session.execute(
            select(WellbeingCall, Resident.name)
            .join(Resident, Resident.id == WellbeingCall.resident_id)
            .where(WellbeingCall.campaign_id == campaign.id)
            .order_by(WellbeingCall.id)
        )
    ).all()
    calls = [call for call, _ in rows]
    view = campaign_view(campaign, calls)
    view["operators"] = per_operator(calls)
    view["calls"] = [
        {
            "id": call.id,
            "resident_id": call.resident_id,
            "resident_name": name,
            "assigned_to": call.assigned_to,
            "attempts": call.attempts,
            "due_at": call.due_at.isoformat(),
            "outcome": call.outcome,
            "done_by": call.done_by,
            "done_at": call.done_at.isoformat() if call.done_at else None,
        }
        for call, name in rows[:DETAIL_ROWS]
    ]
    return view


@requires(*MANAGERS)
async def detail(request: web.Request) -> web.Response:
    """A campaign, its progress per operator, and its calls."""
    async with request.app[SESSIONMAKER]() as session:
        campaign = await session.get(Campaign, _campaign_id(request))
        if campaign is None:
            raise ApiError(404, "not_found", "no such campaign")
        view = await _detail(session, campaign)
    return web.json_response(view)


@requires(*MANAGERS)
async def close(request: web.Request) -> web.Response:
    """Close a campaign: the calls not made yet leave the agenda as ``not_called``."""
    user, now = current_user(request), request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        campaign = await session.get(Campaign, _campaign_id(request))
        if campaign is None:
            raise ApiError(404, "not_found", "no such campaign")
        if campaign.closed_at is not None:
            raise ApiError(409, "already_closed", "this campaign is already closed")
        campaign.closed_at, campaign.closed_by = now, user.username
        open_calls = await session.scalars(
            select(WellbeingCall).where(
                WellbeingCall.campaign_id == campaign.id, WellbeingCall.done_at.is_(None)
            )
        )
        dropped = 0
        for call in open_calls:
            call.done_at, call.done_by, call.outcome = now, user.username, "not_called"
            dropped += 1
        await record_audit(
            session,
            user.username,
            "campaign.close",
            f"campaign:{campaign.id}",
            {"not_called": dropped},
            at=now,
        )
        await session.commit()
        view = await _detail(session, campaign)
    return web.json_response(view)
