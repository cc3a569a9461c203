"""The console's HTML pages (server-rendered shells; the data comes from the APIs)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hub.auth import Role
from hub.web import Pages, PageUser
from hub.web.auth import page_requires
from protocol.i18n import Catalog

HERE = Path(__file__).parent
CONSOLE_CATALOG = Catalog.load(HERE / "i18n.toml")
CONSOLE_PAGES = Pages(HERE / "templates", CONSOLE_CATALOG)
STATIC_PREFIX = "/static/console"
ALARM_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.ADMIN)
ALARM_HANDLERS = frozenset({Role.OPERATOR.value, Role.SUPERVISOR.value})
FIGURE_READERS = (Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR)
CALL_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.SOCIAL_WORKER, Role.COORDINATOR)
CALL_PLANNERS = frozenset({"supervisor", "social_worker", "coordinator"})
CAMPAIGN_MANAGERS = (Role.COORDINATOR, Role.SUPERVISOR)
PROTOCOL_EDITORS = (Role.ADMIN, Role.COORDINATOR)

# Texts the console scripts use (every key of both catalogs is small; send them all).
_SHELL_JS_KEYS = [
    # How the resident is addressed, and the card's words that follow it (ADR 0170).
    "address_form",
    "address_form_unknown",
    "address_form_feminine",
    "address_form_masculine",
    "address_form_neutral",
    "lives_alone_feminine",
    "lives_alone_masculine",
    "lives_alone_neutral",
    "conn_connecting",
    "conn_open",
    "conn_reconnecting",
    "error_generic",
    "error_network",
    "session_expired",
    "forbidden",
    "sound_on",
    "sound_on_hint",
    "sound_off_hint",
    "sound_off",
    "cancel",
    "close",
    "save",
    "loading",
    "role_operator",
    "role_supervisor",
    "role_social_worker",
    "role_admin",
    "role_coordinator",
]


def _js_keys() -> list[str]:
    return _SHELL_JS_KEYS + sorted(CONSOLE_CATALOG.texts)


def nav_items(user: PageUser) -> list[tuple[str, str, str]]:
    """(key, href, id) of the console's navigation for this user's role."""
    items = []
    if user.role in {r.value for r in ALARM_READERS}:
        items += [
            ("nav_queue", "/console", "queue"),
            ("nav_technical", "/console/technical", "technical"),
        ]
    if user.role in {"operator", "supervisor", "social_worker", "coordinator"}:
        items.append(("nav_calls", "/console/calls", "calls"))
    if user.role in {r.value for r in CAMPAIGN_MANAGERS}:
        items.append(("nav_campaigns", "/console/campaigns", "campaigns"))
    if user.role in {r.value for r in PROTOCOL_EDITORS}:
        items.append(("nav_protocols", "/console/protocols", "protocols"))
    if user.role in {r.value for r in FIGURE_READERS}:
        items.append(("nav_supervisor", "/console/supervisor", "supervisor"))
    return items


def _render(request: web.Request, user: PageUser, template: str, current: str) -> web.Response:
    return CONSOLE_PAGES.render(
        request,
        template,
        {
            "nav": nav_items(user),
            "current": current,
            "console_static": STATIC_PREFIX,
            "page_data": {
                "user": {"id": user.id, "username": user.username, "role": user.role},
                "can_act": user.role in ALARM_HANDLERS,
            },
            "can_plan": user.role in CALL_PLANNERS,
        },
        user=user,
        js_texts=_js_keys(),
    )


@page_requires(*ALARM_READERS)
async def queue_page(request: web.Request, user: PageUser) -> web.Response:
    """The operator's screen: the live queue beside the selected alarm and resident card."""
    return _render(request, user, "queue.html", "queue")


@page_requires(*ALARM_READERS)
async def technical_page(request: web.Request, user: PageUser) -> web.Response:
    """Technical alarms with their maintenance workflow."""
    return _render(request, user, "technical.html", "technical")


@page_requires(*CALL_READERS)
async def calls_page(request: web.Request, user: PageUser) -> web.Response:
    """The wellbeing-call agenda."""
    return _render(request, user, "calls.html", "calls")


@page_requires(*CAMPAIGN_MANAGERS)
async def campaigns_page(request: web.Request, user: PageUser) -> web.Response:
    """Campaigns of wellbeing calls: create one for a population, follow its completion."""
    return _render(request, user, "campaigns.html", "campaigns")


@page_requires(*PROTOCOL_EDITORS)
async def protocols_page(request: web.Request, user: PageUser) -> web.Response:
    """The centre's operator protocols per alarm kind, edited in every language."""
    return _render(request, user, "protocols.html", "protocols")


@page_requires(*FIGURE_READERS)
async def supervisor_page(request: web.Request, user: PageUser) -> web.Response:
    """Service figures for a period, CSV export, who is on shift."""
    return _render(request, user, "supervisor.html", "supervisor")
