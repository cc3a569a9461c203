"""The hub's ``event_received`` to the device after an alarm event is applied (ADR 0125)."""

from __future__ import annotations

from alerts import DeviceType, HomeEvent
from hub.alarms.received import EventReceivedSender
from hub.ingest.commands import DeviceCommands
from protocol import DoorClose, EventReceived, Panic, Status, decode_command, parse_command_topic
from tests.instants import machine_now


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, bytes, int]] = []
        self.fail = fail

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self.fail:
            raise OSError("connection lost")
        self.sent.append((topic, payload, qos))


def _event(body: object, device: str = "gw-1-pendant") -> HomeEvent:
    return HomeEvent(
        home_id="1",
        resident_id="1",
        device_id=device,
        device_type=DeviceType.of("pendant"),
        message_id="m1",
        at=machine_now(),
        body=body,  # type: ignore[arg-type]
    )


def test_an_applied_alarm_event_is_confirmed_on_its_devices_command_topic() -> None:
    recorder = Recorder()
    sender = EventReceivedSender(DeviceCommands(lambda: recorder, machine_now))
    sender(_event(Panic()))
    [(topic, payload, qos)] = recorder.sent
    parsed = parse_command_topic(topic)
    assert (parsed.device_id, parsed.name, qos) == ("gw-1-pendant", "event_received", 1)
    assert decode_command(payload, now=machine_now()).body == EventReceived(event_id="m1")
    assert sender.sent == 1


def test_routine_events_statuses_and_no_broker_send_nothing() -> None:
    recorder = Recorder()
    sender = EventReceivedSender(DeviceCommands(lambda: recorder, machine_now))
    sender(_event(DoorClose()))
    sender(_event(Status(state="offline", reason="supervision")))
    assert recorder.sent == []
    EventReceivedSender(DeviceCommands(lambda: None, machine_now))(
        _event(Panic())
    )  # not connected yet


def test_a_bad_device_id_or_a_failed_publish_is_not_an_error() -> None:
    recorder = Recorder()
    sender = EventReceivedSender(DeviceCommands(lambda: recorder, machine_now))
    sender(_event(Panic(), device="no/slashes"))
    assert recorder.sent == []
    failing = EventReceivedSender(DeviceCommands(lambda: Recorder(fail=True), machine_now))
    failing(_event(Panic()))  # logged; the device re-sends
    assert failing.sent == 0
