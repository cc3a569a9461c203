"""Messages and media over the real API, on SQLite and PostgreSQL."""

import io
from typing import Any

from PIL import Image

from tests.family.conftest import Person, Tablet, World
from tests.family.media_samples import Samples


async def _chat(world: World) -> tuple[Tablet, Person, int]:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    return maria, anna, int(link["conversation_id"])


async def _post(world: World, cid: int, headers: dict[str, str], **body: Any) -> Any:
    resp = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json=body, headers=headers
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _upload(world: World, headers: dict[str, str], kind: str, data: bytes) -> Any:
    return await world.client.post(
        f"/api/family/media?kind={kind}",
        data=data,
        headers=headers | {"Content-Type": "application/octet-stream"},
    )


async def test_text_messages_unread_counts_and_receipts(world: World) -> None:
    maria, anna, cid = await _chat(world)
    first = await _post(world, cid, anna.headers, text="Hola mama!")
    second = await _post(world, cid, anna.headers, text="Vinc dissabte")
    unread = await (await world.client.get("/api/family/unread", headers=maria.headers)).json()
    assert unread == {"total": 2, "conversations": {str(cid): 2}}
    convs = await (
        await world.client.get("/api/family/conversations", headers=maria.headers)
    ).json()
    assert convs[0]["unread"] == 2
    assert convs[0]["title"] == "Anna"
    assert convs[0]["last_message"]["text"] == "Vinc dissabte"
    read = await world.client.post(
        f"/api/family/conversations/{cid}/read", json={"up_to": first["id"]}, headers=maria.headers
    )
    assert (await read.json())["unread"] == 1
    page = await (
        await world.client.get(f"/api/family/conversations/{cid}/messages", headers=anna.headers)
    ).json()
    by_id = {m["id"]: m for m in page["messages"]}
    assert by_id[first["id"]]["read_by"] == [maria.party]
    assert by_id[second["id"]]["read_by"] == []
    # A receipt past the newest message, or backwards, changes nothing wrong.
    await world.client.post(
        f"/api/family/conversations/{cid}/read", json={"up_to": 10**9}, headers=maria.headers
    )
    back = await world.client.post(
        f"/api/family/conversations/{cid}/read", json={"up_to": 1}, headers=maria.headers
    )
    assert (await back.json())["up_to"] == second["id"]


async def test_history_is_paged_newest_first(world: World) -> None:
    maria, anna, cid = await _chat(world)
    sent = [await _post(world, cid, anna.headers, text=f"m{i}") for i in range(7)]
    seen: list[str] = []
    before = None
    while True:
        query = f"?limit=3{'&before=' + str(before) if before else ''}"
        page = await (
            await world.client.get(
                f"/api/family/conversations/{cid}/messages{query}", headers=maria.headers
            )
        ).json()
        seen.extend(m["text"] for m in page["messages"])
        before = page["next_before"]
        if before is None:
            break
    assert seen == [m["text"] for m in reversed(sent)]
    bad = await world.client.get(
        f"/api/family/conversations/{cid}/messages?limit=1000", headers=maria.headers
    )
    assert bad.status == 400


async def test_photo_message_with_thumbnail(world: World, media_samples: Samples) -> None:
    maria, anna, cid = await _chat(world)
    resp = await _upload(world, anna.headers, "photo", media_samples.jpeg)
    assert resp.status == 201, await resp.text()
    media = await resp.json()
    assert (media["kind"], media["width"], media["height"]) == ("photo", 64, 48)
    message = await _post(world, cid, anna.headers, media_id=media["media_id"], text="La nena")
    assert message["kind"] == "photo"
    got = await world.client.get(message["media"]["url"], headers=maria.headers)
    assert got.status == 200
    assert got.content_type == "image/jpeg"
    # Opened on its own it is a download, never a page of the hub's origin.
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert got.headers["Content-Disposition"].startswith('attachment; filename="')
    assert "/" not in got.headers["Content-Disposition"]
    with Image.open(io.BytesIO(await got.read())) as served:
        assert (served.format, served.size) == ("JPEG", (64, 48))
    thumb = await world.client.get(message["media"]["thumbnail_url"], headers=maria.headers)
    assert (await thumb.read())[:3] == b"\xff\xd8\xff"
    assert thumb.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert thumb.headers["Content-Disposition"].startswith("attachment;")
    # Someone outside the conversation cannot fetch it.
    stranger = await world.person()
    nope = await world.client.get(message["media"]["url"], headers=stranger.headers)
    assert nope.status == 404


async def test_voice_and_video_messages_have_durations(
    world: World, media_samples: Samples
) -> None:
    maria, anna, cid = await _chat(world)
    voice = await (await _upload(world, maria.headers, "voice", media_samples.ogg_voice)).json()
    assert voice["content_type"] == "audio/ogg"
    assert 0.5 < voice["duration_s"] < 2
    # A video goes to its conversation and is re-encoded afterwards (test_video_jobs.py).
    video = await world.client.post(
        f"/api/family/conversations/{cid}/videos",
        data=media_samples.webm_video,
        headers=anna.headers | {"Content-Type": "application/octet-stream"},
    )
    assert video.status == 202
    assert 0.5 < (await video.json())["duration_s"] < 2
    msg = await _post(world, cid, maria.headers, media_id=voice["media_id"])
    assert msg["kind"] == "voice"
    assert msg["media"]["duration_s"] == voice["duration_s"]


