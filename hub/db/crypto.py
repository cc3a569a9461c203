"""Encryption at rest for secrets the operator must read back (key-safe codes)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class KeySafeCipherError(ValueError):
    """A stored value that cannot be decrypted with the configured key."""


class KeySafeCipher:
    """Fernet (AES-128-CBC + HMAC) with the key from ``HubSettings.keysafe_key``."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode("ascii"))

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; the token is ASCII, safe for a text column."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by :meth:`encrypt`; raise :class:`KeySafeCipherError`."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise KeySafeCipherError("key-safe code cannot be decrypted with this key") from None
