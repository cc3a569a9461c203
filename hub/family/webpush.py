"""Web Push: alarm notices reach a relative's phone when the family page is closed.

The browser subscribes through its push service (RFC 8030) with our VAPID public key
(RFC 8292) and hands the subscription to ``POST /api/family/push/subscriptions``. When a
care alarm's notice opens or closes, the one worker that made the change
(:mod:`hub.family.alarm_bridge`) sends every watcher's subscriptions a small JSON payload
in the watcher's language, encrypted for that browser (RFC 8291, ``aes128gcm``) by
``pywebpush``; the family app's service worker (``/family/sw.js``) shows it.

Who receives it is computed at the moment of sending from the current consent, as for
live events (ADR 0043). A subscription the push service says is gone (404/410) is deleted.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.appkeys import CLOCK, SESSIONMAKER
from hub.db.models import Resident, User
from hub.family import bodies
from hub.family.alarms import NOTICE_CHANGED
from hub.family.models import AlarmNotice, PushSubscription
from hub.family.pages import FAMILY_CATALOG
from hub.family.parties import parse_party
from hub.family.principal import family_api, principal_of
from hub.family.settings import FAMILY_SETTINGS, FamilySettings
from hub.http import ApiError, read_checked

_LOGGER = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS_PER_USER = 10  # phones and browsers; the oldest goes first
_EVENT_TEXT = {"panic": "alarm_panic", "fall": "alarm_fall"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_vapid(private_key: str) -> Vapid:
    """The VAPID key from configuration: PEM, or the base64url of the raw 32-byte scalar."""
    text = private_key.strip()
    if text.startswith("-----BEGIN"):
        return Vapid.from_pem(text.encode())
    return Vapid.from_raw(text.encode())


def new_vapid_private_key() -> str:
    """A fresh key in the configuration's form (base64url of the 32-byte scalar)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(vapid: Vapid) -> str:
    """The ``applicationServerKey`` browsers subscribe with (uncompressed P-256, base64url)."""
    raw = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(raw)


class WebPushSender:
    """Sends one encrypted payload to one subscription (owns no session: the caller's)."""

    def __init__(self, settings: FamilySettings, http: aiohttp.ClientSession) -> None:
        self._vapid = load_vapid(settings.vapid_private_key)
        self._subject = settings.vapid_subject
        self._ttl = settings.push_ttl_s
        self._http = http
        self.public_key = public_key_of(self._vapid)

    async def send(self, subscription: PushSubscription, payload: dict[str, Any]) -> int:
        """POST the payload; the push service's HTTP status, 0 if it could not be reached."""
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            response = await webpush_async(
                info,
                json.dumps(payload, ensure_ascii=False),
                vapid_private_key=self._vapid,
                # pywebpush fills aud (the endpoint's origin) and exp (12 h, real time: the
                # push service checks it against its own clock) into this dict.
                vapid_claims={"sub": self._subject},
                ttl=self._ttl,
                timeout=15,
                aiohttp_session=self._http,
            )
        except WebPushException as err:
            status = err.response.status if err.response is not None else 0
            return int(status or 0)
        except (aiohttp.ClientError, TimeoutError) as err:
            _LOGGER.warning("push service not reached: %s", err)
            return 0
        assert not isinstance(response, str)
        return int(response.status)


WEB_PUSH = web.AppKey("family_web_push", WebPushSender)


def _check_endpoint(endpoint: object, allow_insecure: bool) -> str:
    if not isinstance(endpoint, str) or not 10 <= len(endpoint) <= 1024:
        raise ApiError(400, "invalid_subscription", "'endpoint' must be a URL of a push service")
    parts = urlsplit(endpoint)
    if parts.scheme != "https" and not (allow_insecure and parts.scheme == "http"):
        raise ApiError(400, "invalid_subscription", "a push endpoint must use https")
    host = parts.hostname or ""
    if not host:
        raise ApiError(400, "invalid_subscription", "the push endpoint has no host")
    # The hub POSTs to this URL: never to the hub's own network (a push service is public).
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    local = host == "localhost" or (address is not None and not address.is_global)
    if local and not allow_insecure:
        raise ApiError(400, "invalid_subscription", "a push endpoint must be a public service")
    return endpoint


