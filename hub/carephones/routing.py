"""Call requests between hub workers: the decisions and the shapes, without I/O (ADR 0168, §4).

A carephone's speech call — its RTP port, the hub's WebRTC leg to the operator — lives on
the worker that took it (the unit's ``INVITE``) or placed it (a call out). A console request
about it may reach any worker. This module says, from what the database and this worker
know, where a request is to be handled (:func:`route`), what a request and its answer look
like (:class:`CallRequest`, :class:`Answer`), how the notifications that announce them are
written and read, how long a requester waits, and the words of the ``504`` an operator gets
when the holder never answers. The I/O is :mod:`hub.carephones.callbook` (the tables) and
:mod:`hub.carephones.requests` (the listener and the waiting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

REQUESTS_CHANNEL = "teleassist_carephone_requests"
ANSWERS_CHANNEL = "teleassist_carephone_answers"
MAX_WORKER = 128
MAX_CALL_ID = 255
# A request older than this is pruned (its requester stopped waiting long before).
KEEP_S = 60.0


class Kind(StrEnum):
    """What a request asks of the worker holding the call."""

    SPEAK = "speak"  # the operator speaks with the home: answer the unit's call if it rings
    SIGNAL = "signal"  # the operator's WebRTC offer (or a candidate) → the hub's answer
    HANGUP = "hangup"  # the operator hangs up (the unit's call, or a call out)
    PROBE = "probe"  # is this call out still going on? (one call out per operator, ADR 0177)
    # Told back by the holder, nobody waits for them:
    CONNECTED = "connected"  # the operator's audio leg connected (voice contact)
    ENDED = "ended"  # the unit's call ended


# How long a requester waits for the holder's answer: a signal includes ICE gathering.
TIMEOUTS_S: dict[Kind, float] = {
    Kind.SPEAK: 5.0,
    Kind.SIGNAL: 10.0,
    Kind.HANGUP: 5.0,
    # A live worker answers in milliseconds; a dead one's row is dropped after this.
    Kind.PROBE: 3.0,
    Kind.CONNECTED: 0.0,  # told, not awaited
    Kind.ENDED: 0.0,
}

UNREACHABLE = "carephone_worker_unreachable"
UNREACHABLE_WORDS: dict[str, str] = {
    "ca": (
        "El servidor que té la trucada del terminal no ha respost; torneu-ho a provar, "
        "o truqueu al terminal (D)"
    ),
    "es": (
        "El servidor que tiene la llamada del terminal no ha respondido; vuelva a "
        "intentarlo, o llame al terminal (D)"
    ),
    "en": (
        "the hub worker holding the carephone's call did not answer; try again, or call "
        "the carephone back (D)"
    ),
}


class BadRequestSignal(ValueError):
    """A notification on a carephone channel that is not one of ours."""


def request_signal(worker: str, request_id: int) -> str:
    """The NOTIFY payload that tells ``worker`` of request ``request_id``."""
    return f"{worker}:{request_id}"


def parse_request_signal(text: str) -> tuple[str, int]:
    """``"<worker>:<id>"`` → (worker, id); a worker's name may itself hold colons."""
    worker, colon, number = text.rpartition(":")
    if not colon or not worker or len(worker) > MAX_WORKER or not number.isdigit():
        raise BadRequestSignal(f"not a request signal: {text[:80]!r}")
    return worker, int(number)


