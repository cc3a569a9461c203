"""A real hub, the project's Mosquitto and the resident's tablet app in a real window.

The stage of the tablet's acceptance test (tests/tablet_app/test_acceptance.py) and of the
family loop's end-to-end scenario (tests/tablet_app/test_family_loop.py): one hub with
ingestion, the alarm engine and the family network, a Mosquitto that authenticates every
client with the files the hub writes, and the Kivy app (:class:`tablet_app.app.TabletApp`'s
view and the real :class:`TabletRuntime`) under Xvfb. The hub and the tablet share one
manual clock. Screenshots go to ``$TELEASSIST_TEST_SHOTS`` (or ``base / "shots"``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role
from hub.auth.service import create_user, issue_tokens
from hub.clock import ManualClock
from hub.db.models import Resident
from hub.ingest.app import MQTT_CLIENT
from hub.registry.sync import make_broker_security
from hub.settings import HubSettings
from tablet_app.controller import SilentRinger
from tablet_app.i18n import Lang
from tablet_app.link import Broker
from tablet_app.model import TabletModel
from tablet_app.runtime import TabletRuntime
from tablet_app.settings import TabletSettings
from teleassist.config import Config, MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import seed_home
from tests.hub.registry.projectbroker import DEPLOY, project_config
from tests.instants import DEFAULT_START
from tests.tablet_app.conftest import pump, tap

# What a test does to the resident's records before the hub starts (a care plan...).
Prepare = Callable[[AsyncSession, int, ManualClock], Awaitable[None]]


class RecordingSpeaker:
    """What the tablet would say aloud."""

    def __init__(self) -> None:
        self.said: list[tuple[str, Lang]] = []

    def say(self, text: str, language: Lang) -> None:
        self.said.append((text, language))


@dataclass
class Stage:
    """The running hub, the broker and the tablet app of this module."""

    client: TestClient[Any, Any]
    clock: ManualClock
    broker: MosquittoBroker
    resident_id: int
    model: TabletModel
    runtime: TabletRuntime
    app: Any  # tablet_app.app.TabletApp
    view: Any  # tablet_app.ui.TabletView
    speaker: RecordingSpeaker
    shots: Path
    state_dir: Path
    people: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def hub(self) -> Any:
        return self.client.app

    async def headers(self, role: Role, name: str | None = None) -> dict[str, str]:
        """A fresh access token (the manual clock may have moved past the last one)."""
        username = name or role.value
        async with self.hub[SESSIONMAKER]() as session:
            from hub.db.models import User

            user = await session.scalar(select(User).where(User.username == username))
            if user is None:
                user = await create_user(
                    session, username, TEST_PASSWORD, role, display_name=username.title()
                )
            tokens = await issue_tokens(session, user, self.hub[SETTINGS], self.clock())
            await session.commit()
        return {"Authorization": f"Bearer {tokens.access_token}"}

    def find(self, name: str) -> Any:
        from tablet_app.widgets import find

        return find(self.view, name)

    def press(self, name: str) -> None:
        """Touch the widget ``name`` like a finger.

        Frames first: something the event loop delivered (a PUBACK, a live event) may have
        rebuilt the screen since the last frame, and a finger hits the laid-out screen.
        """
        pump(2)
        tap(self.find(name))

    async def until(self, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Pump the window and the event loop until ``check()`` holds."""
        async with asyncio.timeout(timeout):
            while not check():
                pump(1)
                await asyncio.sleep(0.02)
        pump(2)

    def shot(self, name: str) -> Path:
        from kivy.core.window import Window

        self.view.tick()
        pump(4)
        target = self.shots / f"acceptance-{name}.png"
        taken = Window.screenshot(name=str(self.shots / f".shot-{name}.png"))
        Path(taken).replace(target)
        return target


