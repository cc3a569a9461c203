"""The family web app: server-rendered pages on the shared web shell (phone-first).

Pages give the first view; ``/static/family/family.js`` keeps it live over the family
websocket (messages, calls, alarm notices) and talks to ``/api/family``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from alerts.values import relationship_name
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.auth.roles import Role
from hub.auth.web import public
from hub.family.access import may_contact, require_member
from hub.family.circles import linked_residents
from hub.family.conversations import ensure_direct, members_of
from hub.family.groups import member_rows
from hub.family.models import Conversation, Group
from hub.family.parties import parse_party, party_names, user_party
from hub.family.principal import Principal
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, path_int
from hub.web import Pages, PageUser
from hub.web.auth import page_requires
from protocol.i18n import Catalog

HERE = Path(__file__).parent
FAMILY_CATALOG = Catalog.load(HERE / "i18n.toml")
FAMILY_PAGES = Pages(HERE / "templates", FAMILY_CATALOG)
# What someone typed as their relationship when joining ("fill"), in the page's language
# when it is a word the catalogue knows in any language (ADR 0153), else as typed.
FAMILY_PAGES.environment.filters["relationship"] = relationship_name
STATIC_PREFIX = "/static/family"
PAGE_ROLES = (Role.FAMILY, Role.FACILITATOR)

# Texts the script needs (every family key plus a few of the shell's).
JS_TEXTS = [*FAMILY_CATALOG.texts, "conn_connecting", "conn_open", "conn_reconnecting",
            "error_generic", "error_network", "loading", "close"]  # fmt: skip


def _principal(user: PageUser) -> Principal:
    return Principal(
        party=user_party(user.id), actor=user.username, language=user.language,
        role=Role(user.role), user_id=user.id,
    )  # fmt: skip


def _render(
    request: web.Request, user: PageUser, name: str, active: str, context: dict[str, Any]
) -> web.Response:
    data = {"me": user_party(user.id), "page": active} | context.pop("page_data", {})
    return FAMILY_PAGES.render(
        request,
        name,
        {"active": active, "page_data": data, **context},
        user=user,
        js_texts=JS_TEXTS,
    )


@page_requires(*PAGE_ROLES)
async def home(request: web.Request, user: PageUser) -> web.StreamResponse:
    """The person's residents, chats, alarm notices and the linking form."""
    async with request.app[SESSIONMAKER]() as session:
        residents = await linked_residents(session, user_party(user.id), request.app[CLOCK]())
        await session.commit()
    return _render(
        request, user, "family_home.html", "home",
        {"residents": residents, "page_data": {"residents": residents}},
    )  # fmt: skip


@page_requires(*PAGE_ROLES)
async def chat(request: web.Request, user: PageUser) -> web.StreamResponse:
    """One conversation: messages, composer, and a call button for a direct chat."""
    who = _principal(user)
    conversation_id = path_int(request, "cid")
    async with request.app[SESSIONMAKER]() as session:
        try:
            await require_member(session, who, conversation_id)
        except ApiError:
            raise web.HTTPNotFound() from None
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        members = [m.party for m in await members_of(session, conversation_id)]
        names = await party_names(session, members)
        others = [p for p in members if p != who.party]
        title = ", ".join(names[p] for p in others)
        if conversation.group_id is not None:
            group = await session.get(Group, conversation.group_id)
            title = group.name if group else title
    call_party = others[0] if conversation.kind == "direct" and len(others) == 1 else None
    limits = request.app[FAMILY_SETTINGS].media
    data = {
        "conversation_id": conversation_id, "names": names, "call_party": call_party,
        # So a phone can refuse a too-large video before sending 80 MB over mobile data.
        "video_max_bytes": limits.video_max_bytes, "video_max_s": limits.video_max_s,
    }  # fmt: skip
    return _render(
        request, user, "family_chat.html", "chat",
        {"title": title, "call_party": call_party, "page_data": data},
    )  # fmt: skip


