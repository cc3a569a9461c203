"""Click-to-call from the alarm's card: the hub dials the resident, the carephone or a contact.

The hub is the SIP caller (``SpeechCalls.call_out`` on the SCAIP endpoint, ADR 0122); the
operator's browser joins the call's audio with a WebRTC leg answered by an aiortc peer on
the hub (the callee's voice on the call's track, the operator's voice sent as G.711), the
same bridge as a carephone's own call (ADR 0121). Each call's outcome, a contact's "on my
way" (the key ``1``) and the end of an answered call go into the alarm's history as they
happen, so every console showing the alarm sees them live (ADR 0143).

``POST /api/console/alarms/{alarm_id}/dial`` ``{"party": "resident"|"carephone"|<contact id>}``,
``POST /api/console/dials/{call_id}/media`` (the browser's offer → the hub's answer),
``POST /api/console/dials/{call_id}/hangup``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from aiohttp import web
from aiortc import RTCPeerConnection
from sqlalchemy import select

from alerts import (
    Actor,
    ActorKind,
    Alarm,
    record_dial_ended,
    record_dial_outcome,
    record_on_my_way,
)
from hub.alarms import store
from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS
from hub.auth import Role, current_user, requires
from hub.carephones.accounts import UnitAccount
from hub.carephones.app import SCAIP_BOOK, SCAIP_SPEECH
from hub.carephones.console_leg import answer_offer, hub_rtc_configuration, operator_peer
from hub.carephones.remote_leg import DIAL_HANDLERS, live_workers
from hub.carephones.requests import CALL_REQUESTS, Handler, api_error
from hub.carephones.routing import Answer, CallRequest, Kind, Local, route
from hub.carephones.speech import SpeechCall, SpeechCalls
from hub.console.bodies import DialRequest, MediaOffer
from hub.console.residents import resident_phone
from hub.db.models import Contact, Resident
from hub.family.alarms import answer_notice
from hub.family.models import AlarmNotice
from hub.family.sms_answers import contact_party
from hub.http import ApiError, read_checked

_LOGGER = logging.getLogger(__name__)

DIALLERS = (Role.OPERATOR, Role.SUPERVISOR)
ON_MY_WAY_KEY = "1"
# A dialable number once spaces, dots, dashes and brackets are gone.
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_SIP_URI = re.compile(r"sips?:(?:[^@;]+@)?(\[[0-9a-fA-F:]+\]|[^:;>]+)(?::([0-9]{1,5}))?(?:;.*)?")


# A history change made when it is recorded: (alarm, at) → alarm.
Change = Callable[[Alarm, datetime], Alarm]


@dataclass
class Dial:
    """One call the operator placed, while it lasts."""

    call: SpeechCall
    alarm_id: str
    party: str
    party_name: str
    user_id: int
    actor: Actor
    pc: RTCPeerConnection | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Dialler:
    """The operators' calls out: who placed each, their audio legs, their history."""

    def __init__(self, act: Callable[[str, Change, str, str], Awaitable[None]]) -> None:
        self._act = act
        # Told when a contact pressed "on my way" (counted with the family's answers).
        self.on_my_way: Callable[[Dial], Awaitable[None]] | None = None
        self.dials: dict[str, Dial] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def of_user(self, user_id: int) -> Dial | None:
        """The call this operator has going (one at a time)."""
        return next((d for d in self.dials.values() if d.user_id == user_id), None)

    def watch(self, dial: Dial) -> None:
        """Record the call's outcome, key and end in the alarm's history as they happen."""
        self.dials[dial.call.call_id] = dial
        task = asyncio.ensure_future(self._watch(dial))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, dial: Dial) -> None:
        call = dial.call
        try:
            await _first(call.answered.wait(), call.finished.wait())
            outcome = call.outcome or "failed"
            await self._record(
                dial,
                lambda a, at: record_dial_outcome(
                    a, dial.actor, at, call_id=call.call_id, party=dial.party, outcome=outcome
                ),
                f"alarm.dial_{outcome}",
            )
            if outcome != "answered":
                return
            told = False
            while not call.finished.is_set():
                await _first(call.digit.wait(), call.finished.wait())
                call.digit.clear()
                if not told and ON_MY_WAY_KEY in call.digits:
                    told = True
                    await self._record(dial, self._on_my_way(dial), "alarm.on_my_way")
                    if self.on_my_way is not None:
                        await self.on_my_way(dial)
            ended_by = {"centre": dial.actor.name, "callee": dial.party_name}.get(
                call.ended_by, call.ended_by
            )
            end, start = call.ended_at, call.answered_at
            duration = int((end - start).total_seconds()) if end and start else 0
            await self._record(
                dial,
                lambda a, at: record_dial_ended(
                    a,
                    dial.actor,
                    at,
                    call_id=call.call_id,
                    party=dial.party,
                    duration_s=duration,
                    ended_by=ended_by,
                ),
                "alarm.dial_ended",
            )
        finally:
            self.dials.pop(call.call_id, None)
            await close_leg(dial)

    @staticmethod
    def _on_my_way(dial: Dial) -> Change:
        contact = Actor(ActorKind.CONTACT, dial.party, dial.party_name)
        return lambda a, at: record_on_my_way(a, contact, at, call_id=dial.call.call_id)

    async def _record(self, dial: Dial, change: Change, action: str) -> None:
        try:
            await self._act(dial.alarm_id, change, dial.actor.name, action)
        except Exception:  # the call goes on; its history line is what is lost
            _LOGGER.exception("call %s not recorded on alarm %s", dial.call.call_id, dial.alarm_id)

    async def close(self) -> None:
        """Stop watching (the hub stops; SpeechCalls ends the calls themselves)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def count_family_answer(app: web.Application, dial: Dial) -> None:
    """A contact who pressed "on my way" on the operator's call answered the alarm as the
    family's app and SMS answers do: counted on the alarm's family notice, if it has one
    (the circle sees it, the notice's stage moves); the alarm has its ``on_my_way`` entry
    already, so no second note there (ADR 0160)."""
    if not dial.party.isdigit():
        return  # the resident or the carephone: not a contact's answer
    try:
        async with app[SESSIONMAKER]() as session:
            notice = await session.scalar(
                select(AlarmNotice)
                .where(AlarmNotice.alarm_ref == dial.alarm_id, AlarmNotice.state != "closed")
                .order_by(AlarmNotice.id.desc())
                .limit(1)
            )
        if notice is None:
            return  # no family notice for this alarm (no circle, or no consent)
        await answer_notice(
            app, notice, contact_party(int(dial.party)), "on_my_way",
            f"phone:{dial.party}", "phone", note_on_alarm=False,
        )  # fmt: skip
    except Exception:  # the alarm has its on_my_way entry; the count is what is lost
        _LOGGER.exception("on my way of contact %s not counted on %s", dial.party, dial.alarm_id)


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def close_leg(dial: Dial) -> None:
    """End the operator's WebRTC leg of ``dial``."""
    pc, dial.pc = dial.pc, None
    if pc is not None:
        await pc.close()


DIALLER = web.AppKey("dialler", Dialler)


def normalise_number(phone: str) -> str | None:
    """``+34 600 00 00 00`` → ``+34600000000``; None when it is not a number."""
    number = re.sub(r"[\s.\-()/]", "", phone)
    return number if _NUMBER.fullmatch(number) else None


def sip_destination(uri: str) -> tuple[str, int] | None:
    """Where a ``sip:`` URI's requests go (host, port; 5060 by default)."""
    found = _SIP_URI.fullmatch(uri)
    if found is None:
        return None
    port = int(found.group(2) or 5060)
    return (found.group(1).strip("[]"), port) if 0 < port < 65536 else None


def pbx_of(setting: str) -> tuple[str, int] | None:
    """``[hub] scaip_pbx`` ("host:port") as an address; None when unset or malformed."""
    host, _, port = setting.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _target(number: str, pbx: tuple[str, int] | None) -> tuple[str, tuple[str, int]]:
    if pbx is None:
        raise ApiError(409, "no_pbx", "no PBX is set up to call phone numbers ([hub] scaip_pbx)")
    return f"sip:{number}@{pbx[0]}", pbx


def _number(phone: str, who: str) -> str:
    if not phone.strip():
        raise ApiError(409, "no_number", f"{who} has no phone number")
    number = normalise_number(phone)
    if number is None:
        raise ApiError(409, "bad_number", f"{who}'s phone number {phone!r} cannot be dialled")
    return number


def home_unit(request: web.Request, home_id: str) -> UnitAccount | None:
    """The home's SCAIP unit, if it has one."""
    book = request.app.get(SCAIP_BOOK)
    if book is None:
        return None
    return next((u for u in book.units() if str(u.device.home_id) == home_id), None)


@requires(*DIALLERS)
async def dial(request: web.Request) -> web.Response:
    """Call a party of the alarm: ``resident`` (their phone), ``carephone`` (the home's
    SCAIP unit at its caller id) or a contact's id; the caller must hold the alarm."""
    user = current_user(request)
    data = await read_checked(request, DialRequest)
    party = str(data["party"]).strip()
    speech: SpeechCalls | None = request.app.get(SCAIP_SPEECH)
    dialler = request.app.get(DIALLER)
    if speech is None or speech.send is None or dialler is None:
        raise ApiError(409, "dial_unavailable", "calling out is not set up on this hub")
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
                raise ApiError(409, "not_claimed", "accept the alarm before you call")
            if claimed.id != str(user.id):
                raise ApiError(409, "already_claimed", f"{claimed.name or claimed.id} holds it")
        if dialler.of_user(user.id) is not None:
            raise ApiError(409, "call_in_progress", "hang up your call going on first")
        pbx = pbx_of(request.app[SETTINGS].scaip_pbx)
        unit = home_unit(request, alarm.home_id)
        resident = (
            await session.get(Resident, int(alarm.resident_id))
            if alarm.resident_id.isdigit()
            else None
        )
        if party == "resident":
            name = resident.name if resident else "the resident"
            phone = await resident_phone(session, resident.id) if resident else ""
            uri, via = _target(_number(phone, name), pbx)
        elif party == "carephone":
            name = "carephone"
            if unit is None or not unit.caller_id:
                raise ApiError(409, "no_carephone", "this home has no carephone with a caller id")
            uri = unit.caller_id
            destination = sip_destination(uri)
            if uri.startswith("tel:"):
                uri, via = _target(_number(uri[4:], name), pbx)
            elif destination is None:
                raise ApiError(
                    409, "bad_number", f"the carephone's caller id {uri!r} is not usable"
                )
            else:
                via = destination
        elif party.isdigit():
            contact = await session.get(Contact, int(party))
            if contact is None or resident is None or contact.resident_id != resident.id:
                raise ApiError(404, "not_found", "no such contact of this resident")
            name = contact.name
            uri, via = _target(_number(contact.phone, name), pbx)
        else:
            raise ApiError(400, "invalid_party", "'party' is resident, carephone or a contact id")
    actor = Actor(
        ActorKind.SUPERVISOR if user.role is Role.SUPERVISOR else ActorKind.OPERATOR,
        str(user.id),
        user.username,
    )
    call_id = speech.new_call_id()
    requests = request.app.get(CALL_REQUESTS)
    clustered = requests is not None and requests.clustered
    if requests is not None and clustered:
        # Its media and hang-up may come through another worker at once (ADR 0168, §4):
        # the row first (its end, if it ends at once, is written after it). The row is
        # also the operator's one call out across the workers (ADR 0177).
        going_on = await requests.claim_call_out(
            call_id, home_id=alarm.home_id, alarm_id=alarm.id, operator=str(user.id),
            here=partial(_held_here, request.app), live_workers=live_workers(request.app),
        )  # fmt: skip
        if going_on is not None:
            raise ApiError(409, "call_in_progress", "hang up your call going on first")
    try:
        call = await speech.call_out(unit, uri, via, call_id)
    except OSError as err:
        if requests is not None and clustered:
            requests.book.gone(call_id)
        raise ApiError(503, "dial_failed", f"the call could not be placed: {err}") from None
    finally:
        if requests is not None:
            requests.placed(call_id)
    dialler.watch(Dial(call, alarm.id, party, name, user.id, actor))
    return web.json_response(
        {"call_id": call.call_id, "party": party, "name": name, "status": "calling"}, status=201
    )


def _own_dial(app: web.Application, call_id: str, user_id: int) -> tuple[Dial, SpeechCalls]:
    dialler, speech = app.get(DIALLER), app.get(SCAIP_SPEECH)
    found = dialler.dials.get(call_id) if dialler else None
    if found is None or speech is None:
        raise ApiError(404, "not_found", "no such call going on")
    if found.user_id != user_id:
        raise ApiError(403, "not_your_call", "another operator placed this call")
    return found, speech


def _held_here(app: web.Application, call_id: str) -> bool:
    dialler = app.get(DIALLER)
    return dialler is not None and call_id in dialler.dials


async def _elsewhere(
    request: web.Request, kind: Kind, body: dict[str, object]
) -> web.Response | None:
    """The call out is held by another hub worker: ask it (ADR 0168, §4); None when the
    local path answers (this worker holds it, or nobody does: 404)."""
    requests, call_id = request.app.get(CALL_REQUESTS), request.match_info["call_id"]
    if requests is None or not requests.clustered or _held_here(request.app, call_id):
        return None
    holders = [h for h in await requests.book.holders(call_id=call_id) if h.direction == "out"]
    where = route(
        requests.worker, held_here=False, holders=holders, clustered=True,
        live_workers=live_workers(request.app),
    )  # fmt: skip
    if isinstance(where, Local):
        return None
    user = current_user(request)
    answer = await requests.ask(
        where.worker, kind, call_id=call_id, operator=str(user.id), body=body
    )
    if not answer.ok:
        raise api_error(answer)
    return web.json_response(answer.body)


@requires(*DIALLERS)
async def media(request: web.Request) -> web.Response:
    """The browser's WebRTC offer (all candidates in it) → the hub's answer: the callee's
    voice to the operator, the operator's to the callee."""
    data = await read_checked(request, MediaOffer)
    remote = await _elsewhere(request, Kind.SIGNAL, {"sdp": data["sdp"]})
    if remote is not None:
        return remote
    found, speech = _own_dial(request.app, request.match_info["call_id"], current_user(request).id)
    return web.json_response(await _answer_offer(request.app, found, speech, data["sdp"]))


async def _answer_offer(
    app: web.Application, found: Dial, speech: SpeechCalls, offer: str
) -> dict[str, object]:
    if found.pc is not None:
        raise ApiError(409, "already_connected", "this call's audio is already connected")
    pc = operator_peer(speech, found.call, hub_rtc_configuration(app))
    found.pc = pc  # taken while it is being made: a concurrent offer is refused
    try:
        await answer_offer(pc, offer)  # pc closed if it fails
    except BaseException as err:
        # No half-made peer stays: the operator's next offer on this call is answered.
        if found.pc is pc:
            found.pc = None
        if isinstance(err, (ValueError, TypeError)):
            raise ApiError(400, "invalid_sdp", f"the offer is not usable: {err}") from None
        if not isinstance(err, Exception):
            raise  # cancelled
        _LOGGER.exception("answering the offer of call %s failed", found.call.call_id)
        raise ApiError(
            500, "media_failed", "the call's audio could not be connected; try again"
        ) from None
    return {"sdp": {"type": "answer", "sdp": pc.localDescription.sdp}}


@requires(*DIALLERS)
async def hangup(request: web.Request) -> web.Response:
    """The operator hangs up (a ringing call is cancelled)."""
    remote = await _elsewhere(request, Kind.HANGUP, {})
    if remote is not None:
        return remote
    found, speech = _own_dial(request.app, request.match_info["call_id"], current_user(request).id)
    speech.hangup(found.call)
    return web.json_response({"call_id": found.call.call_id, "outcome": found.call.outcome})


def _dial_handlers(app: web.Application) -> dict[Kind, Handler]:
    """Another worker's console asks about a call out this worker holds (ADR 0168, §4)."""

    def operator_of(request: CallRequest) -> int:
        operator = request.operator or ""
        return int(operator) if operator.isdigit() else -1

    async def signal(request: CallRequest) -> Answer:
        found, speech = _own_dial(app, request.call_id or "", operator_of(request))
        offer = request.body.get("sdp")
        if not isinstance(offer, str):
            return Answer.error(400, "invalid_sdp", "the offer is not usable")
        return Answer(body=await _answer_offer(app, found, speech, offer))

    async def hang_up(request: CallRequest) -> Answer:
        found, speech = _own_dial(app, request.call_id or "", operator_of(request))
        speech.hangup(found.call)
        return Answer(body={"call_id": found.call.call_id, "outcome": found.call.outcome})

    async def probe(request: CallRequest) -> Answer:
        # Is this call out still going on here? (its row stands in the way of its
        # operator's next call out, ADR 0177; being placed counts).
        call_id, requests = request.call_id or "", app.get(CALL_REQUESTS)
        placing = requests is not None and requests.is_placing(call_id)
        return Answer(body={"held": placing or _held_here(app, call_id)})

    return {Kind.SIGNAL: signal, Kind.HANGUP: hang_up, Kind.PROBE: probe}


async def dialler_ctx(app: web.Application) -> AsyncIterator[None]:
    """The dialler lives with the app; its calls act on their alarms through the engine."""

    async def act(alarm_id: str, change: Change, who: str, action: str) -> None:
        from hub.alarms.keys import ALARM_ENGINE

        engine = app.get(ALARM_ENGINE)
        if engine is None:
            _LOGGER.warning("no alarm engine: call on alarm %s not recorded", alarm_id)
            return
        clock = app[CLOCK]
        await engine.act(
            alarm_id,
            lambda alarm: change(alarm, max(clock(), alarm.last_at)),
            audit_actor=who,
            audit_action=action,
        )

    app[DIALLER] = dialler = Dialler(act)
    app[DIAL_HANDLERS] = _dial_handlers(app)
    dialler.on_my_way = partial(count_family_answer, app)
    try:
        yield
    finally:
        await dialler.close()
