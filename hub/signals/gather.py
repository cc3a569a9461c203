"""Reading the weekly records of a batch of residents: one query per source for the batch.

Device events and messages are counted per UTC hour in the database (a week of a busy
motion sensor is thousands of rows; its active hours are at most 168), everything else is
read as timestamps. :mod:`hub.signals.weekdata` does the counting per local week.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import CarePlan, EscalationPolicy
from alerts.codec import plan_from_json
from alerts.errors import CarePlanError
from alerts.model import TECHNICAL_RULES, RuleKind
from hub.alarms.models import AlarmRow, CarePlanRow
from hub.alarms.plans import known_residents, plans_for
from hub.db.models import Device, Resident, StoredEvent
from hub.family.models import (
    AgendaItem,
    CallRecord,
    Conversation,
    ConversationMember,
    Message,
)
from hub.family.parties import resident_party
from hub.outbox.consent import gives_social_record_consent
from hub.service.alarm_terms import AlarmTerms
from hub.service.models import ServiceRow, SuspensionRow
from hub.signals.weekdata import (
    ACTIVITY_TYPES,
    NIGHT_TYPES,
    ResidentRecords,
    ServiceSpan,
)

_LOGGER = logging.getLogger(__name__)

_TECHNICAL = sorted(rule.value for rule in TECHNICAL_RULES)
# Device types whose events tell activity (hub/ingest/devicetypes.py).
ACTIVITY_SENSORS = ("motion", "contact", "bed")


@dataclass(frozen=True)
class ResidentRow:
    """The resident facts the job decides on before reading any records."""

    id: int
    home_id: int
    lives_alone: bool
    consent: dict[str, Any]
    created_at: datetime

    @property
    def exports_to_social_record(self) -> bool:
        """The resident agreed that the service appears in their social record (wSocial)."""
        return gives_social_record_consent(self.consent)


async def resident_batch(session: AsyncSession, after_id: int, limit: int) -> list[ResidentRow]:
    """Residents with an id above ``after_id``, in id order (keyset paging)."""
    rows = await session.execute(
        select(
            Resident.id,
            Resident.home_id,
            Resident.lives_alone,
            Resident.consent,
            Resident.created_at,
        )
        .where(Resident.id > after_id)
        .order_by(Resident.id)
        .limit(limit)
    )
    return [
        ResidentRow(r.id, r.home_id, bool(r.lives_alone), dict(r.consent or {}), r.created_at)
        for r in rows
    ]


def _hour(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC hour of ``column`` as a whole number of hours since 1970."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 3600), BigInteger)
    return cast(func.strftime("%s", column), Integer) // 3600


def _hour_start(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) * 3600, UTC)


async def _services(session: AsyncSession, ids: Sequence[int]) -> dict[int, ServiceSpan]:
    latest: dict[int, Any] = {}
    for row in await session.execute(
        select(
            ServiceRow.id,
            ServiceRow.resident_id,
            ServiceRow.activated_at,
            ServiceRow.discharged_at,
        )
        .where(ServiceRow.resident_id.in_(ids))
        .order_by(ServiceRow.id)
    ):
        latest[row.resident_id] = row  # the newest service of the resident wins
    pauses: dict[int, list[tuple[datetime, datetime | None]]] = {}
    if latest:
        for service_id, started, ended in await session.execute(
            select(
                SuspensionRow.service_id, SuspensionRow.started_at, SuspensionRow.ended_at
            ).where(SuspensionRow.service_id.in_([r.id for r in latest.values()]))
        ):
            pauses.setdefault(service_id, []).append((started, ended))
    return {
        rid: ServiceSpan(
            known=True,
            active_from=row.activated_at,
            ended_at=row.discharged_at,
            pauses=tuple(pauses.get(row.id, ())),
        )
        for rid, row in latest.items()
    }


async def _plans(session: AsyncSession, records: dict[int, ResidentRecords]) -> None:
    # The same plans the alarm engine applies (hub/alarms/plans.py): the check-ins counted
    # here are the ones whose absence raises an alarm.
    ids = [str(i) for i in records]
    stored: dict[str, tuple[CarePlan, EscalationPolicy]] = {}
    for resident_id, data in await session.execute(
        select(CarePlanRow.resident_id, CarePlanRow.plan).where(CarePlanRow.resident_id.in_(ids))
    ):
        try:
            stored[resident_id] = (plan_from_json(data), EscalationPolicy())
        except (CarePlanError, ValueError, TypeError, KeyError):
            _LOGGER.warning("care plan of resident %s cannot be read; defaults used", resident_id)
    plans = plans_for(ids, await known_residents(session, ids, AlarmTerms()), stored)
    for resident_id, (plan, _) in plans.items():
        target = records.get(int(resident_id))
        if target is not None:
            target.zone, target.night, target.check_in = plan.tz, plan.night.window, plan.check_in


async def _device_events(
    session: AsyncSession,
    residents: Sequence[ResidentRow],
    records: dict[int, ResidentRecords],
    start: datetime,
    end: datetime,
) -> None:
    """Motion, door, bed and check-in events of the residents' homes.

    A device worn by one resident (``devices.resident_id``) counts for that resident only;
    the home's sensors count for everyone who lives there.
    """
    by_home: dict[int, list[int]] = {}
    for resident in residents:
        by_home.setdefault(resident.home_id, []).append(resident.id)

    def owners(home_id: int, resident_id: int | None) -> list[int]:
        if resident_id is not None:
            return [resident_id] if resident_id in records else []
        return by_home.get(home_id, [])

    sensors = select(Device.home_id, Device.resident_id).where(
        Device.home_id.in_(by_home), Device.type.in_(ACTIVITY_SENSORS), Device.state != "revoked"
    )
    for home_id, worn_by in await session.execute(sensors):
        for rid in owners(home_id, worn_by):
            records[rid].activity_sensors = True
    hour = _hour(session, StoredEvent.ts)
    types = sorted(ACTIVITY_TYPES | NIGHT_TYPES)
    stmt = (
        select(Device.home_id, Device.resident_id, StoredEvent.type, hour, func.count())
        .join(Device, Device.id == StoredEvent.device_id)
        .where(
            Device.home_id.in_(by_home),
            StoredEvent.type.in_(types),
            StoredEvent.ts >= start,
            StoredEvent.ts < end,
        )
        .group_by(Device.home_id, Device.resident_id, StoredEvent.type, hour)
    )
    for home_id, worn_by, kind, bucket, count in await session.execute(stmt):
        moment = _hour_start(bucket)
        for rid in owners(home_id, worn_by):
            target = records[rid]
            if kind in ACTIVITY_TYPES:
                target.activity_hours.add(moment)
            if kind in NIGHT_TYPES:
                target.night_hours[moment] = target.night_hours.get(moment, 0) + int(count)
    check_ins = (
        select(Device.home_id, Device.resident_id, StoredEvent.ts)
        .join(Device, Device.id == StoredEvent.device_id)
        .where(
            Device.home_id.in_(by_home),
            StoredEvent.type == "check_in",
            StoredEvent.ts >= start,
            StoredEvent.ts < end,
        )
    )
    for home_id, worn_by, ts in await session.execute(check_ins):
        for rid in owners(home_id, worn_by):
            records[rid].check_ins.append(ts)


async def _alarms(
    session: AsyncSession, records: dict[int, ResidentRecords], start: datetime, end: datetime
) -> None:
    stmt = select(AlarmRow.resident_id, AlarmRow.rule, AlarmRow.raised_at).where(
        AlarmRow.resident_id.in_([str(i) for i in records]),
        AlarmRow.rule.not_in(_TECHNICAL),
        AlarmRow.raised_at >= start,
        AlarmRow.raised_at < end,
    )
    for resident_id, rule, raised_at in await session.execute(stmt):
        target = records[int(resident_id)]
        target.alarms.append(raised_at)
        if rule == RuleKind.FALL.value:
            target.falls.append(raised_at)


def _resident_of(party: str) -> int | None:
    kind, _, number = party.partition(":")
    return int(number) if kind == "r" and number.isdigit() else None


async def _contact(
    session: AsyncSession, records: dict[int, ResidentRecords], start: datetime, end: datetime
) -> None:
    parties = [resident_party(i) for i in records]
    hour = _hour(session, Message.created_at)
    direct = (
        select(ConversationMember.party, hour, func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(
            Conversation.kind == "direct",
            ConversationMember.party.in_(parties),
            Message.created_at >= start,
            Message.created_at < end,
        )
        .group_by(ConversationMember.party, hour)
    )
    for party, bucket, count in await session.execute(direct):
        rid = _resident_of(party)
        if rid in records:
            hours = records[rid].message_hours
            moment = _hour_start(bucket)
            hours[moment] = hours.get(moment, 0) + int(count)
    group_posts = (
        select(Message.sender, Conversation.group_id, hour)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.kind == "group",
            Conversation.group_id.is_not(None),
            Message.sender.in_(parties),
            Message.created_at >= start,
            Message.created_at < end,
        )
        .group_by(Message.sender, Conversation.group_id, hour)
    )
    for sender, group_id, bucket in await session.execute(group_posts):
        rid = _resident_of(sender)
        if rid in records:
            records[rid].group_moments.append((int(group_id), _hour_start(bucket)))
    accepted = select(AgendaItem.resident_id, AgendaItem.group_id, AgendaItem.starts_at).where(
        AgendaItem.resident_id.in_(list(records)),
        AgendaItem.group_id.is_not(None),
        AgendaItem.status == "accepted",
        AgendaItem.starts_at >= start,
        AgendaItem.starts_at < end,
    )
    for rid, group_id, starts_at in await session.execute(accepted):
        if group_id is not None:
            records[rid].group_moments.append((group_id, starts_at))
    calls = select(CallRecord.caller, CallRecord.callee, CallRecord.started_at).where(
        or_(CallRecord.caller.in_(parties), CallRecord.callee.in_(parties)),
        CallRecord.answered_at.is_not(None),
        CallRecord.started_at >= start,
        CallRecord.started_at < end,
    )
    for caller, callee, started_at in await session.execute(calls):
        for party in {caller, callee}:
            rid = _resident_of(party)
            if rid in records:
                records[rid].calls.append(started_at)


async def gather_records(
    session: AsyncSession,
    residents: Sequence[ResidentRow],
    start: datetime,
    end: datetime,
    *,
    zone: ZoneInfo,
) -> dict[int, ResidentRecords]:
    """The records of ``residents`` between ``start`` and ``end`` (aware), by resident id.

    ``zone`` is the time zone of residents without a care plan of their own.
    """
    # A resident registered outside the service lifecycle is monitored from registration.
    records = {
        r.id: ResidentRecords(
            resident_id=r.id,
            lives_alone=r.lives_alone,
            zone=zone,
            service=ServiceSpan(known=True, active_from=r.created_at),
        )
        for r in residents
    }
    if not records:
        return records
    ids = list(records)
    for rid, span in (await _services(session, ids)).items():
        records[rid].service = span
    await _plans(session, records)
    await _device_events(session, residents, records, start, end)
    await _alarms(session, records, start, end)
    await _contact(session, records, start, end)
    return records
