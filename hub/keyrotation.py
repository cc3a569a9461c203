"""Re-encrypting the values held at rest with the current key-safe key.

After ``[hub] keysafe_key`` is changed (the old key moved to ``keysafe_previous_keys``),
``teleassist hub rotate-keysafe-key`` re-encrypts every stored value with the new key:
homes' key-safe codes and carephone units' DC-09 keys. Then the old key can be dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.carephones.models import CarephoneUnit
from hub.db.crypto import KeySafeCipher, KeySafeCipherError
from hub.db.models import Home


@dataclass(frozen=True, slots=True)
class Rotation:
    """How many values were re-encrypted, and which could not be read with any key."""

    rotated: int
    unreadable: tuple[str, ...]


async def rotate_encrypted(session: AsyncSession, cipher: KeySafeCipher) -> Rotation:
    """Re-encrypt every encrypted value with ``cipher``'s current key (the caller commits).

    A value no configured key can read is left as it is and named in the result, so one
    forgotten key never stops the others from being rotated.
    """
    rotated = 0
    unreadable: list[str] = []
    for home in await session.scalars(select(Home).where(Home.key_safe_code_enc.is_not(None))):
        try:
            home.key_safe_code_enc = cipher.rotate(home.key_safe_code_enc or "")
            rotated += 1
        except KeySafeCipherError:
            unreadable.append(f"home:{home.id}")
    units = select(CarephoneUnit).where(CarephoneUnit.key_encrypted.is_not(None))
    for unit in await session.scalars(units):
        try:
            unit.key_encrypted = cipher.rotate(unit.key_encrypted or "")
            rotated += 1
        except KeySafeCipherError:
            unreadable.append(f"carephone:{unit.id}")
    return Rotation(rotated, tuple(unreadable))
