"""Persistence of alarms, history and rule state (SQLAlchemy async; SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import Integer, cast, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import Alarm, CarePlan, EscalationPolicy, ResidentState
from alerts.codec import alarm_from_json, plan_from_json, policy_from_json, state_from_json, to_json
from hub.alarms.models import (
    AlarmEffectRow,
    AlarmHistoryRow,
    AlarmRow,
    CarePlanRow,
    ProcessedEventRow,
    RuleStateRow,
)
from hub.alarms.plans import CareService, known_residents, plans_for, rule_plan
from hub.ingest.dedup import MessageKey


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the alarm since it was read; read it again and retry."""


def _columns(alarm: Alarm, next_action_at: datetime | None, now: datetime) -> dict[str, object]:
    return {
        "home_id": alarm.home_id,
        "resident_id": alarm.resident_id,
        "category": alarm.category.value,
        "rule": alarm.rule.value,
        "priority": int(alarm.priority),
        "state": alarm.state.value,
        "is_open": alarm.is_open,
        "raised_at": alarm.raised_at,
        "updated_at": now,
        "claimed_by": alarm.claimed_by.id if alarm.claimed_by else None,
        "outcome": alarm.outcome.value if alarm.outcome else None,
        "next_action_at": next_action_at,
        "data": to_json(alarm),
    }


def _history_rows(alarm: Alarm, from_seq: int) -> list[AlarmHistoryRow]:
    return [
        AlarmHistoryRow(
            alarm_id=alarm.id,
            seq=entry.seq,
            at=entry.at,
            actor_kind=entry.actor.kind.value,
            actor_id=entry.actor.id,
            actor_name=entry.actor.name,
            action=entry.action.value,
            state=entry.state.value,
            detail=dict(entry.detail),
        )
        for entry in alarm.history[from_seq:]
    ]


async def insert_alarm(
    session: AsyncSession, alarm: Alarm, next_action_at: datetime | None, now: datetime
) -> AlarmRow:
    """Store a new alarm and its history."""
    row = AlarmRow(id=alarm.id, version=1, **_columns(alarm, next_action_at, now))
    session.add(row)
    session.add_all(_history_rows(alarm, 0))
    await session.flush()
    return row


