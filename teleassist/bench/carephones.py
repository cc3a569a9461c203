"""``teleassist bench carephones --protocol dc09|scaip``: simulated units against a real hub.

Starts a private Mosquitto and a real hub process (``teleassist hub serve``) with its DC-09
or SCAIP receiver, on a fresh database seeded with ``--units`` homes, each with a resident
and a registered unit (DC-09: every fourth one encrypted, AES-128). For ``--duration``
seconds every unit polls over UDP at its ``--poll-s`` interval, spread evenly (DC-09: a NULL
message; SCAIP: a ``PI`` heartbeat in a SIP MESSAGE), while ``--events`` distinct units send
a personal emergency (Contact ID 101; SCAIP ``ME`` status 10) at ``--event-rate`` a second.
Per message it times sent → ACK (SCAIP: ``200 OK``); per panic, sent → ``alarm.raised`` on
an operator's live socket (both ends in this process, same clock).

Last line: JSON with ``protocol``, ``units``, ``events_sent``, ``alarms_raised``, ``lost``
(panics without an alarm), ``duplicates`` (alarms raised twice for one panic),
``ack_p99_ms``, ``alarm_p99_ms``, plus the frames sent, acked and refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.fernet import Fernet
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from integrations.carephones.dc09 import (
    FrameError,
    build_frame,
    decrypt_data,
    encrypt_data,
    format_timestamp,
    parse_frame,
)
from integrations.carephones.scaip.sip import SipError, parse_reply
from teleassist.bench._seed import seed_homes
from teleassist.config import Config
from teleassist.localbroker import free_port, running_mosquitto, wait_for_port

NAME = "carephones"
HELP = "simulated carephones (DC-09 or SCAIP) polling and raising panics against a real hub"

PASSWORD = secrets.token_urlsafe(12)
METRICS_TOKEN = secrets.token_urlsafe(24)
KEY = bytes(range(16))
_ACKED = frozenset({"ACK"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options."""
    parser.add_argument("--protocol", choices=["dc09", "scaip"], default="dc09")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--poll-s", type=float, default=60.0, help="each unit's poll interval")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of polling")
    parser.add_argument("--events", type=int, default=100, help="panics (distinct units)")
    parser.add_argument("--event-rate", type=float, default=5.0, help="panics per second")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--timeout", type=float, default=60.0)


def _account(unit: int) -> str:
    return f"{unit:06X}"


def _cid(unit: int) -> str:
    return f"unit{unit}"


async def _seed(
    database_url: str, units: int, keysafe: Fernet, poll_s: float, protocol: str
) -> None:
    from hub.carephones.models import CarephoneUnit

    key = keysafe.encrypt(KEY.hex().upper().encode()).decode()
    scaip = protocol == "scaip"

    async def add_units(conn: AsyncConnection, ids: range) -> None:
        await conn.execute(
            insert(CarephoneUnit),
            [
                {
                    "device_id": f"cp{i}",
                    "protocol": protocol,
                    "account": _cid(i) if scaip else _account(i),
                    "prefix": "" if scaip else "1",
                    "key_encrypted": key if i % 4 == 0 and not scaip else None,
                    "supervision_s": max(60, int(poll_s * 3)),
                    "fall_zones": "",
                }
                for i in ids
            ],
        )

    await seed_homes(
        database_url,
        units,
        lambda ids: ({"id": f"cp{i}", "home_id": i, "type": "carephone"} for i in ids),
        add_units,
    )


def _frame(unit: int, seq: int, event: str) -> bytes:
    data = (f"#{_account(unit)}|{event}" if event else "") + "]"
    data += format_timestamp(datetime.now(UTC))
    encrypted = unit % 4 == 0
    rest = encrypt_data(KEY, data) if encrypted else data
    token = "ADM-CID" if event else "NULL"
    return build_frame(
        token, f"{seq % 9999 + 1:04d}", prefix="1", account=_account(unit), rest=rest,
        encrypted=encrypted,
    )  # fmt: skip


