"""Family live events reach every hub worker's sockets (docs/adr/0181).

Behind the balancer a grandchild's phone, the resident's tablet and a volunteer's browser may
hold their websockets on three different workers, and :class:`~hub.family.live.LiveHub` knows
only its own process's. So every event a worker publishes to its own sockets is also sent, by
:class:`LiveMirror`, as ``NOTIFY teleassist_family_live`` (origin, parties, the event's JSON as
the sockets get it) on the alarm fan-out's connection (:class:`hub.alarms.fanout.Relay`, no
second mechanism); the other workers hand it to their sockets of those parties.

Two cases lose the event itself, never silently: an event larger than a NOTIFY payload is sent
as "too big", and after the listening connection was lost (notifications may be missed) every
family socket of this worker is closed. Either way the clients reconnect and refetch, as they
do after any disconnection, and see what the database holds.

Events with a cross-worker path of their own are not mirrored (the alarm notices, written by
the bridge on every worker; prepared videos, :mod:`hub.family.video_fanout`), nor call and
listen-in signalling, whose state lives in the worker that holds the call (a call's frames
cross workers by :mod:`hub.family.calls.across`, docs/adr/0185).
Only on PostgreSQL: SQLite serves one worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alarms.fanout import MAX_PAYLOAD, Relay, json_object, next_batch, notify_all
from hub.family.live import LiveHub

_LOGGER = logging.getLogger(__name__)

CHANNEL = "teleassist_family_live"
MAX_ORIGIN = 64
MAX_PARTIES = 200
QUEUE_SIZE = 5_000
SEND_BATCH = 200


class BadLiveSignal(ValueError):
    """A notification on the channel that is not a live signal."""


@dataclass(frozen=True, slots=True)
class LiveSignal:
    """From worker ``origin``, for the sockets of ``parties``: event ``text``; or, with
    ``text`` None, "refetch" (the event was too big to send) — unless ``close`` is set:
    then "close these sockets" (access ended; ``close`` is the sign-in, "" for all)."""

    origin: str
    parties: tuple[str, ...]
    text: str | None
    close: str | None = None

    def __post_init__(self) -> None:
        if not self.origin or len(self.origin) > MAX_ORIGIN:
            raise BadLiveSignal(f"origin of {len(self.origin)} characters")
        if not self.parties or len(self.parties) > MAX_PARTIES:
            raise BadLiveSignal(f"{len(self.parties)} parties")
        if not all(isinstance(p, str) and p for p in self.parties):
            raise BadLiveSignal("a party is not a name")
        if self.close is not None and (self.text is not None or len(self.close) > MAX_ORIGIN):
            raise BadLiveSignal("a close signal carries a sign-in only")

    def payload(self) -> str:
        """The NOTIFY payload: compact JSON, or its "too big" form if it would not fit."""
        data: dict[str, object] = {"o": self.origin, "p": list(self.parties)}
        if self.close is not None:
            return json.dumps(data | {"c": self.close}, separators=(",", ":"))
        if self.text is not None:
            full = json.dumps(data | {"e": self.text}, separators=(",", ":"))
            if len(full.encode()) <= MAX_PAYLOAD:
                return full
        return json.dumps(data | {"x": 1}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> LiveSignal:
        """Read a payload; :class:`BadLiveSignal` if it is not one."""
        data = json_object(text, BadLiveSignal)
        origin, parties, event, close = data.get("o"), data.get("p"), data.get("e"), data.get("c")
        kinds = (isinstance(event, str), data.get("x") == 1, isinstance(close, str))
        if not isinstance(origin, str) or not isinstance(parties, list) or sum(kinds) != 1:
            raise BadLiveSignal("missing or mistyped field")
        return cls(origin, tuple(parties), event if kinds[0] else None, close)


class LiveMirror:
    """Sends this worker's live events to the others and publishes theirs here."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        live: LiveHub,
        origin: str,
    ) -> None:
        # A getter: the mirror is made at setup, before the database is opened.
        self._sessionmaker = sessionmaker
        self._live = live
        self.origin = origin
        self._queue: asyncio.Queue[LiveSignal] = asyncio.Queue(QUEUE_SIZE)
        self.sent = 0
        self.delivered = 0
        self.dropped = 0

    def relay(self) -> Relay:
        """This mirror's receiving side as a channel of the alarm fan-out."""
        return Relay(CHANNEL, self.deliver, self.catch_up)

    def offer(self, parties: Iterable[str], text: str) -> None:
        """Queue an event this worker published, for the others (never blocks the caller)."""
        self._put(LiveSignal(self.origin, tuple(sorted(set(parties))), text))

    def offer_close(self, party: str, sign_in: str | None) -> None:
        """Queue "close ``party``'s sockets (``sign_in``'s only if given)" for the others."""
        self._put(LiveSignal(self.origin, (party,), None, sign_in or ""))

    def _put(self, signal: LiveSignal) -> None:
        try:
            self._queue.put_nowait(signal)
        except asyncio.QueueFull:
            # The database is too slow to take them: the oldest waiting event gives way,
            # and this one's parties are told to close and refetch (a close stays a close).
            self.dropped += 1
            _LOGGER.warning("family live mirror behind; telling %s to refetch", signal.parties)
            self._queue.get_nowait()
            self._queue.put_nowait(LiveSignal(self.origin, signal.parties, None, ""))

    async def run(self) -> None:
        """Send what was offered, a batch per transaction, until cancelled."""
        while True:
            batch = await next_batch(self._queue, SEND_BATCH)
            try:
                await notify_all(self._sessionmaker(), CHANNEL, (s.payload() for s in batch))
                self.sent += len(batch)
            except Exception:
                # Not retried: a late event would arrive after newer ones. The other
                # workers' clients see it at their next refetch.
                self.dropped += len(batch)
                _LOGGER.exception("family live mirror: %d events not sent", len(batch))

    async def deliver(self, payload: str) -> None:
        """Publish another worker's event to this worker's sockets of its parties."""
        try:
            signal = LiveSignal.parse(payload)
        except BadLiveSignal as err:
            _LOGGER.warning("ignoring a notification on %s: %s", CHANNEL, err)
            return
        if signal.origin == self.origin:
            return
        if signal.text is None:
            # Access ended, or an event too big to send: the sockets reconnect (authorised
            # afresh) and refetch. What was queued for them before goes out first.
            for party in signal.parties:
                self._live.close(party, signal.close or None, flush=True, mirror=False)
            return
        self.delivered += self._live.deliver(signal.parties, signal.text)

    async def catch_up(self, since: datetime) -> None:
        """Notifications may have been lost since ``since``: every family socket here
        reconnects and refetches."""
        closed = self._live.close_all(flush=True)
        if closed:
            _LOGGER.info("family live mirror resumed; %d sockets told to refetch", closed)


LIVE_MIRROR = web.AppKey("family_live_mirror", LiveMirror)
