"""Tables of the family network: circles, conversations, media, groups, agenda, calls.

A *party* is who takes part in a conversation or a call, as a string key: ``u:<user id>``
for a signed-in person, ``r:<resident id>`` for a resident (through their tablet). One
column type for both keeps conversations and calls uniform.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from hub.clock import utc_now
from hub.db.base import Base, BigIntId, UtcDateTime

PARTY_LENGTH = 24
# The statuses of a call not over yet (hub.family.calls.state: those not FINAL).
OPEN_CALLS_SQL = "status IN ('ringing', 'accepted')"


class TabletCredential(Base):
    """The token a resident's tablet uses on the family API (stored as a hash).

    Only pairing a registered tablet device of the resident's home creates one
    (``hub.registry.pairing``); it expires and the tablet renews it while it is valid.
    """

    __tablename__ = "family_tablets"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LinkCode(Base):
    """A linking code (by its HMAC): single use, expiring, with the consent it grants."""

    __tablename__ = "family_link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    consent: Mapped[str] = mapped_column(String(64), default="")
    created_by: Mapped[str] = mapped_column(String(PARTY_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    used_by: Mapped[str | None] = mapped_column(String(PARTY_LENGTH), default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LinkAttempt(Base):
    """A failed redemption of a linking code (the guessing limit counts these)."""

    __tablename__ = "family_link_attempts"
    __table_args__ = (Index("ix_family_link_attempts_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CircleLink(Base):
    """``member`` belongs to the resident's circle, seeing what ``consent`` allows."""

    __tablename__ = "family_links"
    __table_args__ = (UniqueConstraint("resident_id", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    member: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    relationship_: Mapped[str] = mapped_column("relationship", String(60), default="")
    consent: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Conversation(Base):
    """A chat: ``direct`` between two parties (``direct_key``) or a group's chat."""

    __tablename__ = "family_conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    # "u:1|r:2" (sorted): one direct conversation per pair.
    direct_key: Mapped[str | None] = mapped_column(String(60), unique=True, default=None)
    group_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ConversationMember(Base):
    """A party in a conversation and how far they have read."""

    __tablename__ = "family_conversation_members"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("family_conversations.id", ondelete="CASCADE"), primary_key=True
    )
    party: Mapped[str] = mapped_column(String(PARTY_LENGTH), primary_key=True, index=True)
    last_read_id: Mapped[int] = mapped_column(BigIntId, default=0)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class MediaObject(Base):
    """An uploaded photo, video or voice recording (bytes are in the media store)."""

    __tablename__ = "family_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(120), unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(120), default=None)
    kind: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    uploaded_by: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class Message(Base):
    """A message in a conversation; deletion keeps the row but drops the content."""

    __tablename__ = "family_messages"
    __table_args__ = (Index("ix_family_messages_conversation_id_id", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("family_conversations.id", ondelete="CASCADE")
    )
    sender: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[int | None] = mapped_column(
        ForeignKey("family_media.id", ondelete="SET NULL"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Group(Base):
    """A Vincles-style group of residents led by a facilitator."""

    __tablename__ = "family_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    facilitator_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(ForeignKey("family_conversations.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


MEMBER_PENDING, MEMBER_ACCEPTED, MEMBER_DECLINED = "pending", "accepted", "declined"


class GroupMember(Base):
    """A resident in a group, or a facilitator's request that they join one.

    Only ``accepted`` rows make someone a member (chat, agenda, calls, activity); a
    facilitator's request stays ``pending`` until the resident (or the centre's staff)
    accepts it, and a ``declined`` row keeps the facilitator from asking again.
    """

    __tablename__ = "family_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("family_groups.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    status: Mapped[str] = mapped_column(
        String(16), default=MEMBER_ACCEPTED, server_default=MEMBER_ACCEPTED
    )
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    answered_by: Mapped[str | None] = mapped_column(String(64), default=None)


class Invitation(Base):
    """A group member inviting another member into their own circle."""

    __tablename__ = "family_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("family_groups.id", ondelete="CASCADE"))
    from_resident: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    to_resident: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class AgendaItem(Base):
    """An appointment or invitation on a resident's agenda."""

    __tablename__ = "family_agenda"
    __table_args__ = (Index("ix_family_agenda_resident_starts", "resident_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # pending (an invitation) | accepted | declined | confirmed (set by the resident)
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(PARTY_LENGTH))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("family_groups.id", ondelete="CASCADE"), default=None
    )
    remind_before_s: Mapped[int] = mapped_column(Integer, default=3600)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class CallRecord(Base):
    """A call's states and times (never its content)."""

    __tablename__ = "family_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    callee: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_by: Mapped[str | None] = mapped_column(String(PARTY_LENGTH), default=None)
    # "family" (between people) or "centre" (an operator speaking with a home's tablet).
    kind: Mapped[str] = mapped_column(String(10), default="family", server_default="family")
    # The alarm a centre call is about (None: a wellbeing call or a family call).
    alarm_ref: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    # When a participant reported the media flowing (voice contact made).
    connected_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Why a call failed: tablet_offline, no_answer, media_failed, hub_restart.
    failure: Mapped[str | None] = mapped_column(String(32), default=None)
    # Several workers (PostgreSQL, ADR 0185): the worker holding the open call (its name on
    # the calls' channel) and until when (the database's clock) its renewed hold runs; a
    # worker's start-up and beats fail only open calls whose hold ran out. NULL on SQLite
    # and on rows from before (failed at the next start-up, as always).
    holder: Mapped[str | None] = mapped_column(String(64), default=None)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    __table_args__ = (
        Index(
            "ix_family_calls_open",
            "held_until",
            postgresql_where=sql_text(OPEN_CALLS_SQL),
            sqlite_where=sql_text(OPEN_CALLS_SQL),
        ),
    )


class AlarmNotice(Base):
    """An alarm about a resident as the family sees it (consent ``alarms``)."""

    __tablename__ = "family_alarm_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    # The alarm's id in the alerts engine (free text so either side can evolve).
    alarm_ref: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # How far the handling got, as the push notices word it (hub/family/alarm_stage.py):
    # raised, speaking, on_the_way, called_112, closed. Written conditionally, so of
    # several workers one pushes each new stage.
    stage: Mapped[str] = mapped_column(String(16), default="raised", server_default="raised")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    # One notice per alarm: every hub worker that sees the alarm writes the same row.
    __table_args__ = (
        Index("uq_family_alarm_notices_alarm", "resident_id", "alarm_ref", unique=True),
    )


class AlarmAcknowledgement(Base):
    """A person's answer to an alarm notice, "I'm on my way" or "I can't" (operators see
    it): a linked member (``u:``) from the app, or a key holder (``c:`` contact) by SMS."""

    __tablename__ = "family_alarm_acks"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("family_alarm_notices.id", ondelete="CASCADE"), primary_key=True
    )
    party: Mapped[str] = mapped_column(String(PARTY_LENGTH), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # on_my_way or cannot (the latest answer counts).
    answer: Mapped[str] = mapped_column(String(16), default="on_my_way", server_default="on_my_way")


class Signup(Base):
    """A relative joining by themselves: waiting for the code sent to their e-mail or phone.

    The linking code is kept only as its HMAC (as in :class:`LinkCode`) and is redeemed
    when the contact is verified; the password only as its Argon2id hash.
    """

    __tablename__ = "family_signups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    link_digest: Mapped[str] = mapped_column(String(64))
    contact: Mapped[str] = mapped_column(String(120), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    relationship_: Mapped[str] = mapped_column("relationship", String(60))
    language: Mapped[str] = mapped_column(String(2))
    password_hash: Mapped[str] = mapped_column(String(255))
    verify_digest: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class PasswordReset(Base):
    """A forgotten password: a code sent to the account's contact, single use, expiring."""

    __tablename__ = "family_password_resets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    digest: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class PushSubscription(Base):
    """A browser's Web Push subscription (RFC 8030) for a signed-in family member."""

    __tablename__ = "family_push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    # The browser's ECDH public key and authentication secret (RFC 8291), base64url.
    p256dh: Mapped[str] = mapped_column(String(100))
    auth: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class SmsAnswerCode(Base):
    """A reply code sent by SMS to a key holder without the app (by its HMAC): replying
    with it answers the alarm notice for that contact. Single use, expiring, and only from
    the phone number it was sent to (hub/family/sms_answers.py)."""

    __tablename__ = "family_sms_answer_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Not unique: a 6-digit code comes round again once the old one is spent.
    digest: Mapped[str] = mapped_column(String(64), index=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("family_alarm_notices.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(40))
    answer: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class VideoUpload(Base):
    """A video message on its way: the upload is kept (in the media store, ``source_key``)
    until a background job has re-encoded it (hub/family/video_jobs.py); then it becomes an
    ordinary :class:`Message` and this row goes. Until then only its sender sees it, as
    ``processing`` or, when it cannot be prepared, ``failed`` with the reason.

    ``lease_until`` is the claim of the hub worker re-encoding it (renewed while it works):
    a row whose lease ran out, or was given back at a clean stop, is taken again, so a
    restart loses nothing.
    """

    __tablename__ = "family_video_uploads"
    __table_args__ = (Index("ix_family_video_uploads_status_lease", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("family_conversations.id", ondelete="CASCADE"), index=True
    )
    sender: Mapped[str] = mapped_column(String(PARTY_LENGTH), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    source_key: Mapped[str] = mapped_column(String(120))
    # The container the upload was sniffed as (webm, mp4, ogg): ffmpeg's input suffix.
    container: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    # processing | failed
    status: Mapped[str] = mapped_column(String(12), default="processing")
    # Why it failed, as a code the apps word: media_corrupt, media_too_long, media_missing,
    # media_unprocessable, not_member.
    failure: Mapped[str | None] = mapped_column(String(32), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
