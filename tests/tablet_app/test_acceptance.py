"""Acceptance of the resident's tablet (issue #9) against a real hub and a real broker.

One hub for the module (ingestion, alarm engine, family network, broker security on), a
Mosquitto that authenticates every client with the files the hub writes, and the Kivy app
(:class:`tablet_app.app.TabletApp`'s view and the real :class:`TabletRuntime`) in a real
window under Xvfb. Every step is a touch on a real widget; the hub is checked through its
database and its operator API. The tests run in file order and build on each other: the
tablet is paired in the first one. Screenshots go to ``$TELEASSIST_TEST_SHOTS`` (or a
temporary directory).

The hub and the tablet share one manual clock, so the inactivity pre-alarm is reached by
moving time, not by waiting.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import select

from alerts import CarePlan, EscalationPolicy
from alerts.careplan import CheckInSettings, InactivitySettings
from hub.alarms import store as alarm_store
from hub.alarms.routes import ALARM_ENGINE
from hub.app import SESSIONMAKER, SETTINGS, create_app
from hub.auth import Role
from hub.auth.service import create_user, issue_tokens
from hub.clock import ManualClock
from hub.db.models import Device, Resident, StoredEvent
from hub.ingest.app import MQTT_CLIENT
from hub.registry.app import make_broker_security
from hub.settings import HubSettings
from tablet_app.controller import SilentRinger
from tablet_app.i18n import Lang
from tablet_app.link import Broker
from tablet_app.model import Screen, TabletModel
from tablet_app.pairing import load_credentials
from tablet_app.runtime import TabletRuntime
from tablet_app.settings import TabletSettings
from teleassist.config import MqttSettings
from teleassist.localbroker import MosquittoBroker
from tests.hub.fixtures import TEST_PASSWORD
from tests.hub.ingest.helpers import seed_home
from tests.hub.registry.projectbroker import DEPLOY, project_config
from tests.instants import DEFAULT_START
from tests.tablet_app.conftest import pump, tap

pytestmark = [
    pytest.mark.tablet,
    pytest.mark.broker,
    pytest.mark.asyncio(loop_scope="module"),
    # One scenario told in steps (the tablet is paired in the first): under --random-order
    # the module moves, its tests keep their order.
    pytest.mark.random_order(disabled=True),
]

HUB_PASSWORD = "hub-acceptance-" + secrets.token_hex(8)
INACTIVITY = timedelta(minutes=30)
PROMPT_TIMEOUT = timedelta(minutes=5)
CHECK_IN = time(11, 0)  # the daily check-in of the care plan (local time)


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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    kivy_window: Any,
    _sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stage]:
    base = tmp_path_factory.mktemp("acceptance")
    tag = secrets.token_hex(3)
    group = f"acc{tag}"
    clock = ManualClock(DEFAULT_START)
    with tempfile.TemporaryDirectory(prefix="ta-acc-broker-") as broker_name:
        broker_dir = Path(broker_name)
        # The project's broker: the hub on its own listener, the tablet on the devices'.
        config = project_config(broker_dir)
        hub_mqtt = MqttSettings(
            host="127.0.0.1", port=config.hub_port, username="hub", password=HUB_PASSWORD
        )
        broker = config.broker()
        settings = HubSettings(
            data_dir=str(base / "hub-data"),
            database_url=_sqlite_copy(_sqlite_template, base),
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
            plan = CarePlan(
                str(resident_id),
                inactivity=InactivitySettings(
                    period=INACTIVITY, windows=(), prompt_timeout=PROMPT_TIMEOUT
                ),
                check_in=CheckInSettings(enabled=True, deadlines=(CHECK_IN,)),
            )
            async with sessions() as session:
                resident = await session.get(Resident, resident_id)
                assert resident is not None
                resident.language = "en"  # the hub tells the tablet its resident's language
                await alarm_store.save_plan(session, plan, EscalationPolicy(), clock())
                await session.commit()
                await make_broker_security(settings, hub_mqtt).sync(session)
        finally:
            await engine.dispose()
        broker.start()
        app_settings = msgspec.structs.replace(
            settings,
            mosquitto_reload_command=f"kill -HUP {broker.process.pid}",  # type: ignore[union-attr]
        )
        app = create_app(app_settings, clock=clock, mqtt=hub_mqtt)
        try:
            async with TestClient(TestServer(app)) as client:
                async with asyncio.timeout(30):
                    await app[MQTT_CLIENT].subscribed.wait()
                state_dir = base / "tablet"
                tablet_settings = TabletSettings(
                    hub_url=str(client.make_url("")).rstrip("/"),
                    state_dir=str(state_dir),
                    language="en",
                    heartbeat_s=3600,
                    demo=True,  # synthetic camera and microphone for calls
                )
                model = TabletModel(language="en")
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


async def test_the_installer_pairs_the_tablet_with_a_setup_code(stage: Stage) -> None:
    assert stage.view.shown is Screen.PAIR
    resp = await stage.client.post(
        f"/api/residents/{stage.resident_id}/tablet-setup-codes",
        headers=await stage.headers(Role.INSTALLER),
    )
    assert resp.status == 201, await resp.text()
    code = (await resp.json())["code"]

    # A wrong code first: the pad says so and clears.
    wrong = "1" + code[1:] if code[0] != "1" else "2" + code[1:]
    for digit in wrong:
        stage.press(f"pair.digit.{digit}")
    assert stage.find("pair.code").text == " ".join(wrong)
    stage.press("pair.ok")
    await stage.until(lambda: stage.model.pair_error == stage.model.t("pair.bad_code"))
    assert stage.find("pair.error").text == "This code is not valid or has expired."
    assert stage.find("pair.code").text == " ".join("_" * 8)  # the eight empty places
    stage.shot("pair-refused-en")

    for digit in code:
        stage.press(f"pair.digit.{digit}")
    stage.shot("pair-typed-en")
    stage.press("pair.ok")
    await stage.until(lambda: stage.view.shown is Screen.HOME)
    # Online means the broker accepted the credentials the hub gave, and the hub's ACL let
    # the tablet subscribe to its commands and publish its presence.
    await stage.until(lambda: stage.model.online)
    creds = load_credentials(stage.state_dir)
    assert creds is not None
    assert creds.device_id == f"tab-{stage.resident_id:04d}"
    assert creds.mqtt.username == creds.device_id
    assert creds.resident_id == stage.resident_id
    async with stage.hub[SESSIONMAKER]() as session:
        device = await session.get(Device, creds.device_id)
        assert device is not None
        assert (device.type, device.resident_id) == ("tablet", stage.resident_id)
    # The tablet's family-API token works: its family client reaches the hub.
    assert stage.runtime.family is not None
    await stage.until(
        lambda: stage.runtime.family is not None and stage.runtime.family.live_connected.is_set()
    )
    # On connecting, the hub sends the tablet its resident's settings (Configure).
    await stage.until(lambda: stage.model.check_in_deadlines == [CHECK_IN])
    assert stage.model.language == "en"
    stage.shot("home-en")


async def test_im_ok_is_a_stored_check_in(stage: Stage) -> None:
    device_id = f"tab-{stage.resident_id:04d}"
    stage.press("home.ok")
    assert stage.view.shown is Screen.CHECKIN
    # Today's check-in is done: the next one is the care plan's, tomorrow.
    assert stage.find("checkin.next").text == "Next check-in: Tomorrow at 11:00"
    stage.shot("checkin-en")

    async def stored() -> list[StoredEvent]:
        async with stage.hub[SESSIONMAKER]() as session:
            return list(
                await session.scalars(
                    select(StoredEvent).where(
                        StoredEvent.device_id == device_id, StoredEvent.type == "check_in"
                    )
                )
            )

    async with asyncio.timeout(30):
        while not (rows := await stored()):
            pump(1)
            await asyncio.sleep(0.05)
    [row] = rows
    assert row.body["source"] == "tablet"
    stage.press("done")
    assert stage.view.shown is Screen.HOME


async def test_help_reaches_the_operator_and_the_tablet_says_so(stage: Stage) -> None:
    operator = await stage.headers(Role.OPERATOR)
    stage.press("home.help")
    assert stage.view.shown is Screen.HELP

    async def panic_alarms() -> list[dict[str, Any]]:
        resp = await stage.client.get("/api/alarms", headers=operator)
        assert resp.status == 200
        return [a for a in (await resp.json())["alarms"] if a["rule"] == "panic"]

    async with asyncio.timeout(30):
        while not (alarms := await panic_alarms()):
            pump(1)
            await asyncio.sleep(0.05)
    [alarm] = alarms
    assert alarm["resident_id"] == str(stage.resident_id)
    await stage.until(lambda: stage.find("help.line").text == "The centre has received your call.")
    stage.shot("help-received-en")
    # The operator takes the call and closes it (later alarms must not attach to this one).
    url = f"/api/alarms/{alarm['id']}"
    resp = await stage.client.post(f"{url}/accept", json={}, headers=operator)
    assert resp.status == 200, await resp.text()
    resp = await stage.client.post(
        f"{url}/resolve", json={"outcome": "resident_fine"}, headers=operator
    )
    assert resp.status == 200, await resp.text()


async def test_a_family_message_arrives_with_its_badge(stage: Stage) -> None:
    stage.press("done")
    assert stage.view.shown is Screen.HOME
    assert stage.find("home.messages").badge == ""
    # Anna joins her mother's circle with a code made by the tablet, then writes.
    daughter = await stage.headers(Role.FAMILY, "anna")
    creds = load_credentials(stage.state_dir)
    assert creds is not None
    tablet = {"Authorization": f"Bearer {creds.api_token}"}
    resp = await stage.client.post(
        f"/api/family/residents/{stage.resident_id}/linking-codes", json={}, headers=tablet
    )
    assert resp.status == 201, await resp.text()
    resp = await stage.client.post(
        "/api/family/links",
        json={"code": (await resp.json())["code"], "relationship": "daughter"},
        headers=daughter,
    )
    assert resp.status == 201, await resp.text()
    cid = (await resp.json())["conversation_id"]
    resp = await stage.client.post(
        f"/api/family/conversations/{cid}/messages",
        json={"text": "Hello mum! I'll come at ten tomorrow."},
        headers=daughter,
    )
    assert resp.status == 201, await resp.text()

    # The live socket brings it: no waiting for the 30 s poll.
    await stage.until(lambda: stage.find("home.messages").badge == "1", timeout=20)
    stage.shot("home-message-badge-en")
    stage.press("home.messages")
    assert stage.view.shown is Screen.MESSAGES
    stage.shot("messages-en")
    stage.press("back")
    assert stage.view.shown is Screen.HOME


async def test_im_fine_to_the_inactivity_question_cancels_the_pre_alarm(stage: Stage) -> None:
    engine = stage.hub[ALARM_ENGINE]
    resident = str(stage.resident_id)

    async def alarms(rule: str) -> list[dict[str, Any]]:
        operator = await stage.headers(Role.OPERATOR)
        resp = await stage.client.get("/api/alarms?status=all", headers=operator)
        return [a for a in (await resp.json())["alarms"] if rule in a["rules"]]

    async def pending_prompt() -> Any:
        await engine.flush()
        async with stage.hub[SESSIONMAKER]() as session:
            state = await alarm_store.load_state(session, resident)
        assert state is not None
        return state.prompt

    assert await pending_prompt() is None
    # Half an hour without activity: the hub asks the tablet "Are you all right?".
    stage.clock.advance(INACTIVITY + timedelta(seconds=1))
    engine.wakeup.set()
    await stage.until(lambda: stage.view.shown is Screen.PROMPT)
    assert stage.find("prompt.question").text == "Are you all right?"
    assert (
        "Are you all right? If you do not answer within 5 minutes, the centre will call you.",
        "en",
    ) in stage.speaker.said
    prompt = await pending_prompt()
    assert prompt is not None
    assert prompt.kind == "inactivity"
    stage.shot("prompt-inactivity-en")

    stage.press("prompt.fine")
    assert stage.find("prompt.result").text == "Thank you. We are glad you are well."
    stage.shot("prompt-answered-en")

    # The answer reaches the hub and the pending pre-alarm is cancelled…
    async with asyncio.timeout(30):
        while await pending_prompt() is not None:
            pump(1)
            await asyncio.sleep(0.05)
    # …so when the question would have run out, no inactivity alarm is raised.
    stage.clock.advance(PROMPT_TIMEOUT + timedelta(seconds=1))
    await engine.run_due()
    assert await alarms("inactivity") == []
    assert await pending_prompt() is None
    stage.press("prompt.close")
    assert stage.view.shown is Screen.HOME


async def test_an_unanswered_question_lets_the_alarm_go_ahead(stage: Stage) -> None:
    """The control for the test above: without "I'm fine" the same timer raises the alarm."""
    engine = stage.hub[ALARM_ENGINE]
    # "I'm fine" counted as activity 5 min ago: half an hour after it, the question again
    # (asked when the timer is due, so it is not already out of time on arrival).
    stage.clock.advance(INACTIVITY - PROMPT_TIMEOUT)
    engine.wakeup.set()
    await stage.until(lambda: stage.view.shown is Screen.PROMPT)
    assert stage.find("prompt.question").text == "Are you all right?"
    stage.clock.advance(PROMPT_TIMEOUT + timedelta(seconds=1))
    await engine.run_due()

    async def inactivity_alarms() -> list[dict[str, Any]]:
        operator = await stage.headers(Role.OPERATOR)  # the clock moved past older tokens
        resp = await stage.client.get("/api/alarms", headers=operator)
        return [a for a in (await resp.json())["alarms"] if "inactivity" in a["rules"]]

    [alarm] = await inactivity_alarms()
    assert alarm["resident_id"] == str(stage.resident_id)
    # The tablet's own time bar ran out too: it says so and sent nothing.
    await stage.until(lambda: stage.model.prompt_result == "timeout")
    assert (stage.view.shown, stage.model.screen) == (Screen.PROMPT, Screen.PROMPT)
    assert stage.find("prompt.result").text == "No answer received. The centre will call you."
    stage.shot("prompt-timeout-en")
    stage.press("prompt.close")
    assert stage.view.shown is Screen.HOME


async def test_screens_in_catalan(stage: Stage) -> None:
    stage.model.set_language("ca")
    pump()
    assert stage.find("home.ok").label.text == "Estic bé"
    stage.shot("home-ca")
    stage.model.set_language("en")
    pump()
