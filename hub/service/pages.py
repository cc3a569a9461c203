"""Browser pages of the service lifecycle, on the shared web shell (hub/web).

Public: ``/service/apply`` (the online application) and ``/service/status``.
Staff: ``/service`` (referrals), ``/service/referrals/{reference}``,
``/service/work-orders`` and ``/service/work-orders/{id}`` (the installer's checklist),
``/service/figures``. Actions post to the JSON API from ``static/service.js``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import record_audit
from hub.auth import Role
from hub.auth.web import public
from hub.service import installation, store
from hub.service.api import ASSESSORS, CATALOG, order_json, plan_json, service_json
from hub.service.codes import (
    CARE_LEVELS,
    DEVICE_KINDS,
    DISCHARGE_REASONS,
    MOBILITIES,
    SUSPENSION_REASONS,
)
from hub.service.consent import consent_context
from hub.service.models import CarePlanRow, ServiceRow, StateChangeRow, WorkOrderRow
from hub.service.queries import load_figures, reviews_due
from hub.web import DISPLAY_TIMEZONE, Pages, PageUser
from hub.web.auth import page_requires

HERE = Path(__file__).parent
PAGES = Pages(HERE / "templates", CATALOG)
STATIC_PREFIX = "/static/service"
_TZ = ZoneInfo(DISPLAY_TIMEZONE)
STAFF = (Role.SOCIAL_WORKER, Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR)
FIELD = (Role.INSTALLER, Role.COORDINATOR, Role.ADMIN)
CONSENT_EDITORS = frozenset(r.value for r in ASSESSORS)


def local(value: str | datetime | None, with_time: bool = True) -> str:
    """An ISO time or datetime shown in the service's local time (Europe/Madrid)."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    shown = moment.astimezone(_TZ)
    return shown.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


PAGES.environment.filters["local"] = local


def _render(request: web.Request, name: str, user: PageUser | None, **context: Any) -> web.Response:
    context.setdefault("page_data", {})
    return PAGES.render(request, name, {"sstatic": STATIC_PREFIX, **context}, user=user)


# ---------------------------------------------------------------- public


@public("the online application form")
async def apply_page(request: web.Request) -> web.Response:
    """The online application form."""
    return _render(request, "service_apply.html", None, mobilities=MOBILITIES)


@public("the application status form")
async def status_page(request: web.Request) -> web.Response:
    """Ask the state of an application by reference and check code."""
    return _render(request, "service_status.html", None)


# ---------------------------------------------------------------- staff


@page_requires(*STAFF, Role.INSTALLER)
async def list_page(request: web.Request, user: PageUser) -> web.Response:
    """Referrals and services with their installation due dates (overdue highlighted)."""
    if user.role == Role.INSTALLER.value:
        raise web.HTTPFound("/service/work-orders")
    now = request.app[CLOCK]()
    state = request.query.get("state", "")
    query = select(ServiceRow).order_by(ServiceRow.referred_at.desc()).limit(300)
    if state:
        query = query.where(ServiceRow.state == state)
    async with request.app[SESSIONMAKER]() as session:
        rows = [service_json(r, now) for r in await session.scalars(query)]
        due = await reviews_due(session, now)
    return _render(
        request,
        "service_list.html",
        user,
        services=rows,
        reviews=due,
        state=state,
        current="referrals",
    )


@page_requires(*STAFF)
async def referral_page(request: web.Request, user: PageUser) -> web.Response:
    """One referral: facts, assessment, care plan, work order, changes, history."""
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        try:
            row = await store.get_service(session, request.match_info["reference"])
        except store.NotFound:
            raise web.HTTPNotFound(text=PAGES.text("not_found", user.language)) from None
        plan = await session.scalar(
            select(CarePlanRow)
            .where(CarePlanRow.service_id == row.id)
            .order_by(CarePlanRow.version.desc())
            .limit(1)
        )
        history = list(
            await session.scalars(
                select(StateChangeRow)
                .where(StateChangeRow.service_id == row.id)
                .order_by(StateChangeRow.id)
            )
        )
        order_id = await session.scalar(
            select(WorkOrderRow.id)
            .where(WorkOrderRow.service_id == row.id)
            .order_by(WorkOrderRow.id.desc())
            .limit(1)
        )
        service = service_json(row, now, detail=True)
        consent = await consent_context(session, row)
    # Health and social notes of a person: the read is audited before the page is sent.
    async with request.app[SESSIONMAKER]() as session:
        await record_audit(
            session, user.username, "service.read", f"service:{service['reference']}", at=now
        )
        await session.commit()
    return _render(
        request,
        "service_referral.html",
        user,
        s=service,
        plan=plan_json(plan) if plan else None,
        history=history,
        order_id=order_id,
        care_levels=CARE_LEVELS,
        device_kinds=DEVICE_KINDS,
        suspension_reasons=SUSPENSION_REASONS,
        discharge_reasons=DISCHARGE_REASONS,
        consent=consent,
        may_change_consent=user.role in CONSENT_EDITORS,
        current="referrals",
        page_data={"reference": row.reference},
    )


@page_requires(*FIELD)
async def work_orders_page(request: web.Request, user: PageUser) -> web.Response:
    """Open installation work orders, soonest due first."""
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        orders = []
        query = (
            select(WorkOrderRow)
            .where(WorkOrderRow.completed_at.is_(None))
            .order_by(WorkOrderRow.due_at)
        )
        for order in list(await session.scalars(query)):
            service = await session.get(ServiceRow, order.service_id)
            assert service is not None
            if service.state != "discharged":
                orders.append(await order_json(session, order, service, now))
    return _render(request, "service_work_orders.html", user, orders=orders, current="work_orders")


@page_requires(*FIELD)
async def work_order_page(request: web.Request, user: PageUser) -> web.Response:
    """The installer's checklist (the script refreshes it as devices report)."""
    now = request.app[CLOCK]()
    try:
        order_id = int(request.match_info["order_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    async with request.app[SESSIONMAKER]() as session:
        try:
            order, service = await installation.get_order(session, order_id)
        except store.NotFound:
            raise web.HTTPNotFound(text=PAGES.text("not_found", user.language)) from None
        body = await order_json(session, order, service, now)
    return _render(
        request,
        "service_work_order.html",
        user,
        o=body,
        current="work_orders",
        page_data={"order_id": order_id},
    )


@page_requires(Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR)
async def figures_page(request: web.Request, user: PageUser) -> web.Response:
    """The managers' figures."""
    async with request.app[SESSIONMAKER]() as session:
        figures = await load_figures(session, request.app[CLOCK]())
    return _render(request, "service_figures.html", user, f=figures, current="figures")


def add_routes(app: web.Application) -> None:
    """Register the pages and the area's static files."""
    r = app.router
    r.add_static(STATIC_PREFIX, HERE / "static", name="service-static")
    r.add_get("/service/apply", apply_page)
    r.add_get("/service/status", status_page)
    r.add_get("/service", list_page)
    r.add_get("/service/referrals/{reference}", referral_page)
    r.add_get("/service/work-orders", work_orders_page)
    r.add_get("/service/work-orders/{order_id}", work_order_page)
    r.add_get("/service/figures", figures_page)
