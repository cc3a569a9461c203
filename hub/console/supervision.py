"""The supervisor's view: service figures for a period, CSV export, who is on shift.

``GET /api/console/figures?from=2026-11-01&to=2026-11-23`` (local dates, both included),
``GET /api/console/figures.csv`` (one row per alarm), ``POST /api/console/presence``
(a console heartbeat) and ``GET /api/console/on-shift``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth import Role, current_user, requires
from hub.console.figures import load_records, service_figures, to_csv
from hub.console.models import ConsolePresence
from hub.console.residents import LOCAL_ZONE
from hub.http import ApiError

FIGURE_READERS = (Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
CONSOLE_USERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.ADMIN, Role.COORDINATOR)
# A console sends a heartbeat every 30 s; two missed beats and you are off the list.
ON_SHIFT_WINDOW = timedelta(seconds=90)
# A gap longer than this starts a new shift ("since" resets).
SHIFT_GAP = timedelta(minutes=10)
MAX_DAYS = 366


def _day(value: str | None, name: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name!r} must be a date like 2026-11-23") from None


def period(request: web.Request) -> tuple[date, date, datetime, datetime]:
    """The local dates asked for and the UTC instants ``[start, end)`` they cover."""
    today = request.app[CLOCK]().astimezone(LOCAL_ZONE).date()
    first = _day(request.query.get("from"), "from", today)
    last = _day(request.query.get("to"), "to", first)
    if last < first:
        raise ApiError(400, "invalid_period", "'to' is before 'from'")
    if (last - first).days >= MAX_DAYS:
        raise ApiError(400, "invalid_period", f"at most {MAX_DAYS} days at a time")
    start = datetime.combine(first, time(0), LOCAL_ZONE)
    end = datetime.combine(last + timedelta(days=1), time(0), LOCAL_ZONE)
    return first, last, start, end


@requires(*FIGURE_READERS)
async def figures(request: web.Request) -> web.Response:
    """Figures of the period (see :mod:`hub.console.figures` for the definitions)."""
    first, last, start, end = period(request)
    async with request.app[SESSIONMAKER]() as session:
        records = await load_records(session, start, end)
    body: dict[str, Any] = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        **service_figures(records, request.app[CLOCK]()),
    }
    return web.json_response(body)


@requires(*FIGURE_READERS)
async def figures_csv(request: web.Request) -> web.Response:
    """The period's alarms as CSV (UTF-8, one row per alarm)."""
    first, last, start, end = period(request)
    async with request.app[SESSIONMAKER]() as session:
        records = await load_records(session, start, end)
    name = f"teleassist-alarms-{first.isoformat()}-{last.isoformat()}.csv"
    return web.Response(
        text=to_csv(records),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@requires(*CONSOLE_USERS)
async def heartbeat(request: web.Request) -> web.Response:
    """The console is open: keep this user on the "on shift" list."""
    user = current_user(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        row = await session.get(ConsolePresence, user.id)
        if row is None:
            session.add(
                ConsolePresence(
                    user_id=user.id,
                    username=user.username,
                    role=user.role.value,
                    since=now,
                    last_seen=now,
                )
            )
        else:
            if now - row.last_seen > SHIFT_GAP:
                row.since = now
            row.last_seen = now
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # two tabs of one user raced; the other one wrote it
    return web.Response(status=204)


@requires(*FIGURE_READERS)
async def on_shift(request: web.Request) -> web.Response:
    """Staff with a console open now."""
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        rows = (
            await session.scalars(
                select(ConsolePresence)
                .where(ConsolePresence.last_seen >= now - ON_SHIFT_WINDOW)
                .order_by(ConsolePresence.role, ConsolePresence.username)
            )
        ).all()
    return web.json_response(
        {
            "on_shift": [
                {
                    "username": r.username,
                    "role": r.role,
                    "since": r.since.isoformat(),
                    "last_seen": r.last_seen.isoformat(),
                }
                for r in rows
            ]
        }
    )
