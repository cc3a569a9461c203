"""Alarm events wait for the hub's ``event_received`` after the broker has them (ADR 0125)."""

from __future__ import annotations

from pathlib import Path

import protocol
from device_agent.outbox import RESEND_CAP_S, Outbox, Priority, resend_delay
from tests.instants import machine_now

T0 = 1_800_000_000.0


def _event(device: str, body: protocol.EventBody) -> tuple[str, bytes, str]:
    message_id = protocol.new_message_id()
    message = protocol.envelope(body, id=message_id, ts=machine_now(), seq=1)
    return protocol.device_topic(device, "event"), protocol.encode(message), message_id


def _sent(box: Outbox, now: float) -> None:
    """As the agent's sender: everything queued published and acknowledged by the broker."""
    box.remove([m.id for m in box.peek()], now=now)


def test_an_alarm_event_is_sent_again_until_the_hub_confirms_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    topic, payload, message_id = _event("gw-1-pendant", protocol.Panic())
    box.put(topic, payload, qos=1, priority=Priority.ALARM)
    _sent(box, T0)
    assert len(box) == 0
    assert box.unconfirmed() == 1
    assert box.requeue_due(T0 + resend_delay(0) - 0.1) == 0
    assert box.requeue_due(T0 + resend_delay(0)) == 1
    [again] = box.peek()
    assert (again.topic, again.payload, again.priority) == (topic, payload, Priority.ALARM)
    _sent(box, T0 + 2)  # the re-sent copy keeps its row: no second entry, next wait longer
    assert box.unconfirmed() == 1
    assert box.requeue_due(T0 + 2 + resend_delay(0)) == 0
    assert box.requeue_due(T0 + 2 + resend_delay(1)) == 1
    assert box.confirm("gw-1-pendant", message_id)
    assert box.unconfirmed() == 0
    box.remove([m.id for m in box.peek()], now=T0 + 10)  # confirmed while in flight
    assert box.unconfirmed() == 1  # held again; the hub confirms every copy it applies
    assert not box.confirm("gw-1-pendant", "other-id")
    assert not box.confirm("gw-2-pendant", message_id)


def test_routine_events_telemetry_and_plain_removal_are_not_held(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    topic, payload, _ = _event("gw-1-door", protocol.DoorClose())
    box.put(topic, payload, qos=1, priority=Priority.EVENT)
    box.put(protocol.device_topic("gw-1", "telemetry"), b"{}", qos=0, priority=Priority.TELEMETRY)
    _sent(box, T0)
    topic, payload, _ = _event("gw-1-pendant", protocol.Panic())
    box.put(topic, payload, qos=1, priority=Priority.ALARM)
    box.remove([m.id for m in box.peek()])  # no ``now``: the old behaviour, nothing held
    # An alarm-priority row that is not a readable event on an event topic is not held.
    box.put(protocol.device_topic("gw-1", "status"), b"{}", qos=1, priority=Priority.ALARM)
    box.put(protocol.device_topic("gw-1", "event"), b"not json", qos=1, priority=Priority.ALARM)
    box.put("not/a/device/topic", b'{"id": "x"}', qos=1, priority=Priority.ALARM)
    _sent(box, T0)
    assert box.unconfirmed() == 0
    assert box.requeue_due(T0 + 3600) == 0


def test_held_alarm_events_survive_a_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    topic, payload, message_id = _event("gw-1-pendant", protocol.Fall())
    box.put(topic, payload, qos=1, priority=Priority.ALARM)
    _sent(box, T0)
    box.close()
    box = Outbox(tmp_path / "o.db")
    assert box.unconfirmed() == 1
    assert box.requeue_due(T0 + 60) == 1
    assert len(box) == 1
    assert box.confirm("gw-1-pendant", message_id)


def test_the_wait_grows_to_a_cap_and_never_gives_up() -> None:
    delays = [resend_delay(n) for n in range(40)]
    assert delays[0] == 2.0
    assert delays == sorted(delays)
    assert delays[-1] == RESEND_CAP_S
