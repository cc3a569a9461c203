"""The agent against a real Mosquitto: store and forward, local rules, commands, Will."""

from __future__ import annotations

import asyncio
import random
import shutil
import threading
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

import protocol
import protocol.ratelimit
from device_agent.agent import Agent
from device_agent.backoff import Backoff
from device_agent.clock import ManualClock
from device_agent.outbox import Outbox
from device_agent.settings import AgentSettings
from device_agent.sounder import EspeakSounder, LogSounder
from device_agent.sources.base import Reading
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker, free_port, running_mosquitto
from tests.instants import machine_now

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
# Tests mix a fixed simulated time and the real clock: accept any timestamp.
_ANY_TIME = protocol.ClockPolicy(max_future=timedelta(days=3650), max_age=timedelta(days=3650))


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until ``check()`` is true (polling; generous timeout for a shared machine)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


class Collector:
    """A paho subscriber with a persistent session that keeps what it receives."""

    def __init__(self, port: int, topic: str = "ta/v1/#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.05, 0.5)
        self.topic = topic
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: paho.Client, *args: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def decoded(self, channel: protocol.Channel) -> list[protocol.Envelope[Any]]:
        with self._lock:
            items = list(self.messages)
        out = []
        for topic, payload, _ in items:
            if topic.startswith(protocol.DEVICE_ROOT) and topic.endswith("/" + channel.value):
                out.append(protocol.decode_for_channel(channel, payload, clock=_ANY_TIME))
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextmanager
def collector(port: int, topic: str = "ta/v1/#") -> Iterator[Collector]:
    c = Collector(port, topic)
    try:
        if not c.subscribed.wait(10):
            raise TimeoutError("collector did not subscribe")
        yield c
    finally:
        c.close()


def make_agent(
    tmp_path: Path, port: int, clock: ManualClock, gateway: str = "h1-gw", **settings: Any
) -> Agent:
    agent_settings = AgentSettings(
        gateway_id=gateway,
        queue_path=str(tmp_path / f"{gateway}.sqlite3"),
        **settings,
    )
    return Agent(
        agent_settings,
        MqttSettings(host="127.0.0.1", port=port, keepalive_s=5),
        outbox=Outbox(agent_settings.queue_path, agent_settings.queue_max_messages),
        clock=clock,
        sounder=LogSounder(),
        backoff=Backoff(base=0.05, cap=0.3, rng=random.Random(1)),
    )


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        async with asyncio.timeout(30):
            await task
        agent.outbox.close()


def _queued_bodies(agent: Agent) -> list[Any]:
    out = []
    for message in agent.outbox.peek(10_000):
        channel = protocol.parse_device_topic(message.topic).channel
        out.append(protocol.decode_for_channel(channel, message.payload, now=T0).body)
    return out


# ---------------------------------------------------------------- local rules, no network


async def test_fall_cancel_window_with_no_network(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    agent = make_agent(tmp_path, free_port(), clock)  # nothing listens there
    sounder = agent.sounder
    assert isinstance(sounder, LogSounder)
    async with running(agent):
        # 1. A fall nobody cancels: nothing for 30 s, then `fall`.
        await agent.submit(
            Reading("h1-fall-bathroom", protocol.Fall(room="bathroom", confidence=0.9))
        )
        await clock.advance(29)
        await asyncio.sleep(0.2)
        assert not [b for b in _queued_bodies(agent) if isinstance(b, protocol.Fall)]
        await clock.advance(2)
        await eventually(lambda: any(isinstance(b, protocol.Fall) for b in _queued_bodies(agent)))
        (fall_msg,) = [
            protocol.decode_event(m.payload, now=T0)
            for m in agent.outbox.peek(100)
            if m.topic.endswith("/event")
        ]
        assert fall_msg.ts == T0 + timedelta(seconds=30)
        assert fall_msg.body == protocol.Fall(room="bathroom", confidence=0.9)
        # 2. A fall cancelled with the button after 12 s: only `fall_cancelled`.
        detected = clock.now()
        await agent.submit(Reading("h1-pendant", protocol.Fall(room="living")))
        await clock.advance(12)
        await agent.submit(Reading("h1-pendant", protocol.FallCancelled()))
        await clock.advance(120)
        await asyncio.sleep(0.2)
        bodies = _queued_bodies(agent)
        assert sum(isinstance(b, protocol.Fall) for b in bodies) == 1
        (cancelled,) = [b for b in bodies if isinstance(b, protocol.FallCancelled)]
        assert cancelled.fall_id is not None
        assert cancelled.room == "living"
        assert agent.counters.falls_cancelled == 1
        assert detected < clock.now()
        # 3. Panic and smoke sound locally at once, with no broker at all.
        await agent.submit(Reading("h1-pendant", protocol.Panic()))
        await agent.submit(Reading("h1-smoke", protocol.Smoke(room="kitchen")))
        spoken = [text for text, _ in sounder.spoken]
        assert any("Alarma enviada" in t for t in spoken)
        assert any("fum" in t for t in spoken)
        assert any("caiguda" in t for t in spoken)
        assert not agent.connected.is_set()


async def test_check_in_button_also_cancels_and_a_late_press_does_not(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    agent = make_agent(tmp_path, free_port(), clock, fall_cancel_s=10)
    async with running(agent):
        await agent.submit(Reading("h1-fall", protocol.Fall()))
        await clock.advance(5)
        await agent.submit(Reading("h1-ok", protocol.CheckIn(source="button")))
        await eventually(lambda: len(agent.outbox) == 2)
        kinds = [protocol.event_type(b) for b in _queued_bodies(agent)]
        assert kinds == ["fall_cancelled", "check_in"]
        await agent.submit(Reading("h1-fall", protocol.Fall()))
        await clock.advance(11)
        await eventually(lambda: len(agent.outbox) == 3)
        await agent.submit(Reading("h1-fall", protocol.FallCancelled()))  # too late
        await asyncio.sleep(0.2)
        kinds = [protocol.event_type(b) for b in _queued_bodies(agent)]
        assert kinds == ["fall_cancelled", "check_in", "fall"]


async def test_a_source_that_ends_does_not_stop_the_agent(tmp_path: Path) -> None:
    from device_agent.sources.lines import LineSource

    lines = tmp_path / "serial.txt"
    lines.write_text("h1-pendant panic\n")
    clock = ManualClock(T0)
    agent = make_agent(tmp_path, free_port(), clock)
    agent.sources.append(LineSource(lines))
    task = asyncio.create_task(agent.run())
    await eventually(lambda: len(agent.outbox) == 1)
    await asyncio.sleep(0.3)
    assert not task.done()
    agent.stop()
    async with asyncio.timeout(30):
        await task
    agent.outbox.close()


# ---------------------------------------------------------------- store and forward


@pytest.mark.broker
async def test_store_and_forward_across_a_broker_outage(tmp_path: Path) -> None:
    port = free_port()
    with running_mosquitto(tmp_path, port=port) as broker:
        clock = ManualClock(T0)
        agent = make_agent(tmp_path, port, clock, telemetry_qos=1)
        async with running(agent):
            with collector(port) as before:
                await eventually(agent.connected.is_set)
                await agent.submit(Reading("h1-pendant", protocol.Panic(), ts=T0))
                await eventually(lambda: len(before.decoded(protocol.Channel.EVENT)) == 1)

            await asyncio.to_thread(broker.kill)
            await eventually(lambda: not agent.connected.is_set())
            produced_alarms: list[datetime] = []
            for i in range(300):
                ts = T0 + timedelta(seconds=10 + i)
                if i % 15 == 0:
                    produced_alarms.append(ts)
                    body: protocol.Event | protocol.Telemetry = (
                        protocol.Panic() if i % 2 else protocol.Smoke(room="kitchen")
                    )
                    await agent.submit(Reading("h1-pendant", body, ts=ts))
                else:
                    reading = protocol.Telemetry(kind="temperature", value=20 + i / 100, unit="Cel")
                    await agent.submit(Reading("h1-temp", reading, ts=ts))
            assert len(agent.outbox) == 300
            assert agent.outbox.stats().alarms == len(produced_alarms)

            # Hold the agent's next attempt back until the receiver is subscribed again
            # (in production the hub's persistent session covers this window).
            agent.backoff = Backoff(base=3600, cap=3600, jitter=0)
            await eventually(lambda: agent.backoff.attempt >= 1)
            await asyncio.to_thread(broker.start)
            with collector(port) as sub:
                agent.reconnect_now()
                await eventually(agent.connected.is_set)
                async with asyncio.timeout(60):
                    await agent.wait_drained()
                await eventually(
                    lambda: len({e.id for e in sub.decoded(protocol.Channel.EVENT)}) == 20
                )
                await eventually(
                    lambda: len({e.id for e in sub.decoded(protocol.Channel.TELEMETRY)}) == 280
                )

    events = sub.decoded(protocol.Channel.EVENT)
    unique = {e.id: e for e in events}  # subscriber-side deduplication by message id
    # Every alarm exactly once after dedup, with its original timestamp.
    assert sorted(e.ts for e in unique.values()) == produced_alarms
    # Order and sequence numbers kept per device.
    first_seen: dict[str, protocol.Envelope[Any]] = {}
    for e in sub.decoded(protocol.Channel.TELEMETRY):
        first_seen.setdefault(e.id, e)
    telemetry = list(first_seen.values())
    assert [t.seq for t in telemetry] == sorted(t.seq for t in telemetry)
    assert [t.ts for t in telemetry] == sorted(t.ts for t in telemetry)
    assert len({t.seq for t in telemetry}) == 280
    pendant_seqs = [e.seq for e in unique.values()]
    assert pendant_seqs == sorted(pendant_seqs)
    assert pendant_seqs[0] == 2  # seq 1 was the panic before the outage


# ---------------------------------------------------------------- commands and status


@pytest.mark.broker
async def test_commands_over_mqtt_are_acked_or_rejected(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    with collector(mosquitto.port, f"ta/v1/d/{gateway}/#") as sub:
        clock = ManualClock(machine_now())
        agent = make_agent(tmp_path, mosquitto.port, clock, gateway=gateway)
        async with running(agent):
            await eventually(agent.connected.is_set)
            await asyncio.sleep(0.2)  # the agent's SUBACK precedes `connected`, but be kind

            def send(name: str, payload: bytes) -> None:
                sub.client.publish(protocol.command_topic(gateway, name), payload, qos=1)

            now = clock.now()
            send(
                "ping",
                protocol.encode(protocol.envelope(protocol.Ping(), id="c-ping", ts=now, seq=1)),
            )
            send(
                "configure",
                protocol.encode(
                    protocol.envelope(
                        protocol.Configure(fall_cancel_s=60), id="c-conf", ts=now, seq=2
                    )
                ),
            )
            send(
                "configure",
                b'{"v":1,"id":"c-bad","ts":"2026-01-01T00:00:00Z","seq":3,"body":{"name":"configure","heartbeat_s":1}}',
            )
            send("firmware_info", b"garbage")
            await eventually(lambda: len(sub.decoded(protocol.Channel.ACK)) >= 3)
            acks = {a.body.command_id: a.body for a in sub.decoded(protocol.Channel.ACK)}
            assert acks["c-ping"].ok
            assert acks["c-conf"].ok
            assert not acks["c-bad"].ok
            assert "heartbeat_s" in (acks["c-bad"].error or "")
            assert agent.runtime.fall_cancel_s == 60
            assert agent.falls.window == timedelta(seconds=60)
            # The garbage has no id, so no ack to wait for: wait for the counter.
            await eventually(lambda: agent.counters.commands_rejected == 2)
            statuses = [s.body for s in sub.decoded(protocol.Channel.STATUS)]
            assert statuses[0].state == "online"
        await eventually(lambda: sub.decoded(protocol.Channel.STATUS)[-1].body.reason == "shutdown")


@pytest.mark.broker
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_the_centre_s_message_is_said_on_the_gateway_speaker(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    """A ``play_message`` to the gateway over Mosquitto is said by the real espeak-ng; one
    sent to be read only (``speak`` false) is refused: the gateway has no screen."""
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    sounder = EspeakSounder(wav_dir=tmp_path / "said")
    with collector(mosquitto.port, f"ta/v1/d/{gateway}/ack") as sub:
        clock = ManualClock(machine_now())
        agent = make_agent(tmp_path, mosquitto.port, clock, gateway=gateway)
        agent.sounder = sounder
        async with running(agent):
            await eventually(agent.connected.is_set)
            for seq, (command_id, speak) in enumerate((("c-say", True), ("c-read", False))):
                body = protocol.PlayMessage(text="Avís de calor: beveu aigua", speak=speak)
                message = protocol.envelope(body, id=command_id, ts=clock.now(), seq=seq + 1)
                topic = protocol.command_topic(gateway, "play_message")
                sub.client.publish(topic, protocol.encode(message), qos=1)
            await eventually(lambda: len(sub.decoded(protocol.Channel.ACK)) == 2)
            await sounder.aclose()
    acks = {a.body.command_id: a.body for a in sub.decoded(protocol.Channel.ACK)}
    assert acks["c-say"].ok
    assert not acks["c-read"].ok
    assert "no screen" in (acks["c-read"].error or "")
    assert sounder.spoken == [("Avís de calor: beveu aigua", "ca")]
    [wav] = list((tmp_path / "said").glob("*.wav"))
    with wave.open(str(wav)) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.5  # speech, not silence


async def _proxy(
    listen_port: int, target_port: int, connections: list[asyncio.StreamWriter]
) -> asyncio.Server:
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
        connections.extend([writer, up_writer])
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", listen_port)


@pytest.mark.broker
async def test_last_will_marks_the_gateway_offline(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    proxy_port = free_port()
    connections: list[asyncio.StreamWriter] = []
    server = await _proxy(proxy_port, mosquitto.port, connections)
    async with server:
        with collector(mosquitto.port, f"ta/v1/d/{gateway}/status") as sub:
            agent = make_agent(tmp_path, proxy_port, ManualClock(machine_now()), gateway=gateway)
            async with running(agent):
                await eventually(agent.connected.is_set)
                await eventually(lambda: len(sub.decoded(protocol.Channel.STATUS)) >= 1)
                # Cut the network under the agent: the broker sees the link drop and
                # publishes the retained Will; then the agent reconnects by itself.
                server.close()
                for writer in connections:
                    writer.transport.abort()
                await eventually(
                    lambda: any(
                        s.body.reason == "will" for s in sub.decoded(protocol.Channel.STATUS)
                    )
                )
                will = next(
                    s for s in sub.decoded(protocol.Channel.STATUS) if s.body.reason == "will"
                )
                assert will.body.state == "offline"
        with collector(mosquitto.port, f"ta/v1/d/{gateway}/status") as late:
            # Retained: a subscriber arriving later still learns the gateway is offline.
            await eventually(lambda: bool(late.messages))
            assert late.messages[-1][2] is True


# ---------------------------------------------------------------- flooding (ADR 0116)


async def test_a_chattering_door_is_held_back_at_the_gateway(tmp_path: Path) -> None:
    """Past the contract's rate a device's readings are dropped before the outbox, the
    operator is told once with a ``device_fault`` (``flooding``), and a panic still passes.
    The readings' own (fixed) times count, so nothing here depends on the machine's speed."""
    clock = ManualClock(T0)
    agent = make_agent(tmp_path, free_port(), clock)  # no broker: everything stays queued
    burst = protocol.ratelimit.AGENT_EVENTS.burst
    for i in range(100):  # 100 door events within one second
        body = protocol.DoorOpen(room="hall") if i % 2 == 0 else protocol.DoorClose(room="hall")
        await agent.submit(Reading("h1-door", body, ts=T0 + timedelta(milliseconds=10 * i)))
    for i in range(30):  # a stuck thermometer: 30 readings in the same second
        reading = protocol.Telemetry(kind="temperature", value=21.0, unit="C")
        await agent.submit(Reading("h1-thermo", reading, ts=T0 + timedelta(milliseconds=i)))
    for _ in range(3):  # a panic pressed again and again: never dropped
        await agent.submit(Reading("h1-pendant", protocol.Panic(), ts=T0))
    bodies = _queued_bodies(agent)
    doors = [b for b in bodies if isinstance(b, protocol.DoorOpen | protocol.DoorClose)]
    faults = [b for b in bodies if isinstance(b, protocol.DeviceFault)]
    readings = [b for b in bodies if isinstance(b, protocol.Telemetry)]
    # Each of the door's buckets (door_open alarm-capable, door_close routine): the burst
    # and at most one more token in the second.
    assert 2 * burst <= len(doors) <= 2 * (burst + 1)
    assert len(readings) == protocol.ratelimit.AGENT_TELEMETRY.burst
    assert [f.detail for f in faults] == ["events", "events", "readings"]
    assert all(f.fault == "flooding" for f in faults)
    assert sum(isinstance(b, protocol.Panic) for b in bodies) == 3
    assert agent.counters.throttled == 100 - len(doors) + 30 - len(readings)
    agent.outbox.close()


async def test_a_steady_sensor_is_never_held_back(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    agent = make_agent(tmp_path, free_port(), clock)
    for i in range(60):  # one motion a second for a minute: the rate, not a flood
        await agent.submit(
            Reading("h1-pir", protocol.Motion(room="hall"), ts=T0 + timedelta(seconds=i))
        )
    assert agent.counters.throttled == 0
    assert len(_queued_bodies(agent)) == 60
    agent.outbox.close()


async def test_an_alarm_event_is_sent_again_until_event_received(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    """docs/adr/0125: held after the broker's PUBACK, re-sent on the agent's clock, dropped on
    the hub's ``event_received``; a garbled confirmation changes nothing and gets no Ack."""
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    pendant = f"{gateway}-pendant"
    with collector(mosquitto.port, f"ta/v1/d/{pendant}/#") as sub:
        clock = ManualClock(machine_now())
        agent = make_agent(tmp_path, mosquitto.port, clock, gateway=gateway)
        async with running(agent):
            await eventually(agent.connected.is_set)
            await agent.submit(Reading(pendant, protocol.Panic(), "pendant"))
            await eventually(lambda: agent.outbox.unconfirmed() == 1)
            # The broker acknowledged the agent before delivering to the collector.
            await eventually(lambda: len(sub.decoded(protocol.Channel.EVENT)) == 1)
            [first] = sub.decoded(protocol.Channel.EVENT)
            await clock.advance(3)  # past the first 2 s wait: sent again, same message
            await eventually(lambda: len(sub.decoded(protocol.Channel.EVENT)) == 2)
            assert [m.id for m in sub.decoded(protocol.Channel.EVENT)] == [first.id, first.id]
            topic = protocol.command_topic(pendant, "event_received")
            sub.client.publish(topic, b"not json", qos=1)
            wrong = protocol.EventReceived(event_id="someone-else")
            sub.client.publish(
                topic,
                protocol.encode(protocol.envelope(wrong, id="c1", ts=clock.now(), seq=1)),
                qos=1,
            )
            right = protocol.EventReceived(event_id=first.id)
            sub.client.publish(
                topic,
                protocol.encode(protocol.envelope(right, id="c2", ts=clock.now(), seq=2)),
                qos=1,
            )
            await eventually(lambda: agent.outbox.unconfirmed() == 0)
            await clock.advance(30)
            # Nothing to await for an absence: a short grace for a wrong re-send to show.
            await asyncio.sleep(0.2)
            assert len(sub.decoded(protocol.Channel.EVENT)) == 2  # confirmed: no more
            assert agent.counters.commands_rejected == 0
            assert len(agent.outbox) == 0  # no Ack queued for a confirmation
