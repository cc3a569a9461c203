"""Per-device MQTT secrets and Mosquitto's password hash (PBKDF2-SHA512, ``$7$``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# Mosquitto 2.0's default for mosquitto_passwd; the broker reads the count from the hash.
PBKDF2_ITERATIONS = 101
SECRET_BYTES = 24


def new_device_secret() -> str:
    """A fresh random secret for a device (shown once, to the installer)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def mosquitto_hash(password: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The hash Mosquitto expects in a password file: ``$7$iter$salt$hash`` (base64)."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return (
        f"$7${iterations}${base64.b64encode(salt).decode('ascii')}"
        f"${base64.b64encode(digest).decode('ascii')}"
    )


def verify_mosquitto_hash(stored: str, password: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash."""
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        computed = hashlib.pbkdf2_hmac(
            "sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(computed, base64.b64decode(digest))
    except ValueError:
        return False
