"""Relatives join by themselves: sign-up with a linking code, and a forgotten password.

No admin involved and nothing to abuse without a code the resident (or the centre on
their behalf) made:

- ``POST /api/family/signup`` checks the linking code first (wrong codes count against
  the caller's address, as on the family API), then sends a 6-digit code to the e-mail
  address or phone number given. Nothing is sent without a valid code, and at most
  :data:`MESSAGES_PER_CONTACT` messages per contact per hour and
  :data:`STARTS_PER_ADDRESS` starts per address per hour, so the hub cannot be used to
  flood someone's phone.
- ``POST /api/family/signup/{sid}/verify`` takes that code (5 tries, 15 minutes), creates
  the account (the contact is the username, role ``family``), joins the circle with the
  linking code's consent, and signs the person in.
- ``POST /api/auth/password-reset`` and ``.../{rid}/confirm`` do the same for a forgotten
  password of a family account (staff passwords stay with the admin). The answer is the
  same whether the contact has an account or not.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, SESSIONMAKER, SETTINGS, access_ended
from hub.audit import record_audit
from hub.auth import codes, service
from hub.auth.passwords import hash_password
from hub.auth.roles import Role
from hub.auth.routes import pair_response
from hub.auth.web import public
from hub.db.models import User
from hub.family import bodies
from hub.family.account_messages import AccountMessenger, account_text
from hub.family.accounts import (
    VERIFY_MAX_TRIES,
    VERIFY_TTL,
    AccountError,
    Contact,
    check_new_password,
    code_matches,
    new_request_id,
    new_verify_code,
    parse_contact,
    verify_digest,
    verify_refusal,
)
from hub.family.circles import find_code, join_circle
from hub.family.models import LinkCode, PasswordReset, Signup
from hub.family.parties import user_party
from hub.family.settings import FAMILY_SETTINGS
from hub.http import ApiError, client_address, iso, read_checked, text_field, too_many_attempts
from hub.throttle import Limit, release, take
from protocol.i18n import LANGUAGES

_LOGGER = logging.getLogger(__name__)

ACCOUNT_MESSENGER = web.AppKey("family_account_messenger", AccountMessenger)

MESSAGES_PER_CONTACT = 3
STARTS_PER_ADDRESS = 10
_HOUR = timedelta(hours=1)
_CONTACT_LIMIT = Limit("family.account_message", MESSAGES_PER_CONTACT, _HOUR)
_ADDRESS_LIMIT = Limit("family.account_start", STARTS_PER_ADDRESS, _HOUR)


def _bad(err: AccountError) -> ApiError:
    return ApiError(400, err.code, err.message)


def _language(data: dict[str, Any]) -> str:
    value = data.get("language", "ca")
    if value not in LANGUAGES:
        raise ApiError(400, "invalid_request", "language must be ca, es or en")
    return str(value)


async def _take(session: AsyncSession, limit: Limit, key: str, now: datetime) -> None:
    slot = await take(session, limit, key, now)
    await session.commit()
    if not slot.allowed:
        raise ApiError(
            429,
            "too_many_requests",
            f"too many requests; try again in {slot.retry_after_s} s",
            retry_after_s=slot.retry_after_s,
        )


async def _send(request: web.Request, contact: Contact, language: str, key: str,
                subject: str, code: str = "") -> None:  # fmt: skip
    text = account_text(key, language, code=code, minutes=int(VERIFY_TTL.total_seconds() // 60))
    sent = await request.app[ACCOUNT_MESSENGER].send(
        contact, language, account_text(subject, language), text
    )
    if not sent:
        raise ApiError(502, "message_not_sent", "the message could not be sent; try again later")


@public("a relative with a linking code has no account yet")
async def start_signup(request: web.Request) -> web.Response:
    """Check the linking code and send a verification code to the person's contact."""
    data = await read_checked(request, bodies.SignupBody, bodies.TEXT_CODES)
    typed_code = text_field(data, "code", max_length=40)
    name = text_field(data, "name", max_length=200)
    relationship = text_field(data, "relationship", max_length=60)
    password = data.get("password")
    if not isinstance(password, str):
        raise ApiError(400, "invalid_request", "'password' must be a string")
    language = _language(data)
    try:
        contact = parse_contact(text_field(data, "contact", max_length=200))
        check_new_password(password, contact, name)
    except AccountError as err:
        raise _bad(err) from None
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    address = client_address(request, settings.trusted_proxies)
    family = app[FAMILY_SETTINGS]
    guesses = Limit(
        "family.link", family.link_max_failures, timedelta(seconds=family.link_failure_window_s)
    )
    guess_key = f"addr:{address}"
    async with app[SESSIONMAKER]() as session:
        await _take(session, _ADDRESS_LIMIT, address, now)
        # Counted before the code is checked, atomically, as on POST /api/family/links.
        slot = await take(session, guesses, guess_key, now)
        await session.commit()
        if not slot.allowed:
            raise too_many_attempts(slot.retry_after_s)
        try:
            row = await find_code(session, typed_code, settings.jwt_secret, now)
        except codes.LinkingError as err:
            await record_audit(session, f"signup:{address}", "family.code_refused", "code",
                               {"why": err.code})  # fmt: skip
            await session.commit()
            status = {"code_malformed": 400, "code_unknown": 404}.get(err.code, 410)
            raise ApiError(status, err.code, err.message) from None
        await release(session, guesses, guess_key)  # a good code is not a guess
        await session.commit()
        await _take(session, _CONTACT_LIMIT, contact.value, now)
        exists = await session.scalar(select(User.id).where(User.username == contact.value))
        code = new_verify_code()
        signup = Signup(
            id=new_request_id(),
            link_digest=row.digest,
            contact=contact.value,
            display_name=name,
            relationship_=relationship,
            language=language,
            password_hash=await hash_password(password),
            verify_digest="",
            created_at=now,
            expires_at=now + VERIFY_TTL,
        )
        # For a contact that already has an account the stored code is one nobody was
        # sent: the answer is the same, and the message tells them to sign in instead.
        stored = new_verify_code() if exists else code
        signup.verify_digest = verify_digest("signup", signup.id, stored, settings.jwt_secret)
        session.add(signup)
        await record_audit(session, f"signup:{contact.masked()}", "family.signup_start",
                           f"resident:{row.resident_id}", {"address": address})  # fmt: skip
        await session.commit()
    if exists:
        await _send(request, contact, language, "exists.text", "signup.subject")
    else:
        await _send(request, contact, language, "signup.text", "signup.subject", code)
    body = {
        "signup_id": signup.id,
        "sent_to": contact.masked(),
        "expires_at": iso(signup.expires_at),
    }
    return web.json_response(body, status=202)


