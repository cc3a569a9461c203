"""Helpers for ingestion tests: a paho publisher, seeding, polling, a recording sink."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import msgspec
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Device, Home, Resident
from hub.ingest.events import IngestedEvent
from protocol import Channel, device_topic, encode, envelope, new_message_id
from tests.instants import machine_now


class Publisher:
    """A device-side paho client (network thread) for tests.

    Messages are stamped with ``clock``: the hub's clock of the test. The default, the
    machine's clock, is for hubs created without a clock of their own (they read the
    machine's clock too, and the hub rejects a timestamp far from its own time).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str = "",
        clock: Callable[[], datetime] = machine_now,
    ):
        self.clock = clock
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}"
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.connect(host, port)
        self.client.loop_start()
        self.seq: dict[str, int] = {}

    def raw(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish bytes and wait until the broker has them."""
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=10)

    def send(
        self,
        device_id: str,
        channel: Channel,
        body: msgspec.Struct,
        *,
        qos: int = 1,
        seq: int | None = None,
        message_id: str | None = None,
        ts: datetime | None = None,
    ) -> str:
        """Publish a contract message; return its id."""
        if seq is None:
            seq = self.seq.get(device_id, -1) + 1
        self.seq[device_id] = seq
        mid = message_id or new_message_id()
        msg = envelope(body, id=mid, ts=ts or self.clock(), seq=seq)
        self.raw(device_topic(device_id, channel), encode(msg), qos)
        return mid

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


async def seed_home(
    sessionmaker: async_sessionmaker[AsyncSession], devices: dict[str, str], **home: Any
) -> tuple[int, int]:
    """A home with one resident and ``devices`` (id → type); return (home id, resident id)."""
    async with sessionmaker() as session:
        row = Home(address=home.get("address", "Carrer de Prova 1"), abss_area="T1")
        resident = Resident(home=row, name="Test Resident")
        session.add_all([row, resident])
        for device_id, kind in devices.items():
            session.add(Device(id=device_id, home=row, type=kind))
        await session.commit()
        return row.id, resident.id


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 30.0
) -> None:
    """Wait until ``check()`` is true (polling), or fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


class RecordingSink:
    """An EventSink that keeps what it gets; ``gate`` can hold it (back-pressure tests)."""

    def __init__(self) -> None:
        self.events: list[IngestedEvent] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle(self, event: IngestedEvent) -> None:
        await self.gate.wait()
        self.events.append(event)


class RecordingTransport:
    """The ingester's side of a broker connection: records acknowledgements and whether
    reading is paused (back-pressure), without a socket."""

    def __init__(self) -> None:
        self.acked: list[int] = []
        self.paused = False

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
