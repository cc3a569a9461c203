"""Video messages from the family app in real Chromium at phone size: a video chosen on the
phone is answered at once and shown "being prepared" while the hub re-encodes it in the
background (hub/family/video_jobs.py), then plays in the chat; one the hub cannot prepare
says why and can be removed; one over the limit is refused on the phone with the sizes in
words, before anything is sent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from hub.family.settings import TRANSCODE_GATE
from teleassist.config import Config, load_config
from tests.family.browser import media_browser, signed_in_page
from tests.family.conftest import World
from tests.family.media_samples import Samples

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

TIMEOUT_MS = 120_000
LIMIT = 2 * 1048576  # bytes: small, so the test needs no 50 MB file


@pytest.fixture
def hub_config() -> Config:
    return load_config().with_overrides("family", media={"video_max_bytes": LIMIT})


WORDS = {
    "ca": {
        "too_large": "Aquest vídeo fa 3 MB i el màxim és 2 MB. Grava'n un de més curt.",
        "processing": "Preparant el vídeo… S'enviarà sol quan estigui a punt; pots tancar "
        "l'aplicació.",
        "failed": "Aquest vídeo no s'ha enviat. El fitxer està malmès o tallat. Prova de "
        "gravar-lo de nou.",
        "remove": "Treure",
    },
    "en": {
        "too_large": "This video is 3 MB and the most is 2 MB. Record a shorter one.",
        "processing": "Preparing the video… It is sent by itself when it is ready; you can "
        "close the app.",
        "failed": "This video was not sent. The file is damaged or cut short. Try recording "
        "it again.",
        "remove": "Remove",
    },
}


@pytest.mark.parametrize("lang", ["ca", "en"])
async def test_a_video_is_prepared_after_its_upload_then_plays_and_failures_say_why(
    world: World, media_samples: Samples, tmp_path: Path, lang: str
) -> None:
    words = WORDS[lang]
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    said = await world.client.put("/api/me/language", json={"language": lang}, headers=anna.headers)
    assert said.status == 200, await said.text()
    base = str(world.client.make_url("/")).rstrip("/")
    small = tmp_path / "hello.webm"
    small.write_bytes(media_samples.webm_video)
    big = tmp_path / "long.webm"
    big.write_bytes(media_samples.webm_video.ljust(3 * 1048576, b"\0"))  # 3 MB
    cut = tmp_path / "cut.webm"
    cut.write_bytes(media_samples.webm_video[:1000])  # a header and no whole picture
    gate = world.client.app[TRANSCODE_GATE]
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, anna.username, f"/family/chat/{link['conversation_id']}", lang=lang
        )
        await page.set_input_files("#video-input", str(big))
        await expect(page.locator("#chat-error")).to_have_text(
            words["too_large"], timeout=TIMEOUT_MS
        )
        # Held: the chat must say "being prepared" while the hub has not re-encoded it.
        await gate.acquire()
        try:
            await page.set_input_files("#video-input", str(small))
            waiting = page.locator(".msg.upload.processing .upload-state")
            await expect(waiting).to_have_text(words["processing"], timeout=TIMEOUT_MS)
            await expect(page.locator("#chat-error")).to_be_hidden()
            await page.screenshot(path=str(tmp_path / f"video-processing-{lang}.png"))
        finally:
            gate.release()
        # Told live: the placeholder becomes the message, and it plays.
        video = page.locator(".msg video")
        await expect(video).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(page.locator(".msg.upload")).to_have_count(0)
        duration = await page.wait_for_function(
            """() => { const v = document.querySelector('.msg video');
                       return v && v.readyState >= 1 && v.duration > 0 ? v.duration : null; }""",
            timeout=TIMEOUT_MS,
        )
        assert 0.5 < await duration.json_value() < 2
        # One the hub cannot prepare: not sent, the reason, and a way to clear it away.
        await page.set_input_files("#video-input", str(cut))
        failed = page.locator(".msg.upload.failed")
        await expect(failed.locator(".upload-state")).to_have_text(
            words["failed"], timeout=TIMEOUT_MS
        )
        await page.screenshot(path=str(tmp_path / f"video-failed-{lang}.png"))
        box = await failed.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        # Still there after a reload: the hub keeps it for its sender.
        await page.reload()
        await expect(failed.locator(".upload-state")).to_have_text(
            words["failed"], timeout=TIMEOUT_MS
        )
        await failed.get_by_role("button", name=words["remove"]).click()
        await expect(page.locator(".msg.upload")).to_have_count(0, timeout=TIMEOUT_MS)
        await expect(page.locator(".msg video")).to_have_count(1)
    messages = await world.client.get(
        f"/api/family/conversations/{link['conversation_id']}/messages", headers=maria.headers
    )
    body = await messages.json()
    [sent] = [m for m in body["messages"] if m.get("media")]
    assert sent["media"]["content_type"] == "video/mp4"
    assert sent["media"]["kind"] == "video"
    mine = await world.client.get(
        f"/api/family/conversations/{link['conversation_id']}/messages", headers=anna.headers
    )
    assert (await mine.json())["uploads"] == []


async def test_a_videos_label_and_its_words_are_lines_of_their_own(
    world: World, media_samples: Samples
) -> None:
    """The label ("Vídeo · 1 s") and the words sent with the video were inline spans with
    nothing between them: the chat read "Vídeo · 1 sEl Montseny"."""
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    said = await world.client.put("/api/me/language", json={"language": "ca"}, headers=anna.headers)
    assert said.status == 200, await said.text()
    sent = await world.client.post(
        f"/api/family/conversations/{link['conversation_id']}/videos",
        params={"text": "El Montseny des de la finestra"},
        data=media_samples.webm_video,
        headers={**anna.headers, "Content-Type": "application/octet-stream"},
    )
    assert sent.status == 202, await sent.text()
    base = str(world.client.make_url("/")).rstrip("/")
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, anna.username, f"/family/chat/{link['conversation_id']}", lang="ca"
        )
        message = page.locator(".msg:not(.upload)", has=page.locator("video"))
        await expect(message).to_have_count(1, timeout=TIMEOUT_MS)
        label, words = message.locator(".media-label"), message.locator(".text")
        await expect(label).to_have_text(re.compile(r"^Vídeo · \d+ s$"))
        await expect(words).to_have_text("El Montseny des de la finestra")
        above, below = await label.bounding_box(), await words.bounding_box()
        assert above is not None
        assert below is not None
        # Two lines, with space between them, not one run of text.
        assert below["y"] >= above["y"] + above["height"] + 2, (above, below)
        assert re.search(r"\d s\n+El Montseny", await message.inner_text())
