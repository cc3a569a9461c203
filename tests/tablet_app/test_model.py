"""The tablet's behaviour without a window: what each touch and command causes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from protocol import (
    AlarmReceived,
    CheckIn,
    Configure,
    MedicationTaken,
    Panic,
    PlayMessage,
    Prompt,
    PromptAnswer,
    Reminder,
)
from tablet_app.circle import CircleMember
from tablet_app.i18n import Lang
from tablet_app.model import (
    AgendaItem,
    CallState,
    Contact,
    EndCall,
    HelpState,
    MarkRead,
    Message,
    Publish,
    RespondInvitation,
    Ring,
    Screen,
    Speak,
    StartCall,
    TabletModel,
)

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)  # Monday 09:05 in Madrid


def published(model: TabletModel) -> list[Publish]:
    return [e for e in model.take_effects() if isinstance(e, Publish)]


def test_im_ok_publishes_a_check_in_and_says_when_the_next_is_due() -> None:
    model = TabletModel(language="en", online=True, check_in_deadlines=[time(10, 0)])
    model.press_ok(NOW)
    [effect] = published(model)
    assert effect.body == CheckIn(source="tablet")
    assert model.screen is Screen.CHECKIN
    assert not model.check_in_queued
    # today's 10:00 is covered by this check-in: the next one is tomorrow's
    assert model.next_check_in(NOW) == "Tomorrow at 10:00"


def test_im_ok_offline_says_it_is_saved() -> None:
    model = TabletModel(language="ca", online=False)
    model.press_ok(NOW)
    assert published(model)
    assert model.check_in_queued
    model.delivered("anything")
    assert not model.check_in_queued


def test_help_publishes_a_tablet_panic_and_shows_the_centres_confirmation() -> None:
    model = TabletModel(language="en", online=True)
    model.press_help(NOW)
    [effect] = published(model)
    assert effect.body == Panic(source="tablet")
    assert model.help_state is HelpState.SENDING
    assert model.help_lines()[0] == "Calling the centre…"
    model.on_command(AlarmReceived(alarm_id="a1", event_id=effect.message_id), NOW)
    assert model.help_state is HelpState.RECEIVED
    assert model.screen is Screen.HELP
    assert model.help_lines()[0] == "The centre has received your call."
    assert Speak("The centre has received your call.", "en") in model.take_effects()


@pytest.mark.parametrize(
    ("language", "address_form", "calm"),
    [
        ("ca", "feminine", "Estigueu tranquil·la. Us parlaran de seguida."),
        ("ca", "masculine", "Estigueu tranquil. Us parlaran de seguida."),
        ("ca", "neutral", "No patiu. Us parlaran de seguida."),
        ("ca", "unknown", "No patiu. Us parlaran de seguida."),
        ("es", "feminine", "Esté tranquila. Le hablarán enseguida."),
        ("es", "masculine", "Esté tranquilo. Le hablarán enseguida."),
        ("es", "neutral", "No se preocupe. Le hablarán enseguida."),
        ("es", "unknown", "No se preocupe. Le hablarán enseguida."),
        ("en", "feminine", "Stay calm. They will talk to you now."),
        ("en", "masculine", "Stay calm. They will talk to you now."),
        ("en", "neutral", "Do not worry. They will talk to you now."),
        ("en", "unknown", "Do not worry. They will talk to you now."),
    ],
)
def test_stay_calm_takes_the_form_of_address_the_hub_sends(
    language: Lang, address_form: str, calm: str
) -> None:
    """ca/es "stay calm" is gendered: the hub's settings say how the resident is addressed;
    neutral, or not stated, keeps words with no gender (issue 23)."""
    model = TabletModel(language="en", online=True)
    model.on_command(Configure(language=language, address_form=address_form), NOW)  # type: ignore[arg-type]
    assert model.address_form == address_form
    model.press_help(NOW)
    [effect] = published(model)
    model.on_command(AlarmReceived(alarm_id="a1", event_id=effect.message_id), NOW)
    assert model.help_lines()[1] == calm
    # A later Configure without the field (an older hub) keeps what was said.
    model.on_command(Configure(heartbeat_s=60), NOW)
    assert model.help_lines()[1] == calm


def test_help_offline_says_what_to_do_instead_until_the_network_returns() -> None:
    model = TabletModel(language="en", online=False)
    model.press_help(NOW)
    effects = model.take_effects()
    [effect] = [e for e in effects if isinstance(e, Publish)]
    assert model.help_state is HelpState.WAITING_NETWORK
    model.retrying()
    model.retrying()
    assert model.help_attempts == 3
    # No "Attempt 3": what the resident can do instead, in plain words, shown and said.
    assert model.help_lines() == ("We cannot reach the centre now.", "We keep trying. Meanwhile:")
    assert model.help_alternatives() == [
        ("bell", "Press your pendant button"),
        ("phone", "Call 112 from a phone"),
        ("people", "Knock at your neighbour's door"),
    ]
    said = (
        "We cannot reach the centre now. We keep trying. Meanwhile: Press your pendant button."
        " Call 112 from a phone. Knock at your neighbour's door."
    )
    assert Speak(said, "en") in effects
    model.set_online(True)
    model.delivered(effect.message_id)
    assert model.help_state is HelpState.SENDING
    assert model.help_alternatives() == []


@pytest.mark.parametrize(
    ("lang", "relationship", "line"),
    [
        ("ca", "veïna", "Truqueu a la porta de Laia (veïna)"),
        ("es", " Vecino ", "Llame a la puerta de Laia (Vecino)"),
        ("en", "neighbor", "Knock at Laia's door (neighbor)"),
        ("ca", "filla", "Truqueu a la porta d'un veí"),  # not a neighbour: no name
        ("es", "", "Llame a la puerta de un vecino"),
    ],
)
def test_help_offline_names_the_neighbour_of_the_circle(
    lang: Lang, relationship: str, line: str
) -> None:
    model = TabletModel(language=lang, online=False)
    model.circle = [
        CircleMember("1", "u:1", "Maria", "filla"),
        CircleMember("2", "u:2", "Laia", relationship.strip()),
    ]
    model.press_help(NOW)
    assert model.help_alternatives()[2] == ("people", line)


@pytest.mark.parametrize("lang", ["ca", "es"])
def test_stay_calm_needs_no_gender(lang: Lang) -> None:
    """The tablet does not know the resident's gender: no "tranquil·la"/"tranquila"."""
    model = TabletModel(language=lang, online=True)
    model.press_help(NOW)
    model.on_command(AlarmReceived(alarm_id="a1"), NOW)
    calm = model.help_lines()[1]
    assert calm in ("No patiu. Us parlaran de seguida.", "No se preocupe. Le hablarán enseguida.")


