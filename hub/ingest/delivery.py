"""What became of the messages and reminders the hub sent to a resident's tablet (issue 22,
item 4; docs/adr/0163).

Every message from the centre (``PlayMessage``), agenda reminder (``Reminder``) and medication
reminder (``Prompt`` of kind ``medication``) is written here *before* it is sent, under the
command's envelope id, as ``sent``. The tablet answers on its ``ack`` channel with that id
and a ``state`` (``protocol.Ack``): ``received``, ``shown``, ``postponed`` (with ``until``:
when it rings again) and ``acknowledged``; an ack without a state (a tablet of before ADR
0163) means ``received``. :class:`DeliveryTracker` is the ingest's ack listener that stores
them. Acks may reach different hub workers and arrive out of order, so a state is applied
only if the ack's device time is later than the one stored (on a tie, the further state
wins), and ``acknowledged`` is final. ``expired`` is never stored: it is read as a message
not acknowledged by ``expires_at`` (:func:`state_at`), so no timer is needed. Two cases never
read as expired: a message sent without asking for confirmation once it was shown (that is all
it asked), and a command an older tablet received (its plain ack says it cannot confirm).

Rows are kept :data:`RETENTION` (``[alarms] delivery_retention_days``) after both their expiry
and their last state, then dropped by the alarm engine's housekeeping (:func:`prune`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Boolean, Integer, String, Text, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime
from hub.ingest.events import IngestedAck

_LOGGER = logging.getLogger(__name__)

DeliveryKind = Literal["message", "reminder", "medication"]
# A message from the centre not acknowledged within this long counts as expired.
MESSAGE_EXPIRY = timedelta(hours=12)
# Order of the stored states: on the same device time the further one wins.
RANK = {"sent": 0, "received": 1, "shown": 2, "postponed": 3, "acknowledged": 4}
FINAL = "acknowledged"
# How long a row is kept after its expiry and its last state (then pruned).
RETENTION = timedelta(days=90)


class TabletDelivery(Base):
    """One command the centre follows on a tablet, and the last thing the tablet said of it."""

    __tablename__ = "tablet_deliveries"

    # The command envelope's id: what the tablet's Ack names.
    command_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    # message | reminder | medication
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    # The console user who sent a message (None: the hub, for reminders).
    sent_by: Mapped[str | None] = mapped_column(String(120), default=None)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # sent | received | shown | postponed | acknowledged
    state: Mapped[str] = mapped_column(String(16), default="sent")
    # When the hub heard the state, and the device's own time of it (orders the acks).
    state_at: Mapped[datetime] = mapped_column(UtcDateTime)
    device_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Postponed: when the tablet shows it again (None: not before it expires). Kept once it
    # rings again or expires, so the card can still say she had put it off (issue 23).
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The centre waits for "acknowledged" (False: a message sent without asking for
    # confirmation, complete once shown). Reminders always wait.
    confirm: Mapped[bool] = mapped_column(Boolean, default=True)
    # Said aloud as well as shown (False: a message the centre sent to be read only).
    speak: Mapped[bool] = mapped_column(Boolean, default=True)
    # The tablet acked without a state (before ADR 0163): it can never say more.
    older_tablet: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A command about to be sent that the centre wants to follow."""

    command_id: str
    device_id: str
    resident_id: int | None
    kind: DeliveryKind
    text: str
    sent_at: datetime
    expires_at: datetime
    sent_by: str | None = None
    # Wait for the resident's "I've read it" (a message sent without it is done once shown).
    confirm: bool = True
    speak: bool = True


async def record(session: AsyncSession, outgoing: Outgoing) -> None:
    """Add ``outgoing`` as ``sent`` (the caller commits, before sending)."""
    session.add(
        TabletDelivery(
            command_id=outgoing.command_id,
            device_id=outgoing.device_id,
            resident_id=outgoing.resident_id,
            kind=outgoing.kind,
            text=outgoing.text[:500],
            sent_by=outgoing.sent_by,
            sent_at=outgoing.sent_at,
            expires_at=outgoing.expires_at,
            state="sent",
            state_at=outgoing.sent_at,
            confirm=outgoing.confirm,
            speak=outgoing.speak,
            older_tablet=False,
        )
    )


