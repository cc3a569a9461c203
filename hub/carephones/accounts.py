"""A receiver's book of units: (prefix, account) → device, key and settings.

DC-09 names a unit by its account under a line prefix; SCAIP by its controller id (``cid``),
kept as the account with an empty prefix. One book per protocol.

Loaded from ``carephone_units`` at start-up and kept in memory (a lookup per frame must not
touch the database); registration through the API adds to it in-process. Keys are held
encrypted in the table (``hub.db.crypto``) and decrypted once here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.carephones.models import CarephoneUnit
from hub.db.crypto import KeySafeCipher, KeySafeCipherError
from hub.ingest.registry import DeviceInfo, DeviceRegistry
from integrations.carephones.mapping import parse_zones

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UnitAccount:
    """One unit as the receiver needs it."""

    device: DeviceInfo
    account: str
    prefix: str
    receiver: str | None
    key: bytes | None
    supervision: timedelta
    fall_zones: frozenset[str]
    # The number or SIP URI the unit calls from (SCAIP: its speech call is matched by it).
    caller_id: str | None = None


def unit_account(row: CarephoneUnit, device: DeviceInfo, cipher: KeySafeCipher) -> UnitAccount:
    """The in-memory account of a stored unit (decrypting its key)."""
    key = bytes.fromhex(cipher.decrypt(row.key_encrypted)) if row.key_encrypted else None
    return UnitAccount(
        device=device,
        # DC-09 accounts are hex (any case); a SCAIP cid is compared as sent.
        account=row.account.upper() if row.protocol == "dc09" else row.account,
        prefix=row.prefix.upper(),
        receiver=row.receiver.upper() if row.receiver else None,
        key=key,
        supervision=timedelta(seconds=row.supervision_s),
        fall_zones=parse_zones(row.fall_zones),
        caller_id=row.caller_id,
    )


class AccountBook:
    """Units by (prefix, account), and which accounts exist under any prefix.

    A unit the book does not know is looked up in the database once (another hub worker may
    have registered it) and remembered as unknown for ``negative_ttl_s``, so a flood of
    unknown accounts costs one query per account and interval.
    """

    def __init__(self, negative_ttl_s: float = 10.0, protocol: str = "dc09") -> None:
        self.protocol = protocol
        self._units: dict[tuple[str, str], UnitAccount] = {}
        self._accounts: set[str] = set()
        self._missing: dict[tuple[str, str], float] = {}
        self.negative_ttl_s = negative_ttl_s
        self._source: (
            tuple[async_sessionmaker[AsyncSession], DeviceRegistry, KeySafeCipher] | None
        ) = None

    async def load(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: DeviceRegistry,
        cipher: KeySafeCipher,
    ) -> int:
        """Read every unit of the book's protocol; one whose device or key cannot be read is
        skipped."""
        self._source = (sessionmaker, registry, cipher)
        async with sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(CarephoneUnit).where(CarephoneUnit.protocol == self.protocol)
                )
            ).all()
        for row in rows:
            device = registry.get(row.device_id) or await registry.fetch(row.device_id)
            if device is None:
                continue
            try:
                self.put(unit_account(row, device, cipher))
            except (KeySafeCipherError, ValueError):
                _LOGGER.error(
                    "%s unit %s: its key cannot be read; skipped", self.protocol, row.device_id
                )
        return len(self._units)

    def put(self, unit: UnitAccount) -> None:
        """Add or replace a unit."""
        self._units[(unit.prefix, unit.account)] = unit
        self._accounts.add(unit.account)
        self._missing.pop((unit.prefix, unit.account), None)

    async def fetch(self, prefix: str, account: str | None) -> UnitAccount | None:
        """Look a unit the book does not hold up in the database (at most once per TTL)."""
        if account is None or self._source is None:
            return None
        key = (prefix, account)
        since = self._missing.get(key)
        if since is not None and time.monotonic() - since < self.negative_ttl_s:
            return None
        sessionmaker, registry, cipher = self._source
        async with sessionmaker() as session:
            row = await session.scalar(
                select(CarephoneUnit).where(
                    CarephoneUnit.protocol == self.protocol,
                    CarephoneUnit.prefix == prefix,
                    CarephoneUnit.account == account,
                )
            )
        device = None if row is None else await registry.fetch(row.device_id)
        if row is None or device is None:
            if len(self._missing) > 100_000:
                self._missing.clear()
            self._missing[key] = time.monotonic()
            return None
        unit = unit_account(row, device, cipher)
        self.put(unit)
        return unit

    def find(self, prefix: str, account: str | None) -> UnitAccount | None:
        """The unit of ``account`` under line prefix ``prefix``."""
        return None if account is None else self._units.get((prefix, account))

    def has_account(self, account: str | None) -> bool:
        """True if ``account`` exists under some prefix (the frame named the wrong one)."""
        return account in self._accounts

    def units(self) -> list[UnitAccount]:
        """Every unit."""
        return list(self._units.values())

    def __len__(self) -> int:
        return len(self._units)
