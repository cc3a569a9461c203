from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocol
from protocol import DecodeError, RejectReason

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _raw(body: dict[str, object], **header: object) -> bytes:
    message: dict[str, object] = {
        "v": 1,
        "id": "m1",
        "ts": "2026-11-23T11:59:00Z",
        "seq": 7,
        "body": body,
    }
    message.update(header)
    return json.dumps(message).encode()


# ---------------------------------------------------------------- strategies

ids = st.text(alphabet="abcdef0123456789-_", min_size=1, max_size=64)
timestamps = st.datetimes(
    min_value=datetime(2026, 10, 25),
    max_value=datetime(2026, 11, 23, 12, 4),
    timezones=st.just(UTC),
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


# Strings the contract allows: any text but U+0000, which the codec refuses (docs/protocol.md).
def _texts(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(blacklist_characters="\x00"), max_size=max_size)


rooms = st.none() | st.sampled_from(["hall", "kitchen", "bedroom", "bathroom"])

event_bodies = st.one_of(
    st.builds(protocol.Panic, room=rooms, source=st.sampled_from(["pendant", "tablet"])),
    st.builds(protocol.Fall, room=rooms, confidence=st.none() | st.floats(0, 1)),
    st.builds(protocol.FallCancelled, fall_id=st.none() | ids),
    st.builds(protocol.CheckIn, source=st.sampled_from(["tablet", "button"])),
    st.builds(protocol.DoorOpen, door=st.sampled_from(["front", "back"])),
    st.builds(protocol.Motion, room=rooms),
    st.builds(protocol.BedExit),
    st.builds(protocol.Smoke, cleared=st.booleans()),
    st.builds(protocol.CarbonMonoxide, ppm=st.none() | st.floats(0, 5000)),
    st.builds(protocol.Temperature, celsius=st.floats(-60, 100)),
    st.builds(protocol.LowBattery, percent=st.none() | st.integers(0, 100)),
    st.builds(protocol.Gas, cleared=st.booleans()),
    st.builds(
        protocol.DeviceFault,
        fault=st.sampled_from(["trouble", "battery_defect", "unknown_action"]),
        detail=st.none() | _texts(40),
    ),
    st.builds(protocol.MedicationMissed, schedule=st.just("09:00")),
    st.builds(protocol.PromptAnswer, prompt_id=ids, answer=st.sampled_from(["fine", "help"])),
)
telemetry_bodies = st.builds(
    protocol.Telemetry,
    kind=st.sampled_from(["temperature", "power", "humidity", "battery"]),
    value=finite,
    unit=st.sampled_from(["Cel", "W", "%", ""]),
    room=rooms,
)
command_bodies = st.one_of(
    st.builds(protocol.Ping),
    st.builds(
        protocol.Configure,
        supervision_s=st.none() | st.integers(30, 86_400),
        check_in_deadlines=st.none() | st.lists(st.times(), max_size=3),
    ),
    st.builds(protocol.Prompt, prompt_id=ids, kind=st.just("inactivity"), expires=timestamps),
    st.builds(
        protocol.PlayMessage,
        text=_texts(100),
        language=st.sampled_from(["ca", "es", "en"]),
    ),
)


def _envelopes(bodies: st.SearchStrategy[object]) -> st.SearchStrategy[protocol.Envelope[object]]:
    return st.builds(
        protocol.envelope, bodies, id=ids, ts=timestamps, seq=st.integers(0, 2**63 - 1)
    )


@given(_envelopes(event_bodies))
def test_events_round_trip(msg: protocol.Envelope[object]) -> None:
    assert protocol.decode_event(protocol.encode(msg), now=NOW) == msg


@given(_envelopes(telemetry_bodies))
def test_telemetry_round_trips(msg: protocol.Envelope[object]) -> None:
    assert protocol.decode_telemetry(protocol.encode(msg), now=NOW) == msg


@given(_envelopes(command_bodies))
def test_commands_round_trip(msg: protocol.Envelope[object]) -> None:
    assert protocol.decode_command(protocol.encode(msg), now=NOW) == msg


@settings(max_examples=500)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    for channel in protocol.Channel:
        with pytest.raises(DecodeError):
            protocol.decode_for_channel(channel, data, now=NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_json_raises_only_decode_error(value: object) -> None:
    payload = json.dumps(value).encode()
    with pytest.raises(DecodeError) as info:
        protocol.decode_event(payload, now=NOW)
    assert info.value.reason in RejectReason


# ---------------------------------------------------------------- each class of bad input


def test_unknown_fields_are_tolerated_for_forward_compatibility() -> None:
    msg = protocol.decode_event(_raw({"type": "panic", "battery_mv": 2900}, gateway="g1"), now=NOW)
    assert isinstance(msg.body, protocol.Panic)


def test_wrong_type_is_rejected_with_the_path() -> None:
    with pytest.raises(DecodeError, match=r"Expected `int`, got `str` - at `\$.seq`") as info:
        protocol.decode_event(_raw({"type": "panic"}, seq="seven"), now=NOW)
    assert info.value.reason is RejectReason.INVALID


def test_missing_field_is_named() -> None:
    with pytest.raises(DecodeError, match="missing required field `id`"):
        protocol.decode_event(
            b'{"v":1,"ts":"2026-11-23T11:59:00Z","seq":1,"body":{"type":"panic"}}', now=NOW
        )


def test_missing_body_field_is_named() -> None:
    with pytest.raises(DecodeError, match=r"missing required field `fault` - at `\$.body`"):
        protocol.decode_event(_raw({"type": "device_fault"}), now=NOW)


def test_low_battery_without_a_level_is_a_flag() -> None:
    decoded = protocol.decode_event(_raw({"type": "low_battery"}), now=NOW)
    assert decoded.body == protocol.LowBattery(percent=None)


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(DecodeError, match="Invalid value 'teleport'") as info:
        protocol.decode_event(_raw({"type": "teleport"}), now=NOW)
    assert info.value.reason is RejectReason.INVALID


def test_oversize_payload_is_rejected_before_parsing() -> None:
    payload = _raw({"type": "panic", "pad": "x" * protocol.MAX_PAYLOAD_BYTES})
    with pytest.raises(DecodeError, match="the limit is 16384") as info:
        protocol.decode_event(payload, now=NOW)
    assert info.value.reason is RejectReason.OVERSIZE


@pytest.mark.parametrize(
    "body",
    [
        {"type": "panic", "source": "pendant", "room": "ha\x00ll"},
        {"type": "device_fault", "fault": "unknown_action", "detail": "\x00"},
    ],
)
def test_a_nul_character_in_any_string_is_rejected(body: dict[str, object]) -> None:
    """PostgreSQL text cannot hold U+0000: no string of the contract may carry it."""
    with pytest.raises(DecodeError, match="U\\+0000") as info:
        protocol.decode_event(_raw(body), now=NOW)
    assert info.value.reason is RejectReason.INVALID


def test_a_nul_in_a_status_firmware_is_rejected() -> None:
    payload = b'{"v":1,"id":"a","ts":"2026-11-23T11:59:00Z","seq":0,"body":{"state":"online",'
    payload += b'"firmware":"1.0\\u0000"}}'
    with pytest.raises(DecodeError) as info:
        protocol.decode_for_channel(protocol.Channel.STATUS, payload, now=NOW)
    assert info.value.reason is RejectReason.INVALID


def test_malformed_json_is_rejected() -> None:
    with pytest.raises(DecodeError, match="not valid JSON") as info:
        protocol.decode_event(b'{"v":1,', now=NOW)
    assert info.value.reason is RejectReason.MALFORMED


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_rejected(number: str) -> None:
    payload = _raw({"kind": "temperature", "value": 0}).replace(
        b'"value": 0', f'"value": {number}'.encode()
    )
    with pytest.raises(DecodeError):
        protocol.decode_telemetry(payload, now=NOW)


def test_overflowing_number_is_rejected_as_non_finite() -> None:
    payload = _raw({"kind": "temperature", "value": 0}).replace(b'"value": 0', b'"value": 1e999')
    with pytest.raises(DecodeError) as info:
        protocol.decode_telemetry(payload, now=NOW)
    assert info.value.reason is RejectReason.NON_FINITE


def test_non_finite_value_from_python_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        protocol.Telemetry(kind="power", value=float("nan"))
    with pytest.raises(msgspec.ValidationError, match="finite"):
        msgspec.convert({"kind": "power", "value": float("inf")}, protocol.Telemetry)


def test_timestamp_far_in_the_future_is_rejected() -> None:
    with pytest.raises(DecodeError, match="ahead of the receiver's clock") as info:
        protocol.decode_event(_raw({"type": "panic"}, ts="2026-11-23T13:00:00Z"), now=NOW)
    assert info.value.reason is RejectReason.FUTURE_TIMESTAMP


def test_small_clock_skew_is_accepted() -> None:
    protocol.decode_event(_raw({"type": "panic"}, ts="2026-11-23T12:04:00Z"), now=NOW)


def test_stale_timestamp_is_rejected() -> None:
    with pytest.raises(DecodeError) as info:
        protocol.decode_event(_raw({"type": "panic"}, ts="2026-09-01T00:00:00Z"), now=NOW)
    assert info.value.reason is RejectReason.STALE_TIMESTAMP


def test_clock_policy_is_configurable() -> None:
    policy = protocol.ClockPolicy(max_future=timedelta(hours=2), max_age=timedelta(days=1))
    protocol.decode_event(_raw({"type": "panic"}, ts="2026-11-23T13:00:00Z"), now=NOW, clock=policy)


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(DecodeError, match="timezone"):
        protocol.decode_event(_raw({"type": "panic"}, ts="2026-11-23T11:59:00"), now=NOW)


def test_unsupported_version_is_named_even_when_the_body_differs() -> None:
    with pytest.raises(DecodeError, match="schema version 2 is not supported") as info:
        protocol.decode_telemetry(_raw({"reading": 3}, v=2), now=NOW)
    assert info.value.reason is RejectReason.UNSUPPORTED_VERSION
    with pytest.raises(DecodeError, match="schema version 9"):
        protocol.decode_event(_raw({"type": "panic"}, v=9), now=NOW)


def test_negative_sequence_and_bad_message_id_are_rejected() -> None:
    with pytest.raises(DecodeError, match=r"\$.seq"):
        protocol.decode_event(_raw({"type": "panic"}, seq=-1), now=NOW)
    with pytest.raises(DecodeError, match=r"\$.id"):
        protocol.decode_event(_raw({"type": "panic"}, id="has space"), now=NOW)


def test_status_and_ack_decode() -> None:
    status = protocol.decode_status(_raw({"state": "offline", "reason": "will"}), now=NOW)
    assert status.body.state == "offline"
    ack = protocol.decode_ack(
        _raw({"command_id": "c1", "ok": False, "error": "bad value"}), now=NOW
    )
    assert not ack.body.ok


def test_an_old_tablets_ack_is_still_accepted_and_means_received() -> None:
    # Exactly what tablets before ADR 0163 publish: no state, no until.
    old = protocol.decode_ack(_raw({"command_id": "c1", "ok": True}), now=NOW)
    assert old.body == protocol.Ack(command_id="c1", ok=True)
    assert old.body.state is None
    assert old.body.until is None


def test_an_ack_says_what_became_of_the_command() -> None:
    until = NOW + timedelta(minutes=10)
    body = protocol.Ack(command_id="c1", ok=True, state="postponed", until=until)
    decoded = protocol.decode_ack(
        protocol.encode(protocol.envelope(body, id="a1", ts=NOW, seq=3)), now=NOW
    )
    assert decoded.body == body
    with pytest.raises(DecodeError, match=r"\$.body.state"):
        protocol.decode_ack(_raw({"command_id": "c1", "ok": True, "state": "read"}), now=NOW)
    with pytest.raises(DecodeError, match=r"\$.body.until"):
        protocol.decode_ack(
            _raw({"command_id": "c1", "ok": True, "until": "2026-11-23T12:10:00"}), now=NOW
        )


def test_an_older_receiver_ignores_the_new_ack_fields() -> None:
    # A hub of before ADR 0163 decodes the new tablet's ack as a plain one.
    class OldAck(msgspec.Struct, frozen=True, kw_only=True):
        command_id: str
        ok: bool
        error: str | None = None
        firmware: str | None = None

    new = protocol.encode(
        protocol.envelope(
            protocol.Ack(command_id="c1", ok=True, state="acknowledged"), id="a1", ts=NOW, seq=1
        )
    )
    old = msgspec.json.decode(new, type=protocol.Envelope[OldAck])
    assert old.body == OldAck(command_id="c1", ok=True)


def test_a_message_may_be_shown_silently_and_ask_for_confirmation() -> None:
    # A hub of before issue 22's form sends neither field: spoken, no confirmation asked.
    plain = protocol.decode_command(_raw({"name": "play_message", "text": "Hola"}), now=NOW)
    assert plain.body == protocol.PlayMessage(text="Hola", speak=True, confirm=False)
    body = protocol.PlayMessage(text="Hola", language="es", speak=False, confirm=True)
    decoded = protocol.decode_command(
        protocol.encode(protocol.envelope(body, id="c1", ts=NOW, seq=1)), now=NOW
    )
    assert decoded.body == body
    with pytest.raises(DecodeError, match=r"\$.body.confirm"):
        protocol.decode_command(
            _raw({"name": "play_message", "text": "Hola", "confirm": "yes"}), now=NOW
        )

    # A tablet of before reads the new command as a plain message (unknown fields ignored).
    class OldPlayMessage(
        msgspec.Struct, frozen=True, kw_only=True, tag="play_message", tag_field="name"
    ):
        text: str
        language: str = "ca"

    old = msgspec.json.decode(
        protocol.encode(protocol.envelope(body, id="c1", ts=NOW, seq=1)),
        type=protocol.Envelope[OldPlayMessage],
    )
    assert old.body == OldPlayMessage(text="Hola", language="es")


def test_configure_command_carries_windows_and_deadlines() -> None:
    body = protocol.Configure(
        supervision_s=600,
        inactivity_windows=[protocol.InactivityWindow(start=time(7), end=time(10))],
        check_in_deadlines=[time(11)],
    )
    msg = protocol.envelope(body, id="c1", ts=NOW, seq=1)
    decoded = protocol.decode_command(protocol.encode(msg), now=NOW)
    assert decoded.body == body
    assert protocol.command_name(decoded.body) == "configure"


def test_every_event_type_named_by_the_contract_exists() -> None:
    expected = {
        "panic",
        "fall",
        "fall_cancelled",
        "check_in",
        "door_open",
        "door_close",
        "motion",
        "bed_exit",
        "bed_return",
        "smoke",
        "co",
        "gas",
        "flood",
        "temperature",
        "low_battery",
        "device_fault",
        "tamper",
        "power_lost",
        "power_restored",
        "medication_taken",
        "medication_missed",
    }
    assert expected <= set(protocol.EVENT_TYPES)
    assert set(protocol.EVENT_TYPES) >= protocol.ALARM_EVENT_TYPES
