"""``GET /api/family/ws``: live events out, call signalling in."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from hub.appkeys import SETTINGS
from hub.family.calls.signalling import FRAME_EVENTS, CallService
from hub.family.calls.state import CallError
from hub.family.live import LIVE_HUB, Connection
from hub.family.parties import parse_party
from hub.family.principal import Principal, family_api, principal_of, still_allowed
from hub.http import ApiError, check_same_origin, parse_json

_LOGGER = logging.getLogger(__name__)

CALL_SERVICE = web.AppKey("family_call_service", CallService)
PING_INTERVAL_S = 20.0
MAX_FRAME = 128 * 1024

_EVENTS = FRAME_EVENTS


async def _handle(calls: CallService, who: Principal, raw: str) -> dict[str, Any] | None:
    """One client frame; returns a direct reply, if any."""
    try:
        frame = parse_json(raw)
    except ValueError:
        return {"type": "error", "error": "invalid_json", "message": "frames must be JSON"}
    if not isinstance(frame, dict):
        return {"type": "error", "error": "invalid_json", "message": "frames must be objects"}
    kind = frame.get("type")
    call_id = frame.get("call_id")
    try:
        if kind == "call.start":
            try:
                parse_party(frame.get("callee"))
            except ApiError as err:
                raise CallError(err.code, err.message) from None
            await calls.start(who.party, str(frame["callee"]))
            return None
        if kind in ("ping", "pong"):
            return None
        if kind == "listen.signal":  # a supervisor's listen-in leg (hub/family/calls/listen.py)
            calls.listens.relay(frame.get("listen_id"), who.party, frame.get("data"), len(raw))
            return None
        if kind == "listen.leave":
            calls.listens.leave(frame.get("listen_id"), who.party)
            return None
        if kind not in _EVENTS and kind != "call.signal":
            return {"type": "error", "error": "unknown_type", "message": f"unknown type {kind!r}"}
        if not isinstance(call_id, int):
            raise CallError("invalid_request", "call_id must be a number")
        if kind in _EVENTS:
            await calls.act(call_id, who.party, _EVENTS[kind])
            return None
        calls.relay(call_id, who.party, frame.get("data"), len(raw))
    except CallError as err:
        reply = {"type": "error", "error": err.code, "message": err.message, "call_id": call_id}
        if isinstance(kind, str) and kind.startswith("listen."):
            reply["listen_id"] = frame.get("listen_id")
        return reply
    return None


async def _pinger(request: web.Request, who: Principal, connection: Connection) -> None:
    # Each ping also checks that the caller's access still holds: a logout or a disabled
    # account in another hub worker closes this socket within one interval.
    while True:
        await asyncio.sleep(PING_INTERVAL_S)
        if not await still_allowed(request, who):
            request.app[LIVE_HUB].remove(connection)
            connection.close_soon()
            return
        connection.offer('{"type": "ping"}')


@family_api
async def live_socket(request: web.Request) -> web.StreamResponse:
    """Authenticate, then stream events and take call frames until the client leaves."""
    who = await principal_of(request)
    check_same_origin(request, request.app[SETTINGS].public_url)
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=None)
    await ws.prepare(request)
    hub = request.app[LIVE_HUB]
    calls = request.app[CALL_SERVICE]
    connection = Connection(who.party, ws, who.sign_in)
    hub.add(connection)
    calls.reconnected(who.party)
    writer = asyncio.create_task(connection.write_loop())
    pinger = asyncio.create_task(_pinger(request, who, connection))
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            reply = await _handle(calls, who, msg.data)
            if reply is not None:
                connection.offer(json.dumps(reply))
            if writer.done():
                break
    finally:
        hub.remove(connection)
        # Before any await: when the client goes away aiohttp may cancel this handler
        # here, and a party that is never told "disconnected" keeps its calls and
        # listen-ins open until some other timer ends them.
        if not hub.online(who.party):
            calls.disconnected(who.party)
        connection.close_soon()
        pinger.cancel()
        await asyncio.gather(writer, pinger, return_exceptions=True)
        await ws.close()
    return ws