async def test_bad_uploads_are_refused_and_nothing_is_kept(
    world: World, media_samples: Samples
) -> None:
    _, anna, cid = await _chat(world)
    cases = [
        ("photo", b"not a photo at all, just some text bytes", 415, "media_unsupported"),
        ("voice", media_samples.jpeg, 415, "media_kind_mismatch"),
        ("video", media_samples.webm_video, 400, "video_needs_conversation"),
        ("photo", media_samples.jpeg[:50], 422, "media_corrupt"),
        ("sticker", media_samples.jpeg, 400, "invalid_request"),
        ("photo", b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024 + 1), 413, "media_too_large"),
    ]
    for kind, data, status, code in cases:
        resp = await _upload(world, anna.headers, kind, data)
        assert resp.status == status, (kind, await resp.text())
        assert (await resp.json())["error"] == code
    page = await (
        await world.client.get(f"/api/family/conversations/{cid}/messages", headers=anna.headers)
    ).json()
    assert page["messages"] == []


async def test_bad_messages_and_strangers(world: World, media_samples: Samples) -> None:
    maria, anna, cid = await _chat(world)
    stranger = await world.person()
    resp = await world.client.post(
        f"/api/family/conversations/{cid}/messages", json={"text": "hi"}, headers=stranger.headers
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == "not_member"
    read = await world.client.get(
        f"/api/family/conversations/{cid}/messages", headers=stranger.headers
    )
    assert read.status == 403
    for body, code in [
        ({}, "message_empty"),
        ({"text": "   "}, "message_empty"),
        ({"text": "x" * 2001}, "text_too_long"),
        ({"text": 5}, "invalid_request"),
    ]:
        resp = await world.client.post(
            f"/api/family/conversations/{cid}/messages", json=body, headers=anna.headers
        )
        assert resp.status == 400, body
        assert (await resp.json())["error"] == code
    # Someone else's media cannot be attached.
    theirs = await (await _upload(world, maria.headers, "photo", media_samples.png)).json()
    resp = await world.client.post(
        f"/api/family/conversations/{cid}/messages",
        json={"media_id": theirs["media_id"]},
        headers=anna.headers,
    )
    assert resp.status == 404
    # Direct chats only with people of one's circles.
    resp = await world.client.post(
        "/api/family/conversations", json={"with": maria.party}, headers=stranger.headers
    )
    assert resp.status == 403
    resp = await world.client.post(
        "/api/family/conversations", json={"with": "nobody"}, headers=anna.headers
    )
    assert resp.status == 400


async def test_two_members_of_one_circle_can_chat(world: World) -> None:
    maria = await world.resident()
    anna, pere = await world.person(name="Anna"), await world.person(name="Pere")
    await world.link(maria, anna)
    await world.link(maria, pere)
    resp = await world.client.post(
        "/api/family/conversations", json={"with": pere.party}, headers=anna.headers
    )
    assert resp.status == 200
    cid = (await resp.json())["id"]
    again = await world.client.post(
        "/api/family/conversations", json={"with": anna.party}, headers=pere.headers
    )
    assert (await again.json())["id"] == cid
    await _post(world, cid, pere.headers, text="Hola germana")


async def test_only_the_sender_deletes(world: World, media_samples: Samples) -> None:
    maria, anna, cid = await _chat(world)
    media = await (await _upload(world, anna.headers, "photo", media_samples.jpeg)).json()
    message = await _post(world, cid, anna.headers, media_id=media["media_id"], text="oops")
    other = await world.client.delete(
        f"/api/family/messages/{message['id']}", headers=maria.headers
    )
    assert other.status == 403
    mine = await world.client.delete(f"/api/family/messages/{message['id']}", headers=anna.headers)
    assert mine.status == 204
    page = await (
        await world.client.get(f"/api/family/conversations/{cid}/messages", headers=maria.headers)
    ).json()
    gone = page["messages"][0]
    assert gone["deleted"] is True
    assert gone["text"] == ""
    assert gone["media"] is None
    fetch = await world.client.get(message["media"]["url"], headers=anna.headers)
    assert fetch.status == 404
    twice = await world.client.delete(f"/api/family/messages/{message['id']}", headers=anna.headers)
    assert twice.status == 404


async def test_a_photo_is_kept_upright_and_without_its_metadata(world: World) -> None:
    """A phone photo carries the GPS position where it was taken (often the resident's
    home) and the camera's serial number: the hub keeps the pixels only."""
    maria, anna, cid = await _chat(world)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to display
    exif[0x010F] = "PhoneMaker"
    exif[0xA431] = "SERIAL-123456"  # body serial number
    exif[0x8825] = {1: "N", 2: (41.0, 23.0, 10.0), 3: "E", 4: (2.0, 10.0, 0.0)}  # GPS
    original = io.BytesIO()
    Image.new("RGB", (80, 40), (200, 30, 30)).save(
        original, "JPEG", exif=exif.tobytes(), comment=b"Carrer Major 3, 2n 1a"
    )
    data = original.getvalue()
    assert b"SERIAL-123456" in data
    resp = await _upload(world, anna.headers, "photo", data)
    assert resp.status == 201, await resp.text()
    media = await resp.json()
    # Upright: the 80x40 sensor image displays as 40x80.
    assert (media["width"], media["height"]) == (40, 80)
    message = await _post(world, cid, anna.headers, media_id=media["media_id"])
    stored = await (await world.client.get(message["media"]["url"], headers=maria.headers)).read()
    assert b"SERIAL-123456" not in stored
    assert b"PhoneMaker" not in stored
    assert b"Carrer Major" not in stored
    with Image.open(io.BytesIO(stored)) as served:
        assert served.size == (40, 80)
        assert not served.getexif()
        assert "comment" not in served.info
        assert served.getpixel((20, 40))[0] > 150  # still the red picture
    assert media["size"] == len(stored)
