"""The alarms API of docs/alarms-api.md and the live socket: handlers only (the context's
wiring, its routes and the engine's lifetime are in :mod:`hub.alarms.app`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from alerts import (
    Actor,
    ActorKind,
    Alarm,
    AlarmClosed,
    AlarmError,
    AlreadyClaimed,
    ContactResult,
    EscalationTarget,
    InvalidTransition,
    NotClaimed,
    Outcome,
    OutcomeRequired,
    RuleKind,
    accept,
    add_note,
    escalate,
    label,
    record_contact_attempt,
    resolve,
)
from alerts.alarm import Action, AlarmState
from alerts.emergency import PayloadFormat, render_payload
from alerts.errors import AlertsValueError
from hub import latencyprobe
from hub.alarms import store
from hub.alarms.bodies import (
    ContactAttemptBody,
    EscalationAnswer,
    EscalationBody,
    HandoffView,
    NoteBody,
    ResolveBody,
)
from hub.alarms.effects import build_incident
from hub.alarms.engine import AlarmNotFound
from hub.alarms.keys import ALARM_EFFECTS, ALARM_ENGINE, ALARM_SETTINGS, ALARM_SOCKETS
from hub.alarms.ledger import record_handoff
from hub.alarms.social_worker import VISOR_ROLE, use_the_visor
from hub.alarms.views import AlarmCodes, AlarmView, CodeLabel, alarm_struct, alarm_view
from hub.appkeys import (
    CLOCK,
    SESSIONMAKER,
    SETTINGS,
)
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.auth.web import CurrentUser
from hub.http import ApiError, check_same_origin, read_body

READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.SOCIAL_WORKER)
STAFF_READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
ACTORS = (Role.OPERATOR, Role.SUPERVISOR)
PING_S = 20.0


def _actor(user: CurrentUser) -> Actor:
    kind = ActorKind.SUPERVISOR if user.role is Role.SUPERVISOR else ActorKind.OPERATOR
    return Actor(kind, str(user.id), user.username)


def _error(err: AlarmError) -> ApiError:
    if isinstance(err, AlreadyClaimed):
        return ApiError(409, "already_claimed", str(err), claimed_by=err.claimed_by)
    if isinstance(err, AlarmClosed):
        return ApiError(409, "alarm_closed", str(err))
    if isinstance(err, OutcomeRequired):
        return ApiError(422, "outcome_required", str(err))
    if isinstance(err, NotClaimed):
        return ApiError(422, "not_claimed", str(err))
    if isinstance(err, InvalidTransition):
        return ApiError(409, "invalid_transition", str(err))
    return ApiError(409, "alarm_refused", str(err))


async def _act(
    request: web.Request,
    change: Callable[[Alarm], Alarm],
    audit_action: str,
    details: dict[str, Any] | None = None,
    live_kind: str = "alarm.updated",
) -> Alarm:
    engine = request.app[ALARM_ENGINE]
    user = current_user(request)
    try:
        return await engine.act(
            request.match_info["alarm_id"],
            change,
            audit_actor=user.username,
            audit_action=audit_action,
            details=details,
            live_kind=live_kind,
        )
    except AlarmNotFound:
        raise ApiError(404, "not_found", "no such alarm") from None
    except AlarmError as err:
        raise _error(err) from None
    except AlertsValueError as err:
        raise ApiError(400, "invalid_request", str(err)) from None


def _view(request: web.Request, alarm: Alarm, *, history: bool = True) -> dict[str, Any]:
    return alarm_view(alarm, current_user(request).language, request.app[CLOCK](), history=history)


def _struct(request: web.Request, alarm: Alarm) -> AlarmView:
    return alarm_struct(alarm, current_user(request).language, request.app[CLOCK](), history=True)


@requires(*READERS)
async def list_alarms(request: web.Request) -> web.Response:
    """Alarms in queue order."""
    status = request.query.get("status", "open")
    category = request.query.get("category") or None
    if status not in ("open", "resolved", "all") or category not in (None, "care", "technical"):
        raise ApiError(
            400, "invalid_request", "status: open|resolved|all; category: care|technical"
        )
    try:
        limit = int(request.query.get("limit", "200"))
    except ValueError:
        raise ApiError(400, "invalid_request", "limit must be a number") from None
    if not 1 <= limit <= 1000:
        # Refused like every paged list of the API (the OpenAPI document says 1-1000).
        raise ApiError(400, "invalid_request", "limit must be between 1 and 1000")
    if status != "open" and current_user(request).role is VISOR_ROLE:
        raise use_the_visor()  # closed alarms are history: the visor shows it, with a reason
    async with request.app[SESSIONMAKER]() as session:
        alarms = await store.list_alarms(session, status=status, category=category, limit=limit)
    return web.json_response({"alarms": [_view(request, a, history=False) for a in alarms]})


@requires(*READERS)
async def get_alarm(request: web.Request) -> web.Response:
    """One alarm with its history (health data about a person: every read is audited)."""
    async with request.app[SESSIONMAKER]() as session:
        loaded = await store.load_alarm(session, request.match_info["alarm_id"])
        if loaded is None:
            raise ApiError(404, "not_found", "no such alarm")
        alarm = loaded[1]
        if not alarm.is_open and current_user(request).role is VISOR_ROLE:
            raise use_the_visor()
        await record_audit(
            session, current_user(request).username, "alarm.read", f"alarm:{alarm.id}",
            {"resident_id": alarm.resident_id}, at=request.app[CLOCK](),
        )  # fmt: skip
        await session.commit()
    return web.json_response(_view(request, alarm))


@requires(*READERS)
async def codes(request: web.Request) -> web.Response:
    """Coded values with labels in the user's language."""
    language = current_user(request).language

    def items(kind: type[Any]) -> list[CodeLabel]:
        return [CodeLabel(code=m.value, label=label(m.value, language)) for m in kind]

    answer = AlarmCodes(
        outcomes=items(Outcome),
        targets=items(EscalationTarget),
        contact_results=[CodeLabel(code=c.value, label=c.value) for c in ContactResult],
        rules=items(RuleKind),
        states=items(AlarmState),
    )
    return web.json_response(msgspec.to_builtins(answer))


