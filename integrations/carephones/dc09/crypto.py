"""DC-09 encryption: AES-128/192/256 in CBC mode with an all-zero IV.

The encrypted part of a frame is everything after its ``[``: pad characters, ``|``, the
data (``#acct|...]``, extended data, ``_timestamp``), sent as upper-case hex. The pad makes
the length a multiple of 16; its characters are printable and never ``[``, ``]`` or ``|``,
so the first ``|`` ends it. A wrong key shows as a plaintext that is not printable ASCII
or has no ``|`` (CBC turns every block into noise), which :func:`decrypt_data` refuses.
"""

from __future__ import annotations

import binascii
import secrets

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_SIZES = frozenset({16, 24, 32})
_IV = bytes(16)
_PAD_CHARS = bytes(c for c in range(0x21, 0x7F) if c not in b"[]|")


class DecryptError(ValueError):
    """Encrypted data that this key does not open (wrong key, bad hex, bad length)."""


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) not in KEY_SIZES:
        raise ValueError(f"a DC-09 key has 16, 24 or 32 bytes, not {len(key)}")
    return Cipher(algorithms.AES(key), modes.CBC(_IV))


def pad_length(data_length: int) -> int:
    """Pad characters before ``|`` so that pad + ``|`` + data fills whole blocks (1 to 16)."""
    return 16 - (data_length + 1) % 16 or 16


def encrypt_data(key: bytes, data: str, pad: bytes | None = None) -> str:
    """Encrypt ``data`` (ASCII) with a pad (random unless given); return upper-case hex."""
    raw = data.encode("ascii")
    length = pad_length(len(raw))
    if pad is None:
        pad = bytes(secrets.choice(_PAD_CHARS) for _ in range(length))
    if len(pad) != length or any(c not in _PAD_CHARS for c in pad):
        raise ValueError(f"the pad must be {length} printable characters other than []|")
    encryptor = _cipher(key).encryptor()
    sealed = encryptor.update(pad + b"|" + raw) + encryptor.finalize()
    return sealed.hex().upper()


def decrypt_data(key: bytes, hex_data: str) -> str:
    """The data inside an encrypted part (after the pad and its ``|``)."""
    try:
        sealed = binascii.unhexlify(hex_data)
    except (binascii.Error, ValueError):
        raise DecryptError("the encrypted part is not hex") from None
    if not sealed or len(sealed) % 16:
        raise DecryptError(f"the encrypted part has {len(sealed)} bytes, not whole blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(sealed) + decryptor.finalize()
    if any(c < 0x20 or c > 0x7E for c in plain):
        raise DecryptError("the plaintext is not printable: wrong key")
    bar = plain.find(b"|")
    if bar < 0 or any(c not in _PAD_CHARS for c in plain[:bar]):
        raise DecryptError("no pad and '|' at the start of the plaintext: wrong key")
    return plain[bar + 1 :].decode("ascii")
