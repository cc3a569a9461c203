"""One-time codes read aloud: a family member's linking code (how they join a resident's
circle, ``hub.family.circles``) and, with digits, a tablet's setup code
(``hub.registry.pairing``).

A code is short enough to read aloud from the tablet (8 characters from an alphabet
without look-alikes, shown as ``ABCD-EFGH``), single use, expiring, and guarded by a
per-person limit on failed attempts. Only an HMAC of the code is stored, keyed with a
hub secret, so a copy of the database does not reveal live codes.

Everything here is pure: time is passed in, storage is the caller's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.errors import HubError

# What a typed code may contain: no 0/O, 1/I/L, U/V look-alikes. Codes issued before
# ADR 0157 were drawn from all of it and stay valid until they expire.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
# What new codes are drawn from (ADR 0157): a resident reads the code to a grandson over
# the phone, so no two symbols sound alike in Catalan, Spanish or English either — none of
# the rhyming B C D E G P T Z ("be, ce, de…", "bee, cee, dee…"), A J K ("ay, jay, kay"),
# M N ("ema, ena"), F S ("efa, essa") or I Y. 15 symbols, 8 of them: 2.6·10⁹ codes, for a
# code that works once, expires and is guarded by a per-person limit on failed attempts.
SPOKEN_ALPHABET = "23456789HKQRWXY"
CODE_LENGTH = 8


class LinkingError(HubError):
    """A code that cannot be used; ``code`` is the stable error code for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def new_code() -> str:
    """A fresh random code (canonical form: 8 upper-case characters, no dash), drawn from
    symbols that cannot be misheard when read aloud."""
    return "".join(secrets.choice(SPOKEN_ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """``ABCDEFGH`` → ``ABCD-EFGH`` (how the tablet and the operator show it)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalize_code(typed: str) -> str:
    """What a person typed → canonical form; raise ``code_malformed`` if it cannot be a code.

    Spaces and dashes are ignored, case too, and look-alikes are folded (``O``→``0`` is not
    in the alphabet, so ``O`` stays invalid rather than guessing).
    """
    cleaned = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(cleaned) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in cleaned):
        raise LinkingError(
            "code_malformed",
            f"a linking code has {CODE_LENGTH} letters and digits, like {display_code('ABCD2345')}",
        )
    return cleaned


def code_digest(code: str, secret: str) -> str:
    """The HMAC-SHA256 of a canonical code: what the database stores and looks up."""
    return hmac.new(secret.encode(), code.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeState:
    """What the store knows about a code when someone redeems it."""

    expires_at: datetime
    used_at: datetime | None
    revoked: bool = False


def check_redeemable(state: CodeState | None, now: datetime, noun: str = "linking code") -> None:
    """Raise :class:`LinkingError` unless the code exists, is unused and unexpired.

    ``noun`` names the code in the messages (the tablet's setup codes use this too).
    """
    if state is None:
        raise LinkingError("code_unknown", f"this {noun} does not exist; check it and retry")
    if state.revoked:
        raise LinkingError("code_revoked", f"this {noun} was withdrawn; ask for a new one")
    if state.used_at is not None:
        raise LinkingError("code_used", f"this {noun} was already used; ask for a new one")
    if state.expires_at <= now:
        raise LinkingError("code_expired", f"this {noun} has expired; ask for a new one")


@dataclass(frozen=True, slots=True)
class GuessPolicy:
    """At most ``max_failures`` wrong codes per person within ``window``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class GuessVerdict:
    """Whether another attempt is allowed, and if not, after how many seconds."""

    allowed: bool
    retry_after_s: int = 0


def guess_verdict(failures: Iterable[datetime], now: datetime, policy: GuessPolicy) -> GuessVerdict:
    """Decide from the times of recent failed attempts whether to accept another one.

    With 29^8 ≈ 5·10^11 codes and a handful of live ones, five tries per 15 minutes make
    guessing hopeless (years of attempts per expected hit).
    """
    recent = sorted(t for t in failures if now - t < policy.window)
    if len(recent) < policy.max_failures:
        return GuessVerdict(True)
    # Allowed again once the oldest failure that counts leaves the window.
    oldest = recent[-policy.max_failures]
    wait = policy.window - (now - oldest)
    return GuessVerdict(False, max(1, int(wait.total_seconds() + 0.999)))
