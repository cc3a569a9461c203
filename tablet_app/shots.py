"""Render every tablet screen to PNG in a real Kivy window (one process per size).

Run by ``teleassist/screenshots/tablet.py`` as
``python -m tablet_app.shots OUT_DIR WIDTH HEIGHT LANG...`` under an X server.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tablet_app.kivyenv import prepare_kivy

if TYPE_CHECKING:
    from tablet_app.model import TabletModel

# A fixed instant, so screenshots do not change from run to run: Thursday 3 December 2026 at
# 08:05 in Barcelona, the morning of the web screenshots' story (its instant is 10:30 that day,
# teleassist/screenshots/_story.py; tests/tablet_app/test_shot_story.py keeps them one day).
# Her care plan there lists insulin at 08:00 and 20:00 and "I'm OK" by 10:30 and 19:00
# (tablet_app.demo).
SHOT_TIME = datetime(2026, 12, 3, 7, 5, tzinfo=UTC)
# The dose her tablet reminds her of, written as the hub sends it (the care plan's name and the
# time as the tablet writes times, 24-hour with two digits: alerts/rules/timers.py).
DOSE = "insulina 08:00"
# How long she has to confirm it before it is missed: the care plan's grace (the story's
# DOSE_GRACE_MIN), so this morning's reminder runs until 08:45.
DOSE_GRACE = timedelta(minutes=45)
# The story's codes (teleassist/screenshots/_story.py, kept equal by
# tests/tablet_app/test_shot_story.py): the setup code on the installer's work order, typed
# half-way on the pairing pad, and the code her tablet showed to link her neighbour Carme.
TABLET_SETUP_CODE = "36902517"
FAMILY_LINK_CODE = "K7QH-4R2X"

Scene = Callable[["TabletModel", datetime], None]


def _medication(m: TabletModel, now: datetime) -> None:
    """The hub's reminder at the dose's time (ADR 0137), to confirm or put off: shown at 08:00,
    missed at 08:45 (the care plan's grace) if she does not confirm."""
    from protocol import Prompt

    due = now - timedelta(minutes=5)
    body = Prompt(prompt_id="p3", kind="medication", schedule=DOSE, expires=due + DOSE_GRACE)
    m.on_command(body, due)


def _medication_taken(m: TabletModel, now: datetime) -> None:
    _medication(m, now)
    m.answer_prompt("fine", now)


def _circle_more(m: TabletModel, now: datetime) -> None:
    """A large family: 14 people, the second of three pages."""
    from tablet_app.circle import CircleMember

    names = ["Josep", "Xavier", "Rosa", "Enric", "Marta", "Albert", "Pilar", "Jaume"]
    names += ["Teresa", "Isabel", "Pau"]
    m.circle = [
        *m.circle[:3],
        *(CircleMember(str(10 + i), f"p{i}", name, "") for i, name in enumerate(names)),
    ]
    m.open_circle()
    m.turn_circle_page(1)


def _video(m: TabletModel, now: datetime) -> None:
    """A video message from her niece Núria, playing."""
    from tablet_app.model import Message

    m.messages.append(Message("v1", "nuria", "video", now, media="video.mp4"))
    m.open_conversation("nuria")
    m.open_video("v1")


def _gallery(m: TabletModel, now: datetime) -> None:
    """Eight photos from the family, the newest first."""
    from tablet_app.model import Message, Screen

    photo = next(x.media for x in m.messages if x.kind == "photo")
    people = [c.id for c in m.contacts] or ["nuria"]
    for i in range(7):
        sent = now - timedelta(days=i + 1, hours=i)
        m.messages.append(Message(f"g{i}", people[i % len(people)], "photo", sent, media=photo))
    m.go(Screen.MESSAGES)
    m.open_gallery()


def _call_more(m: TabletModel, now: datetime) -> None:
    """Nine people to call: the second page of faces."""
    from tablet_app.model import Contact, Screen

    extra = ["Josep", "Rosa", "Enric", "Pilar"]
    m.contacts = [*m.contacts, *(Contact(f"x{i}", name) for i, name in enumerate(extra))]
    m.go(Screen.CALL)
    m.turn_people_page(len(m.contacts), 1)


def _agenda_more(m: TabletModel, now: datetime) -> None:
    """The demo's five items, more than the Agenda's four rows: the second page (Tuesday's)."""
    from tablet_app.model import Screen

    m.go(Screen.AGENDA)
    m.turn_agenda_page(now, 1)


def scenes() -> dict[str, Scene]:
    """Screen name → how to put the demo model on that screen."""
    from protocol import AlarmReceived, Prompt
    from tablet_app.model import Screen

    def home(m: TabletModel, now: datetime) -> None:
        m.go(Screen.HOME)

    def home_offline(m: TabletModel, now: datetime) -> None:
        m.set_online(False)
        m.go(Screen.HOME)

    def contrast(m: TabletModel, now: datetime) -> None:
        m.high_contrast = True
        m.font_scale = 1.25
        m.go(Screen.HOME)

    def checkin(m: TabletModel, now: datetime) -> None:
        m.press_ok(now)

    def help_sent(m: TabletModel, now: datetime) -> None:
        m.set_online(False)
        m.press_help(now)
        m.retrying()
        m.retrying()

    def help_received(m: TabletModel, now: datetime) -> None:
        m.press_help(now)
        m.on_command(AlarmReceived(alarm_id="a1"), now)

    def prompt(m: TabletModel, now: datetime) -> None:
        # the same reminder, five minutes left to confirm it
        body = Prompt(
            prompt_id="p1",
            kind="medication",
            schedule=DOSE,
            expires=now + timedelta(minutes=5),
        )
        m.on_command(body, now - timedelta(minutes=1))

    def prompt_inactivity(m: TabletModel, now: datetime) -> None:
        body = Prompt(prompt_id="p2", kind="inactivity", expires=now + timedelta(minutes=2))
        m.on_command(body, now)

    def messages(m: TabletModel, now: datetime) -> None:
        m.go(Screen.MESSAGES)

    def conversation(m: TabletModel, now: datetime) -> None:
        # her niece's photo and her thanks
        m.can_record = m.can_photo = True
        m.open_conversation("nuria")

    def recording(m: TabletModel, now: datetime) -> None:
        m.can_record = m.can_photo = True
        m.open_conversation("jordi")
        m.press_record(now - timedelta(seconds=12))

    def not_sent(m: TabletModel, now: datetime) -> None:
        m.can_record = m.can_photo = True
        m.open_conversation("jordi")
        m.press_record(now - timedelta(seconds=20))
        m.press_record(now)
        m.outgoing_done(sent=False)

    def photo(m: TabletModel, now: datetime) -> None:
        m.open_photo("m2")

    def call(m: TabletModel, now: datetime) -> None:
        # her son, who said last night that he would call
        m.incoming_call("c1", "jordi")

    def call_video(m: TabletModel, now: datetime) -> None:
        m.incoming_call("c1", "jordi")
        m.answer_call()
        m.tick(now - timedelta(minutes=4, seconds=7))  # talking for four minutes

    def call_muted(m: TabletModel, now: datetime) -> None:
        call_video(m, now)
        m.call_louder()
        m.toggle_microphone()

    def callpick(m: TabletModel, now: datetime) -> None:
        m.go(Screen.CALL)

    def voice(m: TabletModel, now: datetime) -> None:
        # the centre speaking with the home at an alarm (answered by itself)
        m.incoming_centre_call("c2", "u:1", alarm=True)

    def agenda(m: TabletModel, now: datetime) -> None:
        m.go(Screen.AGENDA)

    def pair(m: TabletModel, now: datetime) -> None:
        for digit in TABLET_SETUP_CODE[:4]:
            m.pair_press(digit)
        m.go(Screen.PAIR)

    def link(m: TabletModel, now: datetime) -> None:
        m.start_new_link()
        m.toggle_grant("alarms")
        m.toggle_grant("agenda")
        m.ask_link_code()
        m.link_code = FAMILY_LINK_CODE
        m.link_expires = now + timedelta(minutes=30)
        m.changed()

    def circle(m: TabletModel, now: datetime) -> None:
        m.open_circle()

    def member(m: TabletModel, now: datetime) -> None:
        m.show_member("1")

    def member_remove(m: TabletModel, now: datetime) -> None:
        m.show_member("2")
        m.ask_remove_member()

    def link_grant(m: TabletModel, now: datetime) -> None:
        m.start_new_link()
        m.toggle_grant("alarms")

    return {
        "home": home,
        "home_offline": home_offline,
        "contrast": contrast,
        "checkin": checkin,
        "help": help_received,
        "help_offline": help_sent,
        "prompt": prompt,
        "prompt_inactivity": prompt_inactivity,
        "medication": _medication,
        "medication_taken": _medication_taken,
        "messages": messages,
        "conversation": conversation,
        "recording": recording,
        "notsent": not_sent,
        "photo": photo,
        "call": call,
        "call_video": call_video,
        "call_muted": call_muted,
        "callpick": callpick,
        "voice": voice,
        "agenda": agenda,
        "agenda_more": _agenda_more,
        "pair": pair,
        "link": link,
        "circle": circle,
        "circle_more": _circle_more,
        "video": _video,
        "gallery": _gallery,
        "call_more": _call_more,
        "member": member,
        "member_remove": member_remove,
        "link_grant": link_grant,
    }


class _StillFeed:
    """A call's video that shows one painted picture (the screenshots have no real call)."""

    def __init__(self, picture: Any) -> None:
        from av import VideoFrame

        self.frames = 1
        self.last = VideoFrame.from_image(picture)


def render(out_dir: Path, width: int, height: int, languages: list[str]) -> list[Path]:
    """Write ``tablet-<screen>-<lang>-<W>x<H>.png`` for every scene and language."""
    prepare_kivy(width, height)
    from kivy.base import EventLoop
    from kivy.core.window import Window

    from tablet_app.demo import demo_model, demo_video_picture
    from tablet_app.i18n import Lang, is_language
    from tablet_app.screens import Actions
    from tablet_app.ui import TabletView

    EventLoop.ensure_window()
    feeds = (
        _StillFeed(demo_video_picture(640, 480)),
        _StillFeed(demo_video_picture(320, 240, resident=True)),
    )
    media = out_dir / ".media"
    media.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for lang in languages:
        if not is_language(lang):
            raise SystemExit(f"unknown language {lang!r}")
        language: Lang = lang  # type: ignore[assignment]
        for name, scene in scenes().items():
            model = demo_model(language, SHOT_TIME, media)
            view = TabletView(
                model,
                lambda: SHOT_TIME,
                Actions(
                    submit_pairing=lambda: None,
                    play_media=lambda _m: None,
                    call_video=lambda: feeds,
                    message_video=lambda _m, _r: feeds[0],
                ),
            )
            Window.add_widget(view)
            scene(model, SHOT_TIME)
            view.tick()
            for _ in range(4):
                EventLoop.idle()
            target = out_dir / f"tablet-{name.replace('_', '')}-{lang}-{width}x{height}.png"
            shot = Window.screenshot(name=str(out_dir / f".shot-{name}.png"))
            Path(shot).replace(target)
            written.append(target)
            view.detach()
            Window.remove_widget(view)
    return written


def main(argv: list[str]) -> int:
    """``OUT_DIR WIDTH HEIGHT LANG...``; prints one written path per line."""
    out_dir, width, height, *languages = argv
    for path in render(Path(out_dir), int(width), int(height), languages or ["ca", "en"]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
