"""Wires the DC-09 and SCAIP receivers into the hub: cleanup contexts and the registration API.

``POST /api/carephones`` registers a unit (its device in a home; DC-09: its account, prefix,
key; SCAIP: its controller id and caller id; both: the supervision interval);
``GET /api/carephones`` lists them (never their keys). A receiver starts with the hub when
``[hub] dc09_enabled`` / ``scaip_enabled`` and ingestion run (they feed the ingester).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial
from typing import Any, get_args

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import record_unit_calling
from hub.alarms.keys import FANOUT_RELAYS
from hub.alarms.live import ALARM_LIVE, AlarmLive
from hub.alarms.models import AlarmRow
from hub.appkeys import CLOCK, ENGINE, KEYSAFE, SESSIONMAKER, SETTINGS
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.carephones.accounts import AccountBook, UnitAccount, unit_account
from hub.carephones.bodies import CarephoneCreate
from hub.carephones.callbook import CallBook
from hub.carephones.console_leg import ConsoleLegs, hub_rtc_configuration
from hub.carephones.models import CarephoneUnit
from hub.carephones.receiver import Dc09Receiver, ReceiverConfig
from hub.carephones.remote_leg import DIAL_HANDLERS, REMOTE_LEGS, RemoteLegs
from hub.carephones.requests import CALL_REQUESTS, CallRequests
from hub.carephones.requests import relays as request_relays
from hub.carephones.scaip import ScaipConfig, ScaipReceiver
from hub.carephones.speech import CENTRE_HANGS_UP, SpeechCall, SpeechCalls, load_hold_message
from hub.carephones.transport import Dc09Wire, ReceiverServers, SourceLimiter
from hub.cluster.app import worker_name
from hub.family.live import LIVE_HUB
from hub.family.ws import CALL_SERVICE
from hub.http import ApiError, read_checked
from hub.ingest.app import INGESTER
from hub.ingest.registry import DeviceInfo
from hub.registry import service
from hub.registry.routes import PROVISIONERS, announce_device
from hub.supervision.app import SUPERVISOR
from hub.tasks import cancel_and_wait
from integrations.carephones.dc09 import KEY_SIZES
from integrations.carephones.mapping import parse_status_codes, parse_zones
from integrations.carephones.scaip.message import CID_FORM
from protocol.messages import UnitEventKind

_LOGGER = logging.getLogger(__name__)

DC09_RECEIVER = web.AppKey("dc09_receiver", Dc09Receiver)
DC09_SERVERS = web.AppKey("dc09_servers", ReceiverServers)
DC09_BOOK = web.AppKey("dc09_book", AccountBook)
SCAIP_RECEIVER = web.AppKey("scaip_receiver", ScaipReceiver)
SCAIP_SERVERS = web.AppKey("scaip_servers", ReceiverServers)
SCAIP_BOOK = web.AppKey("scaip_book", AccountBook)
SCAIP_SPEECH = web.AppKey("scaip_speech", SpeechCalls)
PROTOCOLS = frozenset({"dc09", "scaip"})
_CALLER_ID = re.compile(r"[a-z][a-z0-9+.-]{0,15}:[\x21-\x7e]{1,110}")

_HEX = re.compile(r"[0-9A-Fa-f]+")
UNIT_TYPES = frozenset({"carephone", "alarm_panel"})
MIN_SUPERVISION_S = 60
MAX_SUPERVISION_S = 7 * 24 * 3600


def _supervised(app: web.Application, book: AccountBook) -> Callable[[UnitAccount], None] | None:
    """Watch every unit of ``book`` at its interval; the watcher for units found later
    (registered on another hub worker)."""
    supervisor = app.get(SUPERVISOR)
    if supervisor is None:
        return None
    clock = app[CLOCK]
    for unit in book.units():
        supervisor.set_interval(unit.device, unit.supervision, clock())
    return lambda unit: supervisor.set_interval(unit.device, unit.supervision, clock())


async def _receiver_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    book = AccountBook()
    app[DC09_BOOK] = book
    ingester = app.get(INGESTER)
    if not settings.dc09_enabled:
        yield
        return
    if ingester is None:
        _LOGGER.warning("DC-09 receiver not started: it needs ingestion (an MQTT broker)")
        yield
        return
    count = await book.load(app[SESSIONMAKER], ingester.registry, app[KEYSAFE])
    watch = _supervised(app, book)
    receiver = Dc09Receiver(
        book=book,
        ingester=ingester,
        clock=app[CLOCK],
        config=ReceiverConfig(
            window_past=timedelta(seconds=settings.dc09_window_past_s),
            window_future=timedelta(seconds=settings.dc09_window_future_s),
            require_timestamp=settings.dc09_require_timestamp,
            max_frame_bytes=settings.dc09_max_frame_bytes,
        ),
    )
    servers = ReceiverServers(
        Dc09Wire(receiver),
        SourceLimiter(settings.dc09_source_rate, settings.dc09_source_burst),
        idle_timeout_s=settings.dc09_idle_timeout_s,
    )
    await servers.start(settings.dc09_host, settings.dc09_tcp_port, settings.dc09_udp_port)
    receiver.on_new_unit = watch
    app[DC09_RECEIVER] = receiver
    app[DC09_SERVERS] = servers
    _LOGGER.info("DC-09 receiver ready: %d units", count)
    try:
        yield
    finally:
        await servers.stop()


async def _scaip_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    book = AccountBook(protocol="scaip")
    app[SCAIP_BOOK] = book
    ingester = app.get(INGESTER)
    if not settings.scaip_enabled:
        yield
        return
    if ingester is None:
        _LOGGER.warning("SCAIP receiver not started: it needs ingestion (an MQTT broker)")
        yield
        return
    codes = parse_status_codes(settings.scaip_status_codes, frozenset(get_args(UnitEventKind)))
    count = await book.load(app[SESSIONMAKER], ingester.registry, app[KEYSAFE])
    watch = _supervised(app, book)
    clock = app[CLOCK]
    receiver = ScaipReceiver(
        book=book,
        ingester=ingester,
        clock=clock,
        config=ScaipConfig(max_body_bytes=settings.scaip_max_body_bytes, status_codes=codes),
    )
    servers = ReceiverServers(
        receiver,
        SourceLimiter(settings.scaip_source_rate, settings.scaip_source_burst),
        idle_timeout_s=settings.dc09_idle_timeout_s,
    )
    await servers.start(settings.scaip_host, settings.scaip_tcp_port, settings.scaip_udp_port)
    receiver.on_new_unit = watch
    tasks: list[asyncio.Task[None]] = []
    if settings.scaip_speech_enabled:
        receiver.speech = SpeechCalls(
            book=book,
            clock=clock,
            host=settings.scaip_host,
            find_alarm=partial(open_alarm_of, app[SESSIONMAKER]),
            ring_s=settings.scaip_speech_ring_s,
            hold_message=load_hold_message(settings.scaip_hold_message),
        )
        receiver.speech.refused = receiver.stats.refused  # counted in /metrics with the rest
        receiver.speech.send = servers.send_udp
        receiver.speech.sip_port = servers.udp_port or 0
        receiver.speech.pbx_user = settings.scaip_pbx_user
        receiver.speech.pbx_password = settings.scaip_pbx_password
        _console_legs(app, receiver.speech)
        app[SCAIP_SPEECH] = receiver.speech
        tasks = await _call_requests(app, receiver.speech)
    app[SCAIP_RECEIVER] = receiver
    app[SCAIP_SERVERS] = servers
    _LOGGER.info("SCAIP receiver ready: %d units", count)
    try:
        yield
    finally:
        if receiver.speech is not None:
            receiver.speech.close()
        legs, requests = app.get(REMOTE_LEGS), app.get(CALL_REQUESTS)
        if legs is not None:
            await legs.close()
        if requests is not None:
            await requests.close()
        await cancel_and_wait(tasks)
        if requests is not None:
            try:  # this worker's calls ended with it: nobody is to ask it about them
                await requests.book.clear_mine()
            except Exception:  # then at its next start-up
                _LOGGER.exception("clearing this worker's carephone calls failed")
        await servers.stop()


async def _call_requests(app: web.Application, speech: SpeechCalls) -> list[asyncio.Task[None]]:
    """With several workers (PostgreSQL): the rows of the calls this worker holds, and the
    console's requests to and from the other workers (ADR 0168, §4). Returns its tasks."""
    if app[ENGINE].dialect.name != "postgresql":
        return []  # one worker: the local path is the only one
    clock = app[CLOCK]
    book = CallBook(app[SESSIONMAKER], worker_name(app[SETTINGS].ingest_client_id), clock)
    cleared = await book.clear_mine()  # its calls died with its previous process
    if cleared:
        _LOGGER.info("cleared %d carephone calls of this worker's previous run", cleared)
    requests = CallRequests(book, clock)
    requests.clustered = True
    app[CALL_REQUESTS] = requests
    app[REMOTE_LEGS] = RemoteLegs(
        requests, speech, lambda: app.get(LIVE_HUB), lambda: app.get(CALL_SERVICE),
        partial(hub_rtc_configuration, app), lambda: app.get(DIAL_HANDLERS) or {},
    )  # fmt: skip

    def home_of(call: SpeechCall) -> str:
        return str(call.unit.device.home_id) if call.unit is not None else ""

    def rang(call: SpeechCall) -> None:
        book.held(call.call_id, home_id=home_of(call), state="ringing", alarm_id=call.alarm_id)

    def answered(call: SpeechCall) -> None:
        if call.direction == "in":
            book.held(call.call_id, home_id=home_of(call), state="answered", alarm_id=call.alarm_id)

    speech.on_ringing.append(rang)
    speech.on_answered.append(answered)
    speech.on_ended.append(lambda call: book.gone(call.call_id))
    return [asyncio.create_task(book.run(), name="carephone-calls")]


