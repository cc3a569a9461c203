"""Video messages on the tablet: the file decoded and shown at its own pace, full screen with
two big buttons, stopped when the resident closes it — a real MP4 like the hub keeps, in a
real Kivy window."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tablet_app.i18n import LANGUAGES, Lang
from tablet_app.model import Contact, Message, Screen, TabletModel
from tablet_app.videoplay import FilePlayer, VideoMessages
from tests.tablet_app.conftest import assert_fits, pump, pump_until, tap

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _mp4(path: Path, seconds: float) -> Path:
    # What the hub keeps (hub/media/transcode.py): H.264/AAC MP4.
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=320x240:rate=10:duration={seconds}", "-f", "lavfi", "-i",
         f"sine=frequency=440:duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _mp4(tmp_path_factory.mktemp("video") / "hello.mp4", 1)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _mp4(tmp_path_factory.mktemp("video") / "long.mp4", 10)


def test_a_video_plays_every_frame_at_its_pace(short_video: Path) -> None:
    started = time.monotonic()
    player = FilePlayer(short_video).start()
    assert player.finished.wait(30)
    assert not player.failed
    assert player.frames >= 5  # 10 frames; a loaded machine may drop a few, never most
    assert (player.last.width, player.last.height) == (320, 240)
    assert time.monotonic() - started >= 0.8  # shown at its pace, not decoded at once


def test_stop_ends_a_long_video_at_once(long_video: Path) -> None:
    player = FilePlayer(long_video).start()
    deadline = time.monotonic() + 30
    while player.frames == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    player.stop()
    assert player.finished.wait(2)
    assert player.frames < 50


def test_a_damaged_file_fails_quietly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 100)
    player = FilePlayer(bad).start()
    assert player.finished.wait(10)
    assert player.failed
    assert player.last is None


def _model(lang: Lang, video: Path) -> TabletModel:
    model = TabletModel(language=lang, online=True)
    model.contacts = [Contact("u:3", "Maria")]
    model.messages = [Message("v1", "u:3", "video", NOW, text="Hola iaia!", media=str(video))]
    model.open_conversation("u:3")
    return model


@pytest.fixture
def view_for(kivy_window: Any) -> Iterator[Any]:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    made: list[tuple[Any, VideoMessages]] = []

    def make(model: TabletModel) -> tuple[Any, VideoMessages]:
        videos = VideoMessages(model)
        actions = Actions(lambda: None, lambda _m: None, message_video=videos.feed,
                          video_gone=videos.gone)  # fmt: skip
        view = TabletView(model, lambda: NOW, actions)
        kivy_window.add_widget(view)
        pump()
        made.append((view, videos))
        return view, videos

    yield make
    for view, videos in made:
        videos.stop()
        view.detach()
        kivy_window.remove_widget(view)


def find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find as find_widget

    return find_widget(view, name)


@pytest.mark.tablet
@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_video_message_plays_full_screen_and_closes(
    view_for: Any, long_video: Path, lang: Lang
) -> None:
    from tablet_app.widgets import Text, buttons, walk

    model = _model(lang, long_video)
    view, videos = view_for(model)
    tap(find(view, "conversation.open.v1"))
    assert view.shown is Screen.VIDEO
    shown = find(view, "video.view")
    await pump_until(lambda: shown.has_frame)
    # The picture takes most of the screen; the buttons are big.
    assert shown.height >= 0.5 * view.height
    for button in buttons(view.content):
        assert min(button.size) >= view.sizes().min_target, button.name
    for text in (w for w in walk(view.content) if isinstance(w, Text) and w.text.strip()):
        assert_fits(text, 34, lang)
    first = videos.player
    assert first is not None
    # A message arriving redraws the screen: the film goes on, not from the start.
    model.add_message(Message("t2", "u:3", "text", NOW, text="Petons"))
    pump(3)
    assert videos.player is first
    tap(find(view, "video.again"))
    await pump_until(lambda: videos.player is not None and videos.player is not first)
    assert first.finished.is_set()
    tap(find(view, "video.done"))
    assert view.shown is Screen.CONVERSATION
    assert videos.player is None
