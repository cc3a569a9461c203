"""Speak with the home: an operator's WebRTC audio call to the resident's tablet.

The call itself is a centre call of the hub's call service (``hub.family.calls``): the operator's
browser and the tablet signal over ``/api/family/ws`` like any call. This module starts
it (with the checks an alarm needs), lists an alarm's speech attempts for the card, and
puts each attempt's outcome in the alarm's history (:class:`AlarmVoiceRecorder`).

``POST /api/console/alarms/{alarm_id}/voice`` (speak about an alarm),
``POST /api/console/residents/{resident_id}/voice`` (a wellbeing call: the tablet rings),
``GET /api/console/alarms/{alarm_id}/voice`` (the alarm's attempts, newest first, and who
listens to the one going on), ``POST /api/console/alarms/{alarm_id}/voice/listen`` (a
supervisor listens in: ``hub.family.calls.listen``, ADR 0100).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from alerts import Actor, ActorKind, Alarm, record_voice_call, record_voice_connected
from hub.alarms import store
from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.carephones.remote_leg import REMOTE_LEGS, live_workers
from hub.db.models import Resident
from hub.family.calls.signalling import CallService, HomeBusy, call_view
from hub.family.calls.state import CallError, CallState
from hub.family.live import LIVE_HUB
from hub.family.models import CallRecord, TabletCredential
from hub.family.parties import party_names, resident_party, user_party
from hub.family.ws import CALL_SERVICE
from hub.http import ApiError

_LOGGER = logging.getLogger(__name__)

SPEAKERS = (Role.OPERATOR, Role.SUPERVISOR)
READERS = (Role.OPERATOR, Role.SUPERVISOR, Role.COORDINATOR)
# Listening to a home is a supervisor's oversight, never an operator's (ADR 0100).
LISTENERS = (Role.SUPERVISOR,)


def _actor_of(party: str, names: dict[str, str]) -> Actor:
    """The operator of a centre call as an alarm actor (``u:12`` → id ``12``)."""
    return Actor(ActorKind.OPERATOR, party.removeprefix("u:"), names.get(party, party))


class AlarmVoiceRecorder:
    """Puts centre calls tied to an alarm into that alarm's history (a ``CallObserver``)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def connected(self, call_id: int, call: CallState, names: dict[str, str]) -> None:
        """Voice contact made: the alarm's ``voice_contact_at`` unless it had one."""
        if call.alarm_ref is None or call.connected_at is None:
            return
        actor, at = _actor_of(call.caller, names), call.connected_at
        await self._act(
            call.alarm_ref,
            lambda a: record_voice_connected(a, actor, max(at, a.last_at), call_id=str(call_id)),
            actor.name,
            "alarm.voice_connected",
            {"call": call_id},
        )

    async def ended(self, call_id: int, call: CallState, names: dict[str, str]) -> None:
        """The attempt's outcome: connected (with its duration) or failed (with why)."""
        if call.alarm_ref is None:
            return
        actor = _actor_of(call.caller, names)
        now = self._app[CLOCK]()
        ended_by = ""
        if call.ended_by is not None:
            ended_by = "resident" if call.ended_by == call.callee else names.get(call.ended_by, "")
        failure = call.failure.value if call.failure else ""

        def change(alarm: Alarm) -> Alarm:
            return record_voice_call(
                alarm, actor, max(now, alarm.last_at), call_id=str(call_id),
                started_at=call.started_at, connected_at=call.connected_at,
                ended_at=call.ended_at, ended_by=ended_by, failure=failure,
            )  # fmt: skip

        await self._act(
            call.alarm_ref,
            change,
            actor.name,
            "alarm.voice_call",
            {"call": call_id, "failure": failure or None},
        )

    async def _act(
        self, alarm_id: str, change: Any, audit_actor: str, action: str, details: dict[str, Any]
    ) -> None:
        from hub.alarms.keys import ALARM_ENGINE

        engine = self._app.get(ALARM_ENGINE)
        if engine is None:
            _LOGGER.warning("no alarm engine: voice call on alarm %s not recorded", alarm_id)
            return
        await engine.act(
            alarm_id, change, audit_actor=audit_actor, audit_action=action, details=details
        )


