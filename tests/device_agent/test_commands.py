"""Command validation and application (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import msgspec

import protocol
from device_agent.commands import Announce, RuntimeSettings, Say, handle_command

NOW = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
GW = "h1-gw"


def _payload(body: protocol.CommandBody, id: str = "cmd1") -> bytes:
    return protocol.encode(protocol.envelope(body, id=id, ts=NOW, seq=1))


def _handle(topic_name: str, payload: bytes, device: str = GW) -> object:
    return handle_command(
        f"ta/v1/c/{device}/{topic_name}",
        payload,
        gateway_id=GW,
        settings=RuntimeSettings(),
        firmware="fw-1",
        now=NOW,
    )


def test_ping_and_firmware_are_answered() -> None:
    ping = _handle("ping", _payload(protocol.Ping()))
    assert ping.ack == protocol.Ack(command_id="cmd1", ok=True)  # type: ignore[attr-defined]
    info = _handle("firmware_info", _payload(protocol.FirmwareInfo(), id="c2"))
    assert info.ack.firmware == "fw-1"  # type: ignore[attr-defined]


def test_configure_changes_only_the_given_settings() -> None:
    body = protocol.Configure(
        fall_cancel_s=45,
        language="es",
        inactivity_windows=[protocol.InactivityWindow(start=time(7), end=time(10))],
    )
    outcome = _handle("configure", _payload(body))
    settings = outcome.settings  # type: ignore[attr-defined]
    assert outcome.ack.ok  # type: ignore[attr-defined]
    assert settings.fall_cancel_s == 45
    assert settings.language == "es"
    assert settings.heartbeat_s == RuntimeSettings().heartbeat_s
    assert settings.inactivity_windows[0].start == time(7)


def test_play_message_reminder_and_alarm_received() -> None:
    say = _handle("play_message", _payload(protocol.PlayMessage(text="Hola", language="ca")))
    assert say.speech == (Say("Hola", "ca"),)  # type: ignore[attr-defined]
    reminder = protocol.Reminder(
        reminder_id="r1", text="Pastilla", due=NOW + timedelta(hours=1), kind="medication"
    )
    outcome = _handle("reminder", _payload(reminder))
    assert outcome.reminder == reminder  # type: ignore[attr-defined]
    received = _handle("alarm_received", _payload(protocol.AlarmReceived(alarm_id="a1")))
    assert received.speech == (Announce("alarm_received"),)  # type: ignore[attr-defined]


def test_the_gateway_says_the_centre_s_messages_but_cannot_show_a_silent_one() -> None:
    asked = protocol.PlayMessage(text="La infermera ve a les 11", language="ca", confirm=True)
    said = _handle("play_message", _payload(asked))
    # Said, and answered with a plain Ack: it cannot ask for "I've read it".
    assert said.speech == (Say("La infermera ve a les 11", "ca"),)  # type: ignore[attr-defined]
    assert said.ack == protocol.Ack(command_id="cmd1", ok=True)  # type: ignore[attr-defined]
    silent = protocol.PlayMessage(text="Bon dia", language="ca", speak=False)
    outcome = _handle("play_message", _payload(silent))
    _rejected(outcome, "no screen")
    assert outcome.speech == ()  # type: ignore[attr-defined]


def _rejected(outcome: object, fragment: str, command_id: str | None = "cmd1") -> None:
    ack = outcome.ack  # type: ignore[attr-defined]
    if command_id is None:
        assert ack is None
    else:
        assert ack.ok is False
        assert ack.command_id == command_id
        assert fragment in ack.error
    assert any(fragment in e for e in outcome.errors)  # type: ignore[attr-defined]
    assert outcome.settings == RuntimeSettings()  # type: ignore[attr-defined]


def test_invalid_commands_are_rejected_with_an_error_ack() -> None:
    # Out-of-range value: the contract says 5..120 s.
    bad = msgspec.json.encode(
        {
            "v": 1,
            "id": "cmd1",
            "ts": NOW.isoformat(),
            "seq": 1,
            "body": {"name": "configure", "fall_cancel_s": 1},
        }
    )
    _rejected(_handle("configure", bad), "fall_cancel_s")
    # Topic and body disagree.
    _rejected(_handle("reminder", _payload(protocol.Ping())), "topic names command")
    # Unknown command name in the body.
    unknown = msgspec.json.encode(
        {"v": 1, "id": "cmd1", "ts": NOW.isoformat(), "seq": 1, "body": {"name": "self_destruct"}}
    )
    _rejected(_handle("self_destruct", unknown), "invalid")
    # Addressed to another gateway.
    _rejected(_handle("ping", _payload(protocol.Ping()), device="h2-gw"), "h2-gw")
    # Tablet-only command.
    prompt = protocol.Prompt(prompt_id="p1", kind="inactivity", expires=NOW + timedelta(minutes=5))
    _rejected(_handle("prompt", _payload(prompt)), "tablet")
    # Empty inactivity window.
    empty = protocol.Configure(
        inactivity_windows=[protocol.InactivityWindow(start=time(7), end=time(7))]
    )
    _rejected(_handle("configure", _payload(empty)), "must not be empty")
    # A reminder due long ago.
    old = protocol.Reminder(reminder_id="r1", text="x", due=NOW - timedelta(days=1))
    _rejected(_handle("reminder", _payload(old)), "in the past")


def test_garbage_without_an_id_is_logged_not_answered() -> None:
    _rejected(_handle("ping", b"not json"), "malformed", command_id=None)
    _rejected(_handle("ping", b'{"id": "bad id!"}'), "invalid", command_id=None)
