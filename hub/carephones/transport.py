"""The receivers' TCP and UDP listeners: per-source flood limits and the tasks that answer.

One listener class serves every unit protocol; a :class:`Wire` says how its messages are
framed on TCP and answers them (DC-09: ``LF ... CR`` frames; SCAIP: SIP messages, a head
and a ``Content-Length`` body). TCP: a unit keeps a connection and sends one message at a
time, waiting for the answer; each connection is a task of its own, so a slow store for one
unit never holds up another. UDP: one message per datagram; each is answered by a task (at
most ``max_inflight`` at once). A source address that sends more than its rate is dropped
without an answer (an answer would amplify a flood towards a spoofed address); a TCP
flooder is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from hub.carephones.receiver import Dc09Receiver
from integrations.carephones.dc09 import nak

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplyPath:
    """How to send more to the source of the message being handled, later: a held SIP call
    answers its ``INVITE`` after the handler returned (ADR 0160). ``reliable``: TCP;
    ``source``: the address the message came from (the UDP source, or the TCP peer)."""

    send: Callable[[bytes], None]
    reliable: bool
    source: tuple[str, int] | None = None


# Set by the listeners while a message is handled (each message is handled in a task of its
# own, or its connection's, so the value is the message's).
REPLY_PATH: contextvars.ContextVar[ReplyPath | None] = contextvars.ContextVar(
    "carephone_reply_path", default=None
)


class SourceLimiter:
    """A token bucket per source address (``rate`` per second, ``burst`` at once)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        max_sources: int = 100_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_sources = max_sources

    def allow(self, source: str) -> bool:
        """Take one token for ``source``; ``False`` when it has none left."""
        if self.rate <= 0:
            return True
        now = self._monotonic()
        tokens, last = self._buckets.get(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if len(self._buckets) >= self._max_sources and source not in self._buckets:
            self._buckets.clear()  # bounded: forgetting is safe, it only refills buckets
        if tokens < 1.0:
            self._buckets[source] = (tokens, now)
            return False
        self._buckets[source] = (tokens - 1.0, now)
        return True


class Wire(Protocol):
    """What the listeners need of a receiver protocol."""

    name: str
    # Longest message head the TCP reader buffers before giving up on finding its end.
    max_tcp_bytes: int

    @property
    def refused(self) -> Counter[str]:
        """Refusals by reason (``/metrics``)."""

    def refuse(self, reason: str, source: str, detail: str) -> None:
        """Count and (rate-limited) log one refused message."""

    async def read_tcp(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """The next message on a connection, and whether its framing is lost after it
        (answer, then close). Raises what ``StreamReader`` raises at the end."""

    def oversize_answer(self) -> bytes | None:
        """What to send before closing a connection whose message has no end in sight."""

    async def handle(self, raw: bytes, source: str) -> bytes | None:
        """The answer to one message; ``None``: none (the unit sends it again)."""


class Dc09Wire:
    """DC-09 on the listeners: ``LF ... CR`` frames, answered by :class:`Dc09Receiver`."""

    name = "DC-09"

    def __init__(self, receiver: Dc09Receiver) -> None:
        self.receiver = receiver
        self.max_tcp_bytes = receiver.config.max_frame_bytes + 16

    @property
    def refused(self) -> Counter[str]:
        """The receiver's refusals."""
        return self.receiver.stats.refused

    def refuse(self, reason: str, source: str, detail: str) -> None:
        """Count and log through the receiver."""
        self.receiver.refuse(reason, source, detail)

    async def read_tcp(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """One frame: up to its CR (leading LF and padding stripped)."""
        raw = await reader.readuntil(b"\r")
        return raw.lstrip(b"\n\r\x00 "), False

    def oversize_answer(self) -> bytes | None:
        """NAK: the frame cannot be trusted."""
        return nak(self.receiver.clock())

    async def handle(self, raw: bytes, source: str) -> bytes | None:
        """The receiver's answer (UDP datagrams are stripped of padding here)."""
        return await self.receiver.handle(raw.strip(b"\x00 "), source)


class ReceiverServers:
    """The TCP and UDP listeners of one receiver; :meth:`stop` ends every task they own."""

    def __init__(
        self,
        wire: Wire,
        limiter: SourceLimiter,
        *,
        idle_timeout_s: float = 300.0,
        max_inflight: int = 2_000,
    ) -> None:
        self.wire = wire
        self.limiter = limiter
        self.idle_timeout_s = idle_timeout_s
        self.max_inflight = max_inflight
        self.tcp_port: int | None = None
        self.udp_port: int | None = None
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, tcp_port: int, udp_port: int) -> None:
        """Listen (port 0: a free one; a negative port: that transport off)."""
        loop = asyncio.get_running_loop()
        if tcp_port >= 0:
            self._server = await asyncio.start_server(
                self._connection, host, tcp_port, limit=self.wire.max_tcp_bytes
            )
            self.tcp_port = self._server.sockets[0].getsockname()[1]
        if udp_port >= 0:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, udp_port)
            )
            self._udp = transport
            self.udp_port = transport.get_extra_info("sockname")[1]
        _LOGGER.info(
            "%s receiver on %s: TCP %s, UDP %s", self.wire.name, host, self.tcp_port, self.udp_port
        )

    def send_udp(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send a message from the UDP listener's socket (its replies come back to it)."""
        if self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(data, addr)

    async def stop(self) -> None:
        """Stop listening, end open connections and answering tasks."""
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()
        # Closing a connection ends its task at its next read (cancelling a stream
        # handler's task makes asyncio log it as an error); a frame being stored finishes.
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    def _own(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._own(task)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else "?"
        try:
            while True:
                async with asyncio.timeout(self.idle_timeout_s):
                    try:
                        raw, lost = await self.wire.read_tcp(reader)
                    except asyncio.LimitOverrunError:
                        # No end within the limit: an oversized message; its end cannot be found.
                        self.wire.refuse("oversize", source, "no message end within the limit")
                        answer = self.wire.oversize_answer()
                        if answer is not None:
                            writer.write(answer)
                            await writer.drain()
                        return
                if not raw.strip():
                    continue  # a keep-alive
                if not self.limiter.allow(source):
                    self.wire.refuse("flood", source, "over the per-source rate; closed")
                    return
                REPLY_PATH.set(
                    ReplyPath(
                        partial(_write, writer), reliable=True,
                        source=(str(peer[0]), int(peer[1])) if peer else None,
                    )
                )  # fmt: skip
                answer = await self._handle(raw, source)
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
                if lost:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, raw: bytes, source: str) -> bytes | None:
        # A defect in handling one message must never end the listener or a connection: it
        # goes unanswered (the unit sends it again) and the error is counted and logged.
        try:
            return await self.wire.handle(raw, source)
        except Exception:
            self.wire.refused["internal_error"] += 1
            _LOGGER.exception("%s message from %s could not be handled", self.wire.name, source)
            return None

    def datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """One UDP message (called by the protocol)."""
        source = str(addr[0])
        if not data.strip(b"\r\n\x00 "):
            return  # a keep-alive
        if not self.limiter.allow(source):
            self.wire.refuse("flood", source, "over the per-source rate; dropped")
            return
        if len(self._tasks) >= self.max_inflight:
            self.wire.refuse("busy", source, "too many messages in hand; dropped")
            return
        self._own(asyncio.get_running_loop().create_task(self._answer(data, addr)))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        REPLY_PATH.set(
            ReplyPath(partial(self.send_udp, addr=addr), reliable=False, source=(addr[0], addr[1]))
        )
        answer = await self._handle(data, str(addr[0]))
        if answer is not None and self._udp is not None and not self._udp.is_closing():
            self._udp.sendto(answer, addr)


def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if not writer.is_closing():
        writer.write(data)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, servers: ReceiverServers) -> None:
        self.servers = servers

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.servers.datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("%s UDP error: %s", self.servers.wire.name, exc)
