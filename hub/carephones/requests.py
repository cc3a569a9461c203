"""Console requests to the hub worker holding a speech call, and their answers (ADR 0168, §4).

A worker asks (:meth:`CallRequests.ask`): the request is a row of ``carephone_requests``
and a ``NOTIFY teleassist_carephone_requests '<worker>:<id>'`` in the same transaction,
then a future keyed by the request's id, waited for at most the kind's timeout (5 s; 10 s
for a WebRTC offer). Every worker listens on both channels as :class:`~hub.alarms.fanout.Relay`
s of the alarm fan-out's connection: a request for this worker is read, handed to the
handler of its kind (the local path: :mod:`hub.carephones.remote_leg`), answered in the row
and told back with ``NOTIFY teleassist_carephone_answers '<id>'``, which resolves the
requester's future. No answer in time: the row is marked ``failed`` and the operator gets
``504 carephone_worker_unreachable``. After the listening connection was lost, pending
requests for this worker are read and handled, and the answers of requests still waited for
are read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from hub.alarms.fanout import Relay
from hub.carephones.callbook import CallBook
from hub.carephones.routing import (
    ANSWERS_CHANNEL,
    KEEP_S,
    REQUESTS_CHANNEL,
    TIMEOUTS_S,
    TOLD,
    Answer,
    BadRequestSignal,
    CallRequest,
    Holder,
    Kind,
    out_call_stale,
    parse_answer_signal,
    parse_request_signal,
    probe_says_stale,
    unreachable,
)
from hub.clock import Clock
from hub.http import ApiError

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[CallRequest], Awaitable[Answer]]
CLOSE_WAIT_S = 2.0
SEEN = 1000  # request ids remembered as handled (a notification and a catch-up both name one)
CLAIM_TRIES = 3  # a stale row dropped, then the claim again (another may claim meanwhile)


def given_up() -> Answer:
    """What :meth:`CallRequests.ask` gives when its ``until`` came before the answer."""
    return Answer.error(409, "given_up", "the asker gave up: the leg it was for failed")


async def _either(future: asyncio.Future[Answer], until: asyncio.Future[None] | None) -> None:
    # Returns once either is done; cancelled (the timeout), it leaves both as they are (as
    # ``asyncio.shield`` did).
    waits: list[asyncio.Future[Any]] = [future] if until is None else [future, until]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)


def api_error(answer: Answer) -> ApiError:
    """The holder's refusal (or the 504) as this worker's API error."""
    extra: dict[str, Any] = {}
    words = answer.body.get("words")
    if isinstance(words, dict):
        extra["words"] = words
    return ApiError(answer.status, answer.code or "error", answer.message, **extra)


class CallRequests:
    """This worker's side of the requests: asking, waiting, and answering its own."""

    def __init__(
        self,
        book: CallBook,
        clock: Clock,
        timeouts: dict[Kind, float] | None = None,
    ) -> None:
        self.book = book
        self._clock = clock
        # Those given replace the defaults (a partial dict used to leave the other kinds
        # without a timeout: a KeyError at their first request).
        self.timeouts = {**TIMEOUTS_S, **(timeouts or {})}
        self.handlers: dict[Kind, Handler] = {}
        # False on SQLite, or until the fan-out listens: only the local path then.
        self.clustered = False
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        # Counters for /metrics and the tests.
        self.asked = 0
        self.handled = 0
        self.timed_out = 0
        self.caught_up = 0
        self.stale_calls_out = 0
        self._placing: set[str] = set()  # calls out claimed here and being placed

    @property
    def worker(self) -> str:
        return self.book.worker

    async def deliver(self, channel: str, payload: str) -> None:
        """A notification on one of the two channels."""
        if channel == REQUESTS_CHANNEL:
            await self._on_request(payload)
        elif channel == ANSWERS_CHANNEL:
            await self._on_answer(payload)

    async def catch_up(self, channel: str, since: datetime) -> None:
        """The listening connection was lost since ``since``: what may have been missed."""
        if channel == REQUESTS_CHANNEL:
            await self._catch_up_requests(since)
        elif channel == ANSWERS_CHANNEL:
            await self._catch_up_answers(since)

    # ------------------------------------------------------------ asking

    async def ask(
        self,
        target: str,
        kind: Kind,
        *,
        call_id: str | None = None,
        alarm_id: str | None = None,
        operator: str | None = None,
        body: dict[str, Any] | None = None,
        until: asyncio.Future[None] | None = None,
    ) -> Answer:
        """Ask ``target`` and wait for its answer (:func:`unreachable` after the timeout).

        ``until`` done before the answer (the asker's leg failed meanwhile): given up at
        once, its row failed as after a timeout but not counted as one (:func:`given_up`)."""
        request_id = await self.book.ask(
            target, kind, call_id=call_id, alarm_id=alarm_id, operator=operator, body=body
        )
        self.asked += 1
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            # An answer that came before the future was there is in the row already.
            found = await self.book.answers([request_id])
            if request_id in found:
                return found[request_id]
            try:
                if not future.done() and (until is None or not until.done()):
                    await asyncio.wait_for(_either(future, until), self.timeouts[kind])
            except TimeoutError:
                if await self.book.fail(request_id):
                    self.timed_out += 1
                    _LOGGER.warning(
                        "carephone request %s (%s) to %s: no answer in %.0f s",
                        request_id, kind.value, target, self.timeouts[kind],
                    )  # fmt: skip
                    return unreachable()
                # Answered just now: read it.
                late = await self.book.answers([request_id])
                return late.get(request_id) or unreachable()
            if future.done():
                return future.result()
            # Given up: the row is failed, so that a late answer is not written for nobody.
            if await self.book.fail(request_id):
                return given_up()
            late = await self.book.answers([request_id])
            return late.get(request_id) or given_up()
        finally:
            self._waiting.pop(request_id, None)

    async def claim_call_out(
        self,
        call_id: str,
        *,
        home_id: str,
        alarm_id: str | None,
        operator: str,
        here: Callable[[str], bool],
        live_workers: frozenset[str] | None = None,
    ) -> Holder | None:
        """Write the row of ``operator``'s new call out before it is placed: None when
        written; else the row of their call out going on, on whichever worker, that forbids
        it (``409 call_in_progress``, ADR 0177).

        A row in the way is dropped when it is stale: this worker's own whose call is not
        ``here`` (it just ended), a worker's whose lease lapsed, or — asked with a
        ``probe`` — one whose worker says the call is over or does not answer in time (it
        died holding the call: the row expires after that one unanswered probe)."""
        blocker: Holder | None = None
        for _ in range(CLAIM_TRIES):
            blocker = await self.book.claim_out(
                call_id, home_id=home_id, alarm_id=alarm_id, operator=operator
            )
            if blocker is None:
                self._placing.add(call_id)
                return None
            if not blocker.call_id:
                continue  # it went meanwhile
            held = self.is_placing(blocker.call_id) or here(blocker.call_id)
            stale = out_call_stale(self.worker, blocker, here=held, live_workers=live_workers)
            if stale is None:
                answer = await self.ask(
                    blocker.worker, Kind.PROBE, call_id=blocker.call_id, operator=operator
                )
                stale = probe_says_stale(answer)
            if not stale:
                return blocker
            if await self.book.forget(blocker):
                self.stale_calls_out += 1
                _LOGGER.info(
                    "operator %s: dropped the stale row of call out %s on %s",
                    operator, blocker.call_id, blocker.worker,
                )  # fmt: skip
        return blocker

    def is_placing(self, call_id: str) -> bool:
        """Whether a call out claimed here is being placed (not yet watched)."""
        return call_id in self._placing

    def placed(self, call_id: str) -> None:
        """The call out claimed with :meth:`claim_call_out` is placed (or failed)."""
        self._placing.discard(call_id)

    def tell(
        self, target: str, kind: Kind, *, call_id: str | None = None, body: dict[str, Any] | None
    ) -> None:
        """Tell ``target`` something without waiting (the unit's call ended)."""
        self._own(self._tell(target, kind, call_id, body))

    async def _tell(
        self, target: str, kind: Kind, call_id: str | None, body: dict[str, Any] | None
    ) -> None:
        try:
            await self.book.ask(target, kind, call_id=call_id, body=body)
        except Exception:  # that worker's centre call ends at its media or ring timeout
            _LOGGER.exception("telling %s that call %s %s failed", target, call_id, kind.value)

    async def _on_answer(self, payload: str) -> None:
        try:
            request_id = parse_answer_signal(payload)
        except BadRequestSignal as err:
            _LOGGER.warning("ignoring a notification on %s: %s", ANSWERS_CHANNEL, err)
            return
        future = self._waiting.get(request_id)
        if future is None or future.done():
            return  # another worker's request, or given up
        found = await self.book.answers([request_id])
        if request_id in found and not future.done():
            future.set_result(found[request_id])

    async def _catch_up_answers(self, _since: datetime) -> None:
        waiting = [i for i, f in self._waiting.items() if not f.done()]
        found = await self.book.answers(waiting)
        for request_id, answer in found.items():
            future = self._waiting.get(request_id)
            if future is not None and not future.done():
                future.set_result(answer)
                self.caught_up += 1

    # ------------------------------------------------------------ answering

    async def _on_request(self, payload: str) -> None:
        try:
            worker, request_id = parse_request_signal(payload)
        except BadRequestSignal as err:
            _LOGGER.warning("ignoring a notification on %s: %s", REQUESTS_CHANNEL, err)
            return
        if worker != self.worker:
            return  # for another worker
        # In a task: a WebRTC answer takes a while, and the fan-out's relays go on meanwhile.
        self._own(self._handle_id(request_id))

    async def _catch_up_requests(self, since: datetime) -> None:
        # Anything still pending and young enough that its requester may still wait.
        start = max(since, self._clock() - timedelta(seconds=KEEP_S))
        for request in await self.book.pending(start):
            if request.id not in self._seen:
                self.caught_up += 1
                self._own(self._handle(request))

    async def _handle_id(self, request_id: int) -> None:
        if request_id in self._seen:
            return
        request = await self.book.request(request_id)
        if request is not None:
            await self._handle(request)

    async def _handle(self, request: CallRequest) -> None:
        if request.id in self._seen:
            return
        self._seen[request.id] = None
        while len(self._seen) > SEEN:
            self._seen.popitem(last=False)
        handler = self.handlers.get(request.kind)
        try:
            if handler is None:
                answer = Answer.error(409, "not_supported", f"no {request.kind.value} here")
            else:
                answer = await handler(request)
        except ApiError as err:
            answer = Answer.error(err.status, err.code, err.message)
        except Exception:
            _LOGGER.exception("carephone request %s (%s) failed", request.id, request.kind)
            answer = Answer.error(500, "internal_error", "the holding worker failed")
        self.handled += 1
        if request.kind in TOLD:
            return  # nobody waits for it (its row is pruned)
        if not await self.book.answer(request.id, answer):
            _LOGGER.info("carephone request %s answered after its requester gave up", request.id)

    # ------------------------------------------------------------ tasks

    def _own(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel what is being handled or told (the hub stops), after a moment for what
        is nearly done (telling another worker that a call ended)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for future in self._waiting.values():
            if not future.done():
                future.set_result(unreachable())


CALL_REQUESTS = web.AppKey("carephone_call_requests", CallRequests)


def relays(app: web.Application) -> list[Relay]:
    """Both channels as relays of the alarm fan-out's connection, made at setup (before the
    requests exist): they hand each notification to the app's :class:`CallRequests`."""

    def relay(channel: str) -> Relay:
        async def deliver(payload: str) -> None:
            requests = app.get(CALL_REQUESTS)
            if requests is not None:
                await requests.deliver(channel, payload)

        async def catch_up(since: datetime) -> None:
            requests = app.get(CALL_REQUESTS)
            if requests is not None:
                await requests.catch_up(channel, since)

        return Relay(channel, deliver, catch_up)

    return [relay(REQUESTS_CHANNEL), relay(ANSWERS_CHANNEL)]
