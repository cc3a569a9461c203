"""Key holders without the app: each stage of an alarm by SMS, answered with a reply code.

A key holder of the resident (a care-plan contact with ``is_key_holder`` and a phone) who
has no family account with push notifications on that number gets, at each new stage of
an alarm (hub/family/alarm_stage.py), an SMS through the SMS channel's gateway
(``[alarms] sms_url``). While the alarm is open the SMS carries two reply codes, one for
"I'm on my way" and one for "I can't"; the gateway posts the reply to
``POST /api/family/sms/replies`` (``Authorization: Bearer [family] sms_inbound_token``),
and the answer is recorded on the notice and noted on the alarm as the app's is.

A code is kept as its HMAC with the hub secret, answers one notice for one contact, is
spent by its first use, expires (``sms_code_ttl_s``, or when the alarm closes) and is
taken only from the number it was sent to.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.channels import SmsChannel, SmsGatewaySettings
from alerts.channels.base import Notification, Recipient
from hub.alarms.settings import AlarmSettings
from hub.appkeys import CLOCK, CONFIG, SESSIONMAKER, SETTINGS
from hub.auth.codes import code_digest
from hub.auth.web import public
from hub.db.models import Contact, Resident, User
from hub.family import bodies
from hub.family.accounts import AccountError, ContactKind, parse_contact
from hub.family.alarm_stage import ANSWERS
from hub.family.alarms import NOTICE_CHANGED, answer_notice
from hub.family.models import AlarmNotice, PushSubscription, SmsAnswerCode
from hub.family.pages import FAMILY_CATALOG
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, read_checked
from protocol.i18n import LANGUAGES

_LOGGER = logging.getLogger(__name__)

CODE_DIGITS = 6
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_EVENT_TEXT = {"panic": "alarm_panic", "fall": "alarm_fall"}


def contact_party(contact_id: int) -> str:
    """The party key of a care-plan contact answering by SMS."""
    return f"c:{contact_id}"


def phone_of(typed: str) -> str | None:
    """A phone number as the family accounts store it (``+34…``), or None."""
    try:
        contact = parse_contact(typed)
    except AccountError:
        return None
    return contact.value if contact.kind is ContactKind.PHONE else None


def sms_text(notice: AlarmNotice, resident: str, language: str, codes: dict[str, str]) -> str:
    """The SMS of a notice's stage, in ``language``, with the reply codes while it is open."""
    closed = notice.state == "closed"
    what = FAMILY_CATALOG.text(_EVENT_TEXT.get(notice.event_type, "alarm_other"), language)
    if notice.stage == "raised" and not closed:
        body = FAMILY_CATALOG.text("alarm_notice", language, name=resident, what=what)
    elif closed:
        body = FAMILY_CATALOG.text("push_closed_body", language)
    else:
        body = FAMILY_CATALOG.text(f"push_stage_{notice.stage}", language, name=resident)
    parts = [f"Teleassist: {body}"]
    if codes:
        parts.append(FAMILY_CATALOG.text("sms_reply", language, yes=codes["on_my_way"],
                                         no=codes["cannot"]))  # fmt: skip
    return " ".join(parts)