@requires(*ACTORS)
async def accept_alarm(request: web.Request) -> web.Response:
    """Claim an alarm."""
    actor, now = _actor(current_user(request)), request.app[CLOCK]()
    alarm = await _act(
        request, lambda a: accept(a, actor, now), "alarm.accept", {}, "alarm.accepted"
    )
    return web.json_response(_view(request, alarm))


@requires(*ACTORS)
async def contact_attempt(request: web.Request) -> web.Response:
    """Record a call or message to the resident or a contact."""
    body = await read_body(request, ContactAttemptBody)
    party, result, notes = body.party, body.result, body.notes
    channel = body.channel or "phone"
    actor, now = _actor(current_user(request)), request.app[CLOCK]()
    alarm = await _act(
        request,
        lambda a: record_contact_attempt(
            a, actor, now, party=party, result=result, channel=channel, notes=notes
        ),
        "alarm.contact_attempt",
        {"party": party, "result": result.value, "channel": channel},
    )
    return web.json_response(_view(request, alarm))


@requires(*ACTORS)
async def note(request: web.Request) -> web.Response:
    """Add a note."""
    text = (await read_body(request, NoteBody)).text
    actor, now = _actor(current_user(request)), request.app[CLOCK]()
    alarm = await _act(request, lambda a: add_note(a, actor, now, text), "alarm.note", {})
    return web.json_response(_view(request, alarm))


@requires(*ACTORS)
async def escalate_alarm(request: web.Request) -> web.Response:
    """Escalate; for 112 the incident goes through the gateway now."""
    body = await read_body(request, EscalationBody)
    target, detail = body.target, body.detail
    actor, now = _actor(current_user(request)), request.app[CLOCK]()
    if target is not EscalationTarget.EMERGENCY_112:
        alarm = await _act(
            request,
            lambda a: escalate(a, actor, now, target, detail=detail),
            "alarm.escalate",
            {"target": target.value},
        )
        answer = EscalationAnswer(alarm=_struct(request, alarm))
        return web.json_response(msgspec.to_builtins(answer))
    return await _escalate_112(request, actor)


async def _escalate_112(request: web.Request, actor: Actor) -> web.Response:
    app = request.app
    alarm_id = request.match_info["alarm_id"]
    async with app[SESSIONMAKER]() as session:
        loaded = await store.load_alarm(session, alarm_id)
    if loaded is None:
        raise ApiError(404, "not_found", "no such alarm")
    alarm = loaded[1]
    if not alarm.is_open:
        raise ApiError(409, "alarm_closed", f"alarm {alarm_id} is resolved")
    # Check the claim BEFORE sending anything: only the holder (or a supervisor) escalates.
    try:
        escalate(alarm, actor, app[CLOCK](), EscalationTarget.EMERGENCY_112)
    except AlarmError as err:
        raise _error(err) from None
    # The n-th hand-off of this alarm is claimed before it is sent, so the same request
    # twice (a double click, a browser retry, two supervisors) calls 112 once. A new
    # request after the first is recorded (e.g. after a failure) is the next one.
    key = f"112-manual:{len(alarm.entries(Action.ESCALATED))}"
    try:
        async with app[SESSIONMAKER]() as session:
            await store.claim_effects(session, alarm_id, [key], app[CLOCK]())
            await session.commit()
    except IntegrityError:
        raise ApiError(
            409, "emergency_in_progress", "this alarm is being handed to 112 already"
        ) from None
    try:
        result = await app[ALARM_EFFECTS].hand_off(alarm, app[CLOCK]())
        now = app[CLOCK]()
        after = await _act(
            request,
            lambda a: record_handoff(a, actor, now, result, automatic=False),
            "alarm.escalate",
            {
                "target": "emergency_112",
                "delivered": bool(result and result.delivered),
                "reference": result.reference if result else None,
            },
        )
    finally:
        async with app[SESSIONMAKER]() as session:
            await store.finish_effects(session, alarm_id, [key], app[CLOCK]())
            await session.commit()
    emergency = HandoffView(
        delivered=bool(result and result.delivered),
        status=result.status if result else None,
        reference=result.reference if result else None,
        attempts=result.attempts if result else 0,
    )
    if result is None or not result.delivered:
        error = result.error if result else "no 112 gateway configured"
        raise ApiError(
            502,
            "emergency_gateway_failed",
            f"112 hand-off failed: {error}; call 112 by phone",
            attempts=emergency.attempts,
            alarm=_view(request, after),
        )
    answer = EscalationAnswer(alarm=_struct(request, after), emergency=emergency)
    return web.json_response(msgspec.to_builtins(answer))