LISTEN_CONFLICTS = ("no_call", "own_call", "already_listening")


def _error_of(err: CallError) -> ApiError:
    if isinstance(err, HomeBusy):
        return ApiError(
            409, "home_busy", err.message, held_by={"party": err.held_by, "name": err.name}
        )
    status = 409 if err.code in ("tablet_offline", "call_self", *LISTEN_CONFLICTS) else 400
    return ApiError(status, err.code, err.message)


async def _start(request: web.Request, resident_id: str, alarm_ref: str | None) -> web.Response:
    user = current_user(request)
    calls: CallService = request.app[CALL_SERVICE]
    try:
        call_id = await calls.start_centre(
            user_party(user.id), resident_party(int(resident_id)), alarm_ref
        )
    except CallError as err:
        raise _error_of(err) from None
    return web.json_response({"call_id": call_id, "status": "ringing"}, status=201)


@requires(*SPEAKERS)
async def speak_about_alarm(request: web.Request) -> web.Response:
    """Ring the tablet of the alarm's home; the operator must be handling the alarm."""
    user = current_user(request)
    alarm_id = request.match_info["alarm_id"]
    async with request.app[SESSIONMAKER]() as session:
        loaded = await store.load_alarm(session, alarm_id)
    if loaded is None:
        raise ApiError(404, "not_found", "no such alarm")
    alarm = loaded[1]
    if not alarm.is_open:
        raise ApiError(409, "alarm_closed", "this alarm is resolved")
    claimed = alarm.claimed_by
    if user.role is not Role.SUPERVISOR:
        if claimed is None:
            raise ApiError(409, "not_claimed", "accept the alarm before you speak with the home")
        if claimed.id != str(user.id):
            raise ApiError(
                409, "already_claimed", f"{claimed.name or claimed.id} is handling this alarm",
                claimed_by={"id": claimed.id, "name": claimed.name},
            )  # fmt: skip
    if not alarm.resident_id.isdigit():
        raise ApiError(409, "no_tablet", "this alarm's resident has no tablet")
    # The home's carephone call held by another hub worker: that worker takes the request
    # and a stand-in for the home rings here (ADR 0168, §4).
    legs, home = request.app.get(REMOTE_LEGS), resident_party(int(alarm.resident_id))
    remote = legs is not None and await legs.speak_elsewhere(
        home, alarm.home_id, alarm.id, user_party(user.id), live_workers(request.app)
    )
    try:
        return await _start(request, alarm.resident_id, alarm.id)
    except ApiError:
        if legs is not None and remote:
            legs.withdraw_party(home)
        raise


@requires(*SPEAKERS)
async def speak_with_resident(request: web.Request) -> web.Response:
    """A wellbeing call without an alarm: the tablet rings and the resident answers."""
    resident_id = request.match_info["resident_id"]
    if not resident_id.isdigit():
        raise ApiError(404, "not_found", "no such resident")
    async with request.app[SESSIONMAKER]() as session:
        if await session.get(Resident, int(resident_id)) is None:
            raise ApiError(404, "not_found", "no such resident")
    return await _start(request, resident_id, None)


@requires(*LISTENERS)
async def listen_in(request: web.Request) -> web.Response:
    """A supervisor joins the call going on about the alarm, to listen (receive only).

    ``201 {listen_id, call_id, speaker, listener}``; the operator's browser then offers
    the leg over ``/api/family/ws``. ``409 no_call`` when nobody is speaking with the
    home about this alarm, ``own_call``, ``already_listening``; ``404`` unknown alarm.
    """
    user = current_user(request)
    alarm_id = request.match_info["alarm_id"]
    async with request.app[SESSIONMAKER]() as session:
        if await store.load_alarm(session, alarm_id) is None:
            raise ApiError(404, "not_found", "no such alarm")
    calls: CallService = request.app[CALL_SERVICE]
    try:
        leg = await calls.listen_in(alarm_id, user_party(user.id))
    except CallError as err:
        raise _error_of(err) from None
    # Hearing a home is as private as reading its card: every listen-in is audited.
    async with request.app[SESSIONMAKER]() as session:
        await record_audit(
            session, user.username, "voice.listen", f"alarm:{alarm_id}",
            {"call": leg.call_id, "speaker": leg.speaker}, at=request.app[CLOCK](),
        )  # fmt: skip
        await session.commit()
    return web.json_response(leg.view(), status=201)


