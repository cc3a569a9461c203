"""Video messages are re-encoded by a durable background job (hub/family/video_jobs.py,
ADR 0162), with real ffmpeg on a one-second clip, on SQLite and PostgreSQL: the upload is
answered 202 at once with the message ``processing`` (seen by its sender only); the job
makes it an ordinary message and the tablet is told live; a video that cannot be prepared
is ``failed`` with its reason; refused uploads leave nothing; a clean restart takes the
upload at start and a crashed worker's claim runs out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from hub.app import create_app
from hub.appkeys import SESSIONMAKER
from hub.clock import ManualClock
from hub.family.models import Message, VideoUpload
from hub.family.settings import TRANSCODE_GATE
from hub.settings import HubSettings
from teleassist.config import Config, load_config
from tests.family.conftest import Person, Tablet, World
from tests.family.media_samples import Samples
from tests.hub.ingest.helpers import eventually

LIMIT = 2 * 1048576


@pytest.fixture
def hub_config(request: pytest.FixtureRequest) -> Config:
    extra: dict[str, Any] = getattr(request, "param", {})
    return load_config().with_overrides(
        "family", media={"video_max_bytes": LIMIT}, video_poll_s=0.2, video_lease_s=90.0, **extra
    )


async def _chat(world: World) -> tuple[Tablet, Person, int]:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    return maria, anna, int(link["conversation_id"])


async def _send_video(
    client: TestClient[Any, Any], who: Person, cid: int, data: bytes, text: str = ""
) -> Any:
    query = f"?text={text}" if text else ""
    return await client.post(
        f"/api/family/conversations/{cid}/videos{query}",
        data=data,
        headers=who.headers | {"Content-Type": "application/octet-stream"},
    )


async def _history(client: TestClient[Any, Any], who: Person | Tablet, cid: int) -> Any:
    resp = await client.get(f"/api/family/conversations/{cid}/messages", headers=who.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(120):
        while True:
            frame: dict[str, Any] = await ws.receive_json()
            if frame["type"] == kind:
                return frame


def _media_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_video_is_answered_at_once_then_delivered_live(
    world: World, media_samples: Samples, hub_settings: HubSettings
) -> None:
    maria, anna, cid = await _chat(world)
    gate = world.client.app[TRANSCODE_GATE]
    async with (
        world.client.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws,
        world.client.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws,
    ):
        # Held: the upload must be answered while no re-encoding can have happened.
        await gate.acquire()
        try:
            sent = await _send_video(world.client, anna, cid, media_samples.webm_video, "Hola")
            assert sent.status == 202, await sent.text()
            upload = await sent.json()
            assert upload["status"] == "processing"
            assert upload["id"] is None
            assert upload["kind"] == "video"
            assert upload["text"] == "Hola"
            assert 0.5 < upload["duration_s"] < 2
            assert (await _next(anna_ws, "upload.changed"))["upload"]["status"] == "processing"
            # Only its sender sees it; the resident has nothing new yet.
            mine = await _history(world.client, anna, cid)
            assert [u["upload_id"] for u in mine["uploads"]] == [upload["upload_id"]]
            theirs = await _history(world.client, maria, cid)
            assert theirs["messages"] == []
            assert theirs["uploads"] == []
            unread = await world.client.get("/api/family/unread", headers=maria.headers)
            assert (await unread.json())["total"] == 0
        finally:
            gate.release()
        frame = await _next(tablet_ws, "message.new")
        assert frame["upload_id"] == upload["upload_id"]
        message = frame["message"]
        assert message["kind"] == "video"
        assert message["text"] == "Hola"
        assert message["media"]["content_type"] == "video/mp4"
        assert (await _next(anna_ws, "message.new"))["message"]["id"] == message["id"]
    theirs = await _history(world.client, maria, cid)
    assert [m["id"] for m in theirs["messages"]] == [message["id"]]
    assert (await _history(world.client, anna, cid))["uploads"] == []
    unread = await world.client.get("/api/family/unread", headers=maria.headers)
    assert (await unread.json())["total"] == 1
    played = await world.client.get(message["media"]["url"], headers=maria.headers)
    assert played.status == 200
    assert (await played.read())[4:8] == b"ftyp"
    thumb = await world.client.get(message["media"]["thumbnail_url"], headers=maria.headers)
    assert (await thumb.read())[:3] == b"\xff\xd8\xff"
    # The upload itself is gone: only the MP4 and its thumbnail are kept.
    files = _media_files(hub_settings.data_path / "media")
    assert sorted(p.suffix for p in files) == [".jpg", ".mp4"]


async def test_refused_uploads_say_why_and_leave_nothing(
    world: World, media_samples: Samples, hub_settings: HubSettings
) -> None:
    _, anna, cid = await _chat(world)
    stranger = await world.person(name="Joan")
    cases = [
        (media_samples.webm_video.ljust(LIMIT + 1, b"\0"), 413, "media_too_large"),
        (media_samples.webm_video[:30], 422, "media_corrupt"),
        (media_samples.ogg_voice, 415, "media_kind_mismatch"),
        (media_samples.jpeg, 415, "media_kind_mismatch"),
        (b"not a video at all, just text", 415, "media_unsupported"),
    ]
    for data, status, code in cases:
        resp = await _send_video(world.client, anna, cid, data)
        assert resp.status == status, await resp.text()
        assert (await resp.json())["error"] == code
    resp = await _send_video(world.client, stranger, cid, media_samples.webm_video)
    assert resp.status == 403
    # The old way re-encoded inside the request: it now points to the one above.
    old = await world.client.post(
        "/api/family/media?kind=video", data=media_samples.webm_video, headers=anna.headers
    )
    assert old.status == 400
    assert (await old.json())["error"] == "video_needs_conversation"
    async with world.sessionmaker() as session:
        assert list(await session.scalars(select(VideoUpload))) == []
        assert list(await session.scalars(select(Message))) == []
    assert _media_files(hub_settings.data_path / "media") == []
    # A text message still goes through: nothing was half written.
    ok = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": "Hola"}, headers=anna.headers
    )
    assert ok.status == 201


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_video_that_cannot_be_prepared_is_failed_with_its_reason(
    world: World, media_samples: Samples, hub_settings: HubSettings
) -> None:
    maria, anna, cid = await _chat(world)
    # A clip cut short after its header: ffprobe reads it (streams, duration), but there
    # is not one whole picture to encode.
    broken = media_samples.webm_video[:1000]
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws:
        sent = await _send_video(world.client, anna, cid, broken)
        assert sent.status == 202, await sent.text()
        upload_id = (await sent.json())["upload_id"]
        while True:
            frame = await _next(anna_ws, "upload.changed")
            if frame["upload"]["status"] == "failed":
                break
    assert frame["upload"]["upload_id"] == upload_id
    assert frame["upload"]["failure"] == "media_corrupt"
    mine = await _history(world.client, anna, cid)
    assert [(u["status"], u["failure"]) for u in mine["uploads"]] == [("failed", "media_corrupt")]
    assert (await _history(world.client, maria, cid))["messages"] == []
    assert _media_files(hub_settings.data_path / "media") == []
    # Its sender clears it away; nobody else may.
    other = await world.client.delete(
        f"/api/family/video-uploads/{upload_id}", headers=maria.headers
    )
    assert other.status == 404
    gone = await world.client.delete(f"/api/family/video-uploads/{upload_id}", headers=anna.headers)
    assert gone.status == 204
    assert (await _history(world.client, anna, cid))["uploads"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("hub_config", [{"video_transcode_timeout_s": 0.001}], indirect=True)
async def test_a_video_that_takes_too_long_is_failed_as_too_long(
    world: World, media_samples: Samples
) -> None:
    _, anna, cid = await _chat(world)
    async with world.client.ws_connect("/api/family/ws", headers=anna.headers) as anna_ws:
        sent = await _send_video(world.client, anna, cid, media_samples.webm_video)
        assert sent.status == 202
        while (frame := await _next(anna_ws, "upload.changed"))["upload"]["status"] != "failed":
            pass
    assert frame["upload"]["failure"] == "media_too_long"


Starter = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


async def _restarted(
    aiohttp_client: Starter, settings: HubSettings, config: Config, clock: ManualClock
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings, config=config, clock=clock))


async def test_a_clean_restart_takes_the_upload_at_start(
    world: World,
    media_samples: Samples,
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_config: Config,
    hub_clock: ManualClock,
) -> None:
    maria, anna, cid = await _chat(world)
    await world.client.app[TRANSCODE_GATE].acquire()  # the job claims it, then waits
    sent = await _send_video(world.client, anna, cid, media_samples.webm_video)
    assert sent.status == 202
    upload_id = (await sent.json())["upload_id"]

    async def claimed() -> bool:
        async with world.sessionmaker() as session:
            row = await session.get(VideoUpload, upload_id)
            return row is not None and row.worker is not None

    await eventually(claimed)
    await world.client.close()  # a clean stop: the claim is given back, not counted
    async with world.sessionmaker() as session:
        row = await session.get(VideoUpload, upload_id)
        assert row is not None
        kept = (row.status, row.worker, row.lease_until, row.attempts)
        assert kept == ("processing", None, None, 0)
    again = await _restarted(aiohttp_client, hub_settings, hub_config, hub_clock)
    async with again.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws:
        page = await _history(again, maria, cid)
        if not page["messages"]:
            frame = await _next(tablet_ws, "message.new")
            assert frame["upload_id"] == upload_id
    page = await _history(again, maria, cid)
    assert [m["media"]["content_type"] for m in page["messages"]] == ["video/mp4"]


async def test_a_crashed_workers_claim_runs_out_and_another_takes_it(
    world: World,
    media_samples: Samples,
    aiohttp_client: Starter,
    hub_settings: HubSettings,
    hub_config: Config,
    hub_clock: ManualClock,
) -> None:
    maria, anna, cid = await _chat(world)
    await world.client.app[TRANSCODE_GATE].acquire()
    sent = await _send_video(world.client, anna, cid, media_samples.webm_video)
    upload_id = (await sent.json())["upload_id"]
    await world.client.close()
    # As a worker killed mid-encoding leaves it: claimed, with a lease still running.
    async with world.sessionmaker() as session:
        await session.execute(
            update(VideoUpload)
            .where(VideoUpload.id == upload_id)
            .values(worker="killed", lease_until=hub_clock() + timedelta(seconds=90), attempts=1)
        )
        await session.commit()
    again = await _restarted(aiohttp_client, hub_settings, hub_config, hub_clock)
    async with again.ws_connect("/api/family/ws", headers=maria.headers) as tablet_ws:
        # Still someone else's: a few polls pass and nothing is taken.
        await asyncio.sleep(0.6)  # three polls of 0.2 s: checking that nothing happens
        async with again.app[SESSIONMAKER]() as session:
            row = await session.get(VideoUpload, upload_id)
            assert row is not None
            assert row.worker == "killed"
        hub_clock.advance(timedelta(seconds=91))
        frame = await _next(tablet_ws, "message.new")
    assert frame["upload_id"] == upload_id