def _console_legs(app: web.Application, speech: SpeechCalls) -> None:
    # The console's calls (hub.family.calls) and live hub are the family context's; looked up
    # when a unit calls, so the order of the contexts does not matter.
    legs: list[ConsoleLegs] = []

    tasks: set[asyncio.Task[None]] = set()
    last: dict[str, asyncio.Future[None]] = {}  # each call's newest entry being written

    def record(call: SpeechCall, status: str = "", by: str = "", bye: str = "") -> None:
        # The alarm's history says what the unit's call does: every console showing it sees
        # it ring, answered, or hung up (an alarm.updated on the live socket).
        if call.alarm_id is None:
            return
        # One call's entries are written in the order they happened: each waits for the one
        # before (written by tasks of their own, a quick end could overtake its answer).
        before = last.get(call.call_id)
        task = asyncio.ensure_future(
            _record_in_turn(before, app, call, status=status, by=by, bye=bye)
        )
        last[call.call_id] = task
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(partial(_forget, last, call.call_id))

    def ringing(call: SpeechCall) -> None:
        record(call)
        live, calls = app.get(LIVE_HUB), app.get(CALL_SERVICE)
        if live is None or calls is None:
            _LOGGER.warning("speech call from %s: no console calls to offer it to", call.call_id)
            return
        if not legs:
            legs.append(ConsoleLegs(speech, live, calls, partial(hub_rtc_configuration, app)))
        legs[0].ringing(call)

    def answered(call: SpeechCall) -> None:
        if call.answered_by != "hub":  # answered at once: its ringing entry says enough
            record(call, "answered", call.answered_by)

    def ended(call: SpeechCall) -> None:
        # (not when the hub stops: nothing would record it any more)
        # The centre's own hang-up is recorded with the unit's answer to its BYE.
        if call.direction == "in" and call.outcome == "declined":
            record(call, "declined", call.ended_by)  # refused while it rang (ADR 0168)
        elif call.direction == "in" and call.ended_by not in ("hub", *CENTRE_HANGS_UP):
            record(call, "cancelled" if call.outcome == "cancelled" else "ended")
        if legs:
            legs[0].ended(call)

    def bye_answered(call: SpeechCall) -> None:
        if call.direction == "in":
            record(call, "ended", call.ended_by, call.bye_outcome)

    speech.on_ringing.append(ringing)
    speech.on_answered.append(answered)
    speech.on_ended.append(ended)
    speech.on_bye.append(bye_answered)


