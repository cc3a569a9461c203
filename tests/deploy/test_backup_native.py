"""A backup of a running compose site restored into a fresh one (docs/deployment.md,
"Backups"): ``teleassist hub backup`` in site A, site A gone, site B started from nothing with
A's ``.env`` (only its database and time-series store), ``teleassist hub restore``, then the
rest of B; B's hub serves A's resident, alarm with its history, message and media, telemetry,
key-safe code and users, and A's pendant connects to B's broker with its old credentials."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from hub.db import make_engine, make_sessionmaker
from hub.db.crypto import KeySafeCipher
from hub.db.models import Home, Resident
from hub.family.models import Conversation, MediaObject, Message
from hub.timeseries import HOUR, Point, VictoriaMetricsTimeSeries
from tests.deploy.nativecompose import NativeCompose
from tests.deploy.test_compose_native import (
    connect_when_admitted,
    frame,
    hub_command,
    hub_listening,
    login,
    press,
    site_secrets,
    started_stack,
)
from tests.instants import machine_now

PHOTO_KEY = "a1/grandchildren.jpg"  # the media store's fan-out layout (hub/media/storage.py)
PHOTO = b"\xff\xd8\xff\xe0 a photo of the grandchildren \xff\xd9"
DATABASE_AND_SERIES = {"postgres", "victoriametrics"}


async def _seed_family(native: NativeCompose, home: int) -> tuple[int, int]:
    """A resident, a message with a photo in the media folder; their ids."""
    env = native.stack.env["hub"]
    media = Path(env["TELEASSIST_HUB__DATA_DIR"]) / "media"
    (media / "a1").mkdir(mode=0o700, parents=True, exist_ok=True)
    (media / PHOTO_KEY).write_bytes(PHOTO)
    engine = make_engine(env["TELEASSIST_HUB__DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            resident = Resident(home_id=home, name="Rosa Vila", language="ca")
            conversation = Conversation(kind="direct", direct_key="r:1|u:9")
            photo = MediaObject(
                storage_key=PHOTO_KEY,
                kind="photo",
                content_type="image/jpeg",
                size=len(PHOTO),
                uploaded_by="u:9",
            )
            session.add_all([resident, conversation, photo])
            await session.flush()
            message = Message(
                conversation_id=conversation.id,
                sender="u:9",
                kind="photo",
                text="Mira!",
                media_id=photo.id,
            )
            session.add(message)
            await session.commit()
            return resident.id, message.id
    finally:
        await engine.dispose()


async def _telemetry(native: NativeCompose, point: Point | None) -> list[float]:
    """Write ``point`` (if any) into the site's VictoriaMetrics; read the series back."""
    url = native.stack.env["hub"]["TELEASSIST_HUB__TIMESERIES_URL"]
    now = machine_now()
    store = VictoriaMetricsTimeSeries(url, clock=lambda: now)
    await store.start()
    try:
        if point is not None:
            await store.write([point])
            await store.flush()
        found = await store.query("vic-pendant-1", "battery", now - 2 * HOUR, now)
    finally:
        await store.close()
    return [s.value for s in found]


