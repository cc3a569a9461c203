"""Encryption at rest for secrets the operator must read back (key-safe codes)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeySafeCipherError(ValueError):
    """A stored value that cannot be decrypted with the configured key."""


class KeySafeCipher:
    """Fernet (AES-128-CBC + HMAC) with the key from ``HubSettings.keysafe_key``.

    ``previous`` keys still decrypt (while a rotation re-encrypts what they encrypted,
    ``teleassist hub rotate-keysafe-key``); new values are always encrypted with ``key``.
    """

    def __init__(self, key: str, previous: Sequence[str] = ()) -> None:
        keys = [Fernet(k.encode("ascii")) for k in (key, *previous)]
        self._fernet = MultiFernet(keys)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; the token is ASCII, safe for a text column."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by :meth:`encrypt`; raise :class:`KeySafeCipherError`."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise KeySafeCipherError("key-safe code cannot be decrypted with this key") from None

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the current key (whichever key it was made with)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise KeySafeCipherError("key-safe value cannot be decrypted with any key") from None