async def _answer_on_accept(app: web.Application) -> AsyncIterator[None]:
    """Once every context started: an operator accepting an alarm (on any hub worker: the
    live alarm events come through the fan-out) answers the unit's call ringing on it."""
    speech, alarms = app.get(SCAIP_SPEECH), app.get(ALARM_LIVE)
    if speech is None or alarms is None:
        yield
        return
    task = asyncio.create_task(_follow_accepts(speech, alarms), name="carephone-accepts")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _follow_accepts(speech: SpeechCalls, alarms: AlarmLive) -> None:
    subscription = alarms.subscribe(screen=False)
    try:
        while True:
            if subscription.overflowed.is_set():
                subscription = alarms.subscribe(screen=False)  # missed ones ring to the timeout
            try:
                message = await asyncio.wait_for(subscription.queue.get(), 1.0)
            except TimeoutError:
                continue  # to look at the overflow flag again
            kind = message.get("type")
            if kind == "alarm.resolved":
                resolved = message["alarm"].id
                # Resolved while the unit's call still rings: refused at once (ADR 0168; a
                # call tied to no alarm rings on: it may be about another one) ...
                for call in speech.ringing(alarm_id=resolved):
                    speech.decline(call, "resolved")
                # ... or while it is up: the centre ends it (ADR 0160).
                for call in list(speech.calls.values()):
                    if call.alarm_id == resolved:
                        speech.hang_up_unit(call, "resolved")
                continue
            if kind != "alarm.accepted":
                continue
            alarm = message["alarm"]
            if alarm.category == "technical":
                continue
            for call in speech.ringing(alarm_id=alarm.id, home_id=alarm.home_id):
                call.alarm_id = alarm.id
                call.operator = alarm.claimed_by.id if alarm.claimed_by else None
                try:
                    await speech.answer(call, "operator")
                except Exception:  # the call rings on to its timeout
                    _LOGGER.exception("unit call %s not answered on accept", call.call_id)
    finally:
        alarms.unsubscribe(subscription)