async def update_alarm(
    session: AsyncSession,
    version: int,
    before: Alarm,
    after: Alarm,
    next_action_at: datetime | None,
    now: datetime,
) -> int:
    """Store ``after`` if the row is still at ``version``; append its new history entries."""
    result = await session.execute(
        update(AlarmRow)
        .where(AlarmRow.id == after.id, AlarmRow.version == version)
        .values(version=version + 1, **_columns(after, next_action_at, now))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentUpdate(f"alarm {after.id} changed meanwhile")
    session.add_all(_history_rows(after, len(before.history)))
    await session.flush()
    return version + 1


async def load_alarm(session: AsyncSession, alarm_id: str) -> tuple[int, Alarm] | None:
    """(version, alarm) or None."""
    row = await session.get(AlarmRow, alarm_id, populate_existing=True)
    if row is None:
        return None
    return row.version, alarm_from_json(row.data)


async def open_alarms_of_home(session: AsyncSession, home_id: str) -> list[tuple[int, Alarm]]:
    """Open alarms of a home (at most one per category)."""
    rows = await session.scalars(
        select(AlarmRow).where(AlarmRow.home_id == home_id, AlarmRow.is_open.is_(True))
    )
    return [(row.version, alarm_from_json(row.data)) for row in rows]


async def list_alarms(
    session: AsyncSession, *, status: str, category: str | None, limit: int
) -> list[Alarm]:
    """Alarms in queue order (priority, then age; resolved: newest first)."""
    query = select(AlarmRow)
    if status == "open":
        query = query.where(AlarmRow.is_open.is_(True)).order_by(
            AlarmRow.priority, AlarmRow.raised_at, AlarmRow.id
        )
    elif status == "resolved":
        query = query.where(AlarmRow.is_open.is_(False)).order_by(AlarmRow.updated_at.desc())
    else:
        query = query.order_by(AlarmRow.is_open.desc(), AlarmRow.priority, AlarmRow.raised_at)
    if category:
        query = query.where(AlarmRow.category == category)
    rows = await session.scalars(query.limit(limit))
    return [alarm_from_json(row.data) for row in rows]


async def history_rows(session: AsyncSession, alarm_id: str) -> list[AlarmHistoryRow]:
    """The stored history of an alarm, in order."""
    rows = await session.scalars(
        select(AlarmHistoryRow)
        .where(AlarmHistoryRow.alarm_id == alarm_id)
        .order_by(AlarmHistoryRow.seq)
    )
    return list(rows)


async def due_alarm_ids(session: AsyncSession, now: datetime, limit: int = 500) -> list[str]:
    """Open alarms whose escalation step is due."""
    rows = await session.scalars(
        select(AlarmRow.id)
        .where(AlarmRow.is_open.is_(True), AlarmRow.next_action_at <= now)
        .order_by(AlarmRow.next_action_at)
        .limit(limit)
    )
    return list(rows)


async def load_state(session: AsyncSession, resident_id: str) -> ResidentState | None:
    """A resident's stored rule state."""
    row = await session.get(RuleStateRow, resident_id, populate_existing=True)
    return state_from_json(row.data) if row else None


async def save_state(
    session: AsyncSession,
    state: ResidentState,
    next_due: datetime | None,
    now: datetime,
    *,
    known_new: bool = False,
) -> None:
    """Insert or replace a resident's rule state (``known_new``: skip the lookup)."""
    row = None if known_new else await session.get(RuleStateRow, state.resident_id)
    data = to_json(state)
    if row is None:
        session.add(
            RuleStateRow(
                resident_id=state.resident_id,
                home_id=state.home_id,
                next_due=next_due,
                updated_at=now,
                data=data,
            )
        )
    else:
        row.home_id, row.next_due, row.updated_at, row.data = state.home_id, next_due, now, data
    await session.flush()


async def save_states(
    session: AsyncSession,
    states: list[tuple[ResidentState, datetime | None]],
    now: datetime,
) -> None:
    """Insert or replace many residents' rule states in three statements (a flush of
    hundreds of residents holds SQLite's write lock for milliseconds, not seconds)."""
    if not states:
        return
    ids = [state.resident_id for state, _ in states]
    existing = set(
        await session.scalars(
            select(RuleStateRow.resident_id).where(RuleStateRow.resident_id.in_(ids))
        )
    )
    rows = [
        {
            "resident_id": state.resident_id,
            "home_id": state.home_id,
            "next_due": next_due,
            "updated_at": now,
            "data": to_json(state),
        }
        for state, next_due in states
    ]
    new = [row for row in rows if row["resident_id"] not in existing]
    old = [row for row in rows if row["resident_id"] in existing]
    if new:
        await session.execute(insert(RuleStateRow), new)
    if old:
        await session.execute(update(RuleStateRow), old)


async def due_residents(
    session: AsyncSession,
    now: datetime,
    limit: int = 500,
    *,
    partitions: tuple[int, Collection[int]] | None = None,
) -> list[str]:
    """Residents whose next rule timer is due; with ``partitions`` = (count, owned), only
    those of homes in the owned partitions (``home_id % count``, docs/adr/0147)."""
    stmt = select(RuleStateRow.resident_id).where(RuleStateRow.next_due <= now)
    if partitions is not None:
        count, owned = partitions
        if not owned:
            return []
        stmt = stmt.where((cast(RuleStateRow.home_id, Integer) % count).in_(sorted(owned)))
    rows = await session.scalars(stmt.order_by(RuleStateRow.next_due).limit(limit))
    return list(rows)


async def claim_due_state(
    session: AsyncSession, resident_id: str, now: datetime
) -> ResidentState | None:
    """Claim a resident's due rule timer for this transaction: the stored state, or None
    when the timer is not due (any more) or another worker is firing it now.

    An UPDATE of the row, so the claim holds until the commit: on PostgreSQL a second
    worker skips the row while it is locked (``SKIP LOCKED``) and, once the first has
    committed, finds ``next_due`` moved on; on SQLite the UPDATE takes the database's
    write lock, with the same outcome. Each due timer therefore fires once however many
    hub workers look for due timers.
    """
    due = (
        select(RuleStateRow.resident_id)
        .where(RuleStateRow.resident_id == resident_id, RuleStateRow.next_due <= now)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    data = await session.scalar(
        update(RuleStateRow)
        .where(RuleStateRow.resident_id == due)
        .values(updated_at=now)
        .returning(RuleStateRow.data)
        .execution_options(synchronize_session=False)
    )
    return state_from_json(data) if data is not None else None


async def earliest_due(session: AsyncSession) -> datetime | None:
    """The earliest rule timer or escalation step of all residents and alarms."""
    rule = await session.scalar(select(func.min(RuleStateRow.next_due)))
    action = await session.scalar(
        select(func.min(AlarmRow.next_action_at)).where(AlarmRow.is_open.is_(True))
    )
    candidates = [c for c in (rule, action) if c is not None]
    return min(candidates) if candidates else None


async def mark_processed(
    session: AsyncSession, device_id: str, message_id: str, now: datetime
) -> bool:
    """Remember the message; False if it was applied before (a redelivery)."""
    if await session.get(ProcessedEventRow, (device_id, message_id)) is not None:
        return False
    session.add(ProcessedEventRow(device_id=device_id, message_id=message_id, at=now))
    await session.flush()
    return True


async def was_processed(session: AsyncSession, device_id: str, message_id: str) -> bool:
    """Was ``device_id``'s message ``message_id`` applied before?"""
    return await session.get(ProcessedEventRow, (device_id, message_id)) is not None


async def add_processed(session: AsyncSession, ids: list[tuple[MessageKey, datetime]]) -> None:
    """Record applied messages, (device id, message id) with when (skipping known ones)."""
    if not ids:
        return
    known = await processed_among(session, [key for key, _ in ids])
    rows = [
        {"device_id": key[0], "message_id": key[1], "at": at}
        for key, at in dict(ids).items()
        if key not in known
    ]
    if rows:
        await session.execute(insert(ProcessedEventRow), rows)


async def forget_processed(session: AsyncSession, older_than: datetime) -> None:
    """Drop old message ids (brokers redeliver within minutes, not weeks)."""
    await session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.at < older_than))