def test_a_second_help_press_while_sending_publishes_nothing_more() -> None:
    model = TabletModel(online=True)
    model.press_help(NOW)
    model.press_help(NOW)
    assert len(published(model)) == 1


def test_losing_the_network_while_sending_help_shows_the_retry_notice() -> None:
    model = TabletModel(online=True)
    model.press_help(NOW)
    model.take_effects()
    model.set_online(False)
    assert model.help_state is HelpState.WAITING_NETWORK
    [said] = [e for e in model.take_effects() if isinstance(e, Speak)]
    assert said.text.startswith("Ara no podem avisar la central.")
    assert "Truqueu al 112 des d'un telèfon." in said.text


def _prompt(kind: str = "inactivity", seconds: int = 60, schedule: str | None = None) -> Prompt:
    return Prompt(
        prompt_id="p1",
        kind=kind,  # type: ignore[arg-type]
        expires=NOW + timedelta(seconds=seconds),
        schedule=schedule,
    )


@pytest.mark.parametrize(
    ("lang", "seconds", "line"),
    [
        ("en", 300, "If you do not answer within 5 minutes, the centre will call you."),
        ("ca", 61, "Si no responeu en 2 minuts, la central us trucarà."),
        ("es", 60, "Si no responde en 1 minuto, la central le llamará."),
        ("ca", 45, "Si no responeu en 45 segons, la central us trucarà."),
        ("es", 1, "Si no responde en 1 segundo, la central le llamará."),
    ],
)
def test_the_prompt_says_the_time_left_and_what_happens_then(
    lang: Lang, seconds: int, line: str
) -> None:
    model = TabletModel(language=lang, online=True)
    model.on_command(_prompt(seconds=seconds), NOW)
    assert model.prompt_countdown(NOW) == line