async def _count_try(
    session: AsyncSession, model: type[Signup] | type[PasswordReset], ident: str
) -> None:
    # One conditional UPDATE per try: parallel tries cannot get past the limit.
    counted = await session.execute(
        update(model)
        .where(model.id == ident, model.tries < VERIFY_MAX_TRIES)
        .values(tries=model.tries + 1)
    )
    await session.commit()
    if not counted.rowcount:  # type: ignore[attr-defined]
        raise ApiError(410, "verification_locked", "too many wrong codes; start again")


def _wrong(tries: int) -> ApiError:
    left = max(0, VERIFY_MAX_TRIES - tries)
    return ApiError(400, "verification_wrong", f"this is not the code; {left} tries left",
                    tries_left=left)  # fmt: skip


@public("the relative verifies their contact before any account exists")
async def verify_signup(request: web.Request) -> web.Response:
    """The code sent to the person: create the account, join the circle, sign in."""
    ident = request.match_info["sid"][:40]
    data = await read_checked(request, bodies.CodeBody, bodies.TEXT_CODES)
    typed = text_field(data, "code", max_length=20)
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        signup = await session.get(Signup, ident)
        if signup is None:
            raise ApiError(404, "signup_unknown", "start again")
        refusal = verify_refusal(tries=signup.tries, expires_at=signup.expires_at,
                                 done=signup.done_at is not None, now=now)  # fmt: skip
        if refusal is not None:
            raise ApiError(410, refusal.code, refusal.message)
        await _count_try(session, Signup, ident)
        await session.refresh(signup)
        if not code_matches(signup.verify_digest, "signup", ident, typed, settings.jwt_secret):
            raise _wrong(signup.tries)
        row = await session.scalar(select(LinkCode).where(LinkCode.digest == signup.link_digest))
        state = None if row is None else codes.CodeState(row.expires_at, row.used_at, row.revoked)
        try:
            codes.check_redeemable(state, now)
        except codes.LinkingError as err:
            raise ApiError(410, err.code, err.message) from None
        assert row is not None
        if await session.scalar(select(User.id).where(User.username == signup.contact)):
            raise ApiError(409, "contact_taken", "this contact has an account already; sign in")
        user = User(
            username=signup.contact,
            password_hash=signup.password_hash,
            role=Role.FAMILY.value,
            display_name=signup.display_name,
            language=signup.language,
            active=True,
        )
        session.add(user)
        await session.flush()
        await record_audit(session, user.username, "user.create", f"user:{user.id}",
                           {"role": Role.FAMILY.value, "self_signup": True})  # fmt: skip
        await join_circle(session, row, user_party(user.id), signup.relationship_,
                          user.username, now)  # fmt: skip
        signup.done_at = now
        signup.password_hash = ""  # kept on the user now; the pending row keeps none
        pair = await service.issue_tokens(session, user, settings, now)
        await session.commit()
    response = pair_response(request, pair)
    response.set_status(201)
    return response