async def load_rule_inputs(
    session: AsyncSession, resident_ids: Collection[str], service: CareService
) -> dict[str, tuple[CarePlan, EscalationPolicy, ResidentState | None]]:
    """Plans, policies and stored states of many residents in a few queries (see
    :mod:`hub.alarms.plans` for where a plan comes from)."""
    ids = list(resident_ids)
    stored = {
        row.resident_id: (plan_from_json(row.plan), policy_from_json(row.policy))
        for row in await session.scalars(
            select(CarePlanRow).where(CarePlanRow.resident_id.in_(ids))
        )
    }
    states = {
        row.resident_id: state_from_json(row.data)
        for row in await session.scalars(
            select(RuleStateRow).where(RuleStateRow.resident_id.in_(ids))
        )
    }
    plans = plans_for(ids, await known_residents(session, ids, service), stored)
    return {rid: (*plans[rid], states.get(rid)) for rid in ids}


async def processed_among(session: AsyncSession, keys: Collection[MessageKey]) -> set[MessageKey]:
    """Which of ``keys`` (device id, message id) were applied before."""
    if not keys:
        return set()
    pair = tuple_(ProcessedEventRow.device_id, ProcessedEventRow.message_id)
    rows = await session.execute(
        select(ProcessedEventRow.device_id, ProcessedEventRow.message_id).where(
            pair.in_(list(keys))
        )
    )
    return {(device_id, message_id) for device_id, message_id in rows.all()}


async def load_plan(
    session: AsyncSession, resident_id: str, service: CareService
) -> tuple[CarePlan, EscalationPolicy]:
    """The resident's care plan and escalation policy (see :mod:`hub.alarms.plans`)."""
    row = await session.get(CarePlanRow, resident_id, populate_existing=True)
    stored = (plan_from_json(row.plan), policy_from_json(row.policy)) if row else None
    known = await known_residents(session, [resident_id], service)
    return rule_plan(resident_id, known.get(resident_id), stored)


async def save_plan(
    session: AsyncSession, plan: CarePlan, policy: EscalationPolicy, now: datetime
) -> None:
    """Insert or replace a resident's care plan and policy."""
    row = await session.get(CarePlanRow, plan.resident_id)
    if row is None:
        session.add(
            CarePlanRow(
                resident_id=plan.resident_id,
                plan=to_json(plan),
                policy=to_json(policy),
                updated_at=now,
            )
        )
    else:
        row.plan, row.policy, row.updated_at = to_json(plan), to_json(policy), now
    await session.flush()


async def claimed_effects(session: AsyncSession, alarm_id: str) -> set[str]:
    """Keys of the effects already planned for an alarm (sent, or being sent)."""
    rows = await session.scalars(
        select(AlarmEffectRow.key).where(AlarmEffectRow.alarm_id == alarm_id)
    )
    return set(rows)


async def claim_effects(
    session: AsyncSession, alarm_id: str, keys: list[str], now: datetime
) -> None:
    """Record that these effects are about to be sent (commit BEFORE sending them)."""
    session.add_all(AlarmEffectRow(alarm_id=alarm_id, key=key, claimed_at=now) for key in keys)
    await session.flush()


async def finish_effects(
    session: AsyncSession, alarm_id: str, keys: list[str], now: datetime
) -> None:
    """The effects' results are recorded on the alarm."""
    await session.execute(
        update(AlarmEffectRow)
        .where(AlarmEffectRow.alarm_id == alarm_id, AlarmEffectRow.key.in_(keys))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )


async def unfinished_effects(
    session: AsyncSession, claimed_before: datetime
) -> dict[str, list[tuple[str, datetime]]]:
    """Effects claimed before ``claimed_before`` whose result was never recorded: by alarm,
    each key with when it was claimed."""
    rows = await session.execute(
        select(AlarmEffectRow.alarm_id, AlarmEffectRow.key, AlarmEffectRow.claimed_at).where(
            AlarmEffectRow.done_at.is_(None), AlarmEffectRow.claimed_at < claimed_before
        )
    )
    found: dict[str, list[tuple[str, datetime]]] = {}
    for alarm_id, key, claimed_at in rows:
        found.setdefault(alarm_id, []).append((key, claimed_at))
    return found


PROCESSED_RETENTION = timedelta(days=7)