def _sqlite_copy(template: Path, directory: Path) -> str:
    path = directory / "hub.sqlite"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def tablet_stage(
    kivy_window: Any,
    sqlite_template: Path,
    base: Path,
    *,
    prepare: Prepare | None = None,
    hub_config: Config | None = None,
    language: Lang = "en",
) -> AsyncIterator[Stage]:
    """The hub (``hub_config``: its parsed configuration), the broker and the tablet, until
    the block ends; the resident speaks ``language``; the tablet is not paired yet."""
    hub_password = "hub-stage-" + secrets.token_hex(8)
    tag = secrets.token_hex(3)
    group = f"acc{tag}"
    clock = ManualClock(DEFAULT_START)
    with tempfile.TemporaryDirectory(prefix="ta-acc-broker-") as broker_name:
        broker_dir = Path(broker_name)
        # The project's broker: the hub on its own listener, the tablet on the devices'.
        config = project_config(broker_dir)
        hub_mqtt = MqttSettings(
            host="127.0.0.1", port=config.hub_port, username="hub", password=hub_password
        )
        broker = config.broker()
        settings = HubSettings(
            data_dir=str(base / "hub-data"),
            database_url=_sqlite_copy(sqlite_template, base),
            migrate_on_start=False,
            jwt_secret=secrets.token_urlsafe(32),
            keysafe_key=Fernet.generate_key().decode("ascii"),
            ingest_client_id=f"hub-{group}",
            ingest_share_group=group,
            ingest_flush_interval_s=0.05,
            mosquitto_passwd_file=str(config.passwd),
            mosquitto_hub_passwd_file=str(config.hub_passwd),
            mosquitto_acl_file=str(config.acl),
            mosquitto_acl_template=str(DEPLOY / "acl"),
            # Paired tablets are told the devices' listener.
            device_mqtt_host="127.0.0.1",
            device_mqtt_port=config.device_port,
            mosquitto_file_mode=0o644,
            # The manual clock jumps ahead: the tablet's real-time heartbeats must not
            # look late to supervision (that would be a technical alarm, not ours).
            supervision_intervals={"tablet": 7 * 24 * 3600.0},
        )
        # The broker needs its files before it starts: render them from the empty registry.
        from hub.db import make_engine, make_sessionmaker

        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        try:
            _, resident_id = await seed_home(sessions, {})
            async with sessions() as session:
                resident = await session.get(Resident, resident_id)
                assert resident is not None
                resident.language = language  # the hub tells the tablet its resident's language
                if prepare is not None:
                    await prepare(session, resident_id, clock)
                await session.commit()
                await make_broker_security(settings, hub_mqtt).sync(session)
        finally:
            await engine.dispose()
        broker.start()
        app_settings = msgspec.structs.replace(
            settings,
            mosquitto_reload_command=f"kill -HUP {broker.process.pid}",  # type: ignore[union-attr]
        )
        app = create_app(app_settings, config=hub_config, clock=clock, mqtt=hub_mqtt)
        try:
            async with TestClient(TestServer(app)) as client:
                async with asyncio.timeout(30):
                    await app[MQTT_CLIENT].subscribed.wait()
                state_dir = base / "tablet"
                tablet_settings = TabletSettings(
                    hub_url=str(client.make_url("")).rstrip("/"),
                    state_dir=str(state_dir),
                    language=language,
                    heartbeat_s=3600,
                    demo=True,  # synthetic camera and microphone for calls
                )
                model = TabletModel(language=language)
                speaker = RecordingSpeaker()
                runtime = TabletRuntime(
                    model,
                    tablet_settings,
                    Broker(),
                    speaker=speaker,
                    ringer=SilentRinger(),
                    clock=clock,
                    retry_s=(0.2, 0.5, 1.0),
                )
                from tablet_app.app import TabletApp

                tablet = TabletApp(model, runtime, clock)
                view = tablet.build()
                kivy_window.add_widget(view)
                shots = Path(os.environ.get("TELEASSIST_TEST_SHOTS") or base / "shots")
                shots.mkdir(parents=True, exist_ok=True)
                await runtime.start()
                pump()  # laid out before the first touch
                try:
                    yield Stage(
                        client,
                        clock,
                        broker,
                        resident_id,
                        model,
                        runtime,
                        tablet,
                        view,
                        speaker,
                        shots,
                        state_dir,
                    )
                finally:
                    async with asyncio.timeout(60):  # a stuck stop must fail, not hang
                        await runtime.stop()
                    tablet.on_stop()
                    kivy_window.remove_widget(view)
        finally:
            broker.stop()
