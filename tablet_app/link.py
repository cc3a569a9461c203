"""The tablet as a device of the home: MQTT to the hub through the wire contract.

Publishes its events (check-in, panic, prompt answers) on ``ta/v1/d/{id}/event`` through
the on-disk :class:`~tablet_app.outbox.Outbox`, its presence and health on ``status``
(retained; the broker's Last Will says ``offline``), acknowledges commands on ``ack``,
and hands every valid command from ``ta/v1/c/{id}/+`` to the app. It reconnects forever
with a capped back-off and reports each failed attempt, so Help can say "Trying again".
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiomqtt

from protocol import (
    ALARM_EVENT_TYPES,
    Ack,
    Channel,
    CommandBody,
    CommandState,
    DecodeError,
    EventBody,
    Status,
    TopicError,
    command_name,
    command_subscription,
    decode_command,
    device_topic,
    encode,
    envelope,
    event_type,
    new_message_id,
    parse_command_topic,
)
from tablet_app.outbox import Outbox

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is and how this device signs in to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30


class DeviceHealth(Protocol):
    """Where the heartbeat's battery and signal figures come from."""

    def battery(self) -> int | None:
        """Battery charge in percent, if the device has one."""

    def rssi(self) -> int | None:
        """Wi-Fi signal in dBm, if known."""


class SystemHealth:
    """Linux/Android figures from ``/sys`` and ``/proc`` (``None`` where absent)."""

    def __init__(self, power_dir: Path = Path("/sys/class/power_supply")) -> None:
        self._power_dir = power_dir

    def battery(self) -> int | None:
        """The first battery's ``capacity``."""
        for capacity in sorted(self._power_dir.glob("*/capacity")):
            try:
                return max(0, min(100, int(capacity.read_text().strip())))
            except (OSError, ValueError):
                continue
        return None

    def rssi(self) -> int | None:
        """The signal level of the first wireless interface in ``/proc/net/wireless``."""
        try:
            lines = Path("/proc/net/wireless").read_text().splitlines()[2:]
        except OSError:
            return None
        for line in lines:
            parts = line.split()
            if len(parts) >= 4:
                try:
                    level = int(float(parts[3].rstrip(".")))
                except ValueError:
                    continue
                return max(-150, min(0, level))
        return None


@dataclass
class LinkCallbacks:
    """What the link tells the app."""

    # The command's body and its envelope id (what an Ack names).
    on_command: Callable[[CommandBody, str], None]
    on_online: Callable[[bool], None] = lambda _online: None
    on_delivered: Callable[[str], None] = lambda _message_id: None
    on_retry: Callable[[], None] = lambda: None


@dataclass
class LinkStats:
    """Counters for logs and tests."""

    connects: int = 0
    published: int = 0
    commands: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