@public("a person who forgot their password cannot sign in")
async def start_reset(request: web.Request) -> web.Response:
    """Send a code to change the password of the family account with this contact."""
    data = await read_checked(request, bodies.ResetBody, bodies.TEXT_CODES)
    language = _language(data)
    try:
        contact = parse_contact(text_field(data, "contact", max_length=200))
    except AccountError as err:
        raise _bad(err) from None
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    address = client_address(request, settings.trusted_proxies)
    async with app[SESSIONMAKER]() as session:
        await _take(session, _ADDRESS_LIMIT, address, now)
        await _take(session, _CONTACT_LIMIT, contact.value, now)
        user = await session.scalar(
            select(User).where(
                User.username == contact.value, User.role == Role.FAMILY.value, User.active
            )
        )
        code = new_verify_code()
        reset = PasswordReset(
            id=new_request_id(),
            user_id=user.id if user else None,
            digest="",
            created_at=now,
            expires_at=now + VERIFY_TTL,
        )
        reset.digest = verify_digest("reset", reset.id, code, settings.jwt_secret)
        session.add(reset)
        await record_audit(session, f"reset:{contact.masked()}", "auth.password_reset_start",
                           f"user:{user.id}" if user else "user:unknown",
                           {"address": address})  # fmt: skip
        await session.commit()
        language = user.language if user else language
    if user is not None:
        await _send(request, contact, language, "reset.text", "reset.subject", code)
    body = {"reset_id": reset.id, "sent_to": contact.masked(), "expires_at": iso(reset.expires_at)}
    return web.json_response(body, status=202)


@public("a person who forgot their password cannot sign in")
async def confirm_reset(request: web.Request) -> web.Response:
    """The code sent and a new password: the password changes, every sign-in ends."""
    ident = request.match_info["rid"][:40]
    data = await read_checked(request, bodies.ResetConfirm, bodies.TEXT_CODES)
    typed = text_field(data, "code", max_length=20)
    password = data.get("password")
    if not isinstance(password, str):
        raise ApiError(400, "invalid_request", "'password' must be a string")
    app = request.app
    settings, now = app[SETTINGS], app[CLOCK]()
    async with app[SESSIONMAKER]() as session:
        reset = await session.get(PasswordReset, ident)
        if reset is None:
            raise ApiError(404, "reset_unknown", "start again")
        refusal = verify_refusal(tries=reset.tries, expires_at=reset.expires_at,
                                 done=reset.used_at is not None, now=now)  # fmt: skip
        if refusal is not None:
            raise ApiError(410, refusal.code, refusal.message)
        await _count_try(session, PasswordReset, ident)
        await session.refresh(reset)
        matches = code_matches(reset.digest, "reset", ident, typed, settings.jwt_secret)
        user = await session.get(User, reset.user_id) if reset.user_id else None
        if not matches or user is None or not user.active:
            raise _wrong(reset.tries)
        try:
            check_new_password(password, parse_contact(user.username), user.display_name)
        except AccountError as err:
            raise _bad(err) from None
        user.password_hash = await hash_password(password)
        reset.used_at = now
        await service.end_access(session, user, now, "password_reset", user.username)
        await record_audit(session, user.username, "auth.password_reset", f"user:{user.id}", {})
        await session.commit()
        user_id = user.id
    access_ended(app, user_id)
    return web.Response(status=204)
