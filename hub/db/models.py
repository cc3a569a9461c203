"""The hub's core tables: homes, residents, devices, contacts, users, tokens, events, audit.

Other parts of the hub add their tables in their own modules (subclassing
:class:`hub.db.base.Base`) and list them in :data:`hub.db.MODEL_MODULES`, with a migration
in the same Alembic chain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.clock import utc_now
from hub.db.base import Base, BigIntId, UtcDateTime
from hub.db.crypto import KeySafeCipher


class Home(Base):
    """A resident's home: where the devices are and how to get in."""

    __tablename__ = "homes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(300))
    # Àrea Bàsica de Serveis Socials: the social-services area that follows the home.
    abss_area: Mapped[str] = mapped_column(String(32), default="", index=True)
    # Encrypted with KeySafeCipher; never store or log the plain code.
    key_safe_code_enc: Mapped[str | None] = mapped_column(Text, default=None)
    access_notes: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    residents: Mapped[list[Resident]] = relationship(back_populates="home")
    devices: Mapped[list[Device]] = relationship(back_populates="home")

    def set_key_safe_code(self, cipher: KeySafeCipher, code: str | None) -> None:
        """Store ``code`` encrypted (``None`` clears it)."""
        self.key_safe_code_enc = None if code is None else cipher.encrypt(code)

    def key_safe_code(self, cipher: KeySafeCipher) -> str | None:
        """The decrypted key-safe code, if one is stored."""
        return None if self.key_safe_code_enc is None else cipher.decrypt(self.key_safe_code_enc)


class Resident(Base):
    """A person who receives the service."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    language: Mapped[str] = mapped_column(String(2), default="ca")
    medical_notes: Mapped[str] = mapped_column(Text, default="")
    lives_alone: Mapped[bool] = mapped_column(Boolean, default=True)
    # How to address the person where ca/es words take a gender (protocol.ADDRESS_FORMS);
    # "unknown" is phrased neutrally (migration service_0003).
    address_form: Mapped[str] = mapped_column(
        String(12), default="unknown", server_default="unknown"
    )
    # {"share_with_family": true, "wsocial_export": false, ...}: what the resident agreed to.
    consent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    photo_path: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    home: Mapped[Home] = relationship(back_populates="residents")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="resident", order_by="Contact.priority"
    )


class Device(Base):
    """A sensor, pendant, gateway or tablet; ``id`` is its protocol device id."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    home_id: Mapped[int] = mapped_column(ForeignKey("homes.id", ondelete="RESTRICT"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    room: Mapped[str | None] = mapped_column(String(40), default=None)
    # Hash of the device's MQTT secret (the broker holds its own PBKDF2 hash).
    secret_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    firmware: Mapped[str | None] = mapped_column(String(40), default=None)
    battery: Mapped[int | None] = mapped_column(Integer, default=None)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # unknown | online | offline | revoked
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The person who wears it (pendant) when the home has more than one resident.
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="SET NULL"), default=None
    )
    # The home gateway that relays this sensor (its MQTT account may write its topics).
    gateway_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    # Why the state is what it is (``will``, ``supervision``, ``revoked``...).
    state_reason: Mapped[str] = mapped_column(String(32), default="")
    tampered: Mapped[bool] = mapped_column(Boolean, default=False)

    home: Mapped[Home] = relationship(back_populates="devices")


class Contact(Base):
    """Someone to call for a resident; key holders can open the door."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    # A code of alerts.values.RELATIONSHIP_CODES ("" not said); "other" with its words.
    relationship_: Mapped[str] = mapped_column("relationship", String(60), default="")
    relationship_other: Mapped[str] = mapped_column(String(60), default="", server_default="")
    is_key_holder: Mapped[bool] = mapped_column(Boolean, default=False)
    # 1 is called first.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str] = mapped_column(String(2), default="ca")

    resident: Mapped[Resident] = relationship(back_populates="contacts")


class User(Base):
    """Someone who signs in: staff, family, facilitators, installers."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2), default="ca")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Bumped to end every sign-in at once (password reset, disabled, role changed).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RefreshToken(Base):
    """A refresh token (by id): single use, rotated on every refresh."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # All tokens rotated from one login share a family; reuse of a spent one revokes it.
    family: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RevokedToken(Base):
    """An access token id revoked before its expiry (logout)."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ThrottleCounter(Base):
    """Tries of one key against one limit in the current window: see ``hub.throttle``.

    ``kind`` names the limit, ``key`` whom it counts (an address, an account, a user and
    an alarm). One row per key, changed only by single atomic upserts.
    """

    __tablename__ = "throttle_counters"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer)


class StoredEvent(Base):
    """A device event as received; (``device_id``, ``message_id``) is unique so redelivery
    is harmless (message ids are unique per device, not across the fleet)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_device_ts", "device_id", "ts"),
        UniqueConstraint("device_id", "message_id", name="uq_events_device_id_message_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="RESTRICT"))
    type: Mapped[str] = mapped_column(String(32), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class DeadLetterEvent(Base):
    """A device event the database refused to store (hub/ingest/quarantine.py): kept here
    with the reason so it is neither lost nor retried in front of every later event."""

    __tablename__ = "ingest_dead_letters"
    __table_args__ = (
        UniqueConstraint("device_id", "message_id", name="uq_ingest_dead_letters_device_message"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # No foreign key: an unknown device may be why the row was refused.
    device_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    quarantined_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    # The whole event as JSON text (control characters escaped, so any database holds it).
    event: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """Who did what to which object, and when: written by :func:`hub.audit.record_audit`."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
