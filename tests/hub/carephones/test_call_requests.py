"""Requests between two workers on one PostgreSQL database, each with its own alarm fan-out
(ADR 0168, §4): answered through the notifications, given up with a 504 when the holder
never answers, and caught up after the holder's listening connection was lost."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url, select

from hub.alarms.fanout import AlarmFanout, Relay, asyncpg_dsn
from hub.alarms.live import AlarmLive
from hub.carephones.callbook import CallBook
from hub.carephones.models import CarephoneRequestRow
from hub.carephones.requests import CallRequests, Handler
from hub.carephones.routing import (
    ANSWERS_CHANNEL,
    REQUESTS_CHANNEL,
    Answer,
    CallRequest,
    Holder,
    Kind,
)
from hub.clock import ManualClock
from hub.db import make_engine, make_sessionmaker
from tests.hub.alarms.test_fanout import Gate
from tests.hub.fixtures import create_pg_database, drop_pg_database, pg_url

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


@pytest.fixture
def pg_database(_postgres_template: str) -> Iterator[str]:
    name = create_pg_database(template=_postgres_template)
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


@dataclass
class Worker:
    requests: CallRequests
    fanout: AlarmFanout
    gate: Gate


@contextlib.asynccontextmanager
async def _workers(url: str, **timeouts: float) -> AsyncIterator[tuple[Worker, Worker]]:
    db = make_engine(url)
    sessions = make_sessionmaker(db)
    clock = ManualClock(T0)
    made: list[Worker] = []
    tasks: list[asyncio.Task[None]] = []
    for name in ("a", "b"):
        book = CallBook(sessions, f"w-{name}", clock)
        requests = CallRequests(book, clock, {Kind(k): v for k, v in timeouts.items()} or None)
        requests.clustered = True
        gate = Gate(url, f"test-requests-{name}-{secrets.token_hex(3)}")
        relays = [
            Relay(channel, partial(requests.deliver, channel), partial(requests.catch_up, channel))
            for channel in (REQUESTS_CHANNEL, ANSWERS_CHANNEL)
        ]
        fanout = AlarmFanout(gate, sessions, AlarmLive(), clock, relays=relays)
        tasks.append(asyncio.create_task(fanout.run()))
        made.append(Worker(requests, fanout, gate))
    try:
        async with asyncio.timeout(30):
            for worker in made:
                await worker.fanout.listening.wait()
        yield made[0], made[1]
    finally:
        for worker in made:
            await worker.requests.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.dispose()


async def _statuses(requests: CallRequests) -> list[str]:
    query = select(CarephoneRequestRow.status).order_by(CarephoneRequestRow.id)
    async with requests.book._sessionmaker() as session:
        return list(await session.scalars(query))


async def test_a_request_is_answered_by_the_worker_it_names_only(pg_database: str) -> None:
    async with _workers(pg_database) as (a, b):
        seen: list[tuple[str, CallRequest]] = []

        def handler(name: str) -> Handler:
            async def handle(request: CallRequest) -> Answer:
                seen.append((name, request))
                return Answer(body={"sdp": {"type": "answer", "sdp": "v=0 " + "x" * 9000}})

            return handle

        a.requests.handlers[Kind.SIGNAL] = handler("a")
        b.requests.handlers[Kind.SIGNAL] = handler("b")
        offer = {"data": {"sdp": {"type": "offer", "sdp": "o" * 9000}}}  # over NOTIFY's limit
        answer = await a.requests.ask(
            "w-b", Kind.SIGNAL, call_id="call-1", alarm_id="al-1", operator="12", body=offer
        )
        assert answer.ok
        assert answer.body["sdp"]["sdp"].startswith("v=0 ")
        ((name, request),) = seen
        assert name == "b"
        assert (request.origin, request.call_id, request.alarm_id, request.operator) == (
            "w-a", "call-1", "al-1", "12",
        )  # fmt: skip
        assert request.body == offer
        # A refusal on the holder comes back as it was made.
        b.requests.handlers[Kind.HANGUP] = _refuse
        refused = await a.requests.ask("w-b", Kind.HANGUP, call_id="call-1")
        assert (refused.status, refused.code) == (403, "not_your_call")
        assert await _statuses(a.requests) == ["done", "done"]


async def _refuse(request: CallRequest) -> Answer:
    from hub.http import ApiError

    raise ApiError(403, "not_your_call", "another operator placed this call")


async def test_a_holder_that_never_answers_gives_a_504_and_the_row_failed(
    pg_database: str,
) -> None:
    async with _workers(pg_database, speak=0.5) as (a, _b):
        answer = await a.requests.ask("w-gone", Kind.SPEAK, call_id="c")
        assert (answer.status, answer.code) == (504, "carephone_worker_unreachable")
        assert set(answer.body["words"]) == {"ca", "es", "en"}
        assert await _statuses(a.requests) == ["failed"]
        assert a.requests.timed_out == 1


async def test_a_request_sent_while_the_holder_was_not_listening_is_caught_up(
    pg_database: str,
) -> None:
    async with _workers(pg_database) as (a, b):
        b.requests.handlers[Kind.SPEAK] = _speak_ok
        admin = await asyncpg.connect(asyncpg_dsn(make_url(pg_database)))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                b.gate.name,
            )
            assert killed == 1
            async with asyncio.timeout(30):
                while b.fanout.listening.is_set() or b.gate.calls < 2:
                    await asyncio.sleep(0.05)
            asking = asyncio.create_task(a.requests.ask("w-b", Kind.SPEAK, call_id="c"))
            async with asyncio.timeout(30):  # the request is in the table, its NOTIFY lost
                while await _statuses(a.requests) != ["pending"]:
                    await asyncio.sleep(0.05)
            assert b.requests.handled == 0
            b.gate.open.set()  # B listens again and reads what waits for it
            answer = await asyncio.wait_for(asking, 30)
            assert answer.ok
            assert answer.body == {"spoken": True}
            assert b.requests.caught_up == 1
            assert await _statuses(a.requests) == ["done"]
        finally:
            await admin.close()


async def _speak_ok(request: CallRequest) -> Answer:
    return Answer(body={"spoken": True})


async def test_the_book_says_who_holds_a_call_and_forgets_a_workers_calls(
    pg_database: str,
) -> None:
    db = make_engine(pg_database)
    try:
        sessions = make_sessionmaker(db)
        clock = ManualClock(T0)
        a, b = CallBook(sessions, "w-a", clock), CallBook(sessions, "w-b", clock)
        a.held("c1", home_id="7", state="ringing", alarm_id="al")
        a.held("c1", home_id="7", state="answered", alarm_id=None)
        b.held("c2", home_id="7", state="dialled", alarm_id="al", direction="out", operator="3")
        await a.flush()
        await b.flush()
        assert await b.holders(call_id="c1") == [
            Holder("c1", "w-a", "7", "in", "answered", "al", None)
        ]
        assert {h.call_id for h in await a.holders(home_id="7")} == {"c1", "c2"}
        b.gone("c1")  # not b's: its row stays
        await b.flush()
        assert len(await a.holders(home_id="7")) == 2
        assert await a.clear_mine() == 1  # a's start-up: its calls died with it
        assert [h.call_id for h in await a.holders(home_id="7")] == ["c2"]
        b.gone("c2")
        await b.flush()
        assert await a.holders(home_id="7") == []
    finally:
        await db.dispose()


async def test_an_answer_sent_while_the_requester_was_not_listening_is_caught_up(
    pg_database: str,
) -> None:
    async with _workers(pg_database, speak=60) as (a, b):
        go = asyncio.Event()

        async def speak_when_told(request: CallRequest) -> Answer:
            await go.wait()
            return Answer(body={"spoken": True})

        b.requests.handlers[Kind.SPEAK] = speak_when_told
        admin = await asyncpg.connect(asyncpg_dsn(make_url(pg_database)))
        try:
            asking = asyncio.create_task(a.requests.ask("w-b", Kind.SPEAK, call_id="c"))
            async with asyncio.timeout(30):  # B has it, and holds its answer back
                while await _statuses(a.requests) != ["pending"] or b.requests.handled:
                    await asyncio.sleep(0.05)
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                a.gate.name,
            )
            assert killed == 1
            async with asyncio.timeout(30):
                while a.fanout.listening.is_set() or a.gate.calls < 2:
                    await asyncio.sleep(0.05)
            go.set()  # B answers while A does not listen: the answer's NOTIFY is lost
            async with asyncio.timeout(30):
                while await _statuses(a.requests) != ["done"]:
                    await asyncio.sleep(0.05)
            assert not asking.done()
            a.gate.open.set()  # A listens again and reads the answers it waits for
            answer = await asyncio.wait_for(asking, 30)
            assert answer.body == {"spoken": True}
            assert a.requests.caught_up == 1
        finally:
            await admin.close()


def _probe(requests: CallRequests, going_on: set[str]) -> Handler:
    """A holder's answer to a probe, as ``hub.console.dial`` gives it: held while placed
    or going on."""

    async def handle(request: CallRequest) -> Answer:
        call_id = request.call_id or ""
        return Answer(body={"held": requests.is_placing(call_id) or call_id in going_on})

    return handle


async def test_one_call_out_per_operator_whichever_worker_places_it(pg_database: str) -> None:
    """ADR 0177: the operator's second call out is refused on the other worker too, and a
    row whose call is over, or whose worker is gone, does not block them."""
    async with _workers(pg_database, probe=0.5) as (a, b):
        on_a, on_b = set[str](), set[str]()
        a.requests.handlers[Kind.PROBE] = _probe(a.requests, on_a)
        b.requests.handlers[Kind.PROBE] = _probe(b.requests, on_b)

        def claim(worker: Worker, call_id: str, operator: str, going_on: set[str]) -> Any:
            return worker.requests.claim_call_out(
                call_id, home_id="7", alarm_id="al", operator=operator,
                here=going_on.__contains__,
            )  # fmt: skip

        # Two requests of operator 12 at once, one on each worker: exactly one call out.
        first, second = await asyncio.gather(
            claim(a, "out-a", "12", on_a), claim(b, "out-b", "12", on_b)
        )
        assert sorted([first is None, second is None]) == [False, True]
        winner, placed_on = ("out-a", a) if first is None else ("out-b", b)
        refused = second if first is None else first
        assert refused is not None
        assert (refused.call_id, refused.operator) == (winner, "12")
        placed_on.requests.placed(winner)
        (on_a if placed_on is a else on_b).add(winner)
        # Again, from either worker, while it goes on: refused (the holder says it is held).
        for worker, going_on in ((a, on_a), (b, on_b)):
            again = await claim(worker, f"again-{worker.requests.worker}", "12", going_on)
            assert again is not None
            assert again.call_id == winner
        # Another operator is not held back.
        assert await claim(b, "out-13", "13", on_b) is None
        assert a.requests.stale_calls_out == b.requests.stale_calls_out == 0

        # The call ends on its worker before its row is deleted: the next call out of
        # operator 12, on the other worker, finds the row stale (the probe says so).
        (on_a if placed_on is a else on_b).discard(winner)
        other = b if placed_on is a else a
        assert await claim(other, "next", "12", set()) is None
        assert other.requests.stale_calls_out == 1

        # A worker that died holding operator 14's call out never answers: its row is
        # dropped after that one unanswered probe, and the call out goes ahead.
        dead = CallBook(a.requests.book._sessionmaker, "w-gone", ManualClock(T0))
        assert await dead.claim_out("dead-1", home_id="7", alarm_id="al", operator="14") is None
        timed_out = a.requests.timed_out
        assert await claim(a, "after-death", "14", on_a) is None
        assert a.requests.timed_out == timed_out + 1
        # With leases, a worker whose lease lapsed is not even asked.
        assert await dead.claim_out("dead-2", home_id="7", alarm_id="al", operator="15") is None
        asked = b.requests.asked
        alive = frozenset({"w-a", "w-b"})
        found = await b.requests.claim_call_out(
            "after-lapse", home_id="7", alarm_id="al", operator="15", here=on_b.__contains__,
            live_workers=alive,
        )  # fmt: skip
        assert found is None
        assert b.requests.asked == asked
        # This worker's own row whose call already ended here is not asked about either.
        b.requests.placed("after-lapse")
        assert await claim(b, "after-own", "15", on_b) is None
        assert b.requests.asked == asked
        holders = await a.requests.book.holders(home_id="7")
        assert sorted((h.operator, h.call_id) for h in holders) == [
            ("12", "next"), ("13", "out-13"), ("14", "after-death"), ("15", "after-own"),
        ]  # fmt: skip