_AUDIT_ACTIONS = {
    "": "alarm.unit_calling",
    "answered": "alarm.unit_call_answered",
    "cancelled": "alarm.unit_call_cancelled",
}


def _forget(last: dict[str, asyncio.Future[None]], key: str, done: asyncio.Future[None]) -> None:
    if last.get(key) is done:
        del last[key]


async def _record_in_turn(
    before: asyncio.Future[None] | None, app: web.Application, call: SpeechCall, **entry: str
) -> None:
    if before is not None:
        await asyncio.gather(before, return_exceptions=True)
    await _record_unit_calling(app, call, **entry)


async def _record_unit_calling(
    app: web.Application, call: SpeechCall, *, status: str = "", by: str = "", bye: str = ""
) -> None:
    from hub.alarms.keys import ALARM_ENGINE

    engine = app.get(ALARM_ENGINE)
    if engine is None or call.alarm_id is None or call.unit is None:
        return
    clock, device = app[CLOCK], call.unit.device.device_id
    action = _AUDIT_ACTIONS.get(status, "alarm.unit_call_ended")
    try:
        await engine.act(
            call.alarm_id,
            lambda alarm: record_unit_calling(
                alarm,
                max(clock(), alarm.last_at),
                call_id=call.call_id,
                device_id=device,
                status=status,
                by=by,
                bye=bye,
            ),
            audit_actor="system",
            audit_action=action,
        )
    except Exception:  # the call goes on; the console still finds it by its home
        _LOGGER.exception("unit call %s not recorded on alarm %s", call.call_id, call.alarm_id)


