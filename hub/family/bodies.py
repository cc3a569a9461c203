"""Request bodies of the family network API (``/api/family``).

Each handler checks its body with its struct (:func:`hub.http.read_checked`) before reading
it field by field, and the OpenAPI document describes the bodies from these structs
(ADR 0015). Texts are stripped by the handlers and must keep something besides spaces; a
text longer than its limit keeps the handler's code ``text_too_long``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hub.family.consent import Scope
from protocol.i18n import Language

# Not only spaces, and no NUL (the hub refuses NUL in any JSON text).
FILLED = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
NO_NUL = "^[^\\x00]*$"
Id32 = Annotated[int, Meta(ge=1, le=2_147_483_647)]
Answer = Literal["accept", "decline"]


Title = Annotated[str, Meta(min_length=1, max_length=200, pattern=FILLED)]
Reason = Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]


class LinkingCodeBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/residents/{rid}/linking-codes``: what the new member may see, and
    how long the code lasts (60 s to the hub's maximum, default from the settings)."""

    consent: list[Scope] = []
    ttl_s: Id32 | None = None


class RedeemBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/links``: a linking code and how the person is related."""

    code: Annotated[str, Meta(min_length=1, max_length=40, pattern=FILLED)]
    relationship: Annotated[str, Meta(min_length=1, max_length=60, pattern=FILLED)]


class LinkChange(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PATCH /api/family/links/{id}``: staff say why (5 characters at least)."""

    consent: list[Scope]
    reason: Reason | None = None


class LinkRemoval(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``DELETE /api/family/links/{id}`` (optional body): staff say why."""

    reason: Reason | None = None


class DirectBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/conversations``: the party to talk with (``u:12`` or ``r:3``)."""

    with_: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)] = msgspec.field(
        name="with"
    )


class MessageBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/conversations/{cid}/messages``: text, an uploaded media object, or
    both (a caption)."""

    text: Annotated[str, Meta(max_length=2000, pattern=NO_NUL)] | None = None
    media_id: Id32 | None = None


class ReadMark(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/conversations/{cid}/read``: seen up to this message id."""

    up_to: Annotated[int, Meta(ge=0, le=2_147_483_647)]


class AgendaBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/residents/{rid}/agenda`` and a group's event: not in the past,
    ``ends_at`` after ``starts_at``, a reminder 0 s to 7 days before (default 1 h)."""

    title: Title
    starts_at: datetime
    kind: Literal["visit", "appointment", "activity", "other"] | None = None
    ends_at: datetime | None = None
    remind_before_s: Annotated[int, Meta(ge=0, le=7 * 24 * 3600)] | None = None


class AnswerBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Accept or decline (an agenda invitation, a group invitation); staff answering for a
    resident name them (``resident_id``)."""

    answer: Answer
    resident_id: Id32 | Annotated[str, Meta(pattern="^[0-9]{1,10}$")] | None = None


class GroupBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/groups``: a facilitator starts a group."""

    name: Annotated[str, Meta(min_length=1, max_length=120, pattern=FILLED)]


class GroupMemberBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/groups/{gid}/members``: ask a resident to join."""

    resident_id: Id32


class InvitationBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/groups/{gid}/invitations``: one member invites another resident."""

    to_resident: Id32


class NoticeBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/residents/{rid}/alarm-notices`` (staff): tell the circle."""

    alarm_ref: Annotated[str, Meta(min_length=1, max_length=64, pattern=FILLED)]
    event_type: Annotated[str, Meta(min_length=1, max_length=32, pattern=FILLED)]
    state: Annotated[str, Meta(min_length=1, max_length=16, pattern=FILLED)] | None = None


# A text over its limit keeps the handlers' code (``>max``: only that refusal of the field).
TEXT_CODES = {
    **{f"$.{name}>max": "text_too_long" for name in ("title", "code", "relationship", "name")},
    "$.text>max": "text_too_long",
    "$.consent": "consent_invalid",
}


Password = Annotated[str, Meta(min_length=1, max_length=1024, pattern=NO_NUL)]


class SignupBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/signup``: a relative with a linking code asks for an account; the
    contact (an e-mail address or a mobile number) gets a verification code. The password
    must follow the password rules (not the name, not the contact)."""

    code: Annotated[str, Meta(min_length=1, max_length=40, pattern=FILLED)]
    name: Annotated[str, Meta(min_length=1, max_length=200, pattern=FILLED)]
    relationship: Annotated[str, Meta(min_length=1, max_length=60, pattern=FILLED)]
    contact: Annotated[str, Meta(min_length=1, max_length=200, pattern=FILLED)]
    password: Password
    language: Language = "ca"


class CodeBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/signup/{sid}/verify``: the code sent to the contact."""

    code: Annotated[str, Meta(min_length=1, max_length=20, pattern=FILLED)]


class ResetBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/auth/password-reset``: the family account's contact (the same answer
    whether or not an account has it)."""

    contact: Annotated[str, Meta(min_length=1, max_length=200, pattern=FILLED)]
    language: Language = "ca"


class ResetConfirm(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/auth/password-reset/{rid}/confirm``: the code sent and a new password."""

    code: Annotated[str, Meta(min_length=1, max_length=20, pattern=FILLED)]
    password: Password


class PushKeys(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A browser's push subscription keys (base64url): a P-256 point and 16 secret bytes."""

    p256dh: Annotated[str, Meta(min_length=1, max_length=100, pattern="^[A-Za-z0-9_=-]+$")]
    auth: Annotated[str, Meta(min_length=1, max_length=100, pattern="^[A-Za-z0-9_=-]+$")]


class PushSubscription(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/push/subscriptions``: the browser's ``PushSubscription`` as its
    ``toJSON()`` gives it (an ``https`` endpoint of a push service)."""

    endpoint: Annotated[str, Meta(min_length=10, max_length=1024, pattern=NO_NUL)]
    keys: PushKeys


class PushEndpoint(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``DELETE /api/family/push/subscriptions``: which subscription to forget."""

    endpoint: Annotated[str, Meta(min_length=1, max_length=1024, pattern=NO_NUL)]


class SmsReply(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/family/sms/replies`` (the SMS gateway): a key holder's reply."""

    from_: Annotated[str, Meta(min_length=1, max_length=40, pattern=NO_NUL)] = msgspec.field(
        name="from"
    )
    text: Annotated[str, Meta(max_length=1600, pattern=NO_NUL)]
    # The gateway's own id of the message (logged by it; ignored here).
    id: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] | None = None


PUSH_CODES = {
    "$.endpoint": "invalid_subscription",
    "$.keys": "invalid_subscription",
    "$.keys.p256dh": "invalid_subscription",
    "$.keys.auth": "invalid_subscription",
}