def test_the_countdown_runs_down_and_goes_once_the_prompt_is_over() -> None:
    model = TabletModel(language="en", online=True)
    model.on_command(_prompt(seconds=150), NOW)
    assert "3 minutes" in model.prompt_countdown(NOW)
    assert "2 minutes" in model.prompt_countdown(NOW + timedelta(seconds=60))
    assert "30 seconds" in model.prompt_countdown(NOW + timedelta(seconds=120))
    model.tick(NOW + timedelta(seconds=150))
    assert model.prompt_result == "timeout"
    assert model.prompt_countdown(NOW + timedelta(seconds=150)) == ""
    model.on_command(_prompt(seconds=150), NOW)
    model.answer_prompt("fine", NOW)
    assert model.prompt_countdown(NOW) == ""


def test_a_prompt_is_shown_spoken_and_answered() -> None:
    model = TabletModel(language="en", online=True)
    model.on_command(_prompt(), NOW)
    assert model.screen is Screen.PROMPT
    assert model.prompt_question() == "Are you all right?"
    said = "Are you all right? If you do not answer within 1 minute, the centre will call you."
    assert Speak(said, "en") in model.take_effects()
    model.answer_prompt("fine", NOW + timedelta(seconds=5))
    [effect] = published(model)
    assert effect.body == PromptAnswer(prompt_id="p1", answer="fine")
    # a second tap adds nothing
    model.answer_prompt("help", NOW + timedelta(seconds=6))
    assert published(model) == []
    model.close_prompt()
    assert model.screen is Screen.HOME
    assert model.prompt is None


def test_medication_prompt_names_the_dose() -> None:
    model = TabletModel(language="en")
    model.on_command(_prompt("medication", schedule="insulin 09:00"), NOW)
    assert model.prompt_question() == "Time for your medication: insulin 09:00"
    assert model.prompt_buttons() == ("I've taken it", "Remind me later")
    assert model.prompt_countdown(NOW) == (
        "If you do not confirm within 1 minute, the centre will be told."
    )


def test_taken_confirms_the_dose_to_the_hub() -> None:
    model = TabletModel(language="ca", online=True)
    model.on_command(_prompt("medication", seconds=3600, schedule="insulina 09:00"), NOW)
    model.take_effects()
    model.answer_prompt("fine", NOW + timedelta(seconds=20))
    [effect] = published(model)
    assert effect.body == MedicationTaken(schedule="insulina 09:00")
    assert model.prompt_result == "taken"
    assert model.prompt_result_text() == "Gràcies. Ho hem anotat."


def test_remind_me_later_comes_back_in_ten_minutes_and_sends_nothing() -> None:
    model = TabletModel(language="es", online=True)
    model.on_command(_prompt("medication", seconds=3600, schedule="insulina 09:00"), NOW)
    model.take_effects()
    model.answer_prompt("help", NOW)  # the second button: "Recuérdamelo más tarde"
    assert published(model) == []  # no call for help, no confirmation
    assert model.prompt_result_text() == "De acuerdo. Se lo recordaremos dentro de 10 minutos."
    model.close_prompt()
    model.tick(NOW + timedelta(minutes=9, seconds=59))
    assert model.prompt is None
    model.tick(NOW + timedelta(minutes=10))
    assert model.screen is Screen.PROMPT
    assert model.prompt is not None
    assert model.prompt_result is None
    model.answer_prompt("fine", NOW + timedelta(minutes=11))
    [effect] = published(model)
    assert effect.body == MedicationTaken(schedule="insulina 09:00")


def test_a_reminder_is_not_put_off_past_its_grace() -> None:
    model = TabletModel(language="en", online=True)
    model.on_command(_prompt("medication", seconds=300, schedule="insulin 09:00"), NOW)
    model.answer_prompt("help", NOW)
    model.close_prompt()
    model.tick(NOW + timedelta(minutes=20))
    assert model.prompt is None  # the hub's timer decides the dose is missed


def test_an_unanswered_prompt_times_out_and_lets_the_alarm_go_ahead() -> None:
    model = TabletModel(language="en", online=True)
    model.on_command(_prompt(seconds=30), NOW)
    model.take_effects()
    model.tick(NOW + timedelta(seconds=10))
    assert model.prompt_result is None
    assert 0.6 < model.prompt_time_left(NOW + timedelta(seconds=10)) < 0.7
    model.tick(NOW + timedelta(seconds=30))
    assert model.prompt_result == "timeout"
    assert model.prompt_result_text() == "No answer received. The centre will call you."
    # nothing is published: the hub's own timer raises the alarm
    assert published(model) == []
    model.answer_prompt("fine", NOW + timedelta(seconds=31))
    assert published(model) == []


