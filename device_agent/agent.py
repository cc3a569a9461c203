"""The gateway agent: local rules, store and forward, MQTT session, commands.

Everything the agent sends goes through the :class:`~device_agent.outbox.Outbox`
(see its docstring for the policy); a sender task drains it in order whenever the
broker is reachable. The session reconnects with jittered exponential back-off and
leaves a retained ``offline`` Last Will on the gateway's status topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiomqtt

import protocol
from config import MqttSettings
from device_agent.backoff import Backoff
from device_agent.clock import Clock
from device_agent.commands import Announce, RuntimeSettings, Say, handle_command
from device_agent.local_rules import FallCancelWindow
from device_agent.outbox import Outbox, Priority, QueuedMessage
from device_agent.settings import AgentSettings
from device_agent.sounder import Sounder
from device_agent.sources.base import Reading, SensorSource
from protocol.ratelimit import AGENT_EVENTS, AGENT_TELEMETRY, NEVER_DROPPED, FloodGuard

_LOGGER = logging.getLogger(__name__)
_BATCH = 50
# How often held alarm events are checked for a confirmation overdue (docs/adr/0125).
_RESEND_CHECK_S = 1.0
# Devices that only speak when the resident acts: silence is not a fault. (A pill box may
# report only when opened; zigbee2mqtt's availability still says when it is gone, and a
# dose it does not confirm is a missed dose at the hub anyway.)
_UNSUPERVISED = frozenset({"tablet", "button", "dispenser"})


@dataclass
class AgentCounters:
    """What the agent did, for logs, tests and the status page."""

    queued: int = 0
    published: int = 0
    resent: int = 0  # re-send rounds of alarm events the hub had not confirmed
    connects: int = 0
    falls_confirmed: int = 0
    falls_cancelled: int = 0
    commands_ok: int = 0
    commands_rejected: int = 0
    # Readings dropped because their device was flooding (protocol.ratelimit, ADR 0116).
    throttled: int = 0


class Agent:
    """One home gateway. ``await agent.run()`` until :meth:`stop` (or cancellation)."""

    def __init__(
        self,
        settings: AgentSettings,
        mqtt: MqttSettings,
        *,
        outbox: Outbox,
        clock: Clock,
        sounder: Sounder,
        sources: Sequence[SensorSource] = (),
        backoff: Backoff | None = None,
    ) -> None:
        protocol.validate_device_id(settings.gateway_id)
        self.settings = settings
        self.mqtt = mqtt
        self.outbox = outbox
        self.clock = clock
        self.sounder = sounder
        self.sources = list(sources)
        self.runtime = RuntimeSettings(
            supervision_s=settings.supervision_s,
            heartbeat_s=settings.heartbeat_s,
            fall_cancel_s=settings.fall_cancel_s,
            language=settings.language,
        )
        self.backoff = backoff or Backoff(settings.backoff_base_s, settings.backoff_cap_s)
        self.falls = FallCancelWindow(timedelta(seconds=settings.fall_cancel_s))
        self.counters = AgentCounters()
        self.connected = asyncio.Event()
        self.reminders: dict[str, protocol.Reminder] = {}
        self._queued = asyncio.Event()
        self._empty = asyncio.Event()
        self._fall_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._enqueue_lock = asyncio.Lock()
        self._client: aiomqtt.Client | None = None
        # Devices whose event confirmations this session is subscribed to.
        self._confirm_subscribed: set[str] = set()
        self._last_seen: dict[str, tuple[datetime, str, str | None]] = {}
        self._offline: set[str] = set()
        # A chattering door or a stuck sensor is held back here, before the outbox and the
        # network; the hub holds back a gateway that does not (docs/adr/0116).
        self.flood_events = FloodGuard(AGENT_EVENTS)
        self.flood_telemetry = FloodGuard(AGENT_TELEMETRY)

    @property
    def gateway_id(self) -> str:
        """This gateway's device id (also its MQTT username and client id)."""
        return self.settings.gateway_id

    # ------------------------------------------------------------------ readings

    async def submit(self, reading: Reading) -> None:
        """Take one reading from a source: apply local rules, then queue it."""
        ts = reading.ts or self.clock.now()
        body = reading.body
        room = reading.room if reading.room is not None else getattr(body, "room", None)
        if not isinstance(body, protocol.Status):
            await self._seen(reading.device_id, reading.device_type, room, ts)
        if isinstance(body, protocol.Fall):
            self.falls.detected(
                protocol.new_message_id(), ts, reading.device_id, room, body.confidence
            )
            self._fall_changed.set()
            await self.sounder.announce("fall_detected", self.runtime.language)
            return
        if isinstance(body, protocol.FallCancelled) or (
            isinstance(body, protocol.CheckIn) and body.source == "button"
        ):
            for fall in self.falls.cancel(ts):
                self.counters.falls_cancelled += 1
                await self.sounder.announce("fall_cancelled", self.runtime.language)
                await self._enqueue(
                    fall.device_id,
                    protocol.FallCancelled(room=fall.room, fall_id=fall.fall_id),
                    ts,
                )
            if isinstance(body, protocol.FallCancelled):
                return  # a cancel press is not news for the hub on its own
        if isinstance(body, protocol.Panic):
            await self.sounder.announce("panic", self.runtime.language)
        elif isinstance(body, protocol.Smoke) and not body.cleared:
            await self.sounder.announce("smoke", self.runtime.language)
        elif isinstance(body, protocol.CarbonMonoxide) and not body.cleared:
            await self.sounder.announce("co", self.runtime.language)
        elif isinstance(body, protocol.Gas) and not body.cleared:
            await self.sounder.announce("gas", self.runtime.language)
        if await self._flooding(reading.device_id, body, ts):
            return
        await self._enqueue(reading.device_id, body, ts)

    async def _flooding(
        self,
        device_id: str,
        body: protocol.Event | protocol.Telemetry | protocol.Status,
        ts: datetime,
    ) -> bool:
        """Whether this reading is dropped because its device sends too fast; the first
        drop of a flood queues a ``device_fault`` (``flooding``) for the operator instead.

        Counted on the readings' own times; alarm-capable and routine events in separate
        buckets, and a panic, a fall or smoke never dropped (``protocol.ratelimit``).
        """
        if isinstance(body, protocol.Status):
            return False
        if isinstance(body, protocol.Telemetry):
            guard, key, what, never_drop = self.flood_telemetry, device_id, "readings", False
        else:
            kind = protocol.event_type(body)
            alarm = kind in protocol.ALARM_EVENT_TYPES
            guard, key, what = self.flood_events, f"{device_id}/{'a' if alarm else 'r'}", "events"
            never_drop = kind in NEVER_DROPPED
        decision = guard.take(key, ts.timestamp(), never_drop=never_drop)
        if decision.flooding_started:
            _LOGGER.warning("device %s is flooding (%s): dropping past the rate", device_id, what)
            await self._enqueue(device_id, protocol.DeviceFault(fault="flooding", detail=what), ts)
        if decision.allowed:
            return False
        self.counters.throttled += 1
        return True

    async def _seen(self, device_id: str, device_type: str, room: str | None, ts: datetime) -> None:
        self._last_seen[device_id] = (ts, device_type, room)
        if device_id in self._offline:
            self._offline.discard(device_id)
            await self._enqueue(device_id, protocol.Status(state="online", reason="connected"), ts)

    async def _enqueue(
        self,
        device_id: str,
        body: protocol.Event | protocol.Telemetry | protocol.Status,
        ts: datetime,
    ) -> None:
        if isinstance(body, protocol.Telemetry):
            channel, priority = protocol.Channel.TELEMETRY, Priority.TELEMETRY
            qos, retain = self.settings.telemetry_qos, False
        elif isinstance(body, protocol.Status):
            channel, priority, qos, retain = protocol.Channel.STATUS, Priority.EVENT, 1, True
        else:
            alarm = protocol.event_type(body) in protocol.ALARM_EVENT_TYPES
            channel = protocol.Channel.EVENT
            priority = Priority.ALARM if alarm else Priority.EVENT
            qos, retain = 1, False
        topic = protocol.device_topic(device_id, channel)
        # One at a time, so sequence numbers are queued in the order they are given.
        async with self._enqueue_lock:
            seq = await asyncio.to_thread(self.outbox.next_sequence, device_id)
            message = protocol.envelope(body, id=protocol.new_message_id(), ts=ts, seq=seq)
            await asyncio.to_thread(
                self.outbox.put,
                topic,
                protocol.encode(message),
                qos=qos,
                priority=priority,
                retain=retain,
            )
        self.counters.queued += 1
        self._empty.clear()
        self._queued.set()

    async def _ack(self, ack: protocol.Ack) -> None:
        topic = protocol.device_topic(self.gateway_id, protocol.Channel.ACK)
        async with self._enqueue_lock:
            seq = await asyncio.to_thread(self.outbox.next_sequence, self.gateway_id)
            message = protocol.envelope(
                ack, id=protocol.new_message_id(), ts=self.clock.now(), seq=seq
            )
            await asyncio.to_thread(
                self.outbox.put, topic, protocol.encode(message), qos=1, priority=Priority.EVENT
            )
        self._empty.clear()
        self._queued.set()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Run every task until :meth:`stop`; a crashed task stops the agent."""
        tasks = [
            asyncio.create_task(self._connection_loop(), name="agent-connection"),
            asyncio.create_task(self._fall_timer(), name="agent-falls"),
            asyncio.create_task(self._heartbeat(), name="agent-heartbeat"),
            *(
                asyncio.create_task(source.run(self.submit), name=f"agent-source-{i}")
                for i, source in enumerate(self.sources)
            ),
        ]
        stopper = asyncio.create_task(self._stop.wait(), name="agent-stop")
        pending: set[asyncio.Task[object]] = {stopper, *tasks}
        try:
            while not stopper.done():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    # A source may simply end (a file, a finished simulation); a task
                    # that fails stops the agent, loudly.
                    if task is not stopper and not task.cancelled() and task.exception():
                        raise task.exception()  # type: ignore[misc]
            await self._say_goodbye()
        finally:
            for task in [stopper, *tasks]:
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)

    def stop(self) -> None:
        """Ask :meth:`run` to publish a clean ``offline`` status and return."""
        self._stop.set()

    async def wait_drained(self) -> None:
        """Wait until the outbox is empty (every message acknowledged by the broker)."""
        while len(self.outbox):
            self._empty.clear()
            if not len(self.outbox):
                return
            await self._empty.wait()

    async def _say_goodbye(self) -> None:
        client = self._client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            await client.publish(
                self._status_topic(),
                self._status(protocol.Status(state="offline", reason="shutdown")),
                qos=1,
                retain=True,
                timeout=self.settings.publish_timeout_s,
            )

    # ------------------------------------------------------------------ MQTT

    def _status_topic(self) -> str:
        return protocol.device_topic(self.gateway_id, protocol.Channel.STATUS)

    def _status(self, status: protocol.Status) -> bytes:
        # Status messages are not queued (a stale presence is worthless), but they
        # share the gateway's sequence so the hub sees one ordered stream.
        seq = self.outbox.next_sequence(self.gateway_id)
        firmware = protocol.Status(
            state=status.state, reason=status.reason, firmware=self.settings.firmware
        )
        return protocol.encode(
            protocol.envelope(firmware, id=protocol.new_message_id(), ts=self.clock.now(), seq=seq)
        )

    async def _connection_loop(self) -> None:
        while True:
            try:
                await self._session()
            except* (aiomqtt.MqttError, TimeoutError, OSError) as group:
                _LOGGER.warning("broker connection lost: %s", group.exceptions[0])
            self.connected.clear()
            self._client = None
            delay = self.backoff.next_delay()
            _LOGGER.info("reconnecting in %.2f s", delay)
            self._wake.clear()
            # asyncio.timeout: 3.11's wait_for can swallow a cancellation racing the wake.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def reconnect_now(self) -> None:
        """Cut the current back-off short (a network-up hook, or a test)."""
        self._wake.set()

    def _tls(self) -> aiomqtt.TLSParameters | None:
        if not self.mqtt.tls:
            return None
        return aiomqtt.TLSParameters(ca_certs=self.mqtt.ca_file, cert_reqs=ssl.CERT_REQUIRED)

    async def _session(self) -> None:
        will = aiomqtt.Will(
            self._status_topic(),
            self._status(protocol.Status(state="offline", reason="will")),
            qos=1,
            retain=True,
        )
        async with aiomqtt.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=self.mqtt.username or self.gateway_id,
            password=self.mqtt.password,
            identifier=self.gateway_id,
            will=will,
            keepalive=self.mqtt.keepalive_s,
            clean_session=False,
            tls_params=self._tls(),
            timeout=self.settings.publish_timeout_s,
        ) as client:
            # The sender keeps a batch of publishes in flight on purpose.
            client.pending_calls_threshold = 2 * _BATCH
            self.backoff.reset()
            self.counters.connects += 1
            await client.subscribe(protocol.command_subscription(self.gateway_id), qos=1)
            # The hub confirms alarm events on the command topic of the device that sent them:
            # the sender subscribes to each relayed sensor's ``event_received`` before its first
            # event in this session (not ``ta/v1/c/+/...``: a broker that checks subscriptions,
            # like RabbitMQ, refuses a filter over other devices' topics; docs/adr/0146).
            self._confirm_subscribed = {self.gateway_id}
            await client.publish(
                self._status_topic(),
                self._status(protocol.Status(state="online", reason="connected")),
                qos=1,
                retain=True,
            )
            self._client = client
            self.connected.set()
            _LOGGER.info(
                "connected to %s:%d as %s", self.mqtt.host, self.mqtt.port, self.gateway_id
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(self._sender(client))
                group.create_task(self._commands(client))
                group.create_task(self._resend())

    async def _sender(self, client: aiomqtt.Client) -> None:
        while True:
            batch = await asyncio.to_thread(self.outbox.peek, _BATCH)
            if not batch:
                self._empty.set()
                self._queued.clear()
                await self._queued.wait()
                continue
            for device_id in sorted(_event_senders(batch) - self._confirm_subscribed):
                await client.subscribe(protocol.command_topic(device_id, "event_received"), qos=1)
                self._confirm_subscribed.add(device_id)
            # Publishes start in queue order on one connection, so the broker keeps
            # the order; rows are removed only once every PUBACK arrived.
            await asyncio.gather(
                *(
                    client.publish(
                        m.topic,
                        m.payload,
                        qos=m.qos,
                        retain=m.retain,
                        timeout=self.settings.publish_timeout_s,
                    )
                    for m in batch
                )
            )
            # Alarm events stay held until the hub confirms them (docs/adr/0125).
            await asyncio.to_thread(
                partial(self.outbox.remove, now=self.clock.now().timestamp()),
                [m.id for m in batch],
            )
            self.counters.published += len(batch)

    async def _resend(self) -> None:
        """Put back in the queue the alarm events the hub has not confirmed in time."""
        while True:
            await self.clock.sleep(_RESEND_CHECK_S)
            now = self.clock.now().timestamp()
            if await asyncio.to_thread(self.outbox.requeue_due, now):
                self.counters.resent += 1
                self._empty.clear()
                self._queued.set()

    async def _confirmed(self, topic: str, payload: bytes) -> None:
        """``event_received``: the hub has the alarm event; stop re-sending it."""
        try:
            parsed = protocol.parse_command_topic(topic)
            message = protocol.decode_command(payload, now=self.clock.now())
        except protocol.ProtocolError as err:
            _LOGGER.warning("event_received not understood: %s", err)
            return
        if isinstance(message.body, protocol.EventReceived):
            await asyncio.to_thread(self.outbox.confirm, parsed.device_id, message.body.event_id)

    async def _commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            if str(message.topic).endswith("/event_received"):
                # Not a command to apply and never answered with an Ack.
                await self._confirmed(str(message.topic), payload)
                continue
            outcome = handle_command(
                str(message.topic),
                payload,
                gateway_id=self.gateway_id,
                settings=self.runtime,
                firmware=self.settings.firmware,
                now=self.clock.now(),
            )
            if outcome.errors:
                self.counters.commands_rejected += 1
            else:
                self.counters.commands_ok += 1
            if outcome.settings != self.runtime:
                self.runtime = outcome.settings
                self.falls.window = timedelta(seconds=self.runtime.fall_cancel_s)
            if outcome.reminder is not None:
                self.reminders[outcome.reminder.reminder_id] = outcome.reminder
            for speech in outcome.speech:
                if isinstance(speech, Say):
                    await self.sounder.say(speech.text, speech.language)
                elif isinstance(speech, Announce):
                    await self.sounder.announce(speech.phrase, self.runtime.language)
            if outcome.ack is not None:
                await self._ack(outcome.ack)

    # ------------------------------------------------------------------ timers

    async def _fall_timer(self) -> None:
        while True:
            deadline = self.falls.next_deadline()
            if deadline is None:
                self._fall_changed.clear()
                await self._fall_changed.wait()
                continue
            delay = (deadline - self.clock.now()).total_seconds()
            # A millisecond past the deadline: the window is inclusive of its end.
            await self.clock.sleep(max(delay, 0.0) + 0.001)
            for fall in self.falls.due(self.clock.now()):
                self.counters.falls_confirmed += 1
                await self._enqueue(
                    fall.device_id,
                    protocol.Fall(room=fall.room, confidence=fall.confidence),
                    fall.deadline(self.falls.window),
                )

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.runtime.heartbeat_s)
            now = self.clock.now()
            client = self._client
            if client is not None:
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await client.publish(
                        self._status_topic(),
                        self._status(protocol.Status(state="online", reason="heartbeat")),
                        qos=0,
                        retain=True,
                        timeout=self.settings.publish_timeout_s,
                    )
            await self._supervise(now)
            await self._due_reminders(now)

    async def _supervise(self, now: datetime) -> None:
        limit = timedelta(seconds=self.runtime.supervision_s)
        for device_id, (seen, device_type, _room) in list(self._last_seen.items()):
            if device_type in _UNSUPERVISED:
                continue
            if device_id not in self._offline and now - seen > limit:
                self._offline.add(device_id)
                _LOGGER.warning("sensor %s silent since %s: reporting it offline", device_id, seen)
                await self._enqueue(
                    device_id, protocol.Status(state="offline", reason="supervision"), now
                )

    async def _due_reminders(self, now: datetime) -> None:
        for reminder_id, reminder in list(self.reminders.items()):
            if reminder.due <= now:
                del self.reminders[reminder_id]
                await self.sounder.say(reminder.text, self.runtime.language)


def _event_senders(batch: list[QueuedMessage]) -> set[str]:
    """Devices that send an event in ``batch`` (their confirmations must be heard)."""
    senders = set()
    for message in batch:
        try:
            parsed = protocol.parse_device_topic(message.topic)
        except protocol.ProtocolError:
            continue
        if parsed.channel is protocol.Channel.EVENT:
            senders.add(parsed.device_id)
    return senders
