"""The store-and-forward queue: every message the agent sends goes through it.

A message is written here (already wrapped in its envelope: id, device timestamp and
sequence number fixed) before anything is sent, and removed only once the broker has
acknowledged it. So an outage, or a restart of the agent, delays messages but never
reorders or re-stamps them. Re-sending after a lost acknowledgement can duplicate a
message; receivers deduplicate by message id.

Alarm events (``protocol.ALARM_EVENT_TYPES``) are kept after the broker's acknowledgement,
in a second table, until the hub answers ``event_received`` (:meth:`Outbox.confirm`); until
then :meth:`Outbox.requeue_due` puts them back in the queue, same bytes, with a growing delay
(docs/adr/0125: a hub worker that dies holding a panic must not keep it).

Full queue policy (``max_messages``): the oldest telemetry is dropped first, then the
oldest non-alarm event; alarm events (``protocol.ALARM_EVENT_TYPES``) are never
dropped, even if that means holding more than ``max_messages``.

The class is synchronous (SQLite); the agent calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import protocol

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS sequence (
    device_id TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS unacked (
    device_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due REAL NOT NULL,
    PRIMARY KEY (device_id, message_id)
);
"""

# Re-sending an alarm event the hub has not confirmed: after 2 s, then doubling up to 10 s,
# never giving up (docs/adr/0125).
RESEND_FIRST_S = 2.0
RESEND_CAP_S = 10.0


def resend_delay(attempts: int) -> float:
    """Seconds to wait for ``event_received`` after the ``attempts``-th re-send."""
    return float(min(RESEND_FIRST_S * 2 ** min(attempts, 16), RESEND_CAP_S))


class Priority(IntEnum):
    """What may be dropped when the queue is full (lowest value first)."""

    TELEMETRY = 0
    EVENT = 1
    ALARM = 2  # never dropped


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message waiting to be sent, in the order it was queued."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    priority: Priority


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """What the queue holds and what it had to drop."""

    queued: int
    alarms: int
    dropped: int


class Outbox:
    """An on-disk FIFO of encoded messages with a size cap (see the module docstring)."""

    def __init__(self, path: Path | str, max_messages: int = 100_000) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.path = Path(path)
        self.max_messages = max_messages
        self.dropped = 0
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the worker threads of asyncio.to_thread, serialised
        # by a lock (SQLite connections are not safe to use concurrently).
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._count = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        """Close the database (queued messages stay on disk)."""
        with self._lock:
            self._db.close()

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int,
        priority: Priority,
        retain: bool = False,
    ) -> int:
        """Queue one message; returns how many older messages were dropped to make room."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                dropped = self._make_room()
                self._db.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, priority)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (topic, payload, qos, int(retain), int(priority)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count += 1 - dropped
            self.dropped += dropped
        if dropped:
            _LOGGER.warning(
                "outbox full (%d): dropped %d old message(s)", self.max_messages, dropped
            )
        return dropped

    def _make_room(self) -> int:
        if self._count < self.max_messages:
            return 0
        excess = self._count - self.max_messages + 1
        rows = self._db.execute(
            "SELECT id FROM outbox WHERE priority < ? ORDER BY priority, id LIMIT ?",
            (int(Priority.ALARM), excess),
        ).fetchall()
        if not rows:
            _LOGGER.warning("outbox over its cap with alarms only: keeping every alarm")
            return 0
        self._db.executemany("DELETE FROM outbox WHERE id = ?", rows)
        return len(rows)

    def peek(self, limit: int = 100) -> list[QueuedMessage]:
        """The oldest ``limit`` messages, in queue order (not removed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain, priority FROM outbox ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            QueuedMessage(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), Priority(r[5])) for r in rows
        ]

    def remove(self, ids: list[int], *, now: float | None = None) -> None:
        """Forget messages the broker acknowledged. With ``now`` (seconds since the epoch),
        alarm events are kept until the hub confirms them (first re-send at ``now`` + 2 s)."""
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if now is not None:
                    self._hold_alarms(ids, now)
                cursor = self._db.executemany(
                    "DELETE FROM outbox WHERE id = ?", [(i,) for i in ids]
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count -= cursor.rowcount

    def _hold_alarms(self, ids: list[int], now: float) -> None:
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            f"SELECT topic, payload FROM outbox WHERE priority = ? AND id IN ({marks})",  # noqa: S608 (only placeholders)
            (int(Priority.ALARM), *ids),
        ).fetchall()
        for topic, payload in rows:
            held = _held(topic, bytes(payload))
            if held is None:
                continue
            # A re-sent copy finds its row already there: its attempts and due time stay.
            self._db.execute(
                "INSERT OR IGNORE INTO unacked (device_id, message_id, topic, payload, due)"
                " VALUES (?, ?, ?, ?, ?)",
                (*held, topic, payload, now + resend_delay(0)),
            )

    def confirm(self, device_id: str, message_id: str) -> bool:
        """The hub applied this alarm event: stop re-sending it. False if not held."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM unacked WHERE device_id = ? AND message_id = ?",
                (device_id, message_id),
            )
        return cursor.rowcount > 0

    def requeue_due(self, now: float) -> int:
        """Queue again (same bytes, alarm priority) every held alarm event whose wait for
        the hub's confirmation is over; returns how many."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT device_id, message_id, topic, payload, attempts FROM unacked"
                    " WHERE due <= ? ORDER BY due",
                    (now,),
                ).fetchall()
                for device_id, message_id, topic, payload, attempts in rows:
                    self._db.execute(
                        "INSERT INTO outbox (topic, payload, qos, retain, priority)"
                        " VALUES (?, ?, 1, 0, ?)",
                        (topic, payload, int(Priority.ALARM)),
                    )
                    self._db.execute(
                        "UPDATE unacked SET attempts = ?, due = ?"
                        " WHERE device_id = ? AND message_id = ?",
                        (attempts + 1, now + resend_delay(attempts + 1), device_id, message_id),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count += len(rows)
        if rows:
            _LOGGER.warning("%d alarm event(s) not confirmed by the hub: sent again", len(rows))
        return len(rows)

    def unconfirmed(self) -> int:
        """Alarm events sent but not yet confirmed by the hub."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM unacked").fetchone()[0])

    def next_sequence(self, device_id: str) -> int:
        """The next sequence number of ``device_id``, persisted across restarts."""
        with self._lock:
            row = self._db.execute(
                "INSERT INTO sequence (device_id, last) VALUES (?, 1)"
                " ON CONFLICT (device_id) DO UPDATE SET last = last + 1 RETURNING last",
                (device_id,),
            ).fetchone()
        return int(row[0])

    def stats(self) -> OutboxStats:
        """Counts, for logs and tests."""
        with self._lock:
            alarms = self._db.execute(
                "SELECT count(*) FROM outbox WHERE priority = ?", (int(Priority.ALARM),)
            ).fetchone()[0]
        return OutboxStats(queued=self._count, alarms=int(alarms), dropped=self.dropped)

    def __len__(self) -> int:
        return self._count


def _held(topic: str, payload: bytes) -> tuple[str, str] | None:
    """(device id, message id) of an alarm event, or None (not an event; unreadable)."""
    try:
        parsed = protocol.parse_device_topic(topic)
        message_id = json.loads(payload)["id"]
    except (protocol.ProtocolError, ValueError, KeyError, TypeError):
        return None
    if parsed.channel is not protocol.Channel.EVENT or not isinstance(message_id, str):
        return None
    return parsed.device_id, message_id
