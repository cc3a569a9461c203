"""Every 112 message the emitters can write, against the published standards and the rules
they cannot express: text cleaned of what XML cannot carry, identifiers CAP allows, UTC as
-00:00, and a thread of Alert, Update and Cancel naming what 112 received."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from alerts import (
    Actor,
    ActorKind,
    AlertsValueError,
    Detection,
    Explanation,
    Outcome,
    RuleKind,
    accept,
    add_note,
    resolve,
)
from alerts.alarm import Alarm, EscalationTarget, escalate, raise_alarm
from alerts.emergency import (
    MESSAGE_DETAIL,
    Centre,
    EmergencyIncident,
    Location,
    Person,
    SentMessage,
    build_eido,
    cap_time,
    check_identifier,
    clean_text,
    control_characters,
    encode_cap,
)
from hub.alarms.settings import AlarmSettings
from teleassist.config import Config, ConfigError
from tests.alerts.centre import cap_fields, cap_problems, eido_problems

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
ANNA = Actor(ActorKind.OPERATOR, "op-anna", "Anna")
NASTY = "Carrer\x0b de\x1b[31m Provença\ufffe 100 <b>&amp; \x00\x7f\x85 \ud800 \uffff"


def _alarm(rule: RuleKind = RuleKind.FALL, alarm_id: str = "a1") -> Alarm:
    detection = Detection(
        rule=rule,
        home_id="12",
        resident_id="31",
        at=T0,
        explanation=Explanation.of("fall", room="bath\x0broom", time="10:00"),
        event_ids=("ev1",),
    )
    return accept(raise_alarm(alarm_id, detection), ANNA, T0 + timedelta(seconds=20))


def _incident(
    alarm: Alarm, *, at: datetime | None = None, text: str = "", operator: str = "anna"
) -> EmergencyIncident:
    return EmergencyIncident(
        alarm=alarm,
        person=Person(
            f"Rosa Puig{text}", "ca", date(1938, 5, 2), "+34930000000", True, f"notes{text}"
        ),
        location=Location(
            f"Carrer de Provença 100{text}",
            municipality="Barcelona",
            postal_code="08029",
            latitude=41.3889,
            longitude=2.1527,
            access_notes=f"Key holder{text}",
            key_safe=True,
        ),
        centre=Centre("ta-bcn", f"Teleassist{text}", "+34930000999", operator),
        sent_at=at or T0 + timedelta(minutes=3),
    )


def _delivered(alarm: Alarm, incident: EmergencyIncident, at: datetime) -> Alarm:
    """The alarm after a delivered hand-off of ``incident`` (as the hub records it)."""
    escalated = escalate(alarm, ANNA, at, EscalationTarget.EMERGENCY_112)
    last = escalated.history[-1]
    detail = (*last.detail, ("delivered", "True"), (MESSAGE_DETAIL, incident.message.reference()))
    return replace(escalated, history=(*escalated.history[:-1], replace(last, detail=detail)))


# ---------------------------------------------------------------- wire rules


def test_utc_is_written_minus_zero_zero_in_whole_seconds() -> None:
    assert cap_time(datetime(2026, 1, 12, 9, 0, 5, 123456, tzinfo=UTC)) == (
        "2026-01-12T09:00:05-00:00"
    )
    madrid = timezone(timedelta(hours=1))
    assert cap_time(datetime(2026, 1, 12, 10, 0, tzinfo=madrid)) == "2026-01-12T09:00:00-00:00"
    with pytest.raises(AlertsValueError, match="timezone-aware"):
        cap_time(datetime(2026, 1, 12, 9, 0))


@pytest.mark.parametrize("bad", ["a b", "a,b", "a<b", "a&b", "a\tb", "a\x0bb", "", "x" * 201])
def test_identifiers_with_forbidden_characters_are_refused(bad: str) -> None:
    with pytest.raises(AlertsValueError):
        check_identifier(bad)
    if bad:
        with pytest.raises(AlertsValueError):
            Centre(bad)


def test_an_alarm_id_cap_cannot_carry_is_refused_before_sending() -> None:
    with pytest.raises(AlertsValueError, match="alarm id"):
        _incident(_alarm(alarm_id="a 1"))


@pytest.mark.parametrize("bad", ["ta bcn", "ta,bcn", "ta<bcn", "ta&bcn"])
def test_a_centre_id_cap_cannot_carry_is_refused_at_start_up(bad: str) -> None:
    config = Config(sections={"alarms": {"centre_id": bad}})
    with pytest.raises(ConfigError, match="centre_id"):
        config.section("alarms", AlarmSettings)
    assert config.with_overrides("alarms", centre_id="ta-bcn").section("alarms", AlarmSettings)


def test_control_characters_are_found_and_cleaned() -> None:
    assert control_characters("Carrer Major 3\n\tporta 2") == []
    assert control_characters(NASTY) == [
        "U+0000",
        "U+000B",
        "U+001B",
        "U+007F",
        "U+0085",
        "U+D800",
        "U+FFFE",
        "U+FFFF",
    ]
    assert control_characters(clean_text(NASTY)) == []
    assert clean_text("a\nb\tc\rd") == "a\nb\tc\rd"


def test_a_sent_message_reads_back_from_its_reference() -> None:
    message = SentMessage("ta-bcn", "ta-bcn.a1.3", T0 + timedelta(microseconds=5))
    assert message.reference() == "ta-bcn,ta-bcn.a1.3,2026-01-12T09:00:00-00:00"
    assert SentMessage.parse(message.reference()) == message
    with pytest.raises(AlertsValueError):
        SentMessage.parse("ta-bcn,only-two")


# ---------------------------------------------------------------- stored text never breaks one


def test_registry_text_with_control_characters_still_makes_valid_messages() -> None:
    incident = _incident(_alarm(), text=NASTY)
    raw = encode_cap(incident)
    assert cap_problems(raw) == []
    assert b"\x0b" not in raw
    assert b"\x1b" not in raw
    assert "&lt;b&gt;&amp;amp;" in raw.decode()
    eido = build_eido(incident)
    assert eido_problems(eido) == []
    assert all(not control_characters(n["notesActionComments"]) for n in eido["notesComponent"])
    # notesActionComments is HTML: markup typed in the registry arrives as text.
    assert any("&lt;b&gt;" in n["notesActionComments"] for n in eido["notesComponent"])
    assert control_characters(eido["locationComponent"][0]["locationByValue"]) == []


# ---------------------------------------------------------------- the thread


def test_alert_update_then_cancel_name_what_112_received() -> None:
    alarm = _alarm()
    first = _incident(alarm, at=T0 + timedelta(minutes=1))
    assert first.message_type == "Alert"
    alarm = _delivered(alarm, first, T0 + timedelta(minutes=1))
    second = _incident(alarm, at=T0 + timedelta(minutes=5))
    assert second.message_type == "Update"
    assert second.previous == (first.message,)
    alarm = _delivered(alarm, second, T0 + timedelta(minutes=5))
    alarm = resolve(alarm, ANNA, T0 + timedelta(minutes=20), Outcome.FALSE_ALARM)
    close = _incident(alarm, at=T0 + timedelta(minutes=20))
    assert close.message_type == "Cancel"
    fields = cap_fields(encode_cap(close))
    assert fields["msgType"] == "Cancel"
    assert fields["references"] == [first.message.reference(), second.message.reference()]
    assert cap_problems(encode_cap(close)) == []
    eido = build_eido(close)
    assert eido["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Closed"]
    assert eido["incidentComponent"]["$id"] == build_eido(first)["incidentComponent"]["$id"]
    assert len({first.message.identifier, second.message.identifier, close.message.identifier}) == 3


def test_a_real_incident_closes_with_an_all_clear_update() -> None:
    alarm = _alarm()
    first = _incident(alarm)
    alarm = _delivered(alarm, first, T0 + timedelta(minutes=3))
    alarm = resolve(alarm, ANNA, T0 + timedelta(minutes=40), Outcome.AMBULANCE)
    close = _incident(alarm, at=T0 + timedelta(minutes=40))
    fields = cap_fields(encode_cap(close))
    assert fields["msgType"] == "Update"
    assert set(fields["responseTypes"]) == {"AllClear"}
    assert fields["references"] == [first.message.reference()]


def test_a_failed_hand_off_is_not_referenced() -> None:
    alarm = _alarm()
    failed = escalate(alarm, ANNA, T0 + timedelta(minutes=1), EscalationTarget.EMERGENCY_112)
    last = failed.history[-1]
    incident = _incident(alarm, at=T0 + timedelta(minutes=1))
    detail = (*last.detail, ("delivered", "False"), (MESSAGE_DETAIL, incident.message.reference()))
    failed = replace(failed, history=(*failed.history[:-1], replace(last, detail=detail)))
    assert _incident(failed, at=T0 + timedelta(minutes=2)).message_type == "Alert"


# ---------------------------------------------------------------- every message


def _sweep() -> list[tuple[str, EmergencyIncident]]:
    cases = []
    rules = list(RuleKind)
    for rule, delivered, outcome, operator in itertools.product(
        rules, (0, 1, 2), (None, *Outcome), ("anna", "")
    ):
        if outcome is not None and operator == "":
            continue
        alarm = _alarm(rule, alarm_id=f"{rule.value}-{delivered}")
        at = T0 + timedelta(minutes=1)
        for _ in range(delivered):
            alarm = _delivered(alarm, _incident(alarm, at=at, operator=operator), at)
            at += timedelta(minutes=1)
        alarm = add_note(alarm, ANNA, at, "neighbour has a key <&>")
        if outcome is not None:
            alarm = resolve(alarm, ANNA, at, outcome)
        cases.append((f"{rule.value}-{delivered}-{outcome}-{operator}", _incident(alarm, at=at)))
    return cases


SWEEP = _sweep()


def test_every_message_validates_against_the_published_standards() -> None:
    assert len(SWEEP) > 200
    for name, incident in SWEEP:
        raw = encode_cap(incident)
        assert cap_problems(raw) == [], name
        assert eido_problems(build_eido(incident)) == [], name
        fields = cap_fields(raw)
        assert fields["msgType"] == incident.message_type, name
        assert len(fields["references"]) == len(incident.previous), name
