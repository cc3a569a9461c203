"""A family video call's controls (issue 23): the other person fills the screen, the
resident's camera sits small in a corner, and the screen shows how long the call has
lasted and has big Softer / Louder / Microphone off / Hang up buttons that reach the
call engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tablet_app.audio import LOUD_VOLUME, NORMAL_VOLUME, VOLUME_GAINS, ToneTrack
from tablet_app.calls import CallEngine, SyntheticMedia, _Microphone
from tablet_app.model import (
    CALL_VOLUME_LOUD,
    CALL_VOLUME_NORMAL,
    CALL_VOLUME_STEPS,
    CallSound,
    CallState,
    Contact,
    EndCall,
    TabletModel,
)
from tests.tablet_app.conftest import assert_fits, pump, tap

pytestmark = pytest.mark.tablet

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _talking(language: str = "en") -> TabletModel:
    model = TabletModel(language=language, online=True)  # type: ignore[arg-type]
    model.contacts = [Contact("u:2", "Maria")]
    model.incoming_call("7", "u:2")
    model.answer_call()
    model.take_effects()
    return model


def test_the_models_volume_steps_are_the_call_engines() -> None:
    assert len(VOLUME_GAINS) == CALL_VOLUME_STEPS
    assert NORMAL_VOLUME == CALL_VOLUME_NORMAL
    assert LOUD_VOLUME == CALL_VOLUME_LOUD


def test_louder_softer_and_the_microphone_are_sent_to_the_call_and_stop_at_the_ends() -> None:
    model = _talking()
    assert (model.call_volume, model.call_muted) == (CALL_VOLUME_NORMAL, False)
    model.call_louder()
    model.call_louder()
    model.call_louder()  # already the loudest: nothing more
    assert model.take_effects() == [CallSound(3, False), CallSound(4, False)]
    for _ in range(CALL_VOLUME_STEPS + 1):
        model.call_softer()
    assert model.take_effects() == [CallSound(v, False) for v in (3, 2, 1, 0)]
    model.toggle_microphone()
    model.call_louder()
    model.toggle_microphone()
    assert model.take_effects() == [CallSound(0, True), CallSound(1, True), CallSound(1, False)]


def test_the_buttons_do_nothing_when_no_call_is_talking() -> None:
    model = TabletModel(language="en", online=True)
    model.contacts = [Contact("u:2", "Maria")]
    model.call_louder()
    model.toggle_microphone()
    model.incoming_call("7", "u:2")  # ringing: not yet
    model.call_softer()
    assert not [e for e in model.take_effects() if isinstance(e, CallSound)]
    assert (model.call_volume, model.call_muted) == (CALL_VOLUME_NORMAL, False)


def test_each_call_starts_with_the_microphone_on_at_the_normal_step_an_alarm_loud() -> None:
    model = _talking()
    model.call_louder()
    model.toggle_microphone()
    model.decline_call()
    model.go(model.screen)  # back to the call screen's end state
    model.call_contact("u:2")
    assert (model.call_volume, model.call_muted) == (CALL_VOLUME_NORMAL, False)
    model.decline_call()
    model.incoming_centre_call("9", "u:1", alarm=True)
    assert (model.call_volume, model.call_muted) == (CALL_VOLUME_LOUD, False)


def test_the_running_time_starts_when_the_call_gets_through_and_clears_at_the_end() -> None:
    model = TabletModel(language="en", online=True)
    model.contacts = [Contact("u:2", "Maria")]
    model.call_contact("u:2")
    model.tick(NOW)
    assert model.call_duration(NOW) == ""  # still ringing at Maria's
    model.call_connected("7")
    model.tick(NOW + timedelta(seconds=5))
    assert model.call_duration(NOW + timedelta(seconds=5)) == "0:00"
    assert model.call_duration(NOW + timedelta(seconds=252)) == "4:07"
    assert model.call_duration(NOW + timedelta(hours=1, seconds=65)) == "1:01:00"
    model.decline_call()
    assert EndCall("7") in model.take_effects()
    model.tick(NOW + timedelta(minutes=5))
    assert model.call_talking_since is None
    assert model.call_duration(NOW + timedelta(minutes=5)) == ""


async def test_a_muted_microphone_sends_silence_and_sound_again_once_switched_on() -> None:
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    engine = CallEngine(send, SyntheticMedia())
    microphone = _Microphone(ToneTrack(), engine)
    try:

        async def loudness() -> float:
            frame = await asyncio.wait_for(microphone.recv(), 5)
            samples = frame.to_ndarray().astype(np.float64)
            return float(np.sqrt(np.mean(samples**2)))

        assert await loudness() > 1000
        engine.set_muted(True)
        assert await loudness() == 0.0
        engine.set_muted(False)
        assert await loudness() > 1000
    finally:
        microphone.stop()


async def test_a_new_call_starts_unmuted_at_the_normal_volume() -> None:
    async def send(_frame: dict[str, Any]) -> None:
        return None

    engine = CallEngine(send, SyntheticMedia())
    engine.set_muted(True)
    engine.set_volume(0)
    await engine.place("u:2")
    assert (engine.muted, engine.volume) == (False, NORMAL_VOLUME)
    engine.set_muted(True)
    try:
        await engine.accept(5)
        assert (engine.muted, engine.volume) == (False, NORMAL_VOLUME)
    finally:
        await engine.close()


class _Still:
    frames = 1

    def __init__(self, width: int, height: int) -> None:
        from av import VideoFrame

        from tablet_app.calls import synthetic_picture

        self.last = VideoFrame.from_image(synthetic_picture(width, height, 0))


@pytest.fixture
def call_view(kivy_window: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    model = _talking(request.param)
    now = [NOW]
    feeds = (_Still(640, 480), _Still(320, 240))
    view = TabletView(
        model,
        lambda: now[0],
        Actions(lambda: None, lambda _m: None, call_video=lambda: feeds),
    )
    view.now = now  # type: ignore[attr-defined]
    kivy_window.add_widget(view)
    view.tick()
    pump()
    yield view
    view.detach()
    kivy_window.remove_widget(view)
    pump()


def _find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find

    return find(view, name)


def _absent(view: Any, name: str) -> bool:
    try:
        _find(view, name)
    except LookupError:
        return True
    return False


@pytest.mark.parametrize("call_view", ["ca", "es", "en"], indirect=True)
def test_the_other_person_fills_the_screen_and_the_camera_sits_in_a_corner(
    call_view: Any,
) -> None:
    view = call_view
    remote, own = _find(view, "call.video"), _find(view, "call.self")
    content = view.content
    # The other person's view is the whole screen under the status line ...
    assert remote.size == content.size
    assert remote.pos == content.pos
    height = remote.video_rect[3]
    assert height == pytest.approx(content.height)  # as tall as the screen: nothing wasted
    # ... ours is small in the top right corner.
    assert own.has_frame
    assert own.right == pytest.approx(content.right)
    assert own.top == pytest.approx(content.top)
    assert own.width * own.height < 0.1 * content.width * content.height
    # Every button is big, with its words whole.
    for name in ("call.softer", "call.louder", "call.mic", "call.hangup"):
        button = _find(view, name)
        assert button.height >= 140, name
        assert button.width >= 250, name
        assert_fits(button.label, 30, (view.model.language, name))
    assert_fits(_find(view, "call.headline"), 40, view.model.language)


@pytest.mark.parametrize("call_view", ["en"], indirect=True)
def test_the_buttons_change_the_call_and_the_screen_says_so(call_view: Any) -> None:
    view = call_view
    model = view.model
    assert _find(view, "call.duration").text == "0:00   ·   Volume 3 of 5"
    view.now[0] = NOW + timedelta(minutes=4, seconds=7)
    view.tick()
    assert _find(view, "call.duration").text == "4:07   ·   Volume 3 of 5"
    tap(_find(view, "call.louder"))
    assert model.take_effects() == [CallSound(3, False)]
    assert _find(view, "call.duration").text == "4:07   ·   Volume 4 of 5"
    tap(_find(view, "call.softer"))
    tap(_find(view, "call.softer"))
    assert model.take_effects() == [CallSound(2, False), CallSound(1, False)]
    assert _absent(view, "call.muted")
    assert _find(view, "call.mic").label.text == "Microphone off"
    tap(_find(view, "call.mic"))
    assert model.take_effects() == [CallSound(1, True)]
    notice = _find(view, "call.muted")
    assert notice.text == "Your microphone is off: they cannot hear you."
    assert_fits(notice, 36, "muted notice")
    assert notice.y > _find(view, "call.mic").top  # above the buttons, not under them
    assert _find(view, "call.mic").label.text == "Microphone on"
    tap(_find(view, "call.mic"))
    assert model.take_effects() == [CallSound(1, False)]
    assert _absent(view, "call.muted")
    tap(_find(view, "call.hangup"))
    assert model.call_state is CallState.ENDED


@pytest.mark.parametrize("call_view", ["ca", "en"], indirect=True)
def test_louder_is_greyed_out_at_the_loudest_step_and_softer_at_the_softest(
    call_view: Any, tmp_path: Any
) -> None:
    """At the top step Louder can do nothing more: it is greyed out and a tap there sends
    nothing; Softer likewise at the bottom step. In between, both are live."""
    view = call_view
    model = view.model
    language = model.language
    assert not _find(view, "call.louder").disabled
    assert not _find(view, "call.softer").disabled
    for _ in range(CALL_VOLUME_STEPS):
        if _find(view, "call.louder").disabled:
            break
        tap(_find(view, "call.louder"))
    assert model.call_volume == CALL_VOLUME_STEPS - 1
    louder = _find(view, "call.louder")
    assert louder.disabled
    assert not _find(view, "call.softer").disabled
    assert louder.label.color != louder.label.disabled_color  # drawn faded, not as before
    assert louder.label.disabled_color[3] < 0.6
    model.take_effects()
    tap(louder)
    assert model.take_effects() == []  # nothing sent: it is already the loudest
    _window_picture(tmp_path / f"call-loudest-{language}.png")
    tap(_find(view, "call.softer"))
    assert not _find(view, "call.louder").disabled  # live again one step down
    for _ in range(CALL_VOLUME_STEPS):
        if _find(view, "call.softer").disabled:
            break
        tap(_find(view, "call.softer"))
    assert model.call_volume == 0
    assert _find(view, "call.softer").disabled
    assert not _find(view, "call.louder").disabled
    model.take_effects()
    tap(_find(view, "call.softer"))
    assert model.take_effects() == []
    _window_picture(tmp_path / f"call-softest-{language}.png")


def _window_picture(path: Any) -> None:
    """The window as drawn (kept in tmp_path, or in $TA_CALL_SHOTS to look at)."""
    import os
    from pathlib import Path

    from kivy.core.window import Window

    pump(2)
    folder = os.environ.get("TA_CALL_SHOTS")
    target = Path(folder) / Path(path).name if folder else Path(path)
    Window.screenshot(name=str(target))


def test_the_controller_hands_the_sound_to_the_family_service() -> None:
    from tablet_app.controller import TabletController

    class Family:
        def __init__(self) -> None:
            self.sound: list[tuple[int, bool]] = []

        def __getattr__(self, name: str) -> Any:
            return lambda *a, **k: None

        def call_sound(self, volume: int, muted: bool) -> None:
            self.sound.append((volume, muted))

    class Link:
        callbacks: Any = None

    class Quiet:
        def say(self, text: str, language: str) -> None:
            return None

        def start(self) -> None:
            return None

        def stop(self) -> None:
            return None

    model = _talking()
    family = Family()
    TabletController(
        model,
        Link(),
        speaker=Quiet(),
        ringer=Quiet(),
        clock=lambda: NOW,
        family=family,  # type: ignore[arg-type]
    )
    model.call_louder()
    model.toggle_microphone()
    assert family.sound == [(3, False), (3, True)]


async def test_the_operators_louder_reaches_the_model() -> None:
    """Issue 23: the console's "louder" changes the call engine's volume; the engine tells
    the model the step it set, so the resident's screen shows it."""
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    model = _talking()
    engine = CallEngine(send, SyntheticMedia(), on_volume=model.call_volume_set_remotely)
    try:
        await engine.accept(7)
        await engine.on_signal(7, {"volume": "up"})
        assert (engine.volume, model.call_volume) == (CALL_VOLUME_NORMAL + 1,) * 2
        await engine.on_signal(7, {"volume": "down"})
        await engine.on_signal(7, {"volume": "down"})
        assert (engine.volume, model.call_volume) == (CALL_VOLUME_NORMAL - 1,) * 2
        # Only the screen follows: no CallSound goes back to the engine.
        assert not [e for e in model.take_effects() if isinstance(e, CallSound)]
        assert sent[-1]["data"] == {"volume_level": CALL_VOLUME_NORMAL - 1}
    finally:
        await engine.close()


@pytest.mark.parametrize("call_view", ["ca", "en"], indirect=True)
def test_the_screen_shows_the_volume_the_operator_set(call_view: Any, tmp_path: Any) -> None:
    from kivy.core.window import Window

    view = call_view
    model = view.model
    before = _find(view, "call.duration").text
    model.call_volume_set_remotely(CALL_VOLUME_STEPS - 1)
    pump()
    shown = _find(view, "call.duration").text
    assert shown != before
    expected = {"ca": "Volum 5 de 5", "en": "Volume 5 of 5"}[model.language]
    assert shown.endswith(expected), shown
    assert not model.take_effects()  # the engine set it: nothing to send back
    model.call_volume_set_remotely(99)  # clamped, like the engine
    assert model.call_volume == CALL_VOLUME_STEPS - 1
    # A picture to look at (kept under pytest's --basetemp).
    assert Window.screenshot(name=str(tmp_path / f"remote-volume-{model.language}.png"))
