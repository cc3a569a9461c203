from datetime import UTC, datetime, timedelta

import pytest

from hub.family.calls.state import CallError, CallEvent, CallStatus, apply_event, start_call

T0 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
A, B = "u:1", "r:2"


def test_answered_call_ends_with_a_duration() -> None:
    call = start_call(A, B, T0)
    assert call.status is CallStatus.RINGING
    call = apply_event(call, CallEvent.ACCEPT, T0 + timedelta(seconds=5), by=B)
    assert call.status is CallStatus.ACCEPTED
    call = apply_event(call, CallEvent.HANGUP, T0 + timedelta(seconds=65), by=A)
    assert call.status is CallStatus.ENDED
    assert call.final
    assert call.duration_s() == 60
    assert call.ended_by == A


@pytest.mark.parametrize(
    ("event", "by", "expected"),
    [
        (CallEvent.DECLINE, B, CallStatus.DECLINED),
        (CallEvent.HANGUP, B, CallStatus.DECLINED),
        (CallEvent.HANGUP, A, CallStatus.MISSED),
        (CallEvent.TIMEOUT, None, CallStatus.MISSED),
    ],
)
def test_unanswered_outcomes(event: CallEvent, by: str | None, expected: CallStatus) -> None:
    call = apply_event(start_call(A, B, T0), event, T0 + timedelta(seconds=30), by=by)
    assert call.status is expected
    assert call.duration_s() == 0


def test_bad_transitions_are_refused_with_a_reason() -> None:
    ringing = start_call(A, B, T0)
    with pytest.raises(CallError, match="yourself"):
        start_call(A, A, T0)
    cases = [
        (ringing, CallEvent.ACCEPT, A, "not_callee"),
        (ringing, CallEvent.DECLINE, A, "not_callee"),
        (ringing, CallEvent.ACCEPT, "u:9", "not_in_call"),
    ]
    accepted = apply_event(ringing, CallEvent.ACCEPT, T0, by=B)
    cases.append((accepted, CallEvent.ACCEPT, B, "call_not_ringing"))
    cases.append((accepted, CallEvent.DECLINE, B, "call_not_ringing"))
    ended = apply_event(accepted, CallEvent.HANGUP, T0, by=B)
    cases.append((ended, CallEvent.HANGUP, A, "call_over"))
    for call, event, by, code in cases:
        with pytest.raises(CallError) as err:
            apply_event(call, event, T0, by=by)
        assert err.value.code == code
    assert accepted.other(A) == B
    assert apply_event(accepted, CallEvent.TIMEOUT, T0).status is CallStatus.ENDED


def test_a_centre_call_connects_once_and_fails_if_media_never_flows() -> None:
    from hub.family.calls.state import CallKind, Failure, failed_call

    call = start_call(A, B, T0, CallKind.CENTRE, "alarm-1")
    assert (call.kind, call.alarm_ref) == (CallKind.CENTRE, "alarm-1")
    with pytest.raises(CallError, match="answered"):
        apply_event(call, CallEvent.CONNECTED, T0, by=A)
    with pytest.raises(CallError, match="no media"):
        apply_event(call, CallEvent.MEDIA_TIMEOUT, T0)
    answered = apply_event(call, CallEvent.ACCEPT, T0 + timedelta(seconds=3), by=B)
    connected = apply_event(answered, CallEvent.CONNECTED, T0 + timedelta(seconds=4), by=A)
    assert connected.connected_at == T0 + timedelta(seconds=4)
    # a second report (the other side) changes nothing; nor does a late media timer
    assert apply_event(connected, CallEvent.CONNECTED, T0 + timedelta(seconds=9), by=B) == connected
    assert apply_event(connected, CallEvent.MEDIA_TIMEOUT, T0 + timedelta(seconds=30)) == connected
    silent = apply_event(answered, CallEvent.MEDIA_TIMEOUT, T0 + timedelta(seconds=23))
    assert (silent.status, silent.failure) == (CallStatus.FAILED, Failure.MEDIA_FAILED)
    assert silent.final
    missed = apply_event(call, CallEvent.TIMEOUT, T0 + timedelta(seconds=45))
    assert (missed.status, missed.failure) == (CallStatus.MISSED, Failure.NO_ANSWER)
    offline = failed_call(call, Failure.TABLET_OFFLINE, T0)
    assert (offline.status, offline.ended_at) == (CallStatus.FAILED, T0)
    with pytest.raises(CallError, match="participant"):
        apply_event(answered, CallEvent.CONNECTED, T0, by="r:99")