class HubLink:
    """One device's MQTT session with reconnects, store-and-forward and heartbeats."""

    def __init__(
        self,
        device_id: str,
        mqtt: Broker,
        outbox: Outbox,
        callbacks: LinkCallbacks | None = None,
        *,
        health: DeviceHealth | None = None,
        heartbeat_s: float = 60.0,
        retry_s: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0),
        clock: Clock = utc_now,
        firmware: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.mqtt = mqtt
        self.outbox = outbox
        self.callbacks = callbacks or LinkCallbacks(on_command=lambda _body, _id: None)
        self.health = health or SystemHealth()
        self.heartbeat_s = heartbeat_s
        self.retry_s = tuple(retry_s) or (1.0,)
        self.clock = clock
        self.firmware = firmware
        self.stats = LinkStats()
        self._wake = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        """True while a session with the broker is up."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once connected (bound it with ``asyncio.timeout``)."""
        await self._connected.wait()

    def send(self, message_id: str, body: EventBody) -> None:
        """Store ``body`` as event ``message_id`` and publish it as soon as possible."""
        payload = encode(
            envelope(body, id=message_id, ts=self.clock(), seq=self.outbox.next_sequence())
        )
        topic = device_topic(self.device_id, Channel.EVENT)
        self.outbox.put(message_id, topic, payload, keep=event_type(body) in ALARM_EVENT_TYPES)
        self._wake.set()

    def report(self, command_id: str, state: CommandState, until: datetime | None = None) -> None:
        """Tell the hub what became of its command ``command_id`` (an ``Ack`` with ``state``,
        docs/adr/0163), through the outbox: a tap made offline reaches the centre later."""
        ack = Ack(command_id=command_id, ok=True, state=state, until=until)
        message_id = new_message_id()
        payload = encode(
            envelope(ack, id=message_id, ts=self.clock(), seq=self.outbox.next_sequence())
        )
        self.outbox.put(message_id, device_topic(self.device_id, Channel.ACK), payload)
        self._wake.set()

    def set_heartbeat(self, seconds: float) -> None:
        """A new heartbeat period (from the hub's ``Configure``), used from the next beat."""
        self.heartbeat_s = seconds

    # ------------------------------------------------------------ session

    async def run(self) -> None:
        """Connect, serve, and reconnect forever; cancel to stop (says goodbye first)."""
        failures = 0
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as err:
                _LOGGER.info("hub link down: %s", err)
            if self._connected.is_set():
                failures = 0
            self._set_offline()
            delay = self.retry_s[min(failures, len(self.retry_s) - 1)]
            failures += 1
            self.callbacks.on_retry()
            await asyncio.sleep(delay)

    def _set_offline(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            self.callbacks.on_online(False)
        self._client = None

    def _status(self, state: str, reason: str) -> bytes:
        body = Status(
            state=state,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            firmware=self.firmware,
            battery=self.health.battery() if state == "online" else None,
            rssi=self.health.rssi() if state == "online" else None,
        )
        return encode(
            envelope(body, id=new_message_id(), ts=self.clock(), seq=self.outbox.next_sequence())
        )

    def _client_for_session(self) -> aiomqtt.Client:
        status_topic = device_topic(self.device_id, Channel.STATUS)
        will = aiomqtt.Will(status_topic, self._status("offline", "will"), qos=1, retain=True)
        tls = ssl.create_default_context(cafile=self.mqtt.ca_file) if self.mqtt.tls else None
        return aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username,
            password=self.mqtt.password,
            # The client id is the device id (docs/protocol.md); the broker enforces it.
            identifier=self.device_id,
            will=will,
            keepalive=self.mqtt.keepalive_s,
            tls_context=tls,
            timeout=10,
        )

    async def _session(self) -> None:
        async with self._client_for_session() as client:
            self._client = client
            status_topic = device_topic(self.device_id, Channel.STATUS)
            await client.subscribe(command_subscription(self.device_id), qos=1)
            await client.publish(status_topic, self._status("online", "connected"), 1, True)
            self.stats.connects += 1
            self._connected.set()
            self.callbacks.on_online(True)
            _LOGGER.info("hub link up as %s", self.device_id)
            # Plain tasks + asyncio.wait rather than a TaskGroup: on Python 3.11 a failing
            # TaskGroup child leaves the parent's cancel count raised, which later turns a
            # stop request into a swallowed timeout (the link then never stops).
            tasks = [
                asyncio.create_task(self._flush(client)),
                asyncio.create_task(self._heartbeat(client)),
                asyncio.create_task(self._receive(client)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            except asyncio.CancelledError:
                await self._goodbye(client, status_topic)
                raise
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                task.result()  # re-raise the MqttError that ended the session

    async def _goodbye(self, client: aiomqtt.Client, status_topic: str) -> None:
        # A clean shutdown is not a failure: say so, so the hub does not raise an alarm.
        try:
            async with asyncio.timeout(2):
                await client.publish(status_topic, self._status("offline", "shutdown"), 1, True)
        except (aiomqtt.MqttError, TimeoutError):
            _LOGGER.debug("could not publish the shutdown status")

    async def _flush(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            for item in self.outbox.pending():
                await client.publish(item.topic, item.payload, qos=1)
                self.outbox.remove(item.message_id)
                self.stats.published += 1
                self.callbacks.on_delivered(item.message_id)
            await self._wake.wait()

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        status_topic = device_topic(self.device_id, Channel.STATUS)
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await client.publish(status_topic, self._status("online", "heartbeat"), 1, True)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                self._reject("malformed", str(message.topic), "payload is not bytes")
                continue
            try:
                topic = parse_command_topic(str(message.topic))
                command = decode_command(bytes(payload), now=self.clock())
            except (TopicError, DecodeError) as err:
                self._reject(err.reason.value, str(message.topic), err.detail)
                continue
            if topic.device_id != self.device_id or topic.name != command_name(command.body):
                self._reject("wrong_device", str(message.topic), "topic does not match the body")
                continue
            self.stats.commands += 1
            ack = Ack(command_id=command.id, ok=True, state="received")
            ack_payload = encode(
                envelope(ack, id=new_message_id(), ts=self.clock(), seq=self.outbox.next_sequence())
            )
            try:
                self.callbacks.on_command(command.body, command.id)
            except Exception as err:  # a bug in the app must not kill the link
                _LOGGER.exception("command %s failed", topic.name)
                ack = Ack(command_id=command.id, ok=False, error=str(err)[:200])
                ack_payload = encode(
                    envelope(
                        ack, id=new_message_id(), ts=self.clock(), seq=self.outbox.next_sequence()
                    )
                )
            await client.publish(device_topic(self.device_id, Channel.ACK), ack_payload, qos=1)

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + 1
        _LOGGER.warning("command on %s refused (%s): %s", topic, reason, detail)
