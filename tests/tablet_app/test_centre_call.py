"""The centre's calls on the tablet's model: answered by itself at an alarm, else a tap."""

from __future__ import annotations

from tablet_app.model import (
    CallState,
    Contact,
    EndCall,
    Ring,
    Screen,
    Speak,
    StartCall,
    TabletModel,
)

CENTRE = "u:5"


def test_a_centre_call_at_an_alarm_is_answered_at_once_loud_and_announced() -> None:
    model = TabletModel(language="es", online=True)
    model.incoming_centre_call("31", CENTRE, alarm=True)
    assert model.call_state is CallState.TALKING
    assert model.screen is Screen.CALL
    # The announcement travels with the answer: the centre is heard once it has been said.
    assert model.take_effects() == [
        StartCall(
            CENTRE, call_id="31", voice_only=True, loud=True,
            announce=Speak("El centro le está hablando.", "es"),
        ),
    ]  # fmt: skip
    assert model.call_headline() == "Hablando con el centro"
    model.decline_call()  # the one big button
    assert model.take_effects() == [EndCall("31")]
    assert model.call_state is CallState.ENDED
    model.go(Screen.HOME)
    assert (model.call_centre, model.call_alarm) == (False, False)


def test_a_wellbeing_call_rings_and_one_tap_answers_it_without_the_camera() -> None:
    model = TabletModel(language="en", online=True)
    model.incoming_centre_call("32", CENTRE, alarm=False)
    assert model.call_state is CallState.RINGING
    assert model.call_headline() == "The centre is calling you"
    assert model.take_effects() == [Ring(on=True)]
    model.answer_call()
    assert model.take_effects() == [
        Ring(on=False),
        StartCall(CENTRE, call_id="32", voice_only=True, loud=False),
    ]
    assert model.call_headline() == "Speaking with the centre"


def test_a_family_call_never_answers_itself() -> None:
    model = TabletModel(language="en", online=True)
    model.contacts = [Contact("u:2", "Anna")]
    model.incoming_call("33", "u:2")
    assert model.call_state is CallState.RINGING
    assert not model.call_centre
    assert [e for e in model.take_effects() if isinstance(e, StartCall)] == []


def test_the_alarm_call_takes_over_a_ringing_family_call() -> None:
    model = TabletModel(language="ca", online=True)
    model.contacts = [Contact("u:2", "Anna")]
    model.incoming_call("34", "u:2")
    model.take_effects()
    model.incoming_centre_call("35", CENTRE, alarm=True)
    assert model.call_id == "35"
    effects = model.take_effects()
    assert effects[0] == Ring(on=False)  # the family call stops ringing
    assert [e.call_id for e in effects if isinstance(e, StartCall)] == ["35"]
    # a wellbeing call while busy is not shown
    model.incoming_centre_call("36", CENTRE, alarm=False)
    assert model.call_id == "35"


def test_the_home_screen_comes_back_by_itself_after_the_centres_call() -> None:
    from datetime import UTC, datetime, timedelta

    from tablet_app.model import CENTRE_ENDED_HOME_S

    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    model = TabletModel(language="ca", online=True)
    model.incoming_centre_call("40", CENTRE, alarm=True)
    model.tick(t0)  # talking: nothing happens
    model.call_ended()  # the operator hung up
    model.tick(t0 + timedelta(seconds=1))
    model.tick(t0 + timedelta(seconds=CENTRE_ENDED_HOME_S))
    assert model.screen is Screen.CALL  # "the call has ended" stays a moment
    model.tick(t0 + timedelta(seconds=1 + CENTRE_ENDED_HOME_S))
    assert model.screen is Screen.HOME
    assert model.call_state is CallState.IDLE
    # a family call's end screen stays until the resident leaves it
    model.contacts = [Contact("u:2", "Anna")]
    model.incoming_call("41", "u:2")
    model.answer_call()
    model.call_ended()
    for second in range(30):
        model.tick(t0 + timedelta(seconds=100 + second))
    assert model.screen is Screen.CALL
