"""A DC-09 transmitter for the tests, written from ANSI/SIA DC-09 (not from the receiver).

It builds frames the way a unit does (CRC-16/ARC computed bit by bit, the length in hex,
``"ID"seq R L #acct [``, AES-CBC with a zero IV over pad ``|`` data ``]`` timestamp), sends
them over TCP or UDP and reads the receiver's answer.
"""

from __future__ import annotations

import asyncio
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_PAD = "".join(c for c in string.ascii_letters + string.digits + "!$%&()*+,-.:;<=>?@^_~")


def crc_arc(data: bytes) -> int:
    """CRC-16/ARC: reflected polynomial 0xA001, initial 0, bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def _aes(key: bytes, plain: bytes, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(plain) + worker.finalize()


@dataclass
class Unit:
    """One unit's identity and its sequence counter (0001 to 9999, then 0001 again)."""

    account: str
    prefix: str = "1"
    receiver: str | None = "1"
    key: bytes | None = None
    seq: int = 0

    def next_seq(self) -> str:
        self.seq = self.seq % 9999 + 1
        return f"{self.seq:04d}"

    def frame(
        self,
        token: str,
        event: str,
        at: datetime | None,
        seq: str | None = None,
        *,
        account: str | None = None,
        key: bytes | None = None,
    ) -> bytes:
        """``token`` (SIA-DCS, ADM-CID, NULL) with ``event`` ("1101 01 001", "Nri1/MA1", "")."""
        seq = seq or self.next_seq()
        key = key or self.key
        account = account or self.account
        data = (f"#{account}|{event}" if event else "") + "]" + (stamp(at) if at else "")
        if key is not None:
            size = 16 - (len(data) + 1) % 16 or 16
            pad = "".join(random.choice(_PAD) for _ in range(size))
            data = _aes(key, (pad + "|" + data).encode()).hex().upper()
        head = f'"{"*" if key else ""}{token}"{seq}'
        head += (f"R{self.receiver}" if self.receiver else "") + f"L{self.prefix}#{account}["
        message = (head + data).encode()
        return b"\n%04X%04X%s\r" % (crc_arc(message), len(message), message)


@dataclass
class Answer:
    """What the receiver said."""

    token: str
    seq: str
    encrypted: bool
    timestamp: datetime | None
    raw: bytes


def read_answer(raw: bytes, key: bytes | None = None) -> Answer:
    """Check an answer's CRC and length, decrypt it if encrypted, read its timestamp."""
    assert raw.startswith(b"\n"), raw
    assert raw.endswith(b"\r"), raw
    body = raw[1:-1]
    message = body[8:]
    assert int(body[4:8], 16) == len(message), raw
    assert int(body[:4], 16) == crc_arc(message), raw
    text = message.decode()
    encrypted = text[1] == "*"
    token = text[2 if encrypted else 1 : text.index('"', 1)]
    seq = text[text.index('"', 1) + 1 :][:4]
    rest = text[text.index("[") + 1 :]
    if encrypted:
        assert key is not None
        plain = _aes(key, bytes.fromhex(rest), decrypt=True).decode()
        rest = plain[plain.index("|") + 1 :]
    when = None
    if "_" in rest:
        when = datetime.strptime(rest[rest.index("_") + 1 :], "%H:%M:%S,%m-%d-%Y").replace(
            tzinfo=UTC
        )
    return Answer(token, seq, encrypted, when, raw)


class TcpLink:
    """A unit's TCP connection to the receiver."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> TcpLink:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, frame: bytes, key: bytes | None = None) -> Answer:
        self.writer.write(frame)
        await self.writer.drain()
        async with asyncio.timeout(30):
            return read_answer(await self.reader.readuntil(b"\r"), key)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


class _Catch(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.answers.put_nowait(data)


class UdpLink:
    """A unit's UDP socket (from ``source``, a loopback address)."""

    def __init__(self, transport: asyncio.DatagramTransport, catch: _Catch) -> None:
        self.transport = transport
        self.catch = catch

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> UdpLink:
        loop = asyncio.get_running_loop()
        transport, catch = await loop.create_datagram_endpoint(
            _Catch, local_addr=(source, 0), remote_addr=("127.0.0.1", port)
        )
        return cls(transport, catch)

    def post(self, frame: bytes) -> None:
        self.transport.sendto(frame)

    async def send(self, frame: bytes, key: bytes | None = None) -> Answer:
        self.post(frame)
        async with asyncio.timeout(30):
            return read_answer(await self.catch.answers.get(), key)

    def close(self) -> None:
        self.transport.close()