async def forget(session: AsyncSession, command_id: str) -> None:
    """Remove a command that could not be sent after all (the caller commits)."""
    row = await session.get(TabletDelivery, command_id)
    if row is not None:
        await session.delete(row)


def state_at(row: TabletDelivery, now: datetime) -> str:
    """The state as the console shows it at ``now``: the stored one, or ``expired`` once a
    command not acknowledged is past its expiry (pure). Never expired: a message that did
    not ask for confirmation once shown, and what an older tablet received (it cannot say
    more than that)."""
    if row.state == FINAL or now < row.expires_at:
        return row.state
    if not row.confirm and RANK[row.state] >= RANK["shown"]:
        return row.state
    if row.older_tablet and row.state == "received":
        return row.state
    return "expired"


def view(row: TabletDelivery, now: datetime) -> dict[str, Any]:
    """One line of the card's list."""
    state = state_at(row, now)
    return {
        "id": row.command_id,
        "kind": row.kind,
        "text": row.text,
        "sent_by": row.sent_by,
        "sent_at": row.sent_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "state": state,
        "state_at": row.state_at.isoformat(),
        "until": row.until.isoformat() if row.until and state == "postponed" else None,
        # Put off earlier ("remind me later"), then shown again, confirmed or expired.
        "put_off_until": row.until.isoformat() if row.until and state != "postponed" else None,
        "confirm": row.confirm,
        "speak": row.speak,
        "older_tablet": row.older_tablet,
    }


async def recent(
    session: AsyncSession, resident_id: int, now: datetime, limit: int = 20
) -> list[dict[str, Any]]:
    """The resident's last ``limit`` followed commands, newest first."""
    rows = await session.scalars(
        select(TabletDelivery)
        .where(TabletDelivery.resident_id == resident_id)
        .order_by(TabletDelivery.sent_at.desc(), TabletDelivery.command_id)
        .limit(limit)
    )
    return [view(row, now) for row in rows]


async def apply_ack(session: AsyncSession, ack: IngestedAck) -> bool:
    """Store what the ack says of its command; False when it changes nothing (not a
    followed command, another device, an older or equal state, already acknowledged)."""
    body = ack.body
    state = body.state or "received"
    if not body.ok:
        # The tablet could not handle it: it stays "sent" (and expires).
        return False
    rank = RANK[state]
    behind = [name for name, r in RANK.items() if r < rank]
    result = await session.execute(
        update(TabletDelivery)
        .where(
            TabletDelivery.command_id == body.command_id,
            TabletDelivery.device_id == ack.device_id,
            TabletDelivery.state != FINAL,
            or_(
                TabletDelivery.device_at.is_(None),
                TabletDelivery.device_at < ack.device_ts,
                and_(
                    TabletDelivery.device_at == ack.device_ts,
                    TabletDelivery.state.in_(behind),
                ),
            ),
        )
        .values(
            state=state,
            state_at=ack.received_at,
            device_at=ack.device_ts,
            older_tablet=body.state is None,
            # a later state keeps when it was last put off until
            **({"until": body.until} if state == "postponed" else {}),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def prune(session: AsyncSession, before: datetime) -> int:
    """Drop rows whose expiry and last state are both before ``before`` (the caller commits);
    how many."""
    result = await session.execute(
        delete(TabletDelivery)
        .where(TabletDelivery.expires_at < before, TabletDelivery.state_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class DeliveryTracker:
    """The ingest's :class:`~hub.ingest.events.AckListener` for followed commands."""

    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession] | None]) -> None:
        # The hub's session factory once its database is open.
        self._sessions = sessions
        self.applied = 0

    async def handle_ack(self, ack: IngestedAck) -> None:
        """Store the ack's state (one short transaction)."""
        sessionmaker = self._sessions()
        if sessionmaker is None:
            return
        async with sessionmaker() as session:
            changed = await apply_ack(session, ack)
            await session.commit()
        if changed:
            self.applied += 1
            _LOGGER.debug("command %s now %s", ack.body.command_id, ack.body.state or "received")
