"""Real processes: the hub is killed with SIGKILL while panics arrive; after a restart
every alarm is there, exactly once (the broker redelivers what was not acknowledged, the
engine replays what was stored but not applied, and skips what it already applied)."""

from __future__ import annotations

import asyncio
import secrets
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.auth import Role, create_user
from hub.db import make_engine, make_sessionmaker
from protocol import Channel, Panic
from teleassist.localbroker import MosquittoBroker, free_port, wait_for_port
from tests.hub.alarms.realhub import all_alarms, login, start_hub, wait_for_alarms
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import Publisher, seed_home

pytestmark = [pytest.mark.broker, pytest.mark.slow]

HOMES = 16


async def test_sigkill_during_alarms_loses_none_and_duplicates_none(
    database_url: str, tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    tag = secrets.token_hex(4)
    db = make_engine(database_url)
    sessions = make_sessionmaker(db)
    homes: dict[str, str] = {}
    try:
        for n in range(HOMES + 1):
            home_id, _ = await seed_home(sessions, {f"{tag}-p{n}": "pendant"})
            homes[f"{tag}-p{n}"] = str(home_id)
        async with sessions() as session:
            await create_user(session, f"op-{tag}", TEST_PASSWORD, Role.OPERATOR)
            await session.commit()
    finally:
        await db.dispose()
    data_dir, log = tmp_path / "data", tmp_path / "hub.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hub = start_hub(database_url, data_dir, mosquitto, port, tag, log)
    publisher = Publisher(mosquitto.host, mosquitto.port)
    sent: dict[str, str] = {}
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 90.0)
        async with aiohttp.ClientSession() as http:
            token = await login(http, base, f"op-{tag}")
            # Warm-up: one alarm proves the pipeline is subscribed end to end.
            sent[f"{tag}-p0"] = publisher.send(f"{tag}-p0", Channel.EVENT, Panic())
            await wait_for_alarms(http, base, token, 1)
            for n in range(1, HOMES + 1):
                device = f"{tag}-p{n}"
                sent[device] = publisher.send(device, Channel.EVENT, Panic())
                if n == HOMES // 2:
                    hub.send_signal(signal.SIGKILL)  # mid-stream, no goodbye
                    await asyncio.to_thread(hub.wait, 30)
            # Restart on the same database and broker session.
            port2 = free_port()
            base2 = f"http://127.0.0.1:{port2}"
            hub = start_hub(database_url, data_dir, mosquitto, port2, tag, log)
            await asyncio.to_thread(wait_for_port, "127.0.0.1", port2, 90.0)
            token = await login(http, base2, f"op-{tag}")
            alarms = await wait_for_alarms(http, base2, token, HOMES + 1)
            await asyncio.sleep(1.0)  # anything extra (a duplicate) would show up now
            alarms = await all_alarms(http, base2, token)
    finally:
        publisher.close()
        if hub.poll() is None:
            hub.terminate()
            await asyncio.to_thread(hub.wait, 30)
    by_home: dict[str, list[dict[str, Any]]] = {}
    for alarm in alarms:
        by_home.setdefault(alarm["home_id"], []).append(alarm)
    assert sorted(by_home) == sorted(homes.values()), log.read_text()[-3000:]
    for device, message_id in sent.items():
        (alarm,) = by_home[homes[device]]
        assert alarm["rule"] == "panic"
        assert alarm["event_ids"] == [message_id]
