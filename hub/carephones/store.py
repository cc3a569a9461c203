"""Storing a unit's events, shared by the DC-09 and SCAIP receivers.

Both protocols acknowledge a message only once its events are committed to the ``events``
table through the ingester (so the alarm engine, supervision and the records see them as
any device's). A message's events get ids derived from the unit, the message's own number
(DC-09 sequence, SCAIP ``ref``), a digest of its content and the hour: a retransmission of
the same message - even after a hub restart lost our memory of it - finds the stored copy
and is answered again without a second alarm. The previous hour's id is checked too, for a
retransmission that crosses the hour.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from hub.carephones.accounts import UnitAccount
from hub.db.models import StoredEvent
from hub.ingest.events import IngestedEvent
from hub.ingest.ingester import Ingester
from protocol import UnitEvent

ID_BUCKET_S = 3600


def digest(text: str) -> str:
    """A short fingerprint of a message's content (an id, not a secret)."""
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def message_id(
    protocol: str, unit: UnitAccount, number: str, content: str, bucket: int, index: int
) -> str:
    """The stored id of the ``index``-th event of one message in hour ``bucket``."""
    key = f"{unit.prefix}|{unit.account}|{number}|{content}|{bucket}|{index}"
    return f"{protocol}-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


async def store_unit_events(
    ingester: Ingester,
    *,
    protocol: str,
    unit: UnitAccount,
    number: str,
    content: str,
    bodies: Sequence[UnitEvent],
    device_ts: datetime,
    now: datetime,
    seq: int = 0,
) -> int:
    """Store one message's events (committed when this returns); how many were new.

    ``number`` is the message's own number and ``content`` the digest of what it says.
    """
    bucket = int(now.timestamp()) // ID_BUCKET_S
    earlier = message_id(protocol, unit, number, content, bucket - 1, 0)
    async with ingester.sessionmaker() as session:
        found = await session.scalar(
            select(StoredEvent.id).where(StoredEvent.message_id == earlier)
        )
    if found is not None:
        return 0  # stored in the previous hour: a late retransmission
    new = 0
    for index, body in enumerate(bodies):
        event = IngestedEvent(
            device_id=unit.device.device_id,
            device_type=unit.device.type,
            home_id=unit.device.home_id,
            resident_id=unit.device.resident_id,
            message_id=message_id(protocol, unit, number, content, bucket, index),
            device_ts=device_ts,
            received_at=now,
            seq=seq,
            body=body,
        )
        if await ingester.publish_event(event) is not None:
            new += 1
    return new


class AnsweredMessages:
    """Which message numbers of which units were last answered with which content.

    A bounded memory (oldest forgotten first): the database catches what it forgot.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._size = size

    def seen(self, device_id: str, number: str, content: str) -> bool:
        """True if ``number`` of the unit was answered with this very ``content``."""
        return self._seen.get((device_id, number)) == content

    def remember(self, device_id: str, number: str, content: str) -> None:
        """Note an answered message."""
        key = (device_id, number)
        self._seen[key] = content
        self._seen.move_to_end(key)
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
