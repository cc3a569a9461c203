"""Calls whose two parties' sockets are on different hub workers (docs/adr/0185).

The worker where a call starts holds it (:class:`~hub.family.calls.signalling.CallService`:
state, timers, record, the ring limit and consent checks). A party with no socket there is
looked for on the others: ``NOTIFY teleassist_family_calls`` (on the alarm fan-out's
connection, a :class:`~hub.alarms.fanout.Relay`) carries, as compact JSON,

- ``w`` "where is party P?" (to all; about call C once it exists), answered ``h`` "here" by
  every worker with a socket of P — which from then on is a *host* of P for C;
- ``e`` the holder's events for P (``call.incoming``, ``call.state``, relayed ``call.signal``,
  errors), to P's hosts, who hand them to P's sockets;
- ``f`` P's call frames (accept, decline, hang-up, connected, signal), from a host to the
  holder, applied there as if P's socket were local;
- ``g`` "P's last socket here dropped" (the holder's reconnect grace starts), and ``b`` beats
  both ways every :data:`BEAT_S` while calls cross: a holder that hears nothing from a host
  for :data:`DEAD_AFTER_S` treats it as gone (a worker that died), a host that hears nothing
  from a holder tells its party the call failed;
- ``x`` "end call C": a centre call started on another worker takes the home, and the family
  call C this worker holds with it gives way (docs/adr/0185, "Across workers").

A signal longer than a NOTIFY payload (signalling data may be 64 KiB; SDP offers are mostly
3–6 KB) goes as numbered pieces (``p``) of at most :data:`PIECE_BYTES` bytes, base64, sent
one after the other by this worker's single sender: a worker's notifications arrive in the
order they were committed, and the receiver joins the pieces by (worker, message number).
Only on PostgreSQL: SQLite serves one worker and installs none of this.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alarms.fanout import MAX_PAYLOAD, Relay, json_object, next_batch, notify_all
from hub.family.live import LiveHub

_LOGGER = logging.getLogger(__name__)

CHANNEL = "teleassist_family_calls"
MAX_ORIGIN = 64
MAX_PARTY = 64
MAX_BEAT_IDS = 400
PIECE_BYTES = 5000  # base64 grows it to 6,668 characters: with the envelope, under 7,999
MAX_PIECES = 20  # 100 KB: a 64 KiB signal as an event, escaped, fits
MAX_PENDING = 32  # messages being joined at once
QUEUE_SIZE = 5_000
SEND_BATCH = 100
BEAT_S = 2.0
DEAD_AFTER_S = 7.0
FIND_WAIT_S = 1.5
# Frames a host forwards (the socket's own frame types).
FRAME_TYPES = frozenset({"call.accept", "call.decline", "call.hangup", "call.connected",
                         "call.signal"})  # fmt: skip
KINDS = frozenset("whefgbpx")


class BadCallSignal(ValueError):
    """A notification on the channel that is not a call signal."""


def _text(value: object, limit: int, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not value and not empty):
        raise BadCallSignal(f"{what} is not a name")
    return value


def _id(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise BadCallSignal(f"{what} is not an id")
    return value


@dataclass(frozen=True, slots=True)
class CallSignal:
    """One message between workers: from ``origin`` to ``target`` ("" for all) of ``kind``
    (see the module's text); the other fields as the kind needs them."""

    origin: str
    target: str
    kind: str
    call_id: int = 0  # 0: none yet (a "where" before the call's record exists)
    party: str = ""
    parties: tuple[str, ...] = ()
    query: int = 0
    text: str = ""  # a frame's type (f)
    data: dict[str, Any] | None = None  # an event (e), a frame's data (f)
    final: bool = False  # the event ends the call (e)
    calls: tuple[int, ...] = ()  # beats (b)

    def payloads(self, message: int) -> list[str]:
        """The NOTIFY payloads: one, or the pieces of a long one (numbered ``message``)."""
        full = self.payload()
        raw = full.encode()
        if len(raw) <= MAX_PAYLOAD:
            return [full]
        count = -(-len(raw) // PIECE_BYTES)
        if count > MAX_PIECES:
            raise BadCallSignal(f"a signal of {len(raw)} bytes")
        head = {"o": self.origin, "t": self.target, "k": "p", "m": message, "n": count}
        pieces = []
        for i in range(count):
            chunk = base64.b64encode(raw[i * PIECE_BYTES : (i + 1) * PIECE_BYTES])
            piece = head | {"i": i, "d": chunk.decode("ascii")}
            pieces.append(json.dumps(piece, separators=(",", ":")))
        return pieces

    def payload(self) -> str:
        """The signal as compact JSON (maybe longer than a NOTIFY: see :meth:`payloads`)."""
        data: dict[str, Any] = {"o": self.origin, "t": self.target, "k": self.kind}
        if self.kind in "whfg":
            data["p"] = self.party
        if self.kind in "wh":
            data["q"] = self.query
        if self.kind in "wefgx":
            data["c"] = self.call_id
        if self.kind == "e":
            data |= {"p": list(self.parties), "e": self.data, "z": int(self.final)}
        if self.kind == "f":
            data["y"] = self.text
            if self.data is not None:
                data["d"] = self.data
        if self.kind == "b":
            data["c"] = list(self.calls)
        # Not escaped to ASCII: the bytes are the limit, and an SDP's are mostly ASCII.
        return json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)

    @classmethod
    def parse(cls, text: str) -> CallSignal:
        """Read a (whole) signal; :class:`BadCallSignal` if it is not one."""
        data = json_object(text, BadCallSignal)
        origin = _text(data.get("o"), MAX_ORIGIN, "origin")
        target = _text(data.get("t"), MAX_ORIGIN, "target", empty=True)
        kind = data.get("k")
        if kind not in KINDS or kind == "p":
            raise BadCallSignal(f"kind {kind!r}")
        out: dict[str, Any] = {}
        if kind in "whfg":
            out["party"] = _text(data.get("p"), MAX_PARTY, "party")
        if kind in "wh":
            out["query"] = _id(data.get("q"), "query")
        if kind in "wefgx":
            out["call_id"] = _id(data.get("c"), "call")
        if kind in "efgx" and out["call_id"] == 0:
            raise BadCallSignal("no call")
        if kind == "e":
            parties, event, final = data.get("p"), data.get("e"), data.get("z")
            if not isinstance(parties, list) or not 1 <= len(parties) <= 2:
                raise BadCallSignal("parties")
            out["parties"] = tuple(_text(p, MAX_PARTY, "party") for p in parties)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise BadCallSignal("missing or mistyped event")
            if final not in (0, 1):
                raise BadCallSignal("missing or mistyped end")
            out |= {"data": event, "final": bool(final)}
        if kind == "f":
            frame, extra = data.get("y"), data.get("d")
            if frame not in FRAME_TYPES or not (extra is None or isinstance(extra, dict)):
                raise BadCallSignal("missing or mistyped frame")
            out |= {"text": frame, "data": extra}
        if kind == "b":
            calls = data.get("c")
            if not isinstance(calls, list) or len(calls) > MAX_BEAT_IDS:
                raise BadCallSignal("beat")
            out["calls"] = tuple(_id(c, "call") for c in calls)
        return cls(origin, target, kind, **out)


@dataclass(frozen=True, slots=True)
class Piece:
    """Piece ``index`` of ``count`` of message ``message`` from ``origin`` to ``target``."""

    origin: str
    target: str
    message: int
    index: int
    count: int
    chunk: bytes

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Piece:
        """Read a piece's fields; :class:`BadCallSignal` if they are not one's."""
        origin = _text(data.get("o"), MAX_ORIGIN, "origin")
        target = _text(data.get("t"), MAX_ORIGIN, "target", empty=True)
        message, index, count = _id(data.get("m"), "m"), _id(data.get("i"), "i"), data.get("n")
        if type(count) is not int or not 1 < count <= MAX_PIECES or index >= count:
            raise BadCallSignal("piece numbers")
        chunk = data.get("d")
        if not isinstance(chunk, str):
            raise BadCallSignal("piece data")
        try:
            raw = base64.b64decode(chunk, validate=True)
        except binascii.Error as err:
            raise BadCallSignal("piece data") from err
        if not raw or len(raw) > PIECE_BYTES:
            raise BadCallSignal("piece size")
        return cls(origin, target, message, index, count, raw)


class Joiner:
    """Joins pieces into whole signals; keeps at most :data:`MAX_PENDING` messages."""

    def __init__(self) -> None:
        self._pending: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()
        self.dropped = 0

    def add(self, piece: Piece) -> str | None:
        """The whole signal's text once its last piece came, else None."""
        key = (piece.origin, piece.message)
        if piece.index == 0:
            self._pending.pop(key, None)
            self._pending[key] = []
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
                self.dropped += 1
        parts = self._pending.get(key)
        if parts is None or len(parts) != piece.index:
            self._pending.pop(key, None)  # a piece missed: the message is lost
            self.dropped += 1
            raise BadCallSignal(f"piece {piece.index} of message {piece.message} out of order")
        parts.append(piece.chunk)
        if len(parts) < piece.count:
            return None
        del self._pending[key]
        try:
            return b"".join(parts).decode()
        except UnicodeDecodeError as err:
            raise BadCallSignal("pieces are not text") from err

    def clear(self) -> None:
        """Forget every half-joined message (notifications may have been lost)."""
        self.dropped += len(self._pending)
        self._pending.clear()


class Holder(Protocol):
    """What the links need of the call service (this worker's side of its own calls)."""

    async def remote_frame(
        self, call_id: int, party: str, host: str, frame: str, data: dict[str, Any] | None
    ) -> None:
        """A party's call frame, forwarded by its host."""

    def remote_found(self, call_id: int, party: str, host: str) -> None:
        """``host`` has a socket of ``party`` for the call."""

    def remote_gone(self, call_id: int, party: str, host: str) -> None:
        """``host`` has no socket of ``party`` any more (or stopped answering)."""

    def remote_beat(self, host: str, call_ids: Iterable[int], now: float) -> None:
        """``host`` still has its parties of these calls."""

    def remote_check(self, now: float, dead_after_s: float) -> list[tuple[int, str]]:
        """Drop hosts not heard from; the (call, party) pairs to look for again."""

    def remote_hosts(self) -> dict[str, list[int]]:
        """The calls held here with a party elsewhere, by host."""

    async def remote_give_way(self, call_id: int) -> None:
        """A centre call elsewhere takes a party of this (family) call: it ends."""


@dataclass
class _Proxy:
    """On a host: ``party``'s side of call ``call_id`` held by ``holder``."""

    holder: str
    seen: float
    parties: set[str] = field(default_factory=set)


class CallLinks:
    """This worker's links to the others for calls (see the module's text)."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        live: LiveHub,
        origin: str,
        beat_s: float = BEAT_S,
        dead_after_s: float = DEAD_AFTER_S,
        find_wait_s: float = FIND_WAIT_S,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._live = live
        self.origin = origin
        self.beat_s = beat_s
        self.dead_after_s = dead_after_s
        self.find_wait_s = find_wait_s
        self.holder: Holder | None = None
        self._queue: asyncio.Queue[list[str]] = asyncio.Queue(QUEUE_SIZE)
        self._messages = itertools.count(1)
        self._queries = itertools.count(1)
        # query → (party, call id or 0, the future of a waiting finder or None)
        self._asked: dict[int, tuple[str, int, asyncio.Future[str] | None]] = {}
        self._proxies: dict[int, _Proxy] = {}  # calls held elsewhere with a party here
        self._joiner = Joiner()
        # Counters for the tests and /metrics.
        self.sent = 0
        self.received = 0
        self.dropped = 0

    def relay(self) -> Relay:
        """This side's receiving end as a channel of the alarm fan-out."""
        return Relay(CHANNEL, self.deliver, self.catch_up)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # ------------------------------------------------------------ sending

    def _send(self, signal: CallSignal) -> None:
        try:
            payloads = signal.payloads(next(self._messages))
            self._queue.put_nowait(payloads)
        except (BadCallSignal, asyncio.QueueFull) as err:
            # Not sent: the call's parties see it end by the timers (beats, ring, grace).
            self.dropped += 1
            _LOGGER.warning("call signal %s to %s not sent: %r", signal.kind, signal.target, err)

    async def run(self) -> None:
        """Send what was queued and beat, until cancelled."""
        beats = asyncio.create_task(self._beat_loop(), name="family-calls-beats")
        try:
            while True:
                batch = await next_batch(self._queue, SEND_BATCH)
                try:
                    payloads = (payload for pieces in batch for payload in pieces)
                    await notify_all(self._sessionmaker(), CHANNEL, payloads)
                    self.sent += len(batch)
                except Exception:
                    # Not retried: a late frame would arrive after newer ones.
                    self.dropped += len(batch)
                    _LOGGER.exception("family calls: %d signals not sent", len(batch))
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.beat_s)
            try:
                self.beat()
            except Exception:  # the next beat tries again
                _LOGGER.exception("family calls: a beat failed")

    def beat(self) -> None:
        """Tell the workers we share calls with that we are alive; give up on those that
        are not; look again for parties who left."""
        now = self._now()
        holder = self.holder
        if holder is not None:
            for host, ids in holder.remote_hosts().items():
                self._beat_to(host, ids)
            for call_id, party in holder.remote_check(now, self.dead_after_s):
                self.look_for(party, call_id)
        by_holder: dict[str, list[int]] = {}
        for call_id, proxy in list(self._proxies.items()):
            if now - proxy.seen > self.dead_after_s:
                # The holder died (or cannot reach us): its call is over for our party.
                self._drop_dead(call_id, proxy)
            else:
                by_holder.setdefault(proxy.holder, []).append(call_id)
        for target, ids in by_holder.items():
            self._beat_to(target, ids)

    def _beat_to(self, target: str, ids: list[int]) -> None:
        for start in range(0, len(ids), MAX_BEAT_IDS):
            chunk = tuple(ids[start : start + MAX_BEAT_IDS])
            self._send(CallSignal(self.origin, target, "b", calls=chunk))

    def _drop_dead(self, call_id: int, proxy: _Proxy) -> None:
        del self._proxies[call_id]
        _LOGGER.warning("call %s: its worker %s stopped answering", call_id, proxy.holder)
        event = {"type": "call.state", "call_id": call_id, "status": "failed",
                 "call": {"id": call_id, "status": "failed", "failure": "hub_restart"}}  # fmt: skip
        self._live.publish(proxy.parties, event, mirror=False)

    # ------------------------------------------------------------ as the holder

    def look_for(self, party: str, call_id: int) -> None:
        """Ask every worker for ``party`` on behalf of call ``call_id`` (not waiting)."""
        query = next(self._queries)
        self._remember(query, (party, call_id, None))
        self._send(CallSignal(self.origin, "", "w", call_id=call_id, party=party, query=query))

    async def find(self, party: str) -> str | None:
        """The first worker to say it has ``party``, within :attr:`find_wait_s`."""
        query = next(self._queries)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._remember(query, (party, 0, future))
        self._send(CallSignal(self.origin, "", "w", party=party, query=query))
        try:
            async with asyncio.timeout(self.find_wait_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._asked.pop(query, None)

    def _remember(self, query: int, asked: tuple[str, int, asyncio.Future[str] | None]) -> None:
        self._asked[query] = asked
        while len(self._asked) > 1000:  # answers that never came
            self._asked.pop(next(iter(self._asked)))

    def tell(
        self, host: str, call_id: int, parties: Iterable[str], event: dict[str, Any], final: bool
    ) -> None:
        """Send an event of call ``call_id`` (held here) for ``parties`` to their ``host``."""
        signal = CallSignal(
            self.origin, host, "e", call_id=call_id, parties=tuple(sorted(set(parties))),
            data=event, final=final,
        )  # fmt: skip
        self._send(signal)

    def give_way(self, holder: str, call_id: int) -> None:
        """Ask worker ``holder`` to end its family call ``call_id`` (a centre call here
        takes the home)."""
        self._send(CallSignal(self.origin, holder, "x", call_id=call_id))

    # ------------------------------------------------------------ as a host

    def proxies(self, call_id: int, party: str) -> bool:
        """Whether ``party``'s socket here takes part in call ``call_id`` held elsewhere."""
        proxy = self._proxies.get(call_id)
        return proxy is not None and party in proxy.parties

    def forward(self, call_id: int, party: str, frame: str, data: dict[str, Any] | None) -> None:
        """Send ``party``'s frame for call ``call_id`` to the worker holding it."""
        proxy = self._proxies[call_id]
        self._send(
            CallSignal(self.origin, proxy.holder, "f", call_id=call_id, party=party, text=frame,
                       data=data)
        )  # fmt: skip

    def party_gone(self, party: str) -> None:
        """``party``'s last socket here dropped: the holders of its calls are told."""
        for call_id, proxy in list(self._proxies.items()):
            if party in proxy.parties:
                proxy.parties.discard(party)
                if not proxy.parties:
                    del self._proxies[call_id]
                self._send(CallSignal(self.origin, proxy.holder, "g", call_id=call_id,
                                      party=party))  # fmt: skip

    def _proxy(self, call_id: int, holder: str, party: str) -> None:
        proxy = self._proxies.get(call_id)
        if proxy is None or proxy.holder != holder:
            proxy = self._proxies[call_id] = _Proxy(holder, self._now())
        proxy.parties.add(party)

    # ------------------------------------------------------------ receiving

    async def deliver(self, payload: str) -> None:
        """A notification on the channel: a whole signal, or a piece of one."""
        try:
            data = json.loads(payload)
            if isinstance(data, dict) and data.get("k") == "p":
                piece = Piece.parse(data)
                if piece.origin == self.origin or piece.target not in ("", self.origin):
                    return
                whole = self._joiner.add(piece)
                if whole is None:
                    return
                payload = whole
            signal = CallSignal.parse(payload)
        except (ValueError, BadCallSignal) as err:
            _LOGGER.warning("ignoring a notification on %s: %s", CHANNEL, err)
            return
        if signal.origin == self.origin or signal.target not in ("", self.origin):
            return
        self.received += 1
        await self._on(signal)

    async def _on(self, signal: CallSignal) -> None:
        holder, origin = self.holder, signal.origin
        if signal.kind == "w":
            if self._live.online(signal.party):
                if signal.call_id:
                    self._proxy(signal.call_id, origin, signal.party)
                self._send(
                    CallSignal(self.origin, origin, "h", party=signal.party, query=signal.query)
                )
        elif signal.kind == "h":
            asked = self._asked.get(signal.query)
            if asked is None or asked[0] != signal.party:
                return
            party, call_id, future = asked
            if future is not None and not future.done():
                future.set_result(origin)
            elif call_id and holder is not None:
                holder.remote_found(call_id, party, origin)
        elif signal.kind == "e":
            self._on_event(signal)
        elif signal.kind == "f" and holder is not None:
            await holder.remote_frame(
                signal.call_id, signal.party, origin, signal.text, signal.data
            )
        elif signal.kind == "g" and holder is not None:
            holder.remote_gone(signal.call_id, signal.party, origin)
        elif signal.kind == "x" and holder is not None:
            await holder.remote_give_way(signal.call_id)
        elif signal.kind == "b":
            now = self._now()
            for call_id in signal.calls:
                proxy = self._proxies.get(call_id)
                if proxy is not None and proxy.holder == origin:
                    proxy.seen = now
            if holder is not None:
                holder.remote_beat(origin, signal.calls, now)

    def _on_event(self, signal: CallSignal) -> None:
        here = [p for p in signal.parties if self._live.online(p)]
        for party in here:
            if signal.final:
                self._proxies.pop(signal.call_id, None)
            else:
                self._proxy(signal.call_id, signal.origin, party)
        proxy = self._proxies.get(signal.call_id)
        if proxy is not None and proxy.holder == signal.origin:
            proxy.seen = self._now()
        if here:
            self._live.deliver(here, json.dumps(signal.data, default=str))

    async def catch_up(self, since: datetime) -> None:
        """Notifications may have been lost: half-joined messages are dropped (the beats
        and the calls' timers settle the rest)."""
        self._joiner.clear()


CALL_LINKS = web.AppKey("family_call_links", CallLinks)
