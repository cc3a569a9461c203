"""The whole life cycle without a window: pair with a code, connect, check in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from protocol import CheckIn, decode_event, device_topic
from tablet_app.controller import SilentRinger
from tablet_app.link import Broker
from tablet_app.model import Screen, TabletModel
from tablet_app.pairing import load_credentials
from tablet_app.runtime import TabletRuntime
from tablet_app.settings import TabletSettings
from teleassist.localbroker import MosquittoBroker
from tests.instants import machine_now

pytestmark = pytest.mark.broker


class Quiet:
    def say(self, text: str, language: str) -> None:
        pass


def hub_app(mqtt_port: int, tries: list[str]) -> web.Application:
    async def pair(request: web.Request) -> web.Response:
        code = (await request.json())["code"]
        tries.append(code)
        if code != "123456":
            return web.json_response({"error": "code_unknown"}, status=404)
        return web.json_response(
            {
                "device_id": "tablet-paired",
                "hub_url": str(request.url.origin()),
                "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "username": "u", "password": "p"},
            }
        )

    app = web.Application()
    app.router.add_post("/api/tablet/pair", pair)
    return app


async def until(check: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_pair_then_connect_then_check_in(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    tries: list[str] = []
    async with (
        TestServer(hub_app(mosquitto.port, tries)) as server,
        aiomqtt.Client("127.0.0.1", mosquitto.port) as hub,
    ):
        await hub.subscribe(device_topic("tablet-paired", "event"), qos=1)
        settings = TabletSettings(hub_url=str(server.make_url("/")), state_dir=str(tmp_path))
        model = TabletModel(language="en")
        runtime = TabletRuntime(
            model, settings, Broker(), speaker=Quiet(), ringer=SilentRinger(), retry_s=(0.1,)
        )
        await runtime.start()
        try:
            assert model.screen is Screen.PAIR
            assert not model.paired
            # a wrong code: the pad says so and is cleared
            for digit in "999999":
                model.pair_press(digit)
            runtime.submit_pairing()
            await until(lambda: model.pair_error == model.t("pair.bad_code"))
            assert model.pair_digits == ""
            assert model.screen is Screen.PAIR
            for digit in "123456":
                model.pair_press(digit)
            runtime.submit_pairing()
            await until(lambda: model.screen is Screen.HOME)
            assert tries == ["999999", "123456"]
            creds = load_credentials(tmp_path)
            assert creds is not None
            assert creds.device_id == "tablet-paired"
            await until(lambda: model.online)
            model.press_ok(machine_now())
            async with asyncio.timeout(20):
                message = await anext(aiter(hub.messages))
            assert decode_event(bytes(message.payload)).body == CheckIn(source="tablet")  # type: ignore[arg-type]
        finally:
            await runtime.stop()


async def test_pairing_with_no_hub_says_so(tmp_path: Path) -> None:
    from teleassist.localbroker import free_port

    settings = TabletSettings(hub_url=f"http://127.0.0.1:{free_port()}", state_dir=str(tmp_path))
    model = TabletModel(language="ca")
    runtime = TabletRuntime(model, settings, Broker(), speaker=Quiet(), ringer=SilentRinger())
    await runtime.start()
    try:
        for digit in "123456":
            model.pair_press(digit)
        runtime.submit_pairing()
        await until(lambda: model.pair_error == model.t("pair.no_hub"))
        assert load_credentials(tmp_path) is None
    finally:
        await runtime.stop()


async def test_the_runtime_renews_the_family_token_and_keeps_it(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """From renew_at on, the tablet swaps its token and writes the new one to device.json."""
    from datetime import UTC, datetime

    now = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    seen: list[str] = []

    async def pair(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "device_id": "tablet-renew",
                "resident_id": 7,
                "hub_url": str(request.url.origin()),
                "api_token": "tab_first",
                "api_token_expires_at": "2027-02-01T00:00:00+00:00",
                "api_token_renew_at": "2027-01-05T00:00:00+00:00",
                "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "username": "u",
                         "password": "p"},
            }
        )  # fmt: skip

    async def renew(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.json_response(
            {
                "token": "tab_second",
                "expires_at": "2027-03-11T09:00:00+00:00",
                "renew_at": "2027-02-09T09:00:00+00:00",
            }
        )

    async def conversations(request: web.Request) -> web.Response:
        seen.append(request.headers["Authorization"])
        return web.json_response([])

    app = web.Application()
    app.router.add_post("/api/tablet/pair", pair)
    app.router.add_post("/api/family/tablet/token", renew)
    app.router.add_get("/api/family/conversations", conversations)
    async with TestServer(app) as server:
        settings = TabletSettings(hub_url=str(server.make_url("/")), state_dir=str(tmp_path))
        model = TabletModel(language="en")
        runtime = TabletRuntime(
            model, settings, Broker(), speaker=Quiet(), ringer=SilentRinger(),
            retry_s=(0.1,), clock=lambda: now,
        )  # fmt: skip
        await runtime.start()
        try:
            for digit in "123456":
                model.pair_press(digit)
            runtime.submit_pairing()
            await until(lambda: "Bearer tab_second" in seen)
            creds = load_credentials(tmp_path)
            assert creds is not None
            assert creds.api_token == "tab_second"
            assert creds.api_token_renew_at == datetime(2027, 2, 9, 9, 0, tzinfo=UTC)
            # Renewed once, before anything else was asked with the old token.
            assert seen[:2] == ["Bearer tab_first", "Bearer tab_second"]
        finally:
            await runtime.stop()


async def test_the_runtime_knows_the_circle_before_my_people_is_opened(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """Offline Help names the neighbour: the circle is read with the family poll."""

    async def pair(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "device_id": "tablet-circle",
                "resident_id": 7,
                "hub_url": str(request.url.origin()),
                "api_token": "tab_circle",
                "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "username": "u",
                         "password": "p"},
            }
        )  # fmt: skip

    async def conversations(request: web.Request) -> web.Response:
        return web.json_response([])

    async def circle(request: web.Request) -> web.Response:
        assert request.match_info["rid"] == "7"
        member = {"party": "u:4", "name": "Laia"}
        return web.json_response(
            [{"link_id": 4, "member": member, "relationship": "veïna", "consent": []}]
        )

    app = web.Application()
    app.router.add_post("/api/tablet/pair", pair)
    app.router.add_get("/api/family/conversations", conversations)
    app.router.add_get("/api/family/residents/{rid}/circle", circle)
    async with TestServer(app) as server:
        settings = TabletSettings(hub_url=str(server.make_url("/")), state_dir=str(tmp_path))
        model = TabletModel(language="ca")
        runtime = TabletRuntime(
            model, settings, Broker(), speaker=Quiet(), ringer=SilentRinger(), retry_s=(0.1,),
            clock=machine_now,
        )  # fmt: skip
        await runtime.start()
        try:
            for digit in "123456":
                model.pair_press(digit)
            runtime.submit_pairing()
            await until(lambda: bool(model.circle))
            assert model.screen is not Screen.CIRCLE
            model.set_online(False)
            model.press_help(machine_now())
            assert model.help_alternatives()[2] == ("people", "Truqueu a la porta de Laia (veïna)")
        finally:
            await runtime.stop()


async def test_stop_ends_a_task_that_lost_its_cancellation(tmp_path: Path) -> None:
    """aiomqtt's connect/subscribe/publish use Python 3.11's wait_for, which can swallow a
    cancellation that races its result; the link then served on and stop() hung (CI)."""
    settings = TabletSettings(hub_url="http://127.0.0.1:9", state_dir=str(tmp_path))
    runtime = TabletRuntime(
        TabletModel(language="en"), settings, Broker(), speaker=Quiet(), ringer=SilentRinger()
    )
    swallowed = asyncio.Event()

    async def deaf_link() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()  # what wait_for does when the result races the cancel
        await asyncio.Event().wait()

    task = asyncio.create_task(deaf_link(), name="hub-link")
    runtime._tasks.add(task)
    await asyncio.sleep(0)
    stopping = asyncio.create_task(runtime.stop())
    # Not bounded with asyncio.timeout around stop(): cancelling the awaiting test would
    # cancel the task a second time and hide the hang.
    await asyncio.wait({stopping}, timeout=8)
    try:
        assert stopping.done(), "stop() did not end a task that swallowed its cancellation"
        assert swallowed.is_set()
        assert task.done()
    finally:
        stopping.cancel()
        task.cancel()