@pytest.mark.slow
@pytest.mark.xdist_group("native-compose")  # one native stack at a time (ADR 0166)
async def test_a_backup_restores_into_a_fresh_site(tmp_path: Path) -> None:
    site = site_secrets()
    password = "a long password for the test"
    with started_stack(site) as a:
        base = f"http://127.0.0.1:{a.stack.port('hub', 8080)}"
        for user, role in (("installadora", "admin"), ("operadora", "operator")):
            hub_command(a, "create-user", user, "--role", role, "--password-stdin", stdin=password)
        async with aiohttp.ClientSession() as http:
            admin = {"Authorization": f"Bearer {await login(http, base, 'installadora', password)}"}
            operator = {"Authorization": f"Bearer {await login(http, base, 'operadora', password)}"}
            async with http.post(
                f"{base}/api/homes",
                json={"address": "Carrer Major 1, Vic", "key_safe_code": "4321"},
                headers=admin,
            ) as response:
                home = (await response.json())["id"]
            async with http.post(
                f"{base}/api/devices",
                json={"id": "vic-pendant-1", "home_id": home, "type": "pendant"},
                headers=admin,
            ) as response:
                secret = str((await response.json())["secret"])
            async with http.ws_connect(f"{base}/api/alarms/live", headers=operator) as ws:
                await frame(ws, "snapshot")
                ca = a.stack.certs / "server.crt"
                port = a.stack.port("mosquitto", 8883)
                pendant = await asyncio.to_thread(
                    connect_when_admitted, port, ca, "vic-pendant-1", secret
                )
                await asyncio.to_thread(press, pendant, "vic-pendant-1")
                pendant.loop_stop()
                pendant.disconnect()
                alarm = (await frame(ws, "alarm.raised"))["alarm"]["id"]
            for step, body in (("accept", None), ("notes", {"text": "Diu que està bé"})):
                async with http.post(
                    f"{base}/api/alarms/{alarm}/{step}", json=body, headers=operator
                ) as response:
                    assert response.status in (200, 201), await response.text()
            async with http.get(f"{base}/api/alarms/{alarm}", headers=operator) as response:
                history = (await response.json())["history"]
        resident, message = await _seed_family(a, home)
        reading = Point(
            "vic-pendant-1", "battery", machine_now() - timedelta(minutes=5), 87.0, home
        )
        assert await _telemetry(a, reading) == [87.0]

        folder = Path(a.stack.path("hub", "/data/backups/nightly"))
        out = hub_command(a, "backup", str(folder))
        assert '"residents": 1' in out
        assert '"alarms": 1' in out
        names = {p.name for p in folder.iterdir()}
        assert names == {
            "database.pgdump",
            "timeseries.jsonl",
            "files.tar.gz",
            "environment.env",
            "manifest.json",
        }
        assert all(p.stat().st_mode & 0o077 == 0 for p in folder.iterdir())
        env_file = (folder / "environment.env").read_text()
        assert f"TELEASSIST_HUB__KEYSAFE_KEY={site['KEY_SAFE_KEY']}" in env_file
        kept = tmp_path / "offsite"
        shutil.copytree(folder, kept)  # what leaves the host every night

    # Site B: nothing of A but the .env (restored from environment.env) and the backup.
    with started_stack(site, only=DATABASE_AND_SERIES) as b:
        target = Path(b.stack.path("hub", "/data/backups/nightly"))
        shutil.copytree(kept, target)
        out = hub_command(b, "restore", str(target))
        assert '"residents": 1' in out
        assert '"alarm_history": ' in out
        again = hub_command(b, "restore", str(target), status=1)
        assert "restore only into a fresh one" in again
        b.start()
        hub_listening(b)
        base = f"http://127.0.0.1:{b.stack.port('hub', 8080)}"
        async with aiohttp.ClientSession() as http:
            operator = {"Authorization": f"Bearer {await login(http, base, 'operadora', password)}"}
            async with http.get(f"{base}/api/alarms/{alarm}", headers=operator) as response:
                assert response.status == 200
                restored = await response.json()
            async with http.get(f"{base}/api/residents", headers=operator) as response:
                residents = await response.json()
        assert restored["history"] == history
        assert restored["state"] != "resolved"
        assert "Rosa Vila" in str(residents)
        env = b.stack.env["hub"]
        engine = make_engine(env["TELEASSIST_HUB__DATABASE_URL"])
        try:
            async with make_sessionmaker(engine)() as session:
                assert (await session.get(Resident, resident)) is not None
                stored = await session.get(Message, message)
                assert stored is not None
                assert stored.text == "Mira!"
                restored_home = await session.scalar(select(Home).where(Home.id == home))
                assert restored_home is not None
                cipher = KeySafeCipher(env["TELEASSIST_HUB__KEYSAFE_KEY"])
                assert restored_home.key_safe_code(cipher) == "4321"
        finally:
            await engine.dispose()
        data = Path(env["TELEASSIST_HUB__DATA_DIR"])
        assert (data / "media" / PHOTO_KEY).read_bytes() == PHOTO
        assert await _telemetry(b, None) == [87.0]
        # The broker's files are rewritten from the restored registry: the old secret works.
        pendant = await asyncio.to_thread(
            connect_when_admitted,
            b.stack.port("mosquitto", 8883),
            b.stack.certs / "server.crt",
            "vic-pendant-1",
            secret,
        )
        pendant.loop_stop()
        pendant.disconnect()
