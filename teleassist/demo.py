"""``teleassist demo``: the whole platform on one machine, with embedded defaults.

Starts a private broker (Mosquitto if installed, otherwise amqtt in-process), the hub with
SQLite in a temporary folder, a simulated neighbourhood whose days replay in accelerated
time (incidents raise alarms within the first minutes), one account per role, and — where
there is a display — the resident's tablet for the first home. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from teleassist.config import Config, MqttSettings
from teleassist.localbroker import (
    MosquittoBroker,
    ThreadedEmbeddedBroker,
    free_port,
    mosquitto_available,
    write_mosquitto_config,
)

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Demo options."""
    parser.add_argument("--homes", type=int, default=50, help="simulated homes (default 50)")
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="how much faster than real time the homes live (default 60: a day in 24 min)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="hub HTTP port (default 8080; a free one if taken; 0: any)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=0,
        help="stop this many seconds after start-up (0: until Ctrl-C)",
    )
    parser.add_argument("--no-tablet", action="store_true", help="do not open the tablet app")
    parser.add_argument(
        "--embedded-broker", action="store_true", help="use amqtt even if Mosquitto is installed"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the demo's data here: a new or empty directory, or one an earlier demo used "
        "(its demo data are replaced, nothing else is touched; default: temporary)",
    )


DEMO_MARKER = ".teleassist-demo"
# What the demo writes into --data-dir; only these are ever removed from it.
DEMO_ENTRIES = ("hub", "tablet", "tablet.toml", "tablet.log")


class DataDirError(ValueError):
    """A --data-dir the demo must not write into."""