class _Units(asyncio.DatagramProtocol):
    """Every simulated DC-09 unit, on one UDP socket; answers matched by account and
    sequence."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.sent: dict[tuple[str, str], float] = {}
        self.acks: list[float] = []
        self.answers: dict[str, int] = {}
        self.frames = 0
        self._seqs: dict[int, int] = {}

    def poll(self, unit: int) -> None:
        """A NULL message."""
        self._seqs[unit] = self._seqs.get(unit, 0) + 1
        self.send(_frame(unit, self._seqs[unit], ""))

    def panic(self, unit: int) -> None:
        """A personal emergency (Contact ID 101)."""
        self._seqs[unit] = self._seqs.get(unit, 0) + 1
        self.send(_frame(unit, self._seqs[unit], "1101 01 001"))

    def send(self, frame: bytes) -> None:
        parsed = parse_frame(frame)
        assert parsed.account is not None
        self.sent[(parsed.account, parsed.seq)] = time.monotonic()
        assert self.transport is not None
        self.transport.sendto(frame)
        self.frames += 1

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic()
        try:
            answer = parse_frame(data)
        except FrameError:
            self.answers["garbled"] = self.answers.get("garbled", 0) + 1
            return
        self.answers[answer.token] = self.answers.get(answer.token, 0) + 1
        if answer.encrypted:
            decrypt_data(KEY, answer.rest)  # an encrypted ACK must open with the unit's key
        sent = self.sent.pop((answer.account or "", answer.seq), None)
        if sent is not None and answer.token in _ACKED:
            self.acks.append((now - sent) * 1000)


class _ScaipUnits(asyncio.DatagramProtocol):
    """Every simulated SCAIP unit, on one UDP socket; answers matched by Call-ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.sent: dict[str, float] = {}
        self.acks: list[float] = []
        self.answers: dict[str, int] = {}
        self.frames = 0
        self._count = 0

    def _send(self, unit: int, fields: str) -> None:
        self._count += 1
        call_id = f"b{self._count}-{unit}"
        body = f"<mrq><ref>{self._count}</ref><cid>{_cid(unit)}</cid><dty>2</dty>{fields}</mrq>"
        message = (
            "MESSAGE sip:arc@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK{call_id}\r\n"
            f"From: <sip:{_cid(unit)}@127.0.0.1>;tag={unit}\r\nTo: <sip:arc@127.0.0.1>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        self.sent[call_id] = time.monotonic()
        assert self.transport is not None
        self.transport.sendto(message)
        self.frames += 1

    def poll(self, unit: int) -> None:
        """A heartbeat."""
        self._send(unit, "<mty>PI</mty>")

    def panic(self, unit: int) -> None:
        """An alarm (status 10) with a speech channel."""
        self._send(unit, f"<mty>ME</mty><stc>10</stc><crd>sip:{_cid(unit)}@127.0.0.1</crd>")

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        now = time.monotonic()
        try:
            reply = parse_reply(data, 4096)
        except SipError:
            self.answers["garbled"] = self.answers.get("garbled", 0) + 1
            return
        self.answers[str(reply.status)] = self.answers.get(str(reply.status), 0) + 1
        sent = self.sent.pop(reply.header("call-id") or "", None)
        if sent is not None and reply.status == 200:
            self.acks.append((now - sent) * 1000)


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)


def _start_hub(work: Path, env: dict[str, str], database_url: str, port: int) -> Any:
    base_cmd = [sys.executable, "-m", "teleassist", "hub"]
    common = ["--database-url", database_url, "--data-dir", str(work / "data")]
    subprocess.run(
        [*base_cmd, *common, "create-user", "bench-operator", "--role", "operator",
         "--password-stdin"],
        input=PASSWORD.encode(), env=env, check=True, capture_output=True,
    )  # fmt: skip
    log = (work / "hub.log").open("wb")
    hub = subprocess.Popen(
        [*base_cmd, *common, "--port", str(port), "serve"], env=env, stdout=log, stderr=log
    )
    return hub, log


async def _measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    units = max(args.units, args.events)
    keysafe_key = Fernet.generate_key()
    (work / "mqtt").mkdir()
    with running_mosquitto(work / "mqtt") as broker:
        database_url = args.database_url or f"sqlite+aiosqlite:///{work / 'hub.sqlite'}"
        await _seed(database_url, units, Fernet(keysafe_key), args.poll_s, args.protocol)
        port, dc09_port = free_port(), free_port()
        kind = args.protocol.upper()
        env = dict(os.environ)
        env.update(
            {
                "TELEASSIST_MQTT__HOST": "127.0.0.1",
                "TELEASSIST_MQTT__PORT": str(broker.port),
                "TELEASSIST_LOG_LEVEL": "WARNING",
                "TELEASSIST_HUB__KEYSAFE_KEY": keysafe_key.decode(),
                f"TELEASSIST_HUB__{kind}_ENABLED": "true",
                f"TELEASSIST_HUB__{kind}_TCP_PORT": "-1",
                f"TELEASSIST_HUB__{kind}_UDP_PORT": str(dc09_port),
                # Every simulated unit shares this machine's address.
                f"TELEASSIST_HUB__{kind}_SOURCE_RATE": "0",
                "TELEASSIST_HUB__METRICS_TOKEN": METRICS_TOKEN,
            }
        )
        hub, log = await asyncio.to_thread(_start_hub, work, env, database_url, port)
        try:
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 120.0)
            return await _drive(args, units, dc09_port, f"http://127.0.0.1:{port}")
        finally:
            hub.terminate()
            try:
                hub.wait(timeout=30)
            except subprocess.TimeoutExpired:
                hub.kill()
            log.close()


