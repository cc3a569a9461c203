"""``teleassist bench restart``: the hub killed (SIGKILL) and back, and its first panic.

Starts a private Mosquitto and a real hub (``teleassist hub serve``) on a fresh database of
``--homes`` homes (pendant, PIR, thermometer each), brings it to a steady state (one motion
event per home, then ``--open-alarms`` panics left open on the operator's queue), and kills
it with SIGKILL — no flush, no goodbye to the broker. A new hub process starts on the same
database and broker session; ``restart_s`` runs from the kill until its ``/readyz`` answers
200: the HTTP port opens only after the start-up contexts rebuilt the device registry, the
supervision map (online devices and their deadlines), the alarm engine (its backlog of stored
events not yet applied read and gated per home, ADR 0184; rule states load with their timers)
and the broker subscription is live (the hub's bytecode is written by the first hub and read
by the second, as in the image whose ``pip install`` compiled it). Then an operator signs in,
the snapshot must list every alarm left open, and a panic from a home that has not spoken
since the restart is timed from its publish to ``alarm.raised`` on the socket
(``first_panic_ms``, the engine loading that resident on the way — while the backlog is still
being applied behind it). Then (with the warm-up) the same for the home warmed up last, whose
motion event was most likely still unapplied at the kill: its panic applies that home's backlog
first (``backlog_panic_ms``; ``backlog_homes_at_panic``: homes whose backlog was left, as
``/readyz`` said just before). ``rebuilt_s``: from the kill until ``/readyz`` says no home's
backlog is left (``alarm_backlog`` 0).

Last line: JSON with ``restart_s``, ``rebuilt_s``, ``first_panic_ms``, ``backlog_panic_ms``,
``backlog_homes_at_panic``, ``open_alarms_before`` and ``open_alarms_after``, ``homes``,
``database``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from teleassist.bench import alarm_latency as latency
from teleassist.config import Config
from teleassist.localbroker import free_port, running_mosquitto, wait_for_port

NAME = "restart"
HELP = "hub SIGKILL → ready again (state rebuilt) and the first panic after it (N homes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--open-alarms", type=int, default=20, help="panics left open")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--keep-log",
        default="",
        help="copy both hubs' log (at INFO: the start-up's phases with their times) here",
    )
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the warm-up (one motion event per home before the kill)",
    )


async def _ready(http: aiohttp.ClientSession, base: str) -> None:
    """Poll ``/readyz`` until it answers 200 (every 20 ms; the caller bounds the wait)."""
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.02)


async def _rebuilt(http: aiohttp.ClientSession, base: str) -> None:
    """Poll ``/readyz`` until the alarm engine's start-up backlog is applied (every 20 ms)."""
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/readyz") as response:
                if (await response.json()).get("alarm_backlog", "0") == "0":
                    return
        await asyncio.sleep(0.02)