def test_an_expired_prompt_is_not_shown() -> None:
    model = TabletModel()
    model.on_command(_prompt(seconds=-1), NOW)
    assert model.prompt is None
    assert model.screen is Screen.HOME


def test_configure_switches_language_and_check_in_times() -> None:
    model = TabletModel(language="ca")
    model.on_command(Configure(language="es", check_in_deadlines=[time(11, 30)]), NOW)
    assert model.t("home.ok") == "Estoy bien"
    assert model.next_check_in(NOW) == "Hoy a las 11:30"
    model.on_command(Configure(heartbeat_s=60), NOW)
    assert model.language == "es"


def test_reminder_and_played_message_show_a_notice() -> None:
    model = TabletModel(language="en")
    due = NOW + timedelta(hours=1)
    model.on_command(Reminder(reminder_id="r1", text="Blood pressure pill", due=due), NOW)
    assert model.screen is Screen.NOTICE
    assert model.notice_text == "Today at 10:05: Blood pressure pill"
    model.on_command(PlayMessage(text="Bon dia!", language="ca"), NOW)
    assert Speak("Bon dia!", "ca") in model.take_effects()


def _family() -> TabletModel:
    model = TabletModel(language="en")
    model.contacts = [Contact("maria", "Maria"), Contact("jordi", "Jordi")]
    model.messages = [
        Message("m1", "maria", "text", NOW - timedelta(hours=2), text="Hi", read=True),
        Message("m2", "jordi", "photo", NOW - timedelta(hours=1), media="/x.png"),
        Message("m3", "maria", "text", NOW - timedelta(minutes=5), text="Bye"),
    ]
    return model


def test_unread_badge_and_read_receipts() -> None:
    model = _family()
    assert model.unread_count() == 2
    assert [c.id for c in model.conversations()] == ["maria", "jordi"]
    model.open_conversation("maria")
    assert MarkRead(("m3",)) in model.take_effects()
    assert model.unread_count() == 1
    model.open_conversation("maria")
    assert model.take_effects() == []
    model.add_message(Message("m4", "jordi", "voice", NOW))
    model.add_message(Message("m4", "jordi", "voice", NOW))
    assert model.unread_count("jordi") == 2


def test_incoming_call_rings_and_can_be_answered_or_declined() -> None:
    model = _family()
    model.incoming_call("c1", "maria")
    assert model.screen is Screen.CALL
    assert model.call_headline() == "Maria is calling you"
    assert model.take_effects() == [Ring(on=True)]
    model.go(Screen.HOME)  # cannot leave a ringing call by accident
    assert model.screen is Screen.CALL
    model.answer_call()
    assert model.take_effects() == [Ring(on=False), StartCall("maria", call_id="c1")]
    assert model.call_state is CallState.TALKING
    model.decline_call()
    assert model.take_effects() == [EndCall("c1")]
    assert model.call_state is CallState.ENDED

    model.go(Screen.HOME)
    model.incoming_call("c2", "jordi")
    model.take_effects()
    model.decline_call()
    assert model.take_effects() == [Ring(on=False), EndCall("c2", declined=True)]
    assert model.screen is Screen.HOME


def test_outgoing_call_by_tapping_a_face() -> None:
    model = _family()
    model.call_contact("jordi")
    assert model.take_effects() == [StartCall("jordi")]
    assert model.call_headline() == "Calling Jordi…"
    model.incoming_call("c9", "maria")  # busy: not shown
    assert model.call_contact_id == "jordi"
    model.call_connected("c3")
    assert model.call_state is CallState.TALKING
    assert model.call_id == "c3"
    model.call_ended()
    assert model.call_headline() == "The call has ended."


def test_agenda_in_plain_words_and_invitations() -> None:
    model = TabletModel(language="en")
    model.agenda = [
        AgendaItem("a2", "Maria visits", datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "visit"),
        AgendaItem("old", "Yesterday", datetime(2026, 11, 22, 9, 0, tzinfo=UTC)),
        AgendaItem("a1", "Workshop", datetime(2026, 11, 23, 16, 0, tzinfo=UTC), invitation=True),
    ]
    items = model.agenda_items(NOW)
    assert [model.agenda_line(i, NOW) for i in items] == [
        "Today at 17:00: Workshop",
        "Tomorrow at 10:00: Maria visits",
    ]
    model.respond_invitation("a1", accept=False)
    assert model.take_effects() == [RespondInvitation("a1", accept=False)]
    assert [i.id for i in model.agenda_items(NOW)] == ["a2"]


