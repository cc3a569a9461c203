"""The tablet tells the centre what became of its messages and reminders (issue 22, item 4;
ADR 0163): shown when said and shown, acknowledged on OK or "I've taken it", postponed with
when it rings again on "Remind me later" (none when that would be after it expires); the
reports go through the on-disk outbox on the ack channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from protocol import PlayMessage, Prompt, PromptWithdrawn, Reminder, decode_ack
from tablet_app.link import Broker, HubLink
from tablet_app.model import Publish, Report, Screen, Speak, TabletModel
from tablet_app.outbox import Outbox

NOW = datetime(2026, 11, 23, 8, 5, tzinfo=UTC)


def _reports(model: TabletModel) -> list[Report]:
    return [e for e in model.take_effects() if isinstance(e, Report)]


def test_a_message_is_shown_then_acknowledged_with_ok() -> None:
    model = TabletModel(language="ca")
    model.on_command(PlayMessage(text="La infermera ve a les 11", language="ca"), NOW, "c1")
    assert model.screen is Screen.NOTICE
    assert _reports(model) == [Report("c1", "shown")]
    model.close_notice()
    assert model.screen is Screen.HOME
    assert _reports(model) == [Report("c1", "acknowledged")]
    model.close_notice()  # nothing twice
    assert _reports(model) == []


def test_a_silent_message_is_not_spoken_and_a_confirmation_is_asked_when_wanted() -> None:
    model = TabletModel(language="ca")
    body = PlayMessage(text="Avís de calor", language="ca", speak=False, confirm=True)
    model.on_command(body, NOW, "c9")
    effects = model.take_effects()
    assert not [e for e in effects if isinstance(e, Speak)]
    assert [e for e in effects if isinstance(e, Report)] == [Report("c9", "shown")]
    assert model.screen is Screen.NOTICE
    assert model.notice_confirm
    assert model.t("notice.read") == "Ja l'he llegit"
    model.close_notice()
    assert _reports(model) == [Report("c9", "acknowledged")]
    assert not model.notice_confirm
    # The default: spoken, and the plain way home.
    model.on_command(PlayMessage(text="Bon dia", language="ca"), NOW, "c10")
    effects = model.take_effects()
    assert Speak("Bon dia", "ca") in effects
    assert not model.notice_confirm


def test_an_agenda_reminder_too_and_a_command_without_id_reports_nothing() -> None:
    model = TabletModel(language="en")
    due = NOW + timedelta(hours=1)
    model.on_command(Reminder(reminder_id="agenda-1", text="Dentist", due=due), NOW, "c2")
    assert _reports(model) == [Report("c2", "shown")]
    model.on_command(PlayMessage(text="Hola", language="es"), NOW)  # an older caller
    assert _reports(model) == []
    model.close_notice()
    assert _reports(model) == []  # the notice on screen is the one without an id


def test_remind_me_later_says_when_it_rings_again() -> None:
    model = TabletModel(language="ca")
    prompt = Prompt(
        prompt_id="dose-1", kind="medication", expires=NOW + timedelta(minutes=30),
        schedule="insulina",
    )  # fmt: skip
    model.on_command(prompt, NOW, "c3")
    assert _reports(model) == [Report("c3", "shown")]
    model.answer_prompt("help", NOW)
    assert _reports(model) == [Report("c3", "postponed", NOW + timedelta(minutes=10))]
    model.tick(NOW + timedelta(minutes=10))
    assert _reports(model) == [Report("c3", "shown")]
    model.answer_prompt("fine", NOW + timedelta(minutes=11))
    effects = model.take_effects()
    assert Report("c3", "acknowledged") in effects
    assert any(isinstance(e, Publish) for e in effects)  # medication_taken, as before


def test_put_off_too_late_to_ring_again() -> None:
    model = TabletModel(language="ca")
    prompt = Prompt(prompt_id="dose-2", kind="medication", expires=NOW + timedelta(minutes=5))
    model.on_command(prompt, NOW, "c4")
    model.take_effects()
    model.answer_prompt("help", NOW)
    assert _reports(model) == [Report("c4", "postponed", None)]


def test_a_wellbeing_prompt_is_not_reported() -> None:
    model = TabletModel(language="ca")
    prompt = Prompt(prompt_id="wb", kind="inactivity", expires=NOW + timedelta(minutes=5))
    model.on_command(prompt, NOW, "c5")
    model.answer_prompt("fine", NOW)
    assert _reports(model) == []


def test_a_report_waits_in_the_outbox_on_the_ack_channel(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    link = HubLink("tab-r1", Broker(host="127.0.0.1", port=1), outbox, clock=lambda: NOW)
    until = NOW + timedelta(minutes=10)
    link.report("c6", "postponed", until)
    [item] = outbox.pending()
    assert item.topic == "ta/v1/d/tab-r1/ack"
    body = decode_ack(item.payload, now=NOW).body
    assert (body.command_id, body.ok, body.state, body.until) == ("c6", True, "postponed", until)
    outbox.close()


def test_a_reminder_the_pill_box_confirmed_leaves_the_screen_and_is_acknowledged() -> None:
    """ADR 0174: the hub withdraws the reminder of a dose the dispenser confirmed; the
    tablet takes it off the screen, the centre's row says acknowledged, and the dose is not
    confirmed again from the tablet. Another dose's reminder, and a second withdrawal,
    change nothing."""
    model = TabletModel(language="ca")
    expires = NOW + timedelta(minutes=30)
    model.on_command(
        Prompt(prompt_id="dose-1", kind="medication", expires=expires, schedule="insulina"),
        NOW,
        "c5",
    )
    model.take_effects()
    model.on_command(PromptWithdrawn(prompt_id="dose-2"), NOW + timedelta(minutes=1), "w0")
    assert model.screen is Screen.PROMPT  # another dose's withdrawal
    assert model.take_effects() == []
    model.on_command(PromptWithdrawn(prompt_id="dose-1"), NOW + timedelta(minutes=2), "w1")
    assert model.prompt is None
    assert model.screen is Screen.HOME
    effects = model.take_effects()
    assert Report("c5", "acknowledged") in effects
    assert not [e for e in effects if isinstance(e, Publish)]  # not a second medication_taken
    model.on_command(PromptWithdrawn(prompt_id="dose-1"), NOW + timedelta(minutes=3), "w2")
    assert model.take_effects() == []


def test_a_put_off_reminder_the_pill_box_confirmed_does_not_ring_again() -> None:
    model = TabletModel(language="ca")
    prompt = Prompt(
        prompt_id="dose-3", kind="medication", expires=NOW + timedelta(minutes=30),
        schedule="insulina",
    )  # fmt: skip
    model.on_command(prompt, NOW, "c6")
    model.answer_prompt("help", NOW)  # "Remind me later"
    model.close_prompt()
    model.take_effects()
    model.on_command(PromptWithdrawn(prompt_id="dose-3"), NOW + timedelta(minutes=5), "w3")
    assert _reports(model) == [Report("c6", "acknowledged")]
    model.tick(NOW + timedelta(minutes=10))
    assert model.prompt is None
    assert model.screen is Screen.HOME
