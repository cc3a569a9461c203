"""The tablet as a device of the home, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from protocol import (
    AlarmReceived,
    Channel,
    CheckIn,
    Command,
    CommandBody,
    Configure,
    Envelope,
    Panic,
    Prompt,
    PromptAnswer,
    command_name,
    command_topic,
    decode_ack,
    decode_event,
    decode_status,
    device_topic,
    encode,
    envelope,
    new_message_id,
)
from tablet_app.controller import SilentRinger, TabletController
from tablet_app.link import Broker, HubLink
from tablet_app.model import HelpState, Screen, TabletModel
from tablet_app.outbox import Outbox
from teleassist.localbroker import MosquittoBroker, free_port, write_mosquitto_config
from tests.instants import machine_now

pytestmark = pytest.mark.broker

DEVICE = "tablet-1"


def now() -> datetime:
    return machine_now()


class FixedHealth:
    def battery(self) -> int | None:
        return 77

    def rssi(self) -> int | None:
        return -55


class RecordingSpeaker:
    def __init__(self) -> None:
        self.spoken: list[str] = []

    def say(self, text: str, language: str) -> None:
        self.spoken.append(text)


@dataclass
class Hub:
    """A stand-in for the hub's MQTT side: records what the tablet sends, sends commands."""

    client: aiomqtt.Client
    messages: dict[str, list[bytes]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def command(self, body: CommandBody, *, device: str = DEVICE) -> str:
        message_id = new_message_id()
        message: Envelope[Command] = envelope(body, id=message_id, ts=now(), seq=0)  # type: ignore[arg-type]
        await self.client.publish(command_topic(device, command_name(body)), encode(message), qos=1)
        return message_id

    async def wait_for(
        self, channel: Channel, check: Callable[[bytes], bool], timeout: float = 20.0
    ) -> bytes:
        topic = device_topic(DEVICE, channel)
        async with asyncio.timeout(timeout):
            while True:
                for payload in self.messages.get(topic, []):
                    if check(payload):
                        return payload
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def hub_on(port: int, **kw: object) -> AsyncIterator[Hub]:
    async with aiomqtt.Client("127.0.0.1", port, **kw) as client:  # type: ignore[arg-type]
        hub = Hub(client)
        await client.subscribe(f"ta/v1/d/{DEVICE}/#", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                hub.messages.setdefault(str(message.topic), []).append(bytes(message.payload))  # type: ignore[arg-type]
                hub.arrived.set()

        task = asyncio.create_task(collect())
        try:
            yield hub
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class Tablet:
    model: TabletModel
    link: HubLink
    controller: TabletController
    task: asyncio.Task[None]
    outbox: Outbox


@contextlib.asynccontextmanager
async def tablet_on(
    port: int, state: Path, *, heartbeat_s: float = 60.0, online: bool = True
) -> AsyncIterator[Tablet]:
    model = TabletModel(language="en")
    outbox = Outbox(state / "outbox.db")
    link = HubLink(
        DEVICE,
        Broker(port=port, keepalive_s=5),
        outbox,
        health=FixedHealth(),
        heartbeat_s=heartbeat_s,
        retry_s=(0.1, 0.2),
    )
    controller = TabletController(
        model, link, speaker=RecordingSpeaker(), ringer=SilentRinger(), clock=now
    )
    task = asyncio.create_task(link.run())
    if online:
        async with asyncio.timeout(20):
            await link.wait_connected()
    try:
        yield Tablet(model, link, controller, task, outbox)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(30):  # a stuck stop must fail, not hang the suite
                await task
        outbox.close()


def event_is(kind: type) -> Callable[[bytes], bool]:
    return lambda payload: isinstance(decode_event(payload).body, kind)


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_im_ok_publishes_a_check_in(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with hub_on(mosquitto.port) as hub, tablet_on(mosquitto.port, tmp_path) as tablet:
        assert tablet.model.online
        tablet.model.press_ok(now())
        payload = await hub.wait_for(Channel.EVENT, event_is(CheckIn))
        message = decode_event(payload)
        assert message.body == CheckIn(source="tablet")
        await until(lambda: len(tablet.outbox) == 0)
        assert not tablet.model.check_in_queued


async def test_help_is_confirmed_by_the_centre(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with hub_on(mosquitto.port) as hub, tablet_on(mosquitto.port, tmp_path) as tablet:
        tablet.model.press_help(now())
        payload = await hub.wait_for(Channel.EVENT, event_is(Panic))
        panic = decode_event(payload)
        assert panic.body == Panic(source="tablet")
        assert tablet.model.help_state is HelpState.SENDING
        command_id = await hub.command(AlarmReceived(alarm_id="al-1", event_id=panic.id))
        await until(lambda: tablet.model.help_state is HelpState.RECEIVED)
        assert tablet.model.help_lines()[0] == "The centre has received your call."
        ack = await hub.wait_for(Channel.ACK, lambda p: decode_ack(p).body.command_id == command_id)
        assert decode_ack(ack).body.ok


async def test_prompt_answered_goes_back_as_prompt_answer(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async with hub_on(mosquitto.port) as hub, tablet_on(mosquitto.port, tmp_path) as tablet:
        prompt = Prompt(prompt_id="pr-7", kind="inactivity", expires=now() + timedelta(minutes=2))
        await hub.command(prompt)
        await until(lambda: tablet.model.screen is Screen.PROMPT)
        tablet.model.answer_prompt("fine", now())
        payload = await hub.wait_for(Channel.EVENT, event_is(PromptAnswer))
        assert decode_event(payload).body == PromptAnswer(prompt_id="pr-7", answer="fine")


async def test_configure_switches_language_and_heartbeat_reports_health(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async with (
        hub_on(mosquitto.port) as hub,
        tablet_on(mosquitto.port, tmp_path, heartbeat_s=0.2) as tablet,
    ):
        await hub.command(Configure(language="ca", heartbeat_s=3600))
        await until(lambda: tablet.model.language == "ca")
        assert tablet.model.t("home.ok") == "Estic bé"
        assert tablet.link.heartbeat_s == 3600
        beat = await hub.wait_for(
            Channel.STATUS, lambda p: decode_status(p).body.reason == "heartbeat"
        )
        status = decode_status(beat).body
        assert (status.state, status.battery, status.rssi) == ("online", 77, -55)


async def test_bad_commands_are_refused_and_the_link_keeps_working(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async with hub_on(mosquitto.port) as hub, tablet_on(mosquitto.port, tmp_path) as tablet:
        topic = command_topic(DEVICE, "configure")
        await hub.client.publish(topic, b"not json", qos=1)
        await hub.client.publish(topic, b'{"v":1,"id":"x","ts":"2026-01-01T00:00:00Z"}', qos=1)
        # a body whose name does not match the topic
        wrong = encode(envelope(Configure(language="es"), id="w1", ts=now(), seq=1))
        await hub.client.publish(command_topic(DEVICE, "ping"), wrong, qos=1)
        await hub.command(Configure(language="ca"))
        await until(lambda: tablet.model.language == "ca")
        rejected = tablet.link.stats.rejected
        assert rejected.get("malformed") == 1
        assert rejected.get("invalid", 0) + rejected.get("stale_timestamp", 0) == 1
        assert rejected.get("wrong_device") == 1
        assert tablet.model.language == "ca"  # the mismatched "es" was not applied


async def test_clean_shutdown_says_offline(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    async with hub_on(mosquitto.port) as hub:
        async with tablet_on(mosquitto.port, tmp_path):
            await hub.wait_for(Channel.STATUS, lambda p: decode_status(p).body.state == "online")
        payload = await hub.wait_for(
            Channel.STATUS, lambda p: decode_status(p).body.reason == "shutdown"
        )
        assert decode_status(payload).body.state == "offline"


async def test_offline_help_is_queued_on_disk_retried_and_delivered(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "b").mkdir()
    broker = MosquittoBroker(port, write_mosquitto_config(tmp_path / "b", port))
    try:
        # the broker is down from the start: nothing can be sent
        async with tablet_on(port, tmp_path / "tablet", online=False) as tablet:
            tablet.model.press_help(now())
            tablet.model.press_ok(now())
            assert tablet.model.help_state is HelpState.WAITING_NETWORK
            assert tablet.model.check_in_queued
            await until(lambda: tablet.model.help_attempts >= 3)
            assert tablet.model.help_lines()[0] == "We cannot reach the centre now."
            assert len(tablet.outbox) == 2
        # the app was closed while offline: the queue is on disk
        assert len(Outbox(tmp_path / "tablet" / "outbox.db")) == 2
        broker.start()
        async with hub_on(port) as hub, tablet_on(port, tmp_path / "tablet") as tablet:
            panic = await hub.wait_for(Channel.EVENT, event_is(Panic))
            check_in = await hub.wait_for(Channel.EVENT, event_is(CheckIn))
            # sent in the order pressed, with the time they were pressed
            assert decode_event(panic).seq < decode_event(check_in).seq
            await until(lambda: len(tablet.outbox) == 0)
    finally:
        broker.stop()


async def test_losing_the_broker_shows_offline_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "b").mkdir()
    broker = MosquittoBroker(port, write_mosquitto_config(tmp_path / "b", port))
    broker.start()
    try:
        async with tablet_on(port, tmp_path) as tablet:
            assert tablet.model.online
            broker.kill()
            await until(lambda: not tablet.model.online)
            tablet.model.press_help(now())
            assert tablet.model.help_state is HelpState.WAITING_NETWORK
            broker.start()
            await until(lambda: tablet.model.online)
            # delivered in the same session once the broker is back (PUBACK received)
            await until(lambda: len(tablet.outbox) == 0)
            assert tablet.model.help_state is HelpState.SENDING
            assert tablet.link.stats.connects == 2
    finally:
        broker.stop()
