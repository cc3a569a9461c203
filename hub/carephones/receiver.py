"""What the hub answers to one DC-09 frame, and what it stores first.

The order of checks follows the frame from the outside in: the frame itself (length, CRC:
a bad one is answered NAK, nothing in it can be trusted), the token (DUH when not a unit's
message), the account and prefix (DUH when unknown), encryption (DUH when the unit's key does
not open it, or when a unit with a key sends in clear), the data (DUH when unreadable), the
timestamp window (NAK with the receiver's time: a replay or a unit whose clock is wrong).
Then the unit is heard (supervision), a poll is ACKed, and events are stored in the events
table through the ingester BEFORE the ACK: a hub that dies between the frame and the ACK
makes the unit send it again, and the stored copy makes that a duplicate, raised once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.carephones.accounts import AccountBook, UnitAccount
from hub.carephones.store import AnsweredMessages, store_unit_events
from hub.carephones.store import digest as content_digest
from hub.clock import Clock
from hub.ingest.ingester import Ingester
from hub.ingest.stats import RejectLog
from integrations.carephones.dc09 import (
    Content,
    ContentError,
    DecryptError,
    Frame,
    FrameError,
    ack,
    decrypt_data,
    duh,
    nak,
    parse_content,
    parse_frame,
)
from integrations.carephones.mapping import map_event
from protocol import UnitEvent

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """The checks' limits (from ``[hub] dc09_*``)."""

    window_past: timedelta = timedelta(seconds=20)
    window_future: timedelta = timedelta(seconds=20)
    require_timestamp: bool = False
    max_frame_bytes: int = 1024


@dataclass
class ReceiverStats:
    """Counters of one receiver (``/metrics``)."""

    received: int = 0
    acked: int = 0
    polls: int = 0
    events_stored: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "received": self.received,
            "acked": self.acked,
            "polls": self.polls,
            "events_stored": self.events_stored,
            "duplicates": self.duplicates,
            "refused": dict(self.refused),
        }


class Dc09Receiver:
    """Checks frames, stores their events through the ingester, and answers."""

    def __init__(
        self,
        *,
        book: AccountBook,
        ingester: Ingester,
        clock: Clock,
        config: ReceiverConfig | None = None,
    ) -> None:
        self.book = book
        self.ingester = ingester
        self.clock = clock
        self.config = config or ReceiverConfig()
        self.stats = ReceiverStats()
        self.reject_log = RejectLog(logger=_LOGGER)
        # Told about a unit found in the database (registered by another hub worker).
        self.on_new_unit: Callable[[UnitAccount], None] | None = None
        # (device, sequence) → digest of the data last acknowledged with that number.
        self._acked = AnsweredMessages()

    def refuse(self, reason: str, source: str, detail: str) -> None:
        """Count and (rate-limited) log one refused frame."""
        self.stats.refused[reason] += 1
        self.reject_log.reject(reason, f"DC-09 from {source}", detail)

    async def handle(self, raw: bytes, source: str) -> bytes | None:
        """The answer to one frame; ``None`` when the hub could not store its events (the
        unit will send it again)."""
        now = self.clock()
        self.stats.received += 1
        try:
            frame = parse_frame(raw, self.config.max_frame_bytes)
        except FrameError as err:
            self.refuse(err.reason, source, err.detail)
            return nak(now)
        if not frame.is_event:
            self.refuse("unsupported", source, f"token {frame.token!r}")
            return duh(frame)
        unit = self.book.find(frame.prefix, frame.account)
        if unit is None:
            try:
                unit = await self.book.fetch(frame.prefix, frame.account)
            except Exception:
                _LOGGER.exception("DC-09 account lookup failed")
                return None  # the unit will send again
            if unit is not None and self.on_new_unit is not None:
                self.on_new_unit(unit)
        if unit is None or (unit.receiver is not None and unit.receiver != frame.receiver):
            known = self.book.has_account(frame.account)
            reason = "wrong_prefix" if known or unit is not None else "unknown_account"
            self.refuse(reason, source, f"account {frame.account} L{frame.prefix}")
            return duh(frame)
        content = self._content(frame, unit, source)
        if content is None:
            return duh(frame)
        if not self._in_window(frame, content, now, source):
            return nak(now)
        self.ingester.heard(unit.device, now)
        if not content.events:
            self.stats.polls += 1
            return self._ack(frame, unit, now)
        digest = content_digest(f"{frame.token}|{content.raw}|{'|'.join(content.xdata)}")
        if self._acked.seen(unit.device.device_id, frame.seq, digest):
            self.stats.duplicates += 1
            return self._ack(frame, unit, now)
        try:
            stored = await self._store(unit, frame, content, digest, now)
        except Exception:
            self.stats.refused["store_failed"] += 1
            _LOGGER.exception("DC-09 events of %s not stored; not acknowledged", unit.account)
            return None
        if not stored:
            self.stats.duplicates += 1
        self._acked.remember(unit.device.device_id, frame.seq, digest)
        return self._ack(frame, unit, now)

    def _ack(self, frame: Frame, unit: UnitAccount, now: datetime) -> bytes:
        self.stats.acked += 1
        return ack(frame, now, unit.key)

    def _content(self, frame: Frame, unit: UnitAccount, source: str) -> Content | None:
        data = frame.rest
        if unit.key is not None and not frame.encrypted:
            self.refuse("not_encrypted", source, f"account {unit.account} must encrypt")
            return None
        if frame.encrypted:
            if unit.key is None:
                self.refuse("no_key", source, f"account {unit.account} has no key")
                return None
            try:
                data = decrypt_data(unit.key, frame.rest)
            except DecryptError as err:
                self.refuse("wrong_key", source, f"account {unit.account}: {err}")
                return None
        try:
            content = parse_content(frame.token, data)
        except ContentError as err:
            self.refuse("bad_data", source, f"account {unit.account}: {err}")
            return None
        if content.account is not None and content.account != unit.account:
            self.refuse("account_mismatch", source, f"{content.account} inside {unit.account}")
            return None
        return content

    def _in_window(self, frame: Frame, content: Content, now: datetime, source: str) -> bool:
        stamp = content.timestamp
        if stamp is None:
            if frame.encrypted or self.config.require_timestamp:
                self.refuse("timestamp_missing", source, f"account {frame.account}")
                return False
            return True
        if stamp < now - self.config.window_past:
            self.refuse("stale_timestamp", source, f"{stamp.isoformat()} (replay or clock)")
            return False
        if stamp > now + self.config.window_future:
            self.refuse("future_timestamp", source, f"{stamp.isoformat()} (clock ahead)")
            return False
        return True

    async def _store(
        self, unit: UnitAccount, frame: Frame, content: Content, digest: str, now: datetime
    ) -> int:
        """Store the frame's events (committed when this returns); how many were new."""
        bodies = []
        for code in content.events:
            mapped = map_event(code, unit.fall_zones)
            bodies.append(
                UnitEvent(
                    protocol="dc09",
                    kind=mapped.kind,  # type: ignore[arg-type]
                    code=mapped.code,
                    restore=mapped.restore,
                    zone=code.zone,
                    raw=f"{frame.token} {code.raw}"[:256],
                )
            )
        new = await store_unit_events(
            self.ingester,
            protocol="dc09",
            unit=unit,
            number=frame.seq,
            content=digest,
            bodies=bodies,
            device_ts=content.timestamp or now,
            now=now,
            seq=int(frame.seq),
        )
        self.stats.events_stored += new
        return new
