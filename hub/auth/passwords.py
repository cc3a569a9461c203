"""Password hashing with Argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hub.errors import HubError

MIN_PASSWORD_LENGTH = 10

# argon2-cffi's recommended Argon2id costs (RFC 9106 "second choice": 64 MiB, t=3, p=4).
PRODUCTION_HASHER = PasswordHasher()
_HASHER = PRODUCTION_HASHER


class WeakPasswordError(HubError, ValueError):
    """A password that does not meet the minimum policy."""

    code = "weak_password"


def check_password_policy(password: str) -> None:
    """Raise :class:`WeakPasswordError` for a password too short to keep."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


async def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (computed in a worker thread)."""
    return await asyncio.to_thread(_HASHER.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str, password: str) -> bool:
    """True if ``password`` matches ``stored``; never raises for a bad password or hash."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist (equal timing)."""
    return _HASHER.hash("no such user: constant-time answer")
