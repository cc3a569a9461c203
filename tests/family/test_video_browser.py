"""Video messages from the family app in real Chromium at phone size: a video chosen on the
phone is re-encoded by the hub and plays in the chat; one over the limit is refused on the
phone with the sizes in words, before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

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


async def test_a_video_is_sent_and_plays_and_a_large_one_is_refused_clearly(
    world: World, media_samples: Samples, tmp_path: Path
) -> None:
    maria = await world.resident("Maria")
    anna = await world.person(name="Anna")
    link = await world.link(maria, anna)
    base = str(world.client.make_url("/")).rstrip("/")
    small = tmp_path / "hello.webm"
    small.write_bytes(media_samples.webm_video)
    big = tmp_path / "long.webm"
    big.write_bytes(media_samples.webm_video.ljust(3 * 1048576, b"\0"))  # 3 MB
    async with media_browser() as browser:
        page = await signed_in_page(
            browser, base, anna.username, f"/family/chat/{link['conversation_id']}", lang="ca"
        )
        await page.set_input_files("#video-input", str(big))
        await expect(page.locator("#chat-error")).to_have_text(
            "Aquest vídeo fa 3 MB i el màxim és 2 MB. Grava'n un de més curt.", timeout=TIMEOUT_MS
        )
        await page.set_input_files("#video-input", str(small))
        video = page.locator(".msg video")
        await expect(video).to_have_count(1, timeout=TIMEOUT_MS)
        duration = await page.wait_for_function(
            """() => { const v = document.querySelector('.msg video');
                       return v && v.readyState >= 1 && v.duration > 0 ? v.duration : null; }""",
            timeout=TIMEOUT_MS,
        )
        assert 0.5 < await duration.json_value() < 2
    messages = await world.client.get(
        f"/api/family/conversations/{link['conversation_id']}/messages", headers=maria.headers
    )
    body = await messages.json()
    items = body["messages"] if isinstance(body, dict) else body
    [sent] = [m for m in items if m.get("media")]
    assert sent["media"]["content_type"] == "video/mp4"
    assert sent["media"]["kind"] == "video"