def prepare_data_dir(path: Path) -> Path:
    """Make ``path`` ready for a fresh demo without deleting anything that is not the demo's.

    A new or empty directory is marked as the demo's; a marked one has only the demo's own
    entries removed (:data:`DEMO_ENTRIES`); anything else is refused, so a mistyped path
    (a home directory, a real hub's data) is never emptied.
    """
    if path.exists() and not path.is_dir():
        raise DataDirError(f"--data-dir {path} is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / DEMO_MARKER).exists():
        raise DataDirError(
            f"--data-dir {path} is not empty and was not made by the demo; "
            "give a new or empty directory"
        )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in DEMO_ENTRIES:
        entry = path / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
    (path / DEMO_MARKER).touch(mode=0o600)
    return path


@contextlib.asynccontextmanager
async def _broker(embedded: bool) -> AsyncIterator[tuple[int, str]]:
    port = free_port()
    if mosquitto_available() and not embedded:
        with tempfile.TemporaryDirectory(prefix="ta-demo-mqtt-") as tmp:
            broker = MosquittoBroker(port, write_mosquitto_config(Path(tmp), port))
            await asyncio.to_thread(broker.start)
            try:
                yield port, "Mosquitto"
            finally:
                await asyncio.to_thread(broker.stop)
    else:
        amqtt = ThreadedEmbeddedBroker(port)
        await asyncio.to_thread(amqtt.start)
        try:
            yield port, "embedded amqtt (no authentication)"
        finally:
            await asyncio.to_thread(amqtt.stop)


def _http_port(wanted: int) -> int:
    """``wanted`` if it is free, otherwise any free port (0 means any)."""
    import socket

    if wanted == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError:
            return free_port()
    return wanted


def _banner(base: str, broker: str, port: int, homes: int, speed: float, seeded: object) -> str:
    from teleassist.neighbourhood import Neighbourhood

    assert isinstance(seeded, Neighbourhood)
    rows = "\n".join(
        f"    {a.role.value:<14} {a.username:<14} {seeded.password}" for a in seeded.accounts
    )
    first = seeded.homes[0]
    return f"""
================================================================================
 Teleassist demo is running: {base}

   Operator console   {base}/console        (sign in as operadora or operator)
   Family app         {base}/family         (familia — linked to {first.resident_name})
   Citizen visor      {base}/visor          (social)
   Service lifecycle  {base}/service        (coordinadora, installer, social)
   Health / metrics   {base}/healthz  {base}/metrics

   Accounts (role, user, password):
{rows}

   MQTT broker: {broker} on 127.0.0.1:{port}
   {homes} simulated homes living {speed:g}x faster than real time.
   A help button is pressed in the first home in ~15 s, a fall in ~45 s, smoke in ~90 s.
   Ctrl-C stops everything.
================================================================================
""".rstrip()


def _start_tablet(
    base: str, mqtt_port: int, device_id: str, data_dir: Path
) -> subprocess.Popen[bytes] | None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        print(
            "tablet: no display here, so the tablet app is not started"
            " (run `teleassist tablet` on a machine with a screen).",
            flush=True,
        )
        return None
    config = data_dir / "tablet.toml"
    config.write_text(
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n\n'
        f'[tablet]\nhub_url = "{base}"\ndevice_id = "{device_id}"\n'
        f'state_dir = "{data_dir / "tablet"}"\ndemo = true\n',
        encoding="utf-8",
    )
    log = (data_dir / "tablet.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "teleassist", "--config", str(config), "tablet"],
        stdout=log,
        stderr=log,
    )
    log.close()
    print(f"tablet: started for {device_id} (log: {data_dir / 'tablet.log'})", flush=True)
    return process


async def _run(args: argparse.Namespace, config: Config) -> int:
    import msgspec
    import paho.mqtt.client as mqtt
    from aiohttp import web
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.app import KEYSAFE, create_app
    from hub.db import make_engine, make_sessionmaker, upgrade_to_head
    from hub.db.crypto import KeySafeCipher
    from hub.settings import load_hub_settings, with_secrets
    from teleassist.neighbourhood import HomeReplay, demo_start_date, seed_neighbourhood

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    with contextlib.ExitStack() as stack:
        if args.data_dir:
            data_dir = prepare_data_dir(args.data_dir)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ta-demo-")))
        async with _broker(args.embedded_broker) as (mqtt_port, broker_name):
            port = _http_port(args.port)
            settings = msgspec.structs.replace(
                load_hub_settings(config),
                http_host="127.0.0.1",
                http_port=port,
                data_dir=str(data_dir / "hub"),
                database_url="",
                secure_cookies=False,
                # amqtt has no shared subscriptions; a single demo hub does not need one.
                ingest_share_group="" if broker_name.startswith("embedded") else "hub",
            )
            settings = with_secrets(settings)
            url = settings.resolved_database_url()
            await upgrade_to_head(url)
            engine = make_engine(url)
            try:
                async with make_sessionmaker(engine)() as session:
                    seeded = await seed_neighbourhood(
                        session, KeySafeCipher(settings.keysafe_key), args.homes, datetime.now(UTC)
                    )
                    await session.commit()
            finally:
                await engine.dispose()

            mqtt_settings = MqttSettings(host="127.0.0.1", port=mqtt_port)
            app = create_app(settings, config=config, mqtt=mqtt_settings)
            assert app[KEYSAFE] is not None
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            base = f"http://127.0.0.1:{port}"
            print(_banner(base, broker_name, mqtt_port, args.homes, args.speed, seeded), flush=True)
            if args.duration:
                # Counted from here: seeding the database takes a while on a busy machine.
                loop.call_later(args.duration, stop.set)

            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id="demo-neighbourhood",
                protocol=mqtt.MQTTv311,
            )
            client.max_queued_messages_set(0)
            client.connect("127.0.0.1", mqtt_port, keepalive=30)
            client.loop_start()
            tablet = None
            try:
                start = demo_start_date()
                replays = [
                    HomeReplay(home, index, args.speed, start)
                    for index, home in enumerate(seeded.homes)
                ]
                if not args.no_tablet:
                    tablet_id = seeded.homes[0].spec.devices[-1].device_id
                    tablet = _start_tablet(base, mqtt_port, tablet_id, data_dir)
                started = loop.time()
                tasks = [
                    asyncio.create_task(replay.run(client, stop, started)) for replay in replays
                ]
                await stop.wait()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                sent = sum(r.published for r in replays)
                print(f"demo: {sent} messages published by {len(replays)} homes", flush=True)
            finally:
                if tablet is not None:
                    tablet.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        tablet.wait(timeout=5)
                client.loop_stop()
                client.disconnect()
                await runner.cleanup()
    print("demo: stopped", flush=True)
    return 0


def run(args: argparse.Namespace, config: Config) -> int:
    """Run until Ctrl-C or ``--duration``."""
    try:
        return asyncio.run(_run(args, config))
    except DataDirError as err:
        print(f"teleassist demo: {err}", file=sys.stderr)
        return 2