async def open_alarm_of(
    sessionmaker: async_sessionmaker[AsyncSession], unit: UnitAccount
) -> tuple[str, str | None] | None:
    """The newest open person alarm of the unit's home, and the operator holding it."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(AlarmRow.id, AlarmRow.claimed_by)
                .where(
                    AlarmRow.home_id == str(unit.device.home_id),
                    AlarmRow.is_open.is_(True),
                    AlarmRow.category != "technical",
                )
                .order_by(AlarmRow.raised_at.desc())
                .limit(1)
            )
        ).first()
    return None if row is None else (row[0], row[1])


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, "invalid_request", f"{name!r} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_request", f"{name!r} must be a string")
    return value.strip()


def _hex(value: str | None, name: str, low: int, high: int) -> str | None:
    if value is None:
        return None
    if not (low <= len(value) <= high) or not _HEX.fullmatch(value):
        raise ApiError(400, "invalid_request", f"{name!r} must be {low} to {high} hex digits")
    return value.upper()


def _int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ApiError(400, "invalid_request", f"{name!r} must be a whole number")
    return value


@requires(*PROVISIONERS)
async def register_unit(request: web.Request) -> web.Response:
    """``POST /api/carephones``: id, home_id, account, prefix (+ receiver, key, type,
    resident_id, room, supervision_s, fall_zones) → the unit, without its key."""
    data = await read_checked(request, CarephoneCreate)
    device_id = _text(data, "id", required=True)
    home_id = _int(data, "home_id")
    if home_id is None:
        raise ApiError(400, "invalid_request", "'home_id' is required")
    protocol = data.get("protocol") or "dc09"
    if protocol not in PROTOCOLS:
        raise ApiError(400, "invalid_request", "'protocol' must be 'dc09' or 'scaip'")
    caller_id = _text(data, "caller_id")
    if caller_id is not None and not _CALLER_ID.fullmatch(caller_id):
        raise ApiError(
            400, "invalid_request", "'caller_id' is a URI like 'sip:unit@host' or 'tel:+34...'"
        )
    key = _text(data, "key")
    if protocol == "scaip":
        # A SCAIP unit is its controller id (cid); no line prefix, receiver or key.
        account: str | None = _text(data, "account", required=True)
        if account is None or not CID_FORM.fullmatch(account):
            raise ApiError(400, "invalid_request", "'account' is the unit's SCAIP cid")
        if any(data.get(name) for name in ("prefix", "receiver", "key")):
            raise ApiError(400, "invalid_request", "a SCAIP unit has no prefix, receiver or key")
        prefix: str | None = ""
        receiver: str | None = None
    else:
        account = _hex(_text(data, "account", required=True), "account", 3, 16)
        prefix = _hex(_text(data, "prefix", required=True), "prefix", 1, 6)
        receiver = _hex(_text(data, "receiver"), "receiver", 1, 6)
    if key is not None and (
        len(key) // 2 not in KEY_SIZES or len(key) % 2 or not _HEX.fullmatch(key)
    ):
        raise ApiError(400, "invalid_request", "'key' must be 32, 48 or 64 hex digits (AES)")
    unit_type = _text(data, "type") or "carephone"
    if unit_type not in UNIT_TYPES:
        raise ApiError(400, "invalid_request", f"'type' must be one of {sorted(UNIT_TYPES)}")
    supervision_s = _int(data, "supervision_s") or 3600
    if not MIN_SUPERVISION_S <= supervision_s <= MAX_SUPERVISION_S:
        raise ApiError(
            400,
            "invalid_request",
            f"'supervision_s' must be {MIN_SUPERVISION_S}-{MAX_SUPERVISION_S}",
        )
    fall_zones = _text(data, "fall_zones") or ""
    if len(fall_zones) > 100 or not all(
        _HEX.fullmatch(z.strip()) for z in fall_zones.split(",") if z.strip()
    ):
        raise ApiError(400, "invalid_request", "'fall_zones' is a list of zones like '3, 4'")
    assert device_id is not None
    assert account is not None
    assert prefix is not None
    actor = current_user(request).username
    async with request.app[SESSIONMAKER]() as session:
        taken = await session.scalar(
            select(CarephoneUnit.id).where(
                CarephoneUnit.protocol == protocol,
                CarephoneUnit.prefix == prefix,
                CarephoneUnit.account == account,
            )
        )
        if taken is not None:
            where = f" on prefix {prefix}" if prefix else ""
            raise ApiError(409, "conflict", f"{protocol} account {account}{where} is registered")
        try:
            device, _ = await service.provision_device(
                session,
                device_id=device_id,
                home_id=home_id,
                device_type=unit_type,
                room=_text(data, "room"),
                resident_id=_int(data, "resident_id"),
                actor=actor,
            )
        except service.ProvisioningError as err:
            status = {"not_found": 404, "conflict": 409}.get(err.code, 400)
            raise ApiError(status, err.code, err.message) from None
        # A unit never logs in to the broker: no MQTT secret.
        device.secret_hash = None
        row = CarephoneUnit(
            device_id=device_id,
            protocol=protocol,
            account=account,
            prefix=prefix,
            receiver=receiver,
            caller_id=caller_id,
            key_encrypted=request.app[KEYSAFE].encrypt(key.upper()) if key else None,
            supervision_s=supervision_s,
            fall_zones=",".join(sorted(parse_zones(fall_zones))),
        )
        session.add(row)
        await record_audit(
            session,
            actor,
            "carephone.register",
            f"device:{device_id}",
            {"protocol": protocol, "account": account, "prefix": prefix, "encrypted": bool(key)},
        )
        await session.commit()
    announce_device(request.app, device)
    info = DeviceInfo(device.id, device.home_id, device.resident_id, device.type)
    ingester = request.app.get(INGESTER)
    if ingester is not None:
        # Fetched, not announced: the registry's query gives a unit without a wearer the
        # home's resident, whose alarms its events are.
        info = await ingester.registry.fetch(device.id) or info
    unit = unit_account(row, info, request.app[KEYSAFE])
    request.app[SCAIP_BOOK if protocol == "scaip" else DC09_BOOK].put(unit)
    supervisor = request.app.get(SUPERVISOR)
    if supervisor is not None:
        supervisor.set_interval(info, unit.supervision, request.app[CLOCK]())
    return web.json_response(_unit_json(row), status=201)


def _unit_json(row: CarephoneUnit) -> dict[str, Any]:
    return {
        "id": row.device_id,
        "protocol": row.protocol,
        "account": row.account,
        "prefix": row.prefix,
        "receiver": row.receiver,
        "encrypted": row.key_encrypted is not None,
        "supervision_s": row.supervision_s,
        "fall_zones": row.fall_zones,
        "caller_id": row.caller_id,
    }


@requires(*PROVISIONERS, Role.SUPERVISOR)
async def list_units(request: web.Request) -> web.Response:
    """``GET /api/carephones``: every registered unit (keys are never shown)."""
    async with request.app[SESSIONMAKER]() as session:
        rows = (await session.scalars(select(CarephoneUnit).order_by(CarephoneUnit.id))).all()
    return web.json_response({"units": [_unit_json(r) for r in rows]})


def setup(app: web.Application) -> None:
    """Add the receiver's context and the registration routes."""
    app[FANOUT_RELAYS].extend(request_relays(app))
    app.cleanup_ctx.append(_receiver_ctx)
    app.cleanup_ctx.append(_scaip_ctx)
    app.cleanup_ctx.append(_answer_on_accept)
    app.router.add_post("/api/carephones", register_unit)
    app.router.add_get("/api/carephones", list_units)
