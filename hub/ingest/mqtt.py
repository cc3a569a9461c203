"""paho-mqtt driven by the asyncio event loop (no network thread), with manual acks.

paho reads the socket when the loop says it is readable (``add_reader``), writes when
it has something queued (``add_writer``) and gets ``loop_misc`` once a second for
keep-alive. Message callbacks therefore run on the event loop's thread: no locks, and
``ack`` can be called from any coroutine. See docs/adr/0011-hub-ingestion.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from config import MqttSettings
from hub.ingest.reconnect import Backoff, ReconnectPolicy

_LOGGER = logging.getLogger(__name__)

MessageHandler = Callable[[paho.MQTTMessage], None]

# How many packets one readable event may process before yielding to other tasks, and for
# how long: under a flood (one home's device at 1,000 messages a second) a burst of 1,000
# packets held the loop for up to 800 ms on a loaded machine, in front of another home's panic
# (docs/adr/0115); 5 ms keeps the loop's turns short and still reads hundreds per turn.
_READ_BURST = 1000
_READ_BUDGET_S = 0.005


class LoopMqttClient:
    """One MQTT connection owned by the event loop; reconnects with jittered back-off.

    One attempt at a time: the next one starts only after the last one ended (refused, closed,
    or no CONNACK within ``policy.connack_timeout_s``) and its back-off wait is over. With a
    ``connect_gate`` shared by several clients (a worker's partition sessions), at most that
    many of them are between their TCP connect and their CONNACK at once (ADR 0169)."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        subscriptions: list[tuple[str, int]],
        on_message: MessageHandler,
        clean_session: bool = False,
        policy: ReconnectPolicy | None = None,
        connect_gate: asyncio.Semaphore | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.policy = policy or ReconnectPolicy()
        # Jitter only: no secret depends on it.
        self._backoff = Backoff(self.policy, rng or random.Random())
        self._gate = connect_gate
        self._ended = asyncio.Event()  # set when the socket closes (an attempt or connection ended)
        # Connection attempts made (TCP connects started), for the figures and the tests.
        self.attempts = 0
        self.subscriptions = subscriptions
        self._on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: Any = None
        self._reading = True
        self._packets = 0
        self.connected = asyncio.Event()
        self.subscribed = asyncio.Event()
        self._misc_task: asyncio.Task[None] | None = None
        self._closing = False
        # Connections lost other than by close(): another client taking the hub's client id
        # shows here (and in the log), as does a broker restart.
        self.disconnects = 0
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if settings.username:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            client.tls_set(ca_certs=settings.ca_file)
        # The hub may fall behind briefly; let the broker keep more QoS 1 messages in flight.
        client.max_inflight_messages_set(1000)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_message
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        self.client = client

    # ---------------------------------------------------------------- socket plumbing

    def _socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._sock = sock
        self._ended.clear()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if self._reading and self._loop is not None:
            self._loop.add_reader(sock, self._readable)

    def _socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        self._sock = None
        self._ended.set()

    def _register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.add_writer(sock, self._writable)

    def _unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if self._loop is not None:
            self._loop.remove_writer(sock)

    def _readable(self) -> None:
        # paho reads one packet per call; keep reading while PUBLISH packets come.
        client = self.client
        deadline = time.perf_counter() + _READ_BUDGET_S
        for _ in range(_READ_BURST):
            before = self._packets
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            if self._packets == before or not self._reading:
                return
            if time.perf_counter() >= deadline:
                # More may wait (in the kernel, or in TLS's buffer that the selector does not
                # see): read on at the loop's next turn, after the other ready tasks.
                if self._loop is not None:
                    self._loop.call_soon(self._readable)
                return

    def _writable(self) -> None:
        self.client.loop_write()

    # ---------------------------------------------------------------- callbacks

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._packets += 1
        self._on_message(msg)

    def _handle_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            _LOGGER.error("broker refused the connection: %s", reason)
            return
        _LOGGER.info(
            "connected to the broker %s:%d as %s",
            self.settings.host,
            self.settings.port,
            self.client_id,
        )
        self._backoff.connected(time.monotonic())
        self.connected.set()
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        else:
            # A connection that only publishes (the hub's on a partitioned cluster).
            self.subscribed.set()

    def _handle_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            _LOGGER.error("broker refused a subscription: %s", failed)
        self.subscribed.set()

    def _handle_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._closing:
            self.disconnects += 1
            self._backoff.lost(time.monotonic())
            _LOGGER.warning(
                "%s disconnected from the broker (%s); reconnecting", self.client_id, reason
            )

    # ---------------------------------------------------------------- public

    async def start(self) -> None:
        """Connect (retrying in the background if the broker is not there yet)."""
        self._loop = asyncio.get_running_loop()
        self._misc_task = asyncio.create_task(self._misc(), name="mqtt-misc")

    async def _misc(self) -> None:
        while True:
            if self._sock is None:
                await self._attempt()
                continue
            self.client.loop_misc()
            await asyncio.sleep(1.0 if self.connected.is_set() else 0.2)

    async def _attempt(self) -> None:
        """One connection attempt, after the back-off's wait: returns once the broker
        accepted it (CONNACK) or it ended (refused, closed, no CONNACK in time)."""
        delay = self._backoff.delay()
        if delay > 0:
            await asyncio.sleep(delay)  # the back-off itself: nothing to wait for but time
        async with self._gate or contextlib.nullcontext():
            self.attempts += 1
            try:
                # A blocking TCP connect, bounded by the OS; the broker is near the hub.
                self.client.connect(
                    self.settings.host, self.settings.port, self.settings.keepalive_s
                )
            except OSError as err:
                self._backoff.lost(time.monotonic())
                _LOGGER.warning(
                    "cannot reach the broker %s:%d (%s); retrying in %.1fs or more",
                    self.settings.host,
                    self.settings.port,
                    err,
                    self.policy.cap(self._backoff.failures) / 2,
                )
                return
            # No loop_misc() until the CONNACK: paho would give the attempt up after one
            # keep-alive (5 s on the cluster), as long as a RabbitMQ node may take to refuse it
            # while its client-id registry has no leader; a new attempt would then race the
            # old one's late registration.
            await self._until_connack()

    async def _until_connack(self) -> None:
        connected = asyncio.ensure_future(self.connected.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait(
                (connected, ended),
                timeout=self.policy.connack_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in (connected, ended):
                waiter.cancel()
        if not self.connected.is_set() and self._sock is not None:
            _LOGGER.warning(
                "%s: no CONNACK in %.0fs; giving the attempt up",
                self.client_id,
                self.policy.connack_timeout_s,
            )
            # Shut the socket down and let paho read the end: it closes the socket and
            # reports the disconnect (which counts the failure) through its own path, also
            # while reading is paused (no reader registered then).
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self.client.loop_read()

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a QoS 1 message (after what it carried is safely stored)."""
        if qos > 0 and self._sock is not None:
            self.client.ack(mid, qos)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message (commands to devices)."""
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def pause_reading(self) -> None:
        """Stop reading the socket: the broker then holds messages (back-pressure)."""
        if self._reading:
            self._reading = False
            if self._sock is not None and self._loop is not None:
                self._loop.remove_reader(self._sock)

    def resume_reading(self) -> None:
        """Read again after :meth:`pause_reading`."""
        if not self._reading:
            self._reading = True
            if self._sock is not None and self._loop is not None:
                self._loop.add_reader(self._sock, self._readable)
                # Data may already be buffered in paho or the kernel.
                self._loop.call_soon(self._readable)

    @property
    def reading(self) -> bool:
        """False while paused."""
        return self._reading

    async def close(self) -> None:
        """Disconnect cleanly and stop the keep-alive task."""
        self._closing = True
        if self._misc_task is not None:
            self._misc_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc_task
            self._misc_task = None
        if self._sock is not None:
            self.client.disconnect()
            # Let paho write the DISCONNECT packet before the socket goes.
            for _ in range(10):
                if self._sock is None:
                    break
                self.client.loop_write()
                self.client.loop_read()
                await asyncio.sleep(0.01)
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock)
            self._loop.remove_writer(self._sock)

    def drop(self) -> None:
        """Close the socket without DISCONNECT, as a crash would (tests)."""
        self._closing = True
        if self._misc_task is not None:
            self._misc_task.cancel()
        sock = self._sock
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
            sock.close()
        self._sock = None