def test_pairing_pad_accepts_only_digits() -> None:
    model = TabletModel()
    for key in ["1", "x", "2", "", "34"]:
        model.pair_press(key)
    assert model.pair_digits == "12"
    model.pair_erase()
    model.pair_erase()
    model.pair_erase()
    assert model.pair_digits == ""
    for _ in range(20):
        model.pair_press("9")
    assert len(model.pair_digits) == 8  # the hub's setup codes have eight digits


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_every_screen_text_exists_in_each_language(lang: str) -> None:
    model = _family()
    model.language = lang  # type: ignore[assignment]
    assert "{" not in model.call_headline()
    model.on_command(_prompt("wellbeing"), NOW)
    assert "{" not in model.prompt_question()


# ---------------------------------------------------------------- the resident's own messages


def recording_model() -> TabletModel:
    from tablet_app.model import StartRecording

    model = TabletModel(language="en", can_record=True, can_photo=True)
    model.contacts = [Contact("maria", "Maria")]
    model.open_conversation("maria")
    model.press_record(NOW)
    assert model.take_effects() == [StartRecording("maria")]
    return model


def test_record_press_twice_records_then_sends() -> None:
    from tablet_app.model import Outgoing, StopRecording

    model = recording_model()
    assert model.outgoing is Outgoing.RECORDING
    assert model.recording_label(NOW + timedelta(seconds=75)) == "Recording… 1:15\nPress to send"
    model.press_record(NOW + timedelta(seconds=5))
    assert model.take_effects() == [StopRecording(send=True)]
    assert model.outgoing is Outgoing.SENDING
    assert model.outgoing_line() == "Sending…"
    model.press_record(NOW)  # while the last one is on its way: nothing
    assert model.take_effects() == []
    model.outgoing_done(sent=False)
    assert model.outgoing_line() == ("Voice message saved. We will send it when we can.")
    model.go(Screen.HOME)
    assert model.outgoing is Outgoing.IDLE  # the result is not shown again elsewhere


def test_cancel_throws_the_recording_away() -> None:
    from tablet_app.model import Outgoing, StopRecording

    model = recording_model()
    model.cancel_recording()
    assert model.take_effects() == [StopRecording(send=False)]
    assert model.outgoing is Outgoing.IDLE
    model.cancel_recording()  # not recording: nothing
    assert model.take_effects() == []


def test_without_a_microphone_or_camera_nothing_starts() -> None:
    model = TabletModel(language="en")
    model.contacts = [Contact("maria", "Maria")]
    model.open_conversation("maria")
    model.take_effects()
    model.press_record(NOW)
    model.press_photo()
    assert model.take_effects() == []


def test_a_long_recording_stops_and_is_sent_by_itself() -> None:
    from tablet_app.model import MAX_RECORDING_S, Outgoing, StopRecording

    model = recording_model()
    model.tick(NOW + timedelta(seconds=MAX_RECORDING_S - 1))
    assert model.take_effects() == []
    model.tick(NOW + timedelta(seconds=MAX_RECORDING_S))
    assert model.take_effects() == [StopRecording(send=True)]
    assert model.outgoing is Outgoing.SENDING


def test_a_call_or_a_prompt_switches_the_microphone_off() -> None:
    from tablet_app.model import Outgoing, StopRecording

    model = recording_model()
    model.incoming_call("c1", "maria")
    assert StopRecording(send=False) in model.take_effects()
    assert model.call_state is CallState.RINGING
    assert model.outgoing is Outgoing.IDLE

    model = recording_model()
    model.on_command(
        Prompt(prompt_id="p", kind="inactivity", expires=NOW + timedelta(minutes=1)), NOW
    )
    assert StopRecording(send=False) in model.take_effects()
    assert model.screen is Screen.PROMPT


def test_a_photo_is_taken_for_the_open_conversation() -> None:
    from tablet_app.model import Outgoing, TakePhoto

    model = TabletModel(language="en", can_photo=True)
    model.contacts = [Contact("maria", "Maria")]
    model.open_conversation("maria")
    model.press_photo()
    assert model.take_effects() == [TakePhoto("maria")]
    assert model.outgoing is Outgoing.SENDING
    model.outgoing_done(sent=True)
    assert model.outgoing_line() == "Sent!"
    model.outgoing_done(sent=None)
    assert model.outgoing is Outgoing.IDLE