def parse_answer_signal(text: str) -> int:
    """The request id an answer's NOTIFY names."""
    if not text.isdigit() or len(text) > 18:
        raise BadRequestSignal(f"not an answer signal: {text[:80]!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One request as the holder reads it from ``carephone_requests``."""

    id: int
    kind: Kind
    origin: str
    call_id: str | None = None
    alarm_id: str | None = None
    operator: str | None = None
    body: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.origin or len(self.origin) > MAX_WORKER:
            raise BadRequestSignal("a request needs its origin worker")
        if self.call_id is not None and len(self.call_id) > MAX_CALL_ID:
            raise BadRequestSignal("call id too long")


def body_json(body: dict[str, Any]) -> str:
    """A request's or an answer's body as stored."""
    return json.dumps(body, separators=(",", ":"))


def body_of(text: str | None) -> dict[str, Any]:
    """A stored body (an empty one for nothing, or for what is not an object)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True, slots=True)
class Answer:
    """The holder's answer: ``ok`` with a body, or an error as the API would give it."""

    status: int = 200
    code: str = ""
    message: str = ""
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    def to_json(self) -> str:
        data: dict[str, Any] = {"status": self.status, "body": self.body}
        if not self.ok:
            data["code"], data["message"] = self.code, self.message
        return body_json(data)

    @classmethod
    def from_json(cls, text: str | None) -> Answer:
        data = body_of(text)
        status = data.get("status")
        if type(status) is not int or not 100 <= status < 600:
            return cls.error(502, "bad_answer", "the holding worker's answer is not readable")
        body = data.get("body")
        return cls(
            status,
            str(data.get("code") or ""),
            str(data.get("message") or ""),
            body if isinstance(body, dict) else {},
        )

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Answer:
        return cls(status, code, message)


def unreachable() -> Answer:
    """What the operator gets when the holder did not answer in time (its words: in the
    answer's ``words``, ca/es/en)."""
    return Answer(504, UNREACHABLE, UNREACHABLE_WORDS["en"], {"words": dict(UNREACHABLE_WORDS)})


@dataclass(frozen=True, slots=True)
class Holder:
    """A row of ``carephone_calls``: who holds which call."""

    call_id: str
    worker: str
    home_id: str
    direction: str
    state: str
    alarm_id: str | None = None
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class Local:
    """Handle it here: this worker holds the call, or nobody else does."""


@dataclass(frozen=True, slots=True)
class Remote:
    """Ask ``worker``, which holds ``call_id``."""

    worker: str
    call_id: str


Route = Local | Remote


def route(
    me: str,
    *,
    held_here: bool,
    holders: list[Holder],
    clustered: bool,
    live_workers: frozenset[str] | None = None,
) -> Route:
    """Where a request about a call goes.

    ``held_here``: this worker has the call (or, for speaking with a home, the home's
    party) — the local path, as on one worker. ``holders``: the matching rows of
    ``carephone_calls``, newest first. ``clustered``: on PostgreSQL with the requests
    machinery running (on SQLite there is one worker: always local). ``live_workers``:
    the workers whose lease is alive, when leases run (``None``: not known; a row is
    then believed until its worker's start-up clears it, and a dead holder shows as a
    ``504`` after the timeout).
    """
    if held_here or not clustered:
        return Local()
    for holder in holders:
        if holder.worker == me:
            continue  # a row of ours whose call is gone here: stale, the local path says so
        if live_workers is not None and holder.worker not in live_workers:
            continue  # its lease lapsed: its calls died with it
        return Remote(holder.worker, holder.call_id)
    return Local()


def speakable(holder: Holder) -> bool:
    """Whether "speak with the home" can reach this call: a unit's own call, ringing or
    answered (a call out is joined through its own media route)."""
    return holder.direction == "in" and holder.state in ("ringing", "answered")


TOLD = frozenset({Kind.CONNECTED, Kind.ENDED})  # told back, never answered


def out_call_stale(
    me: str, blocker: Holder, *, here: bool, live_workers: frozenset[str] | None
) -> bool | None:
    """Whether the row of an operator's call out that stands in the way of their new one
    is stale (ADR 0177): True (its call is gone: drop the row), False (it goes on: 409
    ``call_in_progress``), None (only its worker knows: ask it, :attr:`Kind.PROBE`).

    ``here``: this worker has the call. A row of this worker whose call is not here is a
    call that just ended (its deletion still queued); a row of a worker whose lease lapsed
    died with it."""
    if blocker.worker == me:
        return not here
    if live_workers is not None and blocker.worker not in live_workers:
        return True
    return None


def probe_says_stale(answer: Answer) -> bool:
    """A probe's answer: stale when the worker did not answer in time (dead, or cut off:
    its calls out cannot be spoken to from here either) or says the call is not there.
    Any other answer — a refusal from a worker that does not know probes yet — keeps it."""
    if answer.status == 504 and answer.code == UNREACHABLE:
        return True
    return answer.ok and answer.body.get("held") is False
