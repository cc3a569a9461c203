"""Social events: validation rules and their JSON round trip (the outbox payload)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from integrations.wsocial.events import (
    EVENT_KINDS,
    AlarmHandled,
    CheckInSummary,
    EventDecodeError,
    RiskFlag,
    ServiceEvent,
    alarm_kind_for_event,
    decode_event,
    encode_event,
    event_kind,
)
from tests.integrations.samples import T0, sample_events


def test_every_kind_round_trips_through_json() -> None:
    events = sample_events()
    assert {event_kind(e) for e in events} == set(EVENT_KINDS)
    for event in events:
        assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "ended"}, "needs ended_at and a discharge_reason"),
        ({"status": "suspended"}, "needs a suspension_reason"),
        ({"status": "active", "discharge_reason": "withdrew"}, "has no ended_at"),
        ({"status": "active", "suspension_reason": "hospital_stay"}, "has no suspension_reason"),
        (
            {"status": "ended", "discharge_reason": "withdrew", "ended_at": T0 - timedelta(1)},
            "before started_at",
        ),
    ],
)
def test_service_rules(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceEvent(
            resident_id="r",
            occurred_at=T0,
            service_id="s",
            started_at=T0,
            **kwargs,  # type: ignore[arg-type]
        )


def test_alarm_times_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="answered_at must lie"):
        AlarmHandled(
            resident_id="r",
            occurred_at=T0,
            alarm_id="a",
            alarm_kind="panic",
            raised_at=T0,
            answered_at=T0 - timedelta(seconds=1),
            closed_at=T0 + timedelta(minutes=1),
            outcome="false_alarm",
        )


def test_week_must_start_on_monday_and_flags_need_until_when_cleared() -> None:
    with pytest.raises(ValueError, match="Monday"):
        CheckInSummary(
            resident_id="r", occurred_at=T0, week_start=date(2026, 11, 3), expected=7, done=1
        )
    with pytest.raises(ValueError, match="cleared flag needs until"):
        RiskFlag(resident_id="r", occurred_at=T0, risk="lives_alone", active=False, since=T0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "malformed|JSON"),
        (b'{"kind": "nope"}', "Invalid value 'nope'"),
        (b'{"kind": "risk_flag", "resident_id": "r"}', "missing required field"),
        (
            b'{"kind":"service","resident_id":"r","occurred_at":"2026-11-02T09:00:00",'
            b'"service_id":"s","status":"active","started_at":"2026-11-02T09:00:00Z"}',
            "timezone",
        ),
        (
            b'{"kind":"service","resident_id":"r","occurred_at":"2026-11-02T09:00:00Z",'
            b'"service_id":"s","status":"ended","started_at":"2026-11-02T09:00:00Z"}',
            "discharge_reason",
        ),
    ],
)
def test_decode_refuses_bad_payloads_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message):
        decode_event(data)


def test_protocol_alarm_events_map_to_kinds() -> None:
    assert alarm_kind_for_event("fall") == "fall"
    assert alarm_kind_for_event("power_lost") == "technical"
    assert alarm_kind_for_event("something_new") == "other"
