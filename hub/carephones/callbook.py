"""Who holds which speech call, and the requests to that worker: the two tables (ADR 0168, §4).

``carephone_calls`` is written by one writer task, in the order the calls changed (a call
that rings and ends at once must not have its row written after its deletion); its queue is
bounded and, when full, drops the change with a warning: a row left behind only makes a
request wait for a ``504``, and the holder's next start-up clears its rows. The requests are
written by whoever asks, with the notification in the same transaction (PostgreSQL delivers
it when, and only if, the row is committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.alarms.fanout import notify
from hub.carephones.models import CarephoneCallRow, CarephoneRequestRow
from hub.carephones.routing import (
    ANSWERS_CHANNEL,
    KEEP_S,
    REQUESTS_CHANNEL,
    Answer,
    BadRequestSignal,
    CallRequest,
    Holder,
    Kind,
    body_json,
    body_of,
    request_signal,
)
from hub.clock import Clock

_LOGGER = logging.getLogger(__name__)

QUEUE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class _Change:
    """A row to write (``state`` set) or to delete (``state`` None)."""

    call_id: str
    state: str | None
    home_id: str = ""
    alarm_id: str | None = None
    direction: str = "in"
    operator: str | None = None


def _holder(row: CarephoneCallRow) -> Holder:
    return Holder(
        row.call_id, row.worker, row.home_id, row.direction, row.state, row.alarm_id, row.operator
    )


class CallBook:
    """The two tables, for one worker (``worker``: its name in ``hub_members``)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], worker: str, clock: Clock
    ) -> None:
        self._sessionmaker = sessionmaker
        self.worker = worker
        self._clock = clock
        self._changes: asyncio.Queue[_Change] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    # ------------------------------------------------------------ carephone_calls

    def held(
        self,
        call_id: str,
        *,
        home_id: str,
        state: str,
        alarm_id: str | None,
        direction: str = "in",
        operator: str | None = None,
    ) -> None:
        """This worker holds ``call_id`` (ringing, dialled or answered): written soon."""
        self._put(_Change(call_id, state, home_id, alarm_id, direction, operator))

    async def claim_out(
        self, call_id: str, *, home_id: str, alarm_id: str | None, operator: str
    ) -> Holder | None:
        """Write the row of ``operator``'s call out now, in a transaction of its own (not
        through the queue): None once written; else the row of their call out that stands in
        the way (the partial unique index, ADR 0177), or a ``Holder`` with an empty
        ``call_id`` when that row went meanwhile (try again)."""
        async with self._sessionmaker() as session:
            session.add(
                CarephoneCallRow(
                    call_id=call_id, alarm_id=alarm_id, home_id=home_id, worker=self.worker,
                    direction="out", state="dialled", operator=operator,
                    updated_at=self._clock(),
                )
            )  # fmt: skip
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
        async with self._sessionmaker() as session:
            row = await session.scalar(
                select(CarephoneCallRow).where(
                    CarephoneCallRow.operator == operator, CarephoneCallRow.direction == "out"
                )
            )
        if row is None:
            return Holder("", "", home_id, "out", "", None, operator)
        return _holder(row)

    async def forget(self, holder: Holder) -> bool:
        """Delete a stale row (only if it is still that worker's row of that call)."""
        async with self._sessionmaker() as session:
            result = await session.execute(
                delete(CarephoneCallRow).where(
                    CarephoneCallRow.call_id == holder.call_id,
                    CarephoneCallRow.worker == holder.worker,
                )
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    def gone(self, call_id: str) -> None:
        """The call ended here: its row is deleted soon."""
        self._put(_Change(call_id, None))

    def _put(self, change: _Change) -> None:
        try:
            self._changes.put_nowait(change)
        except asyncio.QueueFull:
            self.dropped += 1
            _LOGGER.warning("%d call changes waiting; dropped the one of %s", QUEUE_SIZE, change)

    async def run(self) -> None:
        """Write the changes in order, for ever (cancel to stop)."""
        while True:
            change = await self._changes.get()
            try:
                await self._write(change)
            except Exception:  # the row is wrong until the call changes again, or a restart
                _LOGGER.exception("carephone call %s not written", change.call_id)

    async def flush(self) -> None:
        """Write what is queued now (tests; the writer task is not running)."""
        while not self._changes.empty():
            await self._write(self._changes.get_nowait())

    async def _write(self, change: _Change) -> None:
        async with self._sessionmaker() as session:
            row = await session.get(CarephoneCallRow, change.call_id)
            if change.state is None:
                if row is not None and row.worker == self.worker:
                    await session.delete(row)
            elif row is None:
                session.add(
                    CarephoneCallRow(
                        call_id=change.call_id, alarm_id=change.alarm_id, home_id=change.home_id,
                        worker=self.worker, direction=change.direction, state=change.state,
                        operator=change.operator, updated_at=self._clock(),
                    )
                )  # fmt: skip
            else:
                row.state, row.worker, row.updated_at = change.state, self.worker, self._clock()
                if change.alarm_id is not None:
                    row.alarm_id = change.alarm_id
            await session.commit()

    async def clear_mine(self) -> int:
        """At start-up: this worker's calls died with its previous process."""
        return await self.clear_workers([self.worker])

    async def clear_workers(self, workers: Collection[str]) -> int:
        """Delete the rows of ``workers`` (their leases lapsed: their calls are gone)."""
        if not workers:
            return 0
        async with self._sessionmaker() as session:
            result = await session.execute(
                delete(CarephoneCallRow).where(CarephoneCallRow.worker.in_(list(workers)))
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def holders(
        self, *, home_id: str | None = None, call_id: str | None = None
    ) -> list[Holder]:
        """The rows of a home's calls, or of one call, newest first."""
        query = select(CarephoneCallRow).order_by(CarephoneCallRow.updated_at.desc())
        if home_id is not None:
            query = query.where(CarephoneCallRow.home_id == home_id)
        if call_id is not None:
            query = query.where(CarephoneCallRow.call_id == call_id)
        async with self._sessionmaker() as session:
            rows = list(await session.scalars(query.limit(20)))
        return [_holder(row) for row in rows]

    # ------------------------------------------------------------ carephone_requests

    async def ask(
        self,
        target: str,
        kind: Kind,
        *,
        call_id: str | None = None,
        alarm_id: str | None = None,
        operator: str | None = None,
        body: dict[str, object] | None = None,
    ) -> int:
        """Insert a request for ``target`` and tell it, in one transaction; its id.

        Requests older than a minute are pruned in the same transaction."""
        now = self._clock()
        async with self._sessionmaker() as session:
            await session.execute(
                delete(CarephoneRequestRow).where(
                    CarephoneRequestRow.created_at < now - timedelta(seconds=KEEP_S)
                )
            )
            row = CarephoneRequestRow(
                target=target, origin=self.worker, kind=kind.value, alarm_id=alarm_id,
                call_id=call_id, operator=operator, body=body_json(dict(body or {})),
                status="pending", created_at=now,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            request_id = row.id
            await notify(session, REQUESTS_CHANNEL, request_signal(target, request_id))
            await session.commit()
        return request_id

    async def request(self, request_id: int) -> CallRequest | None:
        """A pending request for this worker (None: not ours, answered, or failed)."""
        async with self._sessionmaker() as session:
            row = await session.get(CarephoneRequestRow, request_id)
        if row is None or row.target != self.worker or row.status != "pending":
            return None
        return _request(row)

    async def pending(self, since: datetime) -> list[CallRequest]:
        """Requests for this worker still waiting, made since ``since`` (catch-up)."""
        async with self._sessionmaker() as session:
            rows = list(
                await session.scalars(
                    select(CarephoneRequestRow)
                    .where(
                        CarephoneRequestRow.target == self.worker,
                        CarephoneRequestRow.status == "pending",
                        CarephoneRequestRow.created_at >= since,
                    )
                    .order_by(CarephoneRequestRow.id)
                    .limit(500)
                )
            )
        found = []
        for row in rows:
            with contextlib.suppress(BadRequestSignal, ValueError):
                found.append(_request(row))
        return found

    async def answer(self, request_id: int, answer: Answer) -> bool:
        """Write the answer and tell the requester; False when it had given up (failed)."""
        async with self._sessionmaker() as session:
            result = await session.execute(
                update(CarephoneRequestRow)
                .where(_pending(request_id))
                .values(status="done", answer=answer.to_json(), answered_at=self._clock())
            )
            if not getattr(result, "rowcount", 0):
                await session.rollback()
                return False
            await notify(session, ANSWERS_CHANNEL, str(request_id))
            await session.commit()
        return True

    async def fail(self, request_id: int) -> bool:
        """The requester gives up: the row is ``failed`` (False: it was answered meanwhile)."""
        async with self._sessionmaker() as session:
            result = await session.execute(
                update(CarephoneRequestRow)
                .where(_pending(request_id))
                .values(status="failed", answered_at=self._clock())
            )
            await session.commit()
        return bool(getattr(result, "rowcount", 0))

    async def answers(self, request_ids: Collection[int]) -> dict[int, Answer]:
        """The answers written for these requests (those done)."""
        if not request_ids:
            return {}
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CarephoneRequestRow.id, CarephoneRequestRow.answer).where(
                        CarephoneRequestRow.id.in_(list(request_ids)),
                        CarephoneRequestRow.status == "done",
                    )
                )
            ).all()
        return {request_id: Answer.from_json(text) for request_id, text in rows}


def _pending(request_id: int) -> ColumnElement[bool]:
    return and_(CarephoneRequestRow.id == request_id, CarephoneRequestRow.status == "pending")


def _request(row: CarephoneRequestRow) -> CallRequest:
    return CallRequest(
        row.id, Kind(row.kind), row.origin, row.call_id, row.alarm_id, row.operator,
        body_of(row.body),
    )  # fmt: skip