def _check_keys(keys: object) -> tuple[str, str]:
    if not isinstance(keys, dict):
        raise ApiError(400, "invalid_subscription", "'keys' must hold 'p256dh' and 'auth'")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    try:
        if not isinstance(p256dh, str) or not isinstance(auth, str) or len(p256dh) > 100:
            raise ValueError("not strings")
        point, secret = _unb64(p256dh), _unb64(auth)
        # A real P-256 point, or the encryption would fail at the first alarm.
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error):
        raise ApiError(400, "invalid_subscription", "'p256dh' is not a P-256 public key") from None
    if len(point) != 65 or len(secret) != 16:
        raise ApiError(400, "invalid_subscription", "'auth' must be 16 bytes, 'p256dh' 65 bytes")
    return p256dh, auth


@family_api
async def push_key(request: web.Request) -> web.Response:
    """The VAPID public key to subscribe with (404 ``push_unavailable`` without one)."""
    sender = request.app.get(WEB_PUSH)
    if sender is None:
        raise ApiError(404, "push_unavailable", "this hub sends no push notifications")
    return web.json_response({"public_key": sender.public_key})


@family_api
async def subscribe(request: web.Request) -> web.Response:
    """Keep a browser's subscription for the signed-in person (the same browser again
    replaces its keys; another person signing in on it takes it over)."""
    who = await principal_of(request)
    if who.user_id is None:
        raise ApiError(403, "forbidden", "a resident's tablet does not take push notifications")
    settings = request.app[FAMILY_SETTINGS]
    data = await read_checked(request, bodies.PushSubscription, bodies.PUSH_CODES)
    endpoint = _check_endpoint(data.get("endpoint"), settings.push_allow_insecure)
    p256dh, auth = _check_keys(data.get("keys"))
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        await session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
        session.add(PushSubscription(user_id=who.user_id, endpoint=endpoint, p256dh=p256dh,
                                     auth=auth, created_at=now))  # fmt: skip
        await session.flush()
        count = await session.scalar(
            select(func.count()).where(PushSubscription.user_id == who.user_id)
        )
        if count and count > MAX_SUBSCRIPTIONS_PER_USER:
            oldest = await session.scalars(
                select(PushSubscription.id)
                .where(PushSubscription.user_id == who.user_id)
                .order_by(PushSubscription.created_at, PushSubscription.id)
                .limit(count - MAX_SUBSCRIPTIONS_PER_USER)
            )
            await session.execute(
                delete(PushSubscription).where(PushSubscription.id.in_(list(oldest)))
            )
        await session.commit()
    return web.json_response({"endpoint": endpoint}, status=201)


@family_api
async def unsubscribe(request: web.Request) -> web.Response:
    """Forget a subscription of the signed-in person (the page's "stop" or a sign-out)."""
    who = await principal_of(request)
    data = await read_checked(request, bodies.PushEndpoint, bodies.PUSH_CODES)
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str):
        raise ApiError(400, "invalid_subscription", "'endpoint' must be a string")
    async with request.app[SESSIONMAKER]() as session:
        await session.execute(
            delete(PushSubscription).where(
                PushSubscription.endpoint == endpoint, PushSubscription.user_id == who.user_id
            )
        )
        await session.commit()
    return web.Response(status=204)