async def _raised(socket: aiohttp.ClientWebSocketResponse, home: int) -> None:
    """Read the socket until home ``home``'s alarm is raised (the caller bounds the wait)."""
    async for message in socket:
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        data = json.loads(message.data)
        if data.get("type") == "alarm.raised" and data["alarm"]["home_id"] == str(home):
            return
    raise RuntimeError("the operator's socket closed")


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    homes = max(args.homes, args.open_alarms + 3)
    (work / "mqtt").mkdir()
    with running_mosquitto(work / "mqtt") as broker:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'hub.sqlite'}"
        await latency._seed(database_url, homes)
        port = free_port()
        # Bytecode as in the image (pip compiles it at install): the first hub writes it under
        # the run's directory (not the source tree), the restarted one reads it instead of
        # compiling ~300 of the project's modules again (0.4 s of CPU) even where the shell
        # sets PYTHONDONTWRITEBYTECODE.
        env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(work / "pycache")}
        if args.keep_log:
            env["TELEASSIST_LOG_LEVEL"] = "INFO"
        hub, log = await asyncio.to_thread(
            latency._start_hub, work, database_url, broker.port, port, "", env
        )
        pendant = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"rs-{secrets.token_hex(3)}")
        pendant.connect("127.0.0.1", broker.port)
        pendant.loop_start()
        try:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, args.timeout)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with asyncio.timeout(args.timeout):
                    await _ready(http, base)
                token = await latency._login(http, base)
                headers = {"Authorization": f"Bearer {token}"}
                socket = await http.ws_connect(f"{base}/api/alarms/live", headers=headers)
                if args.warmup:
                    await asyncio.to_thread(latency._warm_up, broker.port, homes)
                for home in range(1, args.open_alarms + 1):
                    latency._press(pendant, home)
                    async with asyncio.timeout(args.timeout):
                        await _raised(socket, home)
                # Let routine work settle (rule states flushed about once a second).
                await asyncio.sleep(3.0)
                await socket.close()
            hub.kill()
            killed = time.monotonic()
            await asyncio.to_thread(hub.wait)
            log.close()
            port = free_port()
            hub, log = await asyncio.to_thread(
                latency.serve_hub, work, database_url, broker.port, port, "", env
            )
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with asyncio.timeout(args.timeout):
                    await _ready(http, base)
                restart_s = time.monotonic() - killed

                async def rebuilt() -> float:
                    await _rebuilt(http, base)
                    return time.monotonic() - killed

                backlog = asyncio.create_task(rebuilt())
                token = await latency._login(http, base)
                headers = {"Authorization": f"Bearer {token}"}
                socket = await http.ws_connect(f"{base}/api/alarms/live", headers=headers)
                snapshot = json.loads((await socket.receive()).data)
                open_after = {a["home_id"] for a in snapshot["alarms"] if a["rule"] == "panic"} & {
                    str(h) for h in range(1, args.open_alarms + 1)
                }
                # A home that has not spoken since the restart: its resident is loaded on the way.
                first = args.open_alarms + 1
                pressed = time.monotonic()
                latency._press(pendant, first)
                async with asyncio.timeout(args.timeout):
                    await _raised(socket, first)
                first_panic_ms = (time.monotonic() - pressed) * 1000
                # The home warmed up last: its motion event was most likely still in the
                # engine's backlog at the kill, and is applied last by the background — the panic
                # applies it first (ADR 0184), while other homes' backlog may still be left.
                backlog_panic_ms: float | None = None
                left = ""
                if args.warmup:
                    async with http.get(f"{base}/readyz") as response:
                        left = str((await response.json()).get("alarm_backlog", ""))
                    pressed = time.monotonic()
                    latency._press(pendant, homes)
                    async with asyncio.timeout(args.timeout):
                        await _raised(socket, homes)
                    backlog_panic_ms = round((time.monotonic() - pressed) * 1000, 1)
                await socket.close()
                async with asyncio.timeout(args.timeout):
                    rebuilt_s = await backlog
        finally:
            pendant.loop_stop()
            pendant.disconnect()
            hub.terminate()
            try:
                await asyncio.to_thread(hub.wait, 30)
            except Exception:
                hub.kill()
            log.close()
    return {
        "benchmark": NAME,
        "homes": homes,
        "database": args.database_url.split(":", 1)[0].split("+", 1)[0] or "sqlite",
        "restart_s": round(restart_s, 2),
        "rebuilt_s": round(rebuilt_s, 2),
        "first_panic_ms": round(first_panic_ms, 1),
        "backlog_panic_ms": backlog_panic_ms,
        "backlog_homes_at_panic": left,
        "open_alarms_before": args.open_alarms,
        "open_alarms_after": len(open_after),
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-restart-") as tmp:
        data = asyncio.run(_measure(args, Path(tmp)))
        if args.keep_log:
            shutil.copyfile(Path(tmp) / "hub.log", args.keep_log)
    print(
        f"homes {data['homes']} ({data['database']}): SIGKILL → ready in {data['restart_s']} s;"
        f" {data['open_alarms_after']}/{data['open_alarms_before']} open alarms back on the"
        f" queue; first panic after the restart on the operator's socket in"
        f" {data['first_panic_ms']} ms; the engine's backlog applied {data['rebuilt_s']} s"
        f" after the kill"
    )
    print(json.dumps(data))
    return 0
