"""The Kivy layer in a real window: touches on the widgets reach the model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol import AlarmReceived, CheckIn, Panic, Prompt, PromptAnswer
from tablet_app.i18n import Lang
from tablet_app.model import Contact, Message, Publish, Screen, StartCall, TabletModel
from tests.instants import machine_now
from tests.tablet_app.conftest import assert_fits, pump, tap

pytestmark = pytest.mark.tablet

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


@pytest.fixture
def view(kivy_window: Any) -> Iterator[Any]:
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    model = TabletModel(language="en", online=True)
    model.contacts = [Contact("maria", "Maria"), Contact("jordi", "Jordi")]
    model.messages = [Message("m1", "maria", "text", NOW - timedelta(minutes=3), text="Hello")]
    played: list[Message] = []
    widget = TabletView(model, lambda: NOW, Actions(lambda: None, played.append))
    kivy_window.add_widget(widget)
    pump()
    yield widget
    widget.detach()
    kivy_window.remove_widget(widget)


def find(view: Any, name: str) -> Any:
    from tablet_app.widgets import find as find_widget

    return find_widget(view, name)


def test_tapping_im_ok_publishes_a_check_in_and_shows_thanks(view: Any) -> None:
    tap(find(view, "home.ok"))
    effects = view.model.take_effects()
    assert [e.body for e in effects if isinstance(e, Publish)] == [CheckIn(source="tablet")]
    assert view.shown is Screen.CHECKIN
    tap(find(view, "done"))
    assert view.shown is Screen.HOME


def test_tapping_help_then_the_centres_answer(view: Any) -> None:
    tap(find(view, "home.help"))
    [panic] = [e for e in view.model.take_effects() if isinstance(e, Publish)]
    assert panic.body == Panic(source="tablet")
    assert find(view, "help.line").text == "Calling the centre…"
    view.model.on_command(AlarmReceived(alarm_id="a1"), NOW)
    pump()
    assert find(view, "help.line").text == "The centre has received your call."


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_help_offline_shows_what_to_do_instead_in_big_type(
    kivy_window: Any, lang: Lang, tmp_path: Any
) -> None:
    """Tapped in the real window with no connection: the three alternatives, the
    neighbour of the demo circle by name, every line whole and at least 44 px."""
    from tablet_app.demo import demo_model
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import Text, walk

    model = demo_model(lang, NOW, tmp_path)
    model.set_online(False)
    view = TabletView(model, lambda: NOW, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        pump()
        tap(find(view, "home.help"))
        assert view.shown is Screen.HELP
        lines = [find(view, f"help.alt.{n}").text for n in range(3)]
        assert lines == [words for _, words in model.help_alternatives()]
        assert "Carme" in lines[2]
        assert "112" in lines[1]
        texts = [w for w in walk(view.content) if isinstance(w, Text) and w.text.strip()]
        for text in texts:
            assert_fits(text, 44 if text.name.startswith("help.") else 34, lang)
        assert not any(w.text.startswith(("Attempt", "Intent")) for w in texts)
    finally:
        view.detach()
        kivy_window.remove_widget(view)


def test_a_touch_outside_every_button_does_nothing(view: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    button = find(view, "home.ok")
    x, y = button.to_window(button.x - 5, button.y - 5)  # the gap between buttons
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    touch.touch_up()
    pump()
    assert view.model.take_effects() == []
    assert view.shown is Screen.HOME


def test_prompt_answered_by_touch(view: Any) -> None:
    prompt = Prompt(prompt_id="p1", kind="inactivity", expires=NOW + timedelta(minutes=1))
    view.model.on_command(prompt, NOW)
    pump()
    assert find(view, "prompt.question").text == "Are you all right?"
    tap(find(view, "prompt.fine"))
    bodies = [e.body for e in view.model.take_effects() if isinstance(e, Publish)]
    assert bodies == [PromptAnswer(prompt_id="p1", answer="fine")]
    assert find(view, "prompt.result").text == "Thank you. We are glad you are well."
    tap(find(view, "prompt.close"))
    assert view.shown is Screen.HOME


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_prompt_shows_the_time_left_as_it_runs_down(kivy_window: Any, lang: Lang) -> None:
    """In the real window: words and a bar under the question, redrawn every second."""
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView
    from tablet_app.widgets import Text, walk

    now = [NOW]
    model = TabletModel(language=lang, online=True)
    view = TabletView(model, lambda: now[0], Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    try:
        model.on_command(Prompt(prompt_id="p1", kind="medication", schedule="9:00",
                                expires=NOW + timedelta(minutes=2)), NOW)  # fmt: skip
        pump()
        assert find(view, "prompt.countdown").text == model.prompt_countdown(NOW)
        assert "2" in find(view, "prompt.countdown").text
        assert find(view, "prompt.timebar").value == 1.0
        now[0] = NOW + timedelta(seconds=90)
        view.tick()
        pump()
        assert find(view, "prompt.countdown").text == model.prompt_countdown(now[0])
        assert "30" in find(view, "prompt.countdown").text
        assert find(view, "prompt.timebar").value == pytest.approx(0.25)
        for text in walk(view.content):
            if isinstance(text, Text) and text.text.strip():
                assert_fits(text, 40, lang)
    finally:
        view.detach()
        kivy_window.remove_widget(view)


def test_messages_badge_then_reading_clears_it(view: Any) -> None:
    assert find(view, "home.messages").badge == "1"
    tap(find(view, "home.messages"))
    assert view.shown is Screen.MESSAGES
    tap(find(view, "messages.contact.maria"))
    assert view.shown is Screen.CONVERSATION
    tap(find(view, "back"))
    tap(find(view, "back"))
    assert view.shown is Screen.HOME
    assert find(view, "home.messages").badge == ""


def test_calling_a_face(view: Any) -> None:
    tap(find(view, "home.call"))
    tap(find(view, "call.face.jordi"))
    assert StartCall("jordi") in view.model.take_effects()
    assert find(view, "call.headline").text == "Calling Jordi…"
    tap(find(view, "call.hangup"))
    assert find(view, "call.headline").text == "The call has ended."


def test_language_switch_redraws_every_label(view: Any) -> None:
    view.model.set_language("ca")
    pump()
    assert find(view, "home.ok").label.text == "Estic bé"
    assert find(view, "home.help").label.text == "Ajuda"


def _all_screens(model: TabletModel) -> Iterator[Screen]:
    for screen in (Screen.HOME, Screen.MESSAGES, Screen.CALL, Screen.AGENDA, Screen.PAIR):
        model.go(screen)
        yield screen
    model.incoming_call("c1", "maria")
    yield Screen.CALL
    model.decline_call()
    model.on_command(
        Prompt(prompt_id="p2", kind="medication", expires=NOW + timedelta(minutes=1)), NOW
    )
    yield Screen.PROMPT


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_every_button_is_at_least_15_mm(view: Any, scale: float) -> None:
    from tablet_app.widgets import buttons

    view.model.font_scale = scale
    for screen in _all_screens(view.model):
        pump()
        sizes = view.sizes()
        found = buttons(view)
        assert found, screen
        for button in found:
            assert min(button.size) >= sizes.min_target, (screen, button.name, button.size)


def test_high_contrast_theme_paints_black(view: Any, kivy_window: Any) -> None:
    view.model.high_contrast = True
    view.model.changed()
    pump()
    assert tuple(kivy_window.clearcolor) == (0.0, 0.0, 0.0, 1.0)


# ---------------------------------------------------------------- window + real broker


@pytest.mark.broker
async def test_touches_in_the_window_reach_a_real_broker(
    kivy_window: Any, mosquitto: Any, tmp_path: Any
) -> None:
    import asyncio

    import aiomqtt

    from protocol import Channel, command_topic, decode_event, device_topic, encode, envelope
    from tablet_app.controller import SilentRinger, TabletController
    from tablet_app.link import Broker, HubLink
    from tablet_app.outbox import Outbox
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    model = TabletModel(language="en")
    outbox = Outbox(tmp_path / "outbox.db")
    link = HubLink("tablet-ui", Broker(port=mosquitto.port), outbox, retry_s=(0.1,))

    class Quiet:
        def say(self, text: str, language: str) -> None:
            pass

    now = lambda: machine_now()  # noqa: E731
    TabletController(model, link, speaker=Quiet(), ringer=SilentRinger(), clock=now)
    view = TabletView(model, now, Actions(lambda: None, lambda _m: None))
    kivy_window.add_widget(view)
    task = asyncio.create_task(link.run())
    try:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
            await hub.subscribe(device_topic("tablet-ui", Channel.EVENT), qos=1)
            async with asyncio.timeout(20):
                await link.wait_connected()
            pump()
            assert view.model.online

            tap(find(view, "home.help"))
            async with asyncio.timeout(20):
                message = await anext(aiter(hub.messages))
            panic = decode_event(bytes(message.payload))  # type: ignore[arg-type]
            assert panic.body == Panic(source="tablet")

            received = AlarmReceived(alarm_id="al-9", event_id=panic.id)
            await hub.publish(
                command_topic("tablet-ui", "alarm_received"),
                encode(envelope(received, id="cmd1", ts=now(), seq=1)),
                qos=1,
            )
            async with asyncio.timeout(20):
                while find(view, "help.line").text != "The centre has received your call.":
                    await asyncio.sleep(0.05)
                    pump(1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(30):  # a stuck stop must fail, not hang the suite
                await task
        outbox.close()
        view.detach()
        kivy_window.remove_widget(view)