@page_requires(*PAGE_ROLES)
async def chat_with(request: web.Request, user: PageUser) -> web.StreamResponse:
    """Open (or create) the direct chat with a party, then show it."""
    party = request.match_info["party"]
    try:
        parse_party(party)
    except ApiError:
        raise web.HTTPNotFound() from None
    async with request.app[SESSIONMAKER]() as session:
        if not await may_contact(session, user_party(user.id), party):
            raise web.HTTPNotFound()
        conversation = await ensure_direct(
            session, user_party(user.id), party, request.app[CLOCK]()
        )
        await session.commit()
    raise web.HTTPFound(f"/family/chat/{conversation.id}")


@page_requires(*PAGE_ROLES)
async def call(request: web.Request, user: PageUser) -> web.StreamResponse:
    """A video call with a party (started as soon as the page is live)."""
    party = request.match_info["party"]
    try:
        parse_party(party)
    except ApiError:
        raise web.HTTPNotFound() from None
    async with request.app[SESSIONMAKER]() as session:
        if not await may_contact(session, user_party(user.id), party):
            raise web.HTTPNotFound()
        names = await party_names(session, [party])
    return _render(
        request, user, "family_call.html", "call",
        {"page_data": {"call_party": party, "names": names}},
    )  # fmt: skip


@page_requires(*PAGE_ROLES)
async def agenda(request: web.Request, user: PageUser) -> web.StreamResponse:
    """The agendas of the person's residents, with a form to propose a visit."""
    async with request.app[SESSIONMAKER]() as session:
        residents = await linked_residents(session, user_party(user.id), request.app[CLOCK]())
        await session.commit()
    return _render(
        request, user, "family_agenda.html", "agenda",
        {"residents": residents, "page_data": {"residents": residents}},
    )  # fmt: skip


@page_requires(Role.FACILITATOR)
async def groups(request: web.Request, user: PageUser) -> web.StreamResponse:
    """The facilitator's view: their groups, members and who has gone quiet."""
    now = request.app[CLOCK]()
    quiet_after = timedelta(days=request.app[FAMILY_SETTINGS].quiet_after_days)
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(Group).where(Group.facilitator_id == user.id).order_by(Group.name)
            )
        )
        views = [
            {
                "id": g.id,
                "name": g.name,
                "conversation_id": g.conversation_id,
                "member_list": await member_rows(session, g.id, True, now, quiet_after),
            }
            for g in rows
        ]
    return _render(request, user, "family_groups.html", "groups", {"groups": views})


# Texts the join and reset pages' script needs.
_JOIN_TEXTS = [key for key in FAMILY_CATALOG.texts if key.startswith(("err_", "verify_", "reset_"))]
_JOIN_TEXTS += ["error_generic", "error_network"]


@public("the join form is for relatives who have no account yet")
async def join(request: web.Request) -> web.Response:
    """A relative with a linking code makes their own account (public)."""
    return FAMILY_PAGES.render(request, "family_join.html", js_texts=_JOIN_TEXTS)


@public("a person who forgot their password cannot sign in")
async def reset(request: web.Request) -> web.Response:
    """A relative who forgot their password gets a code to set a new one (public)."""
    return FAMILY_PAGES.render(request, "family_reset.html", js_texts=_JOIN_TEXTS)


@public("a browser fetches the service worker script without credentials")
async def service_worker(request: web.Request) -> web.Response:
    """The service worker, served under /family so its scope is the family app."""
    response = web.Response(
        body=(HERE / "static" / "sw.js").read_bytes(), content_type="text/javascript"
    )
    # A new version is picked up at the next visit, not after a day of HTTP caching.
    response.headers["Cache-Control"] = "no-cache"
    # Scope "/family" (the home page itself), one level above the script's "/family/".
    response.headers["Service-Worker-Allowed"] = "/family"
    return response


@public("the browser reads the manifest to offer installing the app")
async def manifest(request: web.Request) -> web.Response:
    """The web app manifest: the family app can be installed on a phone's home screen."""
    body = {
        "name": "Teleassist",
        "short_name": "Teleassist",
        "start_url": "/family",
        "scope": "/family",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#16213a",
        "icons": [
            {"src": f"{STATIC_PREFIX}/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png"}
            for n in (192, 512)
        ],
    }
    return web.json_response(body, content_type="application/manifest+json")