class KeyholderSms:
    """A :data:`~hub.family.alarms.NOTICE_CHANGED` hook: SMS to key holders without the app."""

    def __init__(
        self,
        sms: SmsChannel,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret: str,
        ttl_s: int,
    ) -> None:
        self._sms = sms
        self._sessionmaker = sessionmaker
        self._secret = secret
        self._ttl = timedelta(seconds=ttl_s)

    async def _new_code(
        self, session: AsyncSession, notice: AlarmNotice, contact: Contact, phone: str,
        answer: str, now: datetime,
    ) -> str:  # fmt: skip
        while True:  # no two live codes alike (an old, spent one may come round again)
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            digest = code_digest(code, self._secret)
            clash = await session.scalar(
                select(SmsAnswerCode.id).where(
                    SmsAnswerCode.digest == digest,
                    SmsAnswerCode.used_at.is_(None),
                    SmsAnswerCode.expires_at > now,
                )
            )
            if clash is None:
                break
        session.add(SmsAnswerCode(digest=digest, notice_id=notice.id, contact_id=contact.id,
                                  phone=phone, answer=answer, created_at=now,
                                  expires_at=now + self._ttl))  # fmt: skip
        return code

    async def __call__(self, notice: AlarmNotice, watchers: list[str], now: datetime) -> int:
        """Send the notice's stage to every key holder without the app; how many took it."""
        outgoing: list[Notification] = []
        async with self._sessionmaker() as session:
            resident = await session.get(Resident, notice.resident_id)
            holders = list(
                await session.scalars(
                    select(Contact).where(
                        Contact.resident_id == notice.resident_id,
                        Contact.is_key_holder,
                        Contact.phone != "",
                    )
                )
            )
            phones = {c.id: p for c in holders if (p := phone_of(c.phone))}
            # "With the app": a family account on that number that takes push notices.
            with_app = set(
                await session.scalars(
                    select(User.username)
                    .join(PushSubscription, PushSubscription.user_id == User.id)
                    .where(User.username.in_(list(phones.values())), User.active)
                )
            )
            for contact in holders:
                phone = phones.get(contact.id)
                if phone is None or phone in with_app:
                    continue
                codes = {}
                if notice.state != "closed":
                    for answer in ANSWERS:
                        codes[answer] = await self._new_code(
                            session, notice, contact, phone, answer, now
                        )
                language = contact.language if contact.language in LANGUAGES else "ca"
                name = resident.name if resident else ""
                outgoing.append(
                    Notification(
                        alarm_id=notice.alarm_ref,
                        recipient=Recipient(
                            recipient_id=contact_party(contact.id),
                            name=contact.name,
                            language=language,
                            phone=phone,
                        ),
                        subject=FAMILY_CATALOG.text(
                            "push_closed_title" if notice.state == "closed" else "push_open_title",
                            language,
                            name=name,
                        ),
                        text=sms_text(notice, name, language, codes),
                    )
                )
            await session.commit()
        sent = 0
        for notification in outgoing:
            result = await self._sms.send(notification)
            if not result.delivered:
                _LOGGER.warning("alarm SMS to a key holder not sent: %s", result.detail)
            sent += result.delivered
        return sent


@public("the SMS gateway posts a key holder's reply; it proves itself with a shared token")
async def sms_reply(request: web.Request) -> web.Response:
    """A reply SMS: its code answers the alarm notice it was sent for, as that key holder."""
    settings = request.app[FAMILY_SETTINGS]
    if not settings.sms_inbound_token:
        raise ApiError(404, "not_found", "this hub takes no SMS replies")
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {settings.sms_inbound_token}".encode()):
        raise ApiError(401, "unauthorized", "the SMS gateway's token is missing or wrong")
    data = await read_checked(request, bodies.SmsReply)
    sender = phone_of(data["from"])
    if sender is None:
        raise ApiError(400, "sender_invalid", "'from' is not a phone number")
    found = _CODE.search(data["text"])
    if found is None:
        raise ApiError(400, "code_missing", "the reply holds no 6-digit code")
    digest = code_digest(found.group(1), request.app[SETTINGS].jwt_secret)
    now = request.app[CLOCK]()
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(SmsAnswerCode)
                .where(SmsAnswerCode.digest == digest)
                .order_by(SmsAnswerCode.id.desc())
            )
        )
        live = [r for r in rows if r.used_at is None and r.expires_at > now]
        if not live:
            if not rows:
                raise ApiError(404, "code_unknown", "no such reply code")
            if any(r.used_at is not None for r in rows):
                raise ApiError(409, "code_used", "this reply code has already been used")
            raise ApiError(410, "code_expired", "this reply code has expired")
        row = live[0]
        if row.phone != sender:
            _LOGGER.warning("SMS reply code %s sent from another number", row.id)
            raise ApiError(403, "wrong_sender", "this code was sent to another phone number")
        notice = await session.get(AlarmNotice, row.notice_id)
        if notice is None or notice.state == "closed":
            raise ApiError(410, "code_expired", "the alarm is over")
        row.used_at = now
        await session.commit()
        answer, contact_id = row.answer, row.contact_id
    view = await answer_notice(
        request.app, notice, contact_party(contact_id), answer, f"sms:{contact_id}", "sms"
    )
    return web.json_response({"notice_id": view["id"], "answer": answer, "stage": view["stage"]})


async def sms_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the SMS client's HTTP session (no gateway configured: no SMS to key holders)."""
    alarm_settings = app[CONFIG].section("alarms", AlarmSettings)
    if not alarm_settings.sms_url:
        yield
        return
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        channel = SmsChannel(
            SmsGatewaySettings(alarm_settings.sms_url, alarm_settings.sms_token or None), http
        )
        app[NOTICE_CHANGED].append(
            KeyholderSms(
                channel,
                app[SESSIONMAKER],
                app[SETTINGS].jwt_secret,
                app[FAMILY_SETTINGS].sms_code_ttl_s,
            )
        )
        yield