@requires(*STAFF_READERS)
async def emergency_payload(request: web.Request) -> web.Response:
    """Preview of the 112 payload (EIDO-style JSON or CAP XML)."""
    try:
        fmt = PayloadFormat(request.query.get("format", "eido"))
    except ValueError:
        raise ApiError(400, "invalid_request", "format must be eido or cap") from None
    app = request.app
    async with app[SESSIONMAKER]() as session:
        loaded = await store.load_alarm(session, request.match_info["alarm_id"])
        if loaded is None:
            raise ApiError(404, "not_found", "no such alarm")
        incident = await build_incident(
            session, loaded[1], app[ALARM_SETTINGS], app[CLOCK](), current_user(request).username
        )
        # Address, health notes and contacts of a person: every read is audited.
        await record_audit(
            session, current_user(request).username, "alarm.payload_read",
            f"alarm:{loaded[1].id}", {"format": fmt.value}, at=app[CLOCK](),
        )  # fmt: skip
        await session.commit()
    body, content_type = render_payload(incident, fmt)
    return web.Response(body=body, content_type=content_type.split(";")[0], charset="utf-8")


@requires(*ACTORS)
async def resolve_alarm(request: web.Request) -> web.Response:
    """Close with an outcome."""
    body = await read_body(request, ResolveBody)
    outcome, notes = body.outcome, body.notes
    actor, now = _actor(current_user(request)), request.app[CLOCK]()
    alarm = await _act(
        request,
        lambda a: resolve(a, actor, now, outcome, notes),
        "alarm.resolve",
        {"outcome": str(outcome)},
        "alarm.resolved",
    )
    return web.json_response(_view(request, alarm))


def _live_message(message: dict[str, Any], language: str) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k not in ("alarm", "now")}
    out["alarm"] = alarm_view(message["alarm"], language, message["now"])
    return out


@requires(*READERS)
async def live(request: web.Request) -> web.StreamResponse:
    """Websocket: a snapshot of the open queue, then every alarm event."""
    user = current_user(request)
    check_same_origin(request, request.app[SETTINGS].public_url)
    engine = request.app[ALARM_ENGINE]
    socket = web.WebSocketResponse(heartbeat=PING_S)
    await socket.prepare(request)
    sockets = request.app[ALARM_SOCKETS]
    sockets.add(socket)
    subscription = engine.live.subscribe()
    try:
        async with request.app[SESSIONMAKER]() as session:
            alarms = await store.list_alarms(session, status="open", category=None, limit=1000)
        now = request.app[CLOCK]()
        await socket.send_json(
            {
                "type": "snapshot",
                "alarms": [alarm_view(a, user.language, now) for a in alarms],
            }
        )
        for alarm in alarms:
            if alarm.state is AlarmState.RAISED:
                await engine.mark_presented(alarm.id)
        reader = asyncio.ensure_future(socket.receive())
        try:
            while not socket.closed:
                getter = asyncio.ensure_future(subscription.queue.get())
                overflow = asyncio.ensure_future(subscription.overflowed.wait())
                done, _ = await asyncio.wait(
                    {getter, overflow, reader}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in (getter, overflow):
                    if task not in done:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                if overflow in done:
                    await socket.close(code=aiohttp.WSCloseCode.TRY_AGAIN_LATER, message=b"behind")
                    break
                if reader in done:
                    if reader.result().type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        break
                    reader = asyncio.ensure_future(socket.receive())
                if getter in done:
                    message = getter.result()
                    await socket.send_json(_live_message(message, user.language))
                    alarm = message["alarm"]
                    latencyprobe.mark(alarm.id, "sent")
                    if message["type"] == "alarm.raised" and alarm.state is AlarmState.RAISED:
                        await engine.mark_presented(alarm.id)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
    finally:
        engine.live.unsubscribe(subscription)
        sockets.discard(socket)
    return socket
