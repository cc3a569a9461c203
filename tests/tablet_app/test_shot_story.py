"""The tablet's screenshots tell the web screenshots' story (issue 23): the same day, her
care plan's dose at its time, times written as the tablet writes them."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tablet_app import shots
from tablet_app.demo import demo_model
from tablet_app.i18n import Lang
from tablet_app.wording import LOCAL_TZ, clock_text
from teleassist.screenshots import _story as story


def test_the_tablet_is_photographed_on_the_morning_of_the_web_story() -> None:
    tablet, web = shots.SHOT_TIME.astimezone(LOCAL_TZ), story.STORY_NOW.astimezone(LOCAL_TZ)
    assert tablet.date() == web.date()
    assert tablet < web
    assert tablet.hour < 12  # a morning


def test_the_medication_reminder_is_the_care_plans_dose_at_its_time(tmp_path: Path) -> None:
    shown: list[str] = []
    for name in ("medication", "prompt"):
        model = demo_model("en", shots.SHOT_TIME, tmp_path)
        shots.scenes()[name](model, shots.SHOT_TIME)
        shown.append(model.prompt_question())
    dose_time = shots.DOSE.rsplit(" ", 1)[1]
    assert re.fullmatch(r"\d\d:\d\d", dose_time)  # "08:00", as the tablet writes times
    assert clock_text(shots.SHOT_TIME) >= dose_time  # the reminder is not early
    assert shown == [f"Time for your medication: {shots.DOSE}"] * 2


def test_the_reminded_dose_is_the_first_of_her_insulin_on_the_web_story_plan() -> None:
    assert f"{story.INSULIN['name']} {story.INSULIN_TIMES[0]}" == shots.DOSE


def test_no_demo_appointment_falls_on_a_weekend_day_it_should_not(tmp_path: Path) -> None:
    model = demo_model("en", shots.SHOT_TIME, tmp_path)
    doctor = next(item for item in model.agenda if item.kind == "doctor")
    assert doctor.starts_at.astimezone(LOCAL_TZ).weekday() < 5


def test_the_tablets_agenda_is_the_storys_week(tmp_path: Path) -> None:
    """Issue 23: the tablet shows her week as the family's web app does (``_story.AGENDA``):
    the doctor on Friday at 11:00, lunch with Jordi and Júlia on Saturday at 14:00, Núria's
    walk on Tuesday afternoon, the casal's workshop and lunch; titles in Catalan as written."""
    model = demo_model("ca", shots.SHOT_TIME, tmp_path)
    shown = [
        (
            f"{item.starts_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}",
            item.title,
            item.kind,
            item.response if item.invitation else "confirmed",
        )
        for item in sorted(model.agenda, key=lambda item: item.starts_at)
    ]
    week = [(entry.starts, entry.title, entry.kind, entry.status) for entry in story.AGENDA]
    assert shown == week


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_the_messages_name_the_agendas_days(lang: Lang, tmp_path: Path) -> None:
    """The family's lunch is Saturday's, as on the agenda and in Jordi's web message; no Sunday
    lunch that the agenda does not have."""
    saturday, sunday = {
        "ca": ("dissabte", "diumenge"),
        "es": ("sábado", "domingo"),
        "en": ("saturday", "sunday"),
    }[lang]
    model = demo_model(lang, shots.SHOT_TIME, tmp_path)
    texts = " ".join(message.text for message in model.messages).lower()
    assert saturday in texts
    assert sunday not in texts


def test_the_tablets_people_are_the_storys(tmp_path: Path) -> None:
    """Her son, her niece and her neighbour, by their first names and in the console's order
    of contacts, with the relationship the console gives each (issue 23: one cast)."""
    model = demo_model("en", shots.SHOT_TIME, tmp_path)
    story_people = [
        (person.name.split()[0], person.relationship)
        for person in (story.SON, story.NIECE, story.NEIGHBOUR)
    ]
    circle = [(member.name, member.relationship) for member in model.circle]
    # the console's "volunteer_neighbour_f" is, on her tablet, her neighbour
    assert circle == [
        (name, "neighbour" if rel.startswith("volunteer_neighbour") else rel)
        for name, rel in story_people
    ]
    names = {contact.name for contact in model.contacts}
    assert {name for name, _ in story_people} <= names
    # nobody of the story's family under another name (the old demo's daughter and grandson)
    assert not names & {"Maria", "Laia"}
    assert [m.party for m in model.circle if "agenda" in m.scopes] == ["jordi", "carme"]
    assert model.circle[0].party == "jordi"
    assert "alarms" in model.circle[0].scopes


def test_the_tablets_codes_are_the_storys() -> None:
    assert shots.TABLET_SETUP_CODE == story.TABLET_SETUP_CODE
    assert shots.FAMILY_LINK_CODE == story.FAMILY_LINK_CODE


def test_the_pad_and_the_link_screen_show_the_storys_codes(tmp_path: Path) -> None:
    model = demo_model("en", shots.SHOT_TIME, tmp_path)
    shots.scenes()["pair"](model, shots.SHOT_TIME)
    assert story.TABLET_SETUP_CODE.startswith(model.pair_digits)
    assert model.pair_digits
    model = demo_model("en", shots.SHOT_TIME, tmp_path)
    shots.scenes()["link"](model, shots.SHOT_TIME)
    assert model.link_code == story.FAMILY_LINK_CODE


def test_the_morning_reminder_runs_for_the_care_plans_grace(tmp_path: Path) -> None:
    assert timedelta(minutes=story.DOSE_GRACE_MIN) == shots.DOSE_GRACE
    model = demo_model("en", shots.SHOT_TIME, tmp_path)
    shots.scenes()["medication"](model, shots.SHOT_TIME)
    assert model.prompt is not None
    due = shots.DOSE.rsplit(" ", 1)[1]
    assert clock_text(model.prompt.expires - shots.DOSE_GRACE) == due  # 08:00 + 45 min
