"""Live events to connected clients (browsers, tablets), by party.

Each websocket gets a bounded outbox drained by its own writer; a client too slow to
keep up is disconnected (it reconnects and refetches) rather than slowing everyone.
One process holds its own connections; on PostgreSQL the other workers' events reach them
through :mod:`hub.family.live_fanout` (docs/adr/0181).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

OUTBOX_SIZE = 256


class Connection:
    """One websocket of a party, with its outbox."""

    def __init__(self, party: str, ws: web.WebSocketResponse, sign_in: str = "") -> None:
        self.party = party
        self.ws = ws
        # Which sign-in opened it (a JWT's token family, a tablet's device id): a logout
        # closes only that sign-in's sockets.
        self.sign_in = sign_in
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(OUTBOX_SIZE)

    def offer(self, text: str) -> bool:
        """Queue ``text``; False (and the connection is to be closed) when full."""
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def close_soon(self) -> None:
        """Drop what is queued and make the writer stop."""
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.outbox.put_nowait(None)

    def close_after_queued(self) -> None:
        """Send what is queued, then stop (at once if the outbox is full)."""
        try:
            self.outbox.put_nowait(None)
        except asyncio.QueueFull:
            self.close_soon()

    async def write_loop(self) -> None:
        """Send queued texts until told to stop (``None``) or the socket closes."""
        try:
            while True:
                text = await self.outbox.get()
                if text is None or self.ws.closed:
                    return
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return
        finally:
            # Ends the reader's loop too: the client reconnects and refetches.
            if not self.ws.closed:
                await self.ws.close()


# What the other workers' sockets need too. Not in it: call and listen-in signalling, whose
# state lives in the worker holding the call (calls cross workers by their own path,
# hub.family.calls.across), and answers to one socket's own frames.
SHARED_EVENTS = frozenset({
    "message.new", "message.deleted", "message.read", "upload.changed", "upload.withdrawn",
    "agenda.changed", "agenda.reminder", "alarm.notice", "circle.changed", "group.request",
    "invitation.new", "today.changed",
})  # fmt: skip


class LiveHub:
    """Connections by party; :meth:`publish` sends an event to every connection of parties,
    on this worker and, through ``mirror`` (set on PostgreSQL, docs/adr/0181), on the others."""

    def __init__(self) -> None:
        self._connections: dict[str, set[Connection]] = defaultdict(set)
        self.mirror: Callable[[Iterable[str], str], None] | None = None
        self.mirror_close: Callable[[str, str | None], None] | None = None

    def add(self, connection: Connection) -> None:
        """Register a connection."""
        self._connections[connection.party].add(connection)

    def remove(self, connection: Connection) -> None:
        """Forget a connection."""
        found = self._connections.get(connection.party)
        if found is not None:
            found.discard(connection)
            if not found:
                del self._connections[connection.party]

    def close(
        self,
        party: str,
        sign_in: str | None = None,
        *,
        flush: bool = False,
        mirror: bool = True,
    ) -> int:
        """Close the party's connections (only ``sign_in``'s if given) on every worker; how
        many of this worker's closed.

        Used when access ends (logout, disabled account, removed link, revoked tablet):
        the client must reconnect, and is then authorized afresh. ``flush`` sends what
        is already queued first (e.g. the event that says why).
        """
        if mirror and self.mirror_close is not None:
            self.mirror_close(party, sign_in)
        closed = 0
        for connection in list(self._connections.get(party, ())):
            if sign_in is None or connection.sign_in == sign_in:
                self.remove(connection)
                if flush:
                    connection.close_after_queued()
                else:
                    connection.close_soon()
                closed += 1
        return closed

    def online(self, party: str) -> bool:
        """Whether the party has at least one open connection."""
        return bool(self._connections.get(party))

    def close_all(self, *, flush: bool = False) -> int:
        """Close every connection of this worker (clients reconnect and refetch); how many
        were open. ``flush`` sends what is already queued first."""
        connections = [c for found in self._connections.values() for c in found]
        self._connections.clear()
        for connection in connections:
            if flush:
                connection.close_after_queued()
            else:
                connection.close_soon()
        return len(connections)

    def publish(self, parties: Iterable[str], event: dict[str, Any], *, mirror: bool = True) -> int:
        """Queue ``event`` for every connection of ``parties`` on every worker; return how
        many of this worker's got it. ``mirror=False``: this worker's only (the event has a
        cross-worker path of its own)."""
        text = json.dumps(event, default=str)
        parties = set(parties)
        if mirror and self.mirror is not None and parties and event.get("type") in SHARED_EVENTS:
            self.mirror(parties, text)
        return self.deliver(parties, text)

    def deliver(self, parties: Iterable[str], text: str) -> int:
        """Queue an event already in JSON for this worker's connections of ``parties``."""
        sent = 0
        for party in set(parties):
            for connection in list(self._connections.get(party, ())):
                if connection.offer(text):
                    sent += 1
                else:
                    _LOGGER.warning("live outbox full for %s; disconnecting it", party)
                    self.remove(connection)
                    connection.close_soon()
        return sent


LIVE_HUB = web.AppKey("family_live_hub", LiveHub)