async def _drive(args: argparse.Namespace, units: int, dc09_port: int, base: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    fleet: _Units | _ScaipUnits = _ScaipUnits() if args.protocol == "scaip" else _Units()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: fleet, remote_addr=("127.0.0.1", dc09_port)
    )
    fleet.transport = transport
    sent_at: dict[str, float] = {}
    raised: dict[str, int] = {}
    latencies: dict[str, float] = {}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/api/auth/login", json={"username": "bench-operator", "password": PASSWORD}
        ) as response:
            response.raise_for_status()
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        socket = await http.ws_connect(f"{base}/api/alarms/live", headers=headers, heartbeat=20)
        everything = asyncio.Event()

        async def reader() -> None:
            async for message in socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if data.get("type") != "alarm.raised":
                    continue
                home = data["alarm"]["home_id"]
                raised[home] = raised.get(home, 0) + 1
                if home in sent_at and home not in latencies:
                    latencies[home] = (time.monotonic() - sent_at[home]) * 1000
                    if len(latencies) == args.events:
                        everything.set()

        reader_task = asyncio.create_task(reader())
        events_sent = 0
        try:
            began = time.monotonic()
            polls_per_s = units / args.poll_s
            next_unit = 1
            polls = 0
            next_event = began + 1.0
            panic_unit = 0
            step = max(1, units // max(1, args.events))
            while time.monotonic() - began < args.duration:
                # Polls spread evenly over the interval, in 10 ms slices.
                due = int((time.monotonic() - began) * polls_per_s) - polls
                for _ in range(max(0, due)):
                    fleet.poll(next_unit)
                    next_unit = next_unit % units + 1
                    polls += 1
                while events_sent < args.events and time.monotonic() >= next_event:
                    panic_unit = events_sent * step % units + 1
                    sent_at[str(panic_unit)] = time.monotonic()
                    fleet.panic(panic_unit)
                    events_sent += 1
                    next_event += 1.0 / args.event_rate
                await asyncio.sleep(0.01)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.timeout):
                    await everything.wait()
            await asyncio.sleep(1.0)  # a late duplicate would show now
            scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            async with http.get(f"{base}/metrics", headers=scrape) as response:
                response.raise_for_status()
                metrics = await response.text()
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task
            await socket.close()
            transport.close()
    family = "dc09_frames" if args.protocol == "dc09" else "scaip_messages"
    counted = {
        m[0]: float(m[1])
        for m in re.findall(rf'teleassist_{family}_total\{{outcome="(\w+)"\}} ([0-9.e+]+)', metrics)
    }
    refused = sum(
        float(v)
        for v in re.findall(
            rf"teleassist_{args.protocol}_refused_total\{{[^}}]*\}} ([0-9.e+]+)", metrics
        )
    )
    return {
        "benchmark": NAME,
        "protocol": args.protocol,
        "units": units,
        "poll_s": args.poll_s,
        "duration_s": args.duration,
        "frames_sent": fleet.frames,
        "received": int(counted.get("received", 0)),
        "acked": int(counted.get("acked", 0)),
        "refused": int(refused),
        "answers": fleet.answers,
        "events_sent": events_sent,
        "alarms_raised": sum(1 for home in sent_at if home in raised),
        "lost": sum(1 for home in sent_at if home not in raised),
        "duplicates": sum(raised[home] - 1 for home in sent_at if raised.get(home, 0) > 1),
        "ack_p50_ms": _percentile(fleet.acks, 50),
        "ack_p99_ms": _percentile(fleet.acks, 99),
        "alarm_p50_ms": _percentile(list(latencies.values()), 50),
        "alarm_p99_ms": _percentile(list(latencies.values()), 99),
        "database": args.database_url.split(":", 1)[0].split("+", 1)[0] or "sqlite",
    }


def run(args: argparse.Namespace, config: Config) -> int:
    """Run and print figures, then the JSON line."""
    with tempfile.TemporaryDirectory(prefix="ta-bench-carephones-") as tmp:
        data = asyncio.run(_measure(args, Path(tmp)))
    print(
        f"{data['units']} {args.protocol.upper()} units, {data['frames_sent']} messages in"
        f" {data['duration_s']} s:"
        f" received {data['received']}, acked {data['acked']}, refused {data['refused']};"
        f" alarms {data['alarms_raised']}/{data['events_sent']} (lost {data['lost']},"
        f" duplicates {data['duplicates']}); ACK p99 {data['ack_p99_ms']} ms,"
        f" alarm p99 {data['alarm_p99_ms']} ms ({data['database']})"
    )
    print(json.dumps(data))
    return 0
