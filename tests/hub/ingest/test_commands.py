"""The hub's one command sender (hub.ingest.commands): one sequence, the hub's clock, no
silent loss without a connection."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.i18n import Explanation
from alerts.model import PromptRequest
from hub.ingest.commands import DeviceCommands, NotConnected
from protocol import (
    EventReceived,
    Prompt,
    ProtocolError,
    Reminder,
    decode_command,
    parse_command_topic,
)
from tests.instants import machine_now


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload, qos))


async def test_every_kind_of_command_shares_one_sequence_and_the_hubs_clock() -> None:
    now = machine_now()
    recorder = Recorder()
    commands = DeviceCommands(lambda: recorder, lambda: now)
    request = PromptRequest(
        home_id="1",
        resident_id="1",
        prompt_id="p1",
        kind="inactivity",
        sent_at=now,
        expires=now + timedelta(minutes=5),
        explanation=Explanation.of("never"),
    )
    await commands.channel.prompt("tab-1", request, now)  # what the alarm engine sends
    reminder = Reminder(reminder_id="agenda-1", text="Metge", due=now, kind="appointment")
    await commands.send("tab-1", reminder)  # what the agenda reminders send
    commands.send_nowait("gw-1-pendant", EventReceived(event_id="m1"))  # ADR 0125
    decoded = [decode_command(payload, now=now) for _, payload, _ in recorder.sent]
    assert [type(c.body) for c in decoded] == [Prompt, Reminder, EventReceived]
    seqs = [c.seq for c in decoded]
    # One counter, strictly increasing.
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    assert all(c.ts == now for c in decoded)
    names = [parse_command_topic(topic).name for topic, _, _ in recorder.sent]
    assert names == ["prompt", "reminder", "event_received"]
    assert all(qos == 1 for _, _, qos in recorder.sent)
    assert commands.sent == 3


async def test_without_a_connection_the_caller_is_told() -> None:
    commands = DeviceCommands(lambda: None, machine_now)
    assert not commands.connected
    with pytest.raises(NotConnected):
        await commands.send("tab-1", EventReceived(event_id="m1"))
    assert commands.sent == 0


def test_a_device_id_the_contract_rejects_uses_no_sequence() -> None:
    recorder = Recorder()
    commands = DeviceCommands(lambda: recorder, machine_now)
    with pytest.raises(ProtocolError):
        commands.send_nowait("no/slashes", EventReceived(event_id="m1"))
    commands.send_nowait("tab-1", EventReceived(event_id="m2"))
    [(_, payload, _)] = recorder.sent
    first = decode_command(payload, now=machine_now()).seq
    commands.send_nowait("tab-1", EventReceived(event_id="m3"))
    assert decode_command(recorder.sent[1][1], now=machine_now()).seq == first + 1
