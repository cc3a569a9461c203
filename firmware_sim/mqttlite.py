"""A minimal MQTT 3.1.1 client as an asyncio Protocol, for the fleet generator.

Thousands of simulated gateways per process need a client that costs a few
kilobytes per connection and no task per connection: CONNECT (with Will and
credentials), PUBLISH at QoS 0/1 with PUBACK counting, PINGREQ and DISCONNECT.
Nothing else (no subscriptions, no QoS 2, no session resumption); the device agent
uses a full client (aiomqtt).
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass

_LOGGER = logging.getLogger(__name__)

_CONNACK, _PUBLISH, _PUBACK, _PINGRESP = 0x20, 0x30, 0x40, 0xD0
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


class MqttLiteError(ConnectionError):
    """The broker refused or dropped a connection."""


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


@dataclass(frozen=True, slots=True)
class Will:
    """Last Will: published by the broker if the connection dies."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def connect_packet(
    client_id: str,
    keepalive: int,
    *,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
    clean_session: bool = True,
) -> bytes:
    """An MQTT 3.1.1 CONNECT packet."""
    flags = 0x02 if clean_session else 0
    payload = _str(client_id.encode())
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _str(will.topic.encode()) + _str(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _str(username.encode())
    if password is not None:
        flags |= 0x40
        payload += _str(password.encode())
    body = _str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return bytes([0x10]) + _length(len(body)) + body


def publish_packet(
    topic: bytes, payload: bytes, *, qos: int = 0, retain: bool = False, mid: int = 0
) -> bytes:
    """An MQTT PUBLISH packet (``mid`` used for QoS 1)."""
    head = 0x30 | (qos << 1) | (1 if retain else 0)
    body = _str(topic) + (struct.pack("!H", mid) if qos else b"") + payload
    return bytes([head]) + _length(len(body)) + body


class LiteClient(asyncio.Protocol):
    """One broker connection. ``await client.ready`` after ``loop.create_connection``."""

    def __init__(self, connect: bytes, max_inflight: int = 100) -> None:
        loop = asyncio.get_running_loop()
        self._connect = connect
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._mid = 0
        self.inflight: set[int] = set()
        self.max_inflight = max_inflight
        self.sent = 0
        self.acked = 0
        self.paused = False

    # asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send CONNECT as soon as TCP is up."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._connect)

    def data_received(self, data: bytes) -> None:
        """Parse whatever packets arrived (CONNACK, PUBACK, PINGRESP)."""
        buf = self._buffer
        buf.extend(data)
        while len(buf) >= 2:
            length, multiplier, i = 0, 1, 1
            while True:
                if i >= len(buf):
                    return  # incomplete length
                byte = buf[i]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                i += 1
                if not byte & 0x80:
                    break
            if len(buf) < i + length:
                return
            kind, body = buf[0] & 0xF0, bytes(buf[i : i + length])
            del buf[: i + length]
            if kind == _PUBACK:
                mid = struct.unpack("!H", body[:2])[0]
                if mid in self.inflight:
                    self.inflight.discard(mid)
                    self.acked += 1
            elif kind == _CONNACK and not self.ready.done():
                if body[1] == 0:
                    self.ready.set_result(None)
                else:
                    self.ready.set_exception(MqttLiteError(f"CONNACK refused: code {body[1]}"))

    def connection_lost(self, exc: Exception | None) -> None:
        """Resolve the futures so nobody waits forever."""
        if not self.ready.done():
            self.ready.set_exception(MqttLiteError(f"connection lost before CONNACK: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)
        self.transport = None

    def pause_writing(self) -> None:
        """The socket buffer is full: skip this client until it drains."""
        self.paused = True

    def resume_writing(self) -> None:
        """The socket buffer drained."""
        self.paused = False

    # API ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the TCP connection is up and CONNACK was accepted."""
        return self.transport is not None and self.ready.done() and not self.ready.exception()

    def publish(self, topic: bytes, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Send one message; ``False`` if the client cannot take it now (busy or closed)."""
        if self.transport is None or self.paused:
            return False
        mid = 0
        if qos:
            if len(self.inflight) >= self.max_inflight:
                return False
            self._mid = self._mid % 65535 + 1
            mid = self._mid
            self.inflight.add(mid)
        self.transport.write(publish_packet(topic, payload, qos=qos, retain=retain, mid=mid))
        self.sent += 1
        return True

    def ping(self) -> None:
        """Keep the connection alive (the broker drops silent clients)."""
        if self.transport is not None:
            self.transport.write(PINGREQ)

    def disconnect(self) -> None:
        """Clean DISCONNECT (no Will) and close."""
        if self.transport is not None:
            self.transport.write(DISCONNECT)
            self.transport.close()


async def open_client(
    host: str,
    port: int,
    client_id: str,
    *,
    keepalive: int = 60,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
    connect_timeout_s: float = 30.0,
) -> LiteClient:
    """Connect and wait for CONNACK; raise :class:`MqttLiteError` or ``OSError``."""
    loop = asyncio.get_running_loop()
    packet = connect_packet(client_id, keepalive, username=username, password=password, will=will)
    _, client = await loop.create_connection(lambda: LiteClient(packet), host, port)
    try:
        async with asyncio.timeout(connect_timeout_s):
            await client.ready
    except BaseException:
        client.disconnect()
        raise
    return client
