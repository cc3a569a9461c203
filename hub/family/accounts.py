"""Accounts relatives make for themselves: contacts, verification codes, password rules.

Pure values and functions (time is passed in, storage is the caller's). A relative signs
in with the e-mail address or phone number they verified; that contact is their username.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from hashlib import sha256

from hub.auth.passwords import MIN_PASSWORD_LENGTH
from hub.errors import HubError

VERIFY_DIGITS = 6
VERIFY_TTL = timedelta(minutes=15)
# Wrong verification codes allowed for one sign-up or reset before it is void: with
# 10^6 codes, five tries give a 1 in 200,000 chance, and a new code needs a new message
# (itself limited per contact and per address).
VERIFY_MAX_TRIES = 5

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().-]{6,24}$")
# Words too common to be a password, whatever their length (a family member's account
# shows a resident's alarms).
_COMMON = frozenset(
    {"1234567890", "0123456789", "contrasenya", "contraseña", "password123", "qwertyuiop",
     "teleassist", "teleassistencia", "teleasistencia", "1111111111", "abcdefghij"}
)  # fmt: skip


class ContactKind(StrEnum):
    """How a relative is reached."""

    EMAIL = "email"
    PHONE = "phone"


class AccountError(HubError, ValueError):
    """Input that cannot make an account; ``code`` is the stable error code for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True, slots=True)
class Contact:
    """A normalised e-mail address (lower case) or phone number (``+`` and digits)."""

    kind: ContactKind
    value: str

    def masked(self) -> str:
        """What the page shows of it ("a•••@example.org", "•••••••45")."""
        if self.kind is ContactKind.EMAIL:
            local, domain = self.value.split("@", 1)
            return f"{local[0]}•••@{domain}"
        return "•" * (len(self.value) - 2) + self.value[-2:]


def parse_contact(typed: str) -> Contact:
    """An e-mail address or phone number as typed → :class:`Contact`, or ``contact_invalid``.

    A Spanish number may be typed without its prefix (9 digits starting 6-9); any other
    number needs its ``+`` and country code.
    """
    text = typed.strip()
    if "@" in text:
        email = text.lower()
        if len(email) > 120 or not _EMAIL.match(email):
            raise AccountError("contact_invalid", "this is not an e-mail address")
        return Contact(ContactKind.EMAIL, email)
    if not _PHONE_CHARS.match(text):
        raise AccountError("contact_invalid", "write an e-mail address or a phone number")
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("+"):
        number = "+" + digits
    elif text.startswith("00"):
        number = "+" + digits[2:]
    elif len(digits) == 9 and digits[0] in "6789":
        number = "+34" + digits
    else:
        raise AccountError("contact_invalid", "write the phone number with its country code (+…)")
    if not 9 <= len(number) <= 16:
        raise AccountError("contact_invalid", "this is not a phone number")
    return Contact(ContactKind.PHONE, number)


def check_new_password(password: str, contact: Contact, name: str = "") -> None:
    """Raise ``password_weak`` unless ``password`` is long enough, not a common word, and
    not the person's own contact or name."""
    folded = password.casefold()
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            "password_weak", f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > 200:
        raise AccountError("password_weak", "a password has at most 200 characters")
    own = [contact.value.casefold(), contact.value.split("@")[0].casefold()]
    own += [part.casefold() for part in name.split() if len(part) >= 4]
    if folded in _COMMON or len(set(folded)) < 4 or any(o and o in folded for o in own):
        raise AccountError(
            "password_weak", "choose a password that is not your name, contact or a common word"
        )


def new_verify_code() -> str:
    """A fresh code of :data:`VERIFY_DIGITS` digits, as sent to the person."""
    return f"{secrets.randbelow(10**VERIFY_DIGITS):0{VERIFY_DIGITS}d}"


def verify_digest(purpose: str, ident: str, code: str, secret: str) -> str:
    """The HMAC a code is stored as, bound to what it is for (a sign-up or reset id)."""
    message = f"{purpose}:{ident}:{code.strip()}".encode()
    return hmac.new(secret.encode(), message, sha256).hexdigest()


def code_matches(stored: str, purpose: str, ident: str, typed: str, secret: str) -> bool:
    """True if ``typed`` is the code ``stored`` was made from (constant-time compare)."""
    return hmac.compare_digest(stored, verify_digest(purpose, ident, typed, secret))


def new_request_id() -> str:
    """An unguessable id for a pending sign-up or reset (it travels in the URL)."""
    return secrets.token_urlsafe(18)


def verify_refusal(
    *, tries: int, expires_at: datetime, done: bool, now: datetime
) -> AccountError | None:
    """Why a pending sign-up or reset no longer takes codes, or ``None`` if it does."""
    if done:
        return AccountError("verification_used", "this was already done; sign in")
    if expires_at <= now:
        return AccountError("verification_expired", "the code has expired; start again")
    if tries >= VERIFY_MAX_TRIES:
        return AccountError("verification_locked", "too many wrong codes; start again")
    return None
