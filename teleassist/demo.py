"""``teleassist demo``: the embedded stack on one machine.

Starts a private broker (Mosquitto if installed, otherwise amqtt in-process), a few
simulated homes publishing telemetry with the contract, and a receiver that decodes and
prints what arrives. Later parts (hub, console, tablet) join this same command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
from datetime import UTC, datetime

import aiomqtt

import protocol
from teleassist.config import Config
from teleassist.localbroker import (
    EmbeddedBroker,
    MosquittoBroker,
    free_port,
    mosquitto_available,
    wait_for_port_async,
    write_mosquitto_config,
)

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Demo options."""
    parser.add_argument("--homes", type=int, default=5, help="simulated homes (default 5)")
    parser.add_argument(
        "--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)"
    )
    parser.add_argument("--no-tablet", action="store_true", help="do not open the tablet app")
    parser.add_argument(
        "--embedded-broker", action="store_true", help="use amqtt even if Mosquitto is installed"
    )


async def _simulated_home(port: int, home: int, stop: asyncio.Event) -> None:
    device_id = f"demo-h{home:03d}-temp"
    rng = random.Random(home)
    seq = 0
    async with aiomqtt.Client("127.0.0.1", port, identifier=device_id) as client:
        while not stop.is_set():
            seq += 1
            reading = protocol.Telemetry(
                kind="temperature",
                value=round(20 + rng.gauss(1.5, 0.8), 2),
                unit="Cel",
                room="living",
            )
            msg = protocol.envelope(
                reading, id=protocol.new_message_id(), ts=datetime.now(UTC), seq=seq
            )
            await client.publish(
                protocol.device_topic(device_id, protocol.Channel.TELEMETRY), protocol.encode(msg)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _receiver(port: int, stop: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="demo-receiver") as client:
        await client.subscribe(protocol.device_subscription(), qos=1)
        async for message in client.messages:
            topic = protocol.parse_device_topic(str(message.topic))
            payload = message.payload if isinstance(message.payload, bytes) else b""
            decoded = protocol.decode_for_channel(topic.channel, payload)
            body = protocol.to_builtins(decoded.body)
            print(
                f"received {topic.device_id} #{decoded.seq} {topic.channel.value}: {body}",
                flush=True,
            )
            if stop.is_set():
                return


async def _run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    port = free_port()
    mosquitto: MosquittoBroker | None = None
    embedded: EmbeddedBroker | None = None
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="ta-demo-") as tmp:
        if mosquitto_available() and not args.embedded_broker:
            mosquitto = MosquittoBroker(port, write_mosquitto_config(Path(tmp), port))
            await asyncio.to_thread(mosquitto.start)
            print(f"broker: Mosquitto on 127.0.0.1:{port}", flush=True)
        else:
            embedded = EmbeddedBroker(port)
            await embedded.start()
            async with asyncio.timeout(10):
                await wait_for_port_async("127.0.0.1", port)
            print(f"broker: embedded amqtt on 127.0.0.1:{port} (no authentication)", flush=True)
        try:
            receiver = asyncio.create_task(_receiver(port, stop))
            homes = [asyncio.create_task(_simulated_home(port, i, stop)) for i in range(args.homes)]
            if args.duration:
                loop.call_later(args.duration, stop.set)
            print(f"demo: {args.homes} simulated homes publishing; Ctrl-C to stop", flush=True)
            await stop.wait()
            for task in homes:
                task.cancel()
            receiver.cancel()
            await asyncio.gather(*homes, receiver, return_exceptions=True)
        finally:
            if mosquitto is not None:
                await asyncio.to_thread(mosquitto.stop)
            if embedded is not None:
                await embedded.stop()
    print("demo: stopped", flush=True)
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    """Run until Ctrl-C or ``--duration``."""
    return asyncio.run(_run(args))
