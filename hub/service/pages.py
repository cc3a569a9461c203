"""Browser pages of the service lifecycle, on the shared web shell (hub/web).

Public: ``/service/apply`` (the online application) and ``/service/status``.
Staff: ``/service`` (referrals), ``/service/referrals/{reference}``,
``/service/work-orders`` and ``/service/work-orders/{id}`` (the installer's checklist),
``/service/figures``. Actions post to the JSON API from ``static/service.js``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, and_, func, or_, select

from alerts.values import RELATIONSHIP_CODES, relationship_name
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.audit import SYSTEM_ACTOR, record_audit
from hub.auth import Role
from hub.auth.web import public
from hub.service import installation, store
from hub.service.api import ASSESSORS, CATALOG, READERS, order_json, plan_json, service_json
from hub.service.codes import (
    CARE_LEVELS,
    DEVICE_KINDS,
    DISCHARGE_REASONS,
    MOBILITIES,
    SUSPENSION_REASONS,
)
from hub.service.consent import consent_context
from hub.service.models import (
    CarePlanRow,
    ServiceRow,
    StateChangeRow,
    SuspensionRow,
    WorkOrderRow,
)
from hub.service.queries import load_figures, reviews_due
from hub.web import Pages, PageUser
from hub.web.auth import page_requires
from hub.web.dates import format_clock, format_day, format_moment, format_numeric_day, parse_iso
from protocol import ADDRESS_FORMS

HERE = Path(__file__).parent
PAGES = Pages(HERE / "templates", CATALOG)
STATIC_PREFIX = "/static/service"
STAFF = (Role.SOCIAL_WORKER, Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR)
FIELD = (Role.INSTALLER, Role.COORDINATOR, Role.ADMIN)
CONSENT_EDITORS = frozenset(r.value for r in ASSESSORS)
ADDRESS_FORM_EDITORS = frozenset(r.value for r in READERS)
# The list's filters: a name in the address bar -> the states it shows.
LIST_FILTERS: dict[str, tuple[str, ...]] = {
    "referred": ("referred",),
    "installation": ("assessed", "work_order", "installing"),
    "active": ("active",),
    "suspended": ("suspended",),
    "discharged": ("discharged",),
}


def local(value: str | datetime | None, lang: str, with_time: bool = True) -> str:
    """An ISO time or datetime in the reader's language and the service's local time
    (Europe/Madrid, 24-hour), through Babel: ``21 de nov. del 2026, 18:35``."""
    if isinstance(value, str) and len(value) == 10:  # a day (a birth date), no time
        return format_day(date.fromisoformat(value), lang)
    moment = parse_iso(value)
    if moment is None:
        return "—"
    return format_moment(moment, lang) if with_time else format_day(moment, lang)


def short(value: str | datetime | None, lang: str) -> str:
    """The same moment in a table's narrow column: ``21/11/2026 18:35`` (Babel's numeric
    date for the language, 24-hour clock)."""
    moment = parse_iso(value)
    if moment is None:
        return "—"
    return f"{format_numeric_day(moment, lang)} {format_clock(moment, lang)}"


PAGES.environment.filters["local"] = local
PAGES.environment.filters["short"] = short

# The two actors of a referral's history that are not someone's account: the public
# application form and the hub itself (an installation finished by the devices' first
# messages, a retention job). Their stored names are words of the code, not of the reader.
ACTOR_KEYS = {"public": "actor_public", SYSTEM_ACTOR: "actor_system"}


def actor(name: str, lang: str) -> str:
    """Who took a step of the history, in ``lang``: an account's username as it is, or
    words for the public form and the hub ("Formulari públic", "Automàtic")."""
    key = ACTOR_KEYS.get(name)
    return CATALOG.text(key, lang) if key else name


PAGES.environment.filters["actor"] = actor


def relationship(contact: dict[str, Any], lang: str) -> str:
    """A contact's relationship in ``lang`` (a code, "other" with its words, or the words
    of a contact stored before relationships were coded)."""
    code = str(contact.get("relationship") or "")
    return relationship_name(code, lang, str(contact.get("relationship_other") or ""))


def relationship_options(lang: str) -> list[tuple[str, str]]:
    """(code, name) of every relationship a form offers, in ``lang``; where two codes read
    the same ("neighbour" in English), the name says which."""
    names = [(code, relationship_name(code, lang)) for code in RELATIONSHIP_CODES[:-1]]
    seen = [name for _, name in names]
    sexes = {"m": CATALOG.text("rel_man", lang), "f": CATALOG.text("rel_woman", lang)}
    options = [
        (code, f"{name} ({sexes[code[-1]]})" if seen.count(name) > 1 else name)
        for code, name in names
    ]
    return [*options, ("other", CATALOG.text("rel_other", lang))]


PAGES.environment.filters["relationship"] = relationship
PAGES.environment.globals["relationship_options"] = relationship_options


def _render(request: web.Request, name: str, user: PageUser | None, **context: Any) -> web.Response:
    context.setdefault("page_data", {})
    values = {"sstatic": STATIC_PREFIX, "address_forms": ADDRESS_FORMS, **context}
    return PAGES.render(request, name, values, user=user)


# ---------------------------------------------------------------- public


@public("the online application form")
async def apply_page(request: web.Request) -> web.Response:
    """The online application form."""
    return _render(request, "service_apply.html", None, mobilities=MOBILITIES, staff=False)


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
    if state and state not in LIST_FILTERS:
        raise web.HTTPBadRequest(text=PAGES.text("bad_filter", user.language))
    search = " ".join(request.query.get("q", "").split())[:100]
    query = select(ServiceRow).order_by(ServiceRow.referred_at.desc()).limit(300)
    if state:
        query = query.where(ServiceRow.state.in_(LIST_FILTERS[state]))
    if search:
        query = query.where(_matches(search))
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
        q=search,
        filters=tuple(LIST_FILTERS),
        may_refer=user.role in CONSENT_EDITORS,
        current="referrals",
    )


def _matches(search: str) -> ColumnElement[bool]:
    """Every word of the search in the reference, name, DNI/NIE, phone or town."""
    columns = (
        ServiceRow.reference,
        ServiceRow.person_name,
        ServiceRow.id_document,
        ServiceRow.phone,
        ServiceRow.municipality,
    )
    words = []
    for word in search.split():
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        words.append(or_(*(func.lower(c).like(pattern.lower(), escape="\\") for c in columns)))
    return and_(*words)


@page_requires(*ASSESSORS)
async def new_referral_page(request: web.Request, user: PageUser) -> web.Response:
    """Staff type a referral in: the online form's fields, sent to the staff API (which
    answers a person already known with their reference), then the new referral's page."""
    return _render(
        request,
        "service_apply.html",
        user,
        mobilities=MOBILITIES,
        staff=True,
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
        pause = await session.scalar(
            select(SuspensionRow)
            .where(SuspensionRow.service_id == row.id, SuspensionRow.ended_at.is_(None))
            .order_by(SuspensionRow.id.desc())
            .limit(1)
        )
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
        pause=pause,
        may_change_consent=user.role in CONSENT_EDITORS,
        may_change_address_form=user.role in ADDRESS_FORM_EDITORS,
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