@requires(*READERS)
async def alarm_voice_calls(request: web.Request) -> web.Response:
    """The alarm's speech attempts, newest first, the one going on (if any), and whether
    the home's tablet is paired and connected now (the card says so before any attempt)."""
    alarm_id = request.match_info["alarm_id"]
    async with request.app[SESSIONMAKER]() as session:
        loaded = await store.load_alarm(session, alarm_id)
        if loaded is None:
            raise ApiError(404, "not_found", "no such alarm")
        rid = loaded[1].resident_id
        paired = (
            rid.isdigit()
            and (
                await session.scalar(
                    select(TabletCredential.device_id)
                    .where(TabletCredential.resident_id == int(rid))
                    .limit(1)
                )
            )
            is not None
        )
        rows = list(
            await session.scalars(
                select(CallRecord)
                .where(CallRecord.alarm_ref == alarm_id)
                .order_by(CallRecord.id.desc())
                .limit(50)
            )
        )
        names = await party_names(session, [p for r in rows for p in (r.caller, r.callee)])
    calls = []
    for row in rows:
        view = call_view(row, row.id)
        view["caller_name"] = names.get(row.caller, row.caller)
        calls.append(view)
    active = next((c for c in calls if c["status"] in ("ringing", "accepted")), None)
    service = request.app.get(CALL_SERVICE)
    if active is not None and service is not None:
        legs = service.listens.of_call(active["id"])
        active["listeners"] = [{"party": leg.listener, "name": leg.listener_name} for leg in legs]
    live = request.app.get(LIVE_HUB)
    online = paired and live is not None and live.online(resident_party(int(rid)))
    carephone = carephone_calls(request, loaded[1])
    remote = request.app.get(REMOTE_LEGS)
    if carephone["unit_call"] is None and remote is not None:
        # The unit's call held by another hub worker (ADR 0168, §4) is the card's too.
        held = await remote.call_elsewhere(loaded[1].home_id, live_workers(request.app))
        if held is not None:
            from hub.console.dial import home_unit

            unit = home_unit(request, loaded[1].home_id)
            carephone["unit_call"] = {
                "call_id": held.call_id,
                "device_id": unit.device.device_id if unit is not None else "",
                "status": held.state,
            }
    return web.json_response(
        {
            "calls": calls,
            "active": active,
            "tablet": {"paired": paired, "online": online},
            **carephone,
        }
    )


def carephone_calls(request: web.Request, alarm: Alarm) -> dict[str, Any]:
    """What the card offers about the home's carephone: calling out (ADR 0143) and the
    unit's own speech call, live now (ADR 0121), ringing until it is taken (ADR 0160),
    when this worker holds it."""
    from hub.carephones.app import SCAIP_SPEECH
    from hub.console.dial import home_unit, pbx_of

    speech = request.app.get(SCAIP_SPEECH)
    unit = home_unit(request, alarm.home_id)
    enabled = speech is not None and speech.send is not None
    calling = None
    if speech is not None:
        for call in speech.calls.values():
            if call.direction == "in" and call.unit is not None and call.unit is unit:
                calling = {
                    "call_id": call.call_id,
                    "device_id": call.unit.device.device_id,
                    # ringing: waiting for the operator; answered: on hold or spoken with
                    "status": call.state,
                }
    return {
        "dial": {
            "enabled": enabled,
            "phones": enabled and pbx_of(request.app[SETTINGS].scaip_pbx) is not None,
            "carephone": enabled and unit is not None and bool(unit.caller_id),
        },
        "unit_call": calling,
    }


async def record_recovered(app: web.Application) -> None:
    """After every start-up step: calls the last process left open go into their alarms."""
    service = app.get(CALL_SERVICE)
    if service is not None:
        await service.tell_recovered()
