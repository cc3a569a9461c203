"""The tablet's on-disk queue: check-ins, help and prompt answers survive an outage.

Every event is written here *before* it is published and removed only once the broker
acknowledged it (QoS 1), so a press of Help is not lost if the network is down or the
app is killed. SQLite (stdlib) in WAL mode; the operations are a few rows, fast enough
to run on the event loop. The device agent's queue was not on main when this was
written (see docs/tablet.md); this one is deliberately small.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    keep INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Queued:
    """One stored message, ready to publish."""

    message_id: str
    topic: str
    payload: bytes


class Outbox:
    """A bounded FIFO of encoded events, oldest first.

    When full, the oldest message that is not marked ``keep`` (alarms are kept) is
    dropped and the drop is logged; if every message is an alarm, the queue grows
    rather than lose one.
    """

    def __init__(self, path: Path, limit: int = DEFAULT_LIMIT) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.limit = limit

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def put(self, message_id: str, topic: str, payload: bytes, *, keep: bool = False) -> None:
        """Store a message (a message id already stored is ignored: idempotent)."""
        self._db.execute(
            "INSERT OR IGNORE INTO outbox (message_id, topic, payload, keep) VALUES (?, ?, ?, ?)",
            (message_id, topic, payload, int(keep)),
        )
        excess = len(self) - self.limit
        if excess > 0:
            dropped = self._db.execute(
                "DELETE FROM outbox WHERE position IN"
                " (SELECT position FROM outbox WHERE keep = 0 ORDER BY position LIMIT ?)"
                " RETURNING message_id",
                (excess,),
            ).fetchall()
            if dropped:
                _LOGGER.warning(
                    "outbox full (%d): dropped %d oldest messages", self.limit, len(dropped)
                )

    def pending(self) -> list[Queued]:
        """Every stored message, oldest first."""
        rows = self._db.execute(
            "SELECT message_id, topic, payload FROM outbox ORDER BY position"
        ).fetchall()
        return [Queued(str(m), str(t), bytes(p)) for m, t, p in rows]

    def replace(self, message_id: str, topic: str, payload: bytes) -> None:
        """Change a stored message in place (it keeps its position in the queue)."""
        self._db.execute(
            "UPDATE outbox SET topic = ?, payload = ? WHERE message_id = ?",
            (topic, payload, message_id),
        )

    def remove(self, message_id: str) -> None:
        """Forget a message the broker has acknowledged."""
        self._db.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def next_sequence(self) -> int:
        """The next per-device sequence number (persisted, so gaps mean real loss)."""
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('seq', 0)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value"
        ).fetchone()
        return int(row[0])