def notice_payload(notice: AlarmNotice, resident: str, language: str) -> dict[str, Any]:
    """What the service worker shows, in ``language``: the alarm's stage (raised, the
    centre speaking with the resident, someone on the way, 112 called, closed) and, while
    it is open, the "I'm on my way" / "I can't" actions. No room, no sensor, no health
    data beyond what the family page itself shows."""
    what = FAMILY_CATALOG.text(_EVENT_TEXT.get(notice.event_type, "alarm_other"), language)
    closed = notice.state == "closed"
    stage = "closed" if closed else notice.stage
    title = FAMILY_CATALOG.text("push_closed_title" if closed else "push_open_title", language,
                                name=resident)  # fmt: skip
    if stage == "raised":
        body = FAMILY_CATALOG.text("alarm_notice", language, name=resident, what=what)
    elif stage == "closed":
        body = FAMILY_CATALOG.text("push_closed_body", language)
    else:
        body = FAMILY_CATALOG.text(f"push_stage_{stage}", language, name=resident)

    def text(key: str) -> str:
        return FAMILY_CATALOG.text(key, language)

    actions = (
        []
        if closed
        else [
            {"action": "on_my_way", "title": text("push_action_on_my_way")},
            {"action": "cannot", "title": text("push_action_cannot")},
        ]
    )
    return {
        "type": "alarm.notice",
        "title": title,
        "body": body,
        "lang": language,
        "tag": f"alarm-{notice.alarm_ref}",
        "url": f"/family#notice-{notice.id}",
        "notice_id": notice.id,
        "state": notice.state,
        "stage": stage,
        "actions": actions,
        # What the notification says once answered from it (the service worker's own words).
        "answered": {
            "on_my_way": text("push_answered_on_my_way"),
            "cannot": text("push_answered_cannot"),
            "failed": text("push_answer_failed"),
        },
    }


class NoticePusher:
    """Pushes a notice to the watchers' subscriptions (the bridge calls it once per change)."""

    def __init__(
        self, sender: WebPushSender, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self._sender = sender
        self._sessionmaker = sessionmaker

    async def __call__(self, notice: AlarmNotice, watchers: Sequence[str], now: datetime) -> int:
        """Send to every subscription of the user parties in ``watchers``; how many took it."""
        user_ids = []
        for party in watchers:
            kind, ident = parse_party(party)
            if kind == "u":
                user_ids.append(ident)
        if not user_ids:
            return 0
        async with self._sessionmaker() as session:
            resident = await session.get(Resident, notice.resident_id)
            rows = (
                await session.execute(
                    select(PushSubscription, User.language)
                    .join(User, User.id == PushSubscription.user_id)
                    .where(PushSubscription.user_id.in_(user_ids), User.active)
                )
            ).all()
        name = resident.name if resident else ""
        delivered = 0
        for subscription, language in rows:
            status = await self._sender.send(subscription, notice_payload(notice, name, language))
            await self._record(subscription.id, status, now)
            delivered += 200 <= status < 300
        return delivered

    async def _record(self, subscription_id: int, status: int, now: datetime) -> None:
        async with self._sessionmaker() as session:
            if status in (404, 410):  # the browser unsubscribed or the service forgot it
                await session.execute(
                    delete(PushSubscription).where(PushSubscription.id == subscription_id)
                )
            elif 200 <= status < 300:
                await session.execute(
                    update(PushSubscription)
                    .where(PushSubscription.id == subscription_id)
                    .values(last_ok_at=now, failures=0)
                )
            else:
                _LOGGER.warning("web push to subscription %s failed: %s", subscription_id, status)
                await session.execute(
                    update(PushSubscription)
                    .where(PushSubscription.id == subscription_id)
                    .values(failures=PushSubscription.failures + 1)
                )
            await session.commit()


NOTICE_PUSHER = web.AppKey("family_notice_pusher", NoticePusher)


async def push_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the push client's HTTP session (no key configured: no push)."""
    settings = app[FAMILY_SETTINGS]
    if not settings.vapid_private_key:
        yield
        return
    async with aiohttp.ClientSession() as http:
        sender = WebPushSender(settings, http)
        app[WEB_PUSH] = sender
        app[NOTICE_PUSHER] = pusher = NoticePusher(sender, app[SESSIONMAKER])
        app[NOTICE_CHANGED].append(pusher)
        yield
