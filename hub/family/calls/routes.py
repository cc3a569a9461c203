"""Call endpoints: ICE configuration and call history (signalling is on the websocket)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import or_, select

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.calls.ice import ice_servers
from hub.family.calls.signalling import call_view
from hub.family.models import CallRecord
from hub.family.parties import party_names, party_view
from hub.family.principal import family_api, principal_of
from hub.family.settings import FAMILY_SETTINGS
from hub.http import query_int


@family_api
async def call_config(request: web.Request) -> web.Response:
    """STUN/TURN servers and ring timeout for the caller's client."""
    who = await principal_of(request)
    settings = request.app[FAMILY_SETTINGS]
    servers = ice_servers(
        settings.stun_urls, settings.turn_urls, settings.turn_secret,
        who.party, request.app[CLOCK](), settings.turn_ttl_s,
    )  # fmt: skip
    return web.json_response({"ice_servers": servers, "ring_timeout_s": settings.ring_timeout_s})


@family_api
async def call_history(request: web.Request) -> web.Response:
    """The caller's calls, newest first (missed ones included; content never stored)."""
    who = await principal_of(request)
    limit = query_int(request, "limit", 30, 1, 100)
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(CallRecord)
                .where(or_(CallRecord.caller == who.party, CallRecord.callee == who.party))
                .order_by(CallRecord.id.desc())
                .limit(limit)
            )
        )
        names = await party_names(session, [p for r in rows for p in (r.caller, r.callee)])
    out = []
    for row in rows:
        view = call_view(row, row.id)
        view["caller"] = party_view(row.caller, names)
        view["callee"] = party_view(row.callee, names)
        view["direction"] = "outgoing" if row.caller == who.party else "incoming"
        out.append(view)
    return web.json_response(out)
