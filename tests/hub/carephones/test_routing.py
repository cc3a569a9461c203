"""Where a console request about a carephone's call is handled, and its shapes (ADR 0168, §4)."""

from __future__ import annotations

import json

import pytest

from hub.carephones.routing import (
    TIMEOUTS_S,
    UNREACHABLE_WORDS,
    Answer,
    BadRequestSignal,
    CallRequest,
    Holder,
    Kind,
    Local,
    Remote,
    parse_answer_signal,
    parse_request_signal,
    request_signal,
    route,
    speakable,
    unreachable,
)


def _holder(worker: str, call: str = "c1", **kw: str) -> Holder:
    fields = {"home_id": "7", "direction": "in", "state": "answered", **kw}
    return Holder(call, worker, fields["home_id"], fields["direction"], fields["state"])


def test_one_worker_or_a_call_held_here_takes_the_local_path() -> None:
    held_elsewhere = [_holder("b")]
    assert route("a", held_here=True, holders=held_elsewhere, clustered=True) == Local()
    assert route("a", held_here=False, holders=held_elsewhere, clustered=False) == Local()
    assert route("a", held_here=False, holders=[], clustered=True) == Local()


def test_a_call_held_by_another_worker_is_asked_of_it() -> None:
    assert route("a", held_here=False, holders=[_holder("b", "x")], clustered=True) == Remote(
        "b", "x"
    )


def test_own_stale_rows_and_lapsed_workers_are_passed_over() -> None:
    holders = [_holder("a", "mine"), _holder("dead", "d"), _holder("c", "live")]
    assert route(
        "a", held_here=False, holders=holders, clustered=True, live_workers=frozenset({"a", "c"})
    ) == Remote("c", "live")
    # Without leases nobody is known dead: the newest other row is believed.
    assert route("a", held_here=False, holders=holders, clustered=True) == Remote("dead", "d")
    only_dead = [_holder("dead")]
    assert (
        route("a", held_here=False, holders=only_dead, clustered=True, live_workers=frozenset())
        == Local()
    )


def test_only_a_units_own_live_call_can_be_spoken_with() -> None:
    assert speakable(_holder("b", state="ringing"))
    assert speakable(_holder("b", state="answered"))
    assert not speakable(_holder("b", direction="out", state="dialled"))
    assert not speakable(_holder("b", state="ended"))


def test_request_signals_name_the_worker_and_the_request() -> None:
    assert parse_request_signal(request_signal("hub-a", 42)) == ("hub-a", 42)
    # A worker's name may hold colons (host names with ports, IPv6).
    assert parse_request_signal(request_signal("host:8080", 7)) == ("host:8080", 7)
    assert parse_answer_signal("42") == 42
    for bad in ("", "42", ":42", "a:", "a:x", "a" * 129 + ":1"):
        with pytest.raises(BadRequestSignal):
            parse_request_signal(bad)
    for bad in ("", "x", "-1", "1" * 19):
        with pytest.raises(BadRequestSignal):
            parse_answer_signal(bad)


def test_answers_travel_as_json_and_a_broken_one_is_an_error() -> None:
    ok = Answer(body={"sdp": {"type": "answer", "sdp": "v=0"}})
    assert Answer.from_json(ok.to_json()) == ok
    refused = Answer.error(403, "not_your_call", "another operator placed this call")
    again = Answer.from_json(refused.to_json())
    assert (again.ok, again.status, again.code, again.message) == (
        False, 403, "not_your_call", "another operator placed this call",
    )  # fmt: skip
    for broken in (None, "", "[]", "{", json.dumps({"status": "200"}), '{"status": 99}'):
        assert Answer.from_json(broken).status == 502


def test_an_unreachable_holder_is_a_504_with_words_in_three_languages() -> None:
    answer = unreachable()
    assert (answer.status, answer.code) == (504, "carephone_worker_unreachable")
    assert set(answer.body["words"]) == {"ca", "es", "en"}
    assert "(D)" in UNREACHABLE_WORDS["ca"]
    assert "(D)" in UNREACHABLE_WORDS["es"]
    assert answer.message.startswith("the hub worker holding the carephone's call")


def test_timeouts_are_the_designed_ones() -> None:
    assert TIMEOUTS_S[Kind.SPEAK] == TIMEOUTS_S[Kind.HANGUP] == 5.0
    assert TIMEOUTS_S[Kind.SIGNAL] == 10.0


def test_a_request_knows_its_origin() -> None:
    with pytest.raises(BadRequestSignal):
        CallRequest(1, Kind.SPEAK, "")
    with pytest.raises(BadRequestSignal):
        CallRequest(1, Kind.SPEAK, "a", call_id="c" * 256)
