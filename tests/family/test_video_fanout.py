"""A video prepared on one hub worker reaches the sockets on another (ADR 0172): two hubs
in this process on one PostgreSQL database, each with its own alarm fan-out listening.
Worker A (where the tablet and the sender are connected) never polls for uploads; the
upload arrives on worker B, whose job prepares it; A's sockets hear of it through the
fan-out's video channel. A failure reaches its sender the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hub.alarms.keys import ALARM_FANOUT, FANOUT_RELAYS
from hub.app import create_app
from hub.clock import ManualClock
from hub.family.video_fanout import BadVideoSignal, VideoSignal
from hub.settings import HubSettings
from teleassist.config import Config, load_config
from tests.family.conftest import World, frame_of
from tests.family.media_samples import Samples

Starter = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def _config(poll_s: float) -> Config:
    return load_config().with_overrides(
        "family", media={"video_max_bytes": 2 * 1048576}, video_poll_s=poll_s
    )


@pytest.fixture
def hub_config() -> Config:
    """Worker A: an upload is taken only where it arrives (no poll within the test)."""
    return _config(3600.0)


async def _frame(ws: Any, kind: str) -> dict[str, Any]:
    return await frame_of(ws, kind, 120)


def test_a_signal_survives_its_payload() -> None:
    for signal in (VideoSignal(7, 12, "ab12"), VideoSignal(7, None, "ab12")):
        assert VideoSignal.parse(signal.payload()) == signal


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[7]",
        '{"o": "ab"}',
        '{"u": "7", "o": "ab"}',
        '{"u": true, "o": "ab"}',
        '{"u": 7, "m": "12", "o": "ab"}',
        '{"u": 0, "o": "ab"}',
        '{"u": 7, "m": -1, "o": "ab"}',
        '{"u": 7, "o": ""}',
        '{"u": 7, "o": "' + "x" * 65 + '"}',
        '{"u": 7, "o": 5}',
    ],
)
def test_a_bad_payload_is_refused(payload: str) -> None:
    with pytest.raises(BadVideoSignal):
        VideoSignal.parse(payload)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.postgres
async def test_a_video_prepared_on_another_worker_reaches_this_workers_sockets(
    world: World,
    media_samples: Samples,
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_clock: ManualClock,
) -> None:
    a = world.client
    b = await aiohttp_client(create_app(hub_settings, config=_config(0.2), clock=hub_clock))
    for worker in (a, b):
        async with asyncio.timeout(30):
            await worker.app[ALARM_FANOUT].listening.wait()
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    cid = int((await world.link(maria, anna))["conversation_id"])
    headers = anna.headers | {"Content-Type": "application/octet-stream"}
    async with (
        a.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
        a.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
    ):
        sent = await b.post(
            f"/api/family/conversations/{cid}/videos?text=Hola",
            data=media_samples.webm_video,
            headers=headers,
        )
        assert sent.status == 202, await sent.text()
        upload_id = (await sent.json())["upload_id"]
        frame = await _frame(tablet_ws, "message.new")
        assert frame["upload_id"] == upload_id
        message = frame["message"]
        assert (message["kind"], message["text"]) == ("video", "Hola")
        assert message["media"]["content_type"] == "video/mp4"
        assert message["sender"]["party"] == anna.party
        # The sender's phone drops its "being prepared" line for the message.
        mine = await _frame(anna_ws, "message.new")
        assert (mine["upload_id"], mine["message"]["id"]) == (upload_id, message["id"])

        # A clip cut short after its header fails on B: its sender hears it on A.
        broken = await b.post(
            f"/api/family/conversations/{cid}/videos",
            data=media_samples.webm_video[:1000],
            headers=headers,
        )
        assert broken.status == 202, await broken.text()
        # (B's "being prepared" reaches A too since ADR 0181: the failure comes after it.)
        frame = await _frame(anna_ws, "upload.changed")
        while frame["upload"]["status"] == "processing":
            frame = await _frame(anna_ws, "upload.changed")
        assert frame["upload"]["upload_id"] == (await broken.json())["upload_id"]
        assert (frame["upload"]["status"], frame["upload"]["failure"]) == (
            "failed",
            "media_corrupt",
        )

        # After a lost connection A publishes again what became a message or failed
        # meanwhile: the same message (clients replace it) and the same failure.
        # (Every relay catches up after a reconnection; the carephones' own relays are
        # on the same fan-out since ADR 0168 section 4.)
        for relay in a.app[FANOUT_RELAYS]:
            await relay.catch_up(hub_clock())
        again = await _frame(tablet_ws, "message.new")
        assert again["message"]["id"] == message["id"]
        assert (await _frame(anna_ws, "upload.changed"))["upload"]["status"] == "failed"
