"""The service lifecycle on the hub's database.

Each public function works inside the caller's session and does NOT commit: the state
change, its history row, the audit entry and the social-record event are added to the
same transaction, and the caller (an API handler) commits them together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.db.crypto import KeySafeCipher
from hub.db.models import Contact, Home, Resident
from hub.db.values import all_of, one_of, one_of_or_none
from hub.service import lifecycle as lc
from hub.service import rules as rule_settings
from hub.service.care import CarePlan, initial_plan, plan_for_level, revise_plan
from hub.service.codes import (
    CARE_LEVELS,
    DEVICE_KINDS,
    DISCHARGE_REASONS,
    OPEN_STATES,
    SERVICE_STATES,
    SUSPENSION_REASONS,
)
from hub.service.errors import DuplicateReferral, InvalidCarePlan, InvalidTransition, ServiceError
from hub.service.models import CarePlanRow, ServiceRow, StateChangeRow, SuspensionRow
from hub.service.outbox import emit
from hub.service.referral import (
    KnownPerson,
    ReferralForm,
    find_duplicates,
    hash_check_value,
    new_check_value,
    new_reference,
    normalise_name,
)
from hub.service.social import service_event

_LOGGER = logging.getLogger(__name__)


class NotFound(ServiceError):
    """No referral, work order or order with that reference/id."""

    code = "not_found"


class ConcurrentChange(ServiceError):
    """Someone else changed the service's state first (two tabs, the sweep and a page)."""

    code = "concurrent_change"


class DuplicateUnresolved(ServiceError):
    """The referral looks like an existing resident: link it or confirm a new person."""

    code = "duplicate_unresolved"


def person_key(name: str, born: date | None) -> str:
    """The key of a person for double-referral checks: normalised name + birth date."""
    return f"{normalise_name(name)}|{born.isoformat() if born else ''}"


# ---------------------------------------------------------------- loading


async def get_service(
    session: AsyncSession, reference: str, *, for_update: bool = False
) -> ServiceRow:
    """The referral with ``reference`` or :class:`NotFound` (``for_update`` locks the row
    on PostgreSQL, so two coordinators cannot apply two transitions at once)."""
    query = select(ServiceRow).where(ServiceRow.reference == reference)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no referral {reference!r}")
    return row


async def suspensions_of(session: AsyncSession, service_id: int) -> list[SuspensionRow]:
    """The suspensions of a service, oldest first."""
    rows = await session.scalars(
        select(SuspensionRow)
        .where(SuspensionRow.service_id == service_id)
        .order_by(SuspensionRow.id)
    )
    return list(rows)


async def as_domain(session: AsyncSession, row: ServiceRow) -> lc.Service:
    """The pure domain value of a stored service."""
    pauses = tuple(
        lc.Suspension(
            one_of(s.reason, SUSPENSION_REASONS, "suspensions.reason"),
            s.started_at,
            s.resume_on,
            s.ended_at,
        )
        for s in await suspensions_of(session, row.id)
    )
    return lc.Service(
        reference=row.reference,
        state=one_of(row.state, SERVICE_STATES, "services.state"),
        referred_at=row.referred_at,
        care_level=one_of_or_none(row.care_level, CARE_LEVELS, "services.care_level"),
        granted_at=row.granted_at,
        ordered_at=row.ordered_at,
        installing_at=row.installing_at,
        activated_at=row.activated_at,
        suspensions=pauses,
        discharged_at=row.discharged_at,
        discharge_reason=one_of_or_none(
            row.discharge_reason, DISCHARGE_REASONS, "services.discharge_reason"
        ),
    )


async def latest_plan(session: AsyncSession, service_id: int) -> CarePlanRow | None:
    """The newest care-plan version."""
    return await session.scalar(
        select(CarePlanRow)
        .where(CarePlanRow.service_id == service_id)
        .order_by(CarePlanRow.version.desc())
        .limit(1)
    )


def plan_from_row(row: CarePlanRow) -> CarePlan:
    """The domain value of a stored plan version."""
    hours, minutes = (int(x) for x in row.check_in_deadline.split(":"))
    return CarePlan(
        version=row.version,
        care_level=one_of(row.care_level, CARE_LEVELS, "care_plans.care_level"),
        devices=all_of(row.devices, DEVICE_KINDS, "care_plans.devices"),
        check_in_deadline=time(hours, minutes),
        wellbeing_call_every_days=row.wellbeing_call_every_days,
        escalate_to_contact_after_min=row.escalate_to_contact_after_min,
        escalate_to_112_after_min=row.escalate_to_112_after_min,
        review_every_days=row.review_every_days,
        notes=row.notes,
        created_at=row.created_at,
        created_by=row.created_by,
        rules=dict(row.rules or {}),
    )


def _plan_row(service_id: int, plan: CarePlan) -> CarePlanRow:
    return CarePlanRow(
        service_id=service_id,
        version=plan.version,
        care_level=plan.care_level,
        devices=list(plan.devices),
        check_in_deadline=plan.check_in_deadline.strftime("%H:%M"),
        wellbeing_call_every_days=plan.wellbeing_call_every_days,
        escalate_to_contact_after_min=plan.escalate_to_contact_after_min,
        escalate_to_112_after_min=plan.escalate_to_112_after_min,
        review_every_days=plan.review_every_days,
        notes=plan.notes,
        rules=dict(plan.rules),
        created_at=plan.created_at,
        created_by=plan.created_by,
    )


# ---------------------------------------------------------------- recording a transition


async def record_change(
    session: AsyncSession, row: ServiceRow, change: lc.StateChange, actor: str
) -> None:
    """History row + audit entry for a transition already applied to ``row``."""
    session.add(
        StateChangeRow(
            service_id=row.id,
            action=change.action,
            from_state=change.from_state,
            to_state=change.to_state,
            at=change.at,
            actor=actor,
            details=dict(change.details),
        )
    )
    await record_audit(
        session,
        actor,
        f"service.{change.action}",
        f"service:{row.reference}",
        {"from": change.from_state, "to": change.to_state, **change.details},
        at=change.at,
    )


def _copy(row: ServiceRow, service: lc.Service) -> None:
    row.state = service.state
    row.care_level = service.care_level
    row.granted_at = service.granted_at
    row.ordered_at = service.ordered_at
    row.installing_at = service.installing_at
    row.activated_at = service.activated_at
    row.discharged_at = service.discharged_at
    row.discharge_reason = service.discharge_reason


async def apply(
    session: AsyncSession, row: ServiceRow, transition: lc.Transition, actor: str
) -> None:
    """Store a transition: the row, its suspensions, history, audit and social event.

    The state is written with a compare-and-set (``WHERE state = <from>``): of two
    concurrent transitions from the same state only one is stored, the other raises
    :class:`ConcurrentChange` — on SQLite and PostgreSQL alike.
    """
    change = transition.change
    guarded = await session.execute(
        update(ServiceRow)
        .where(ServiceRow.id == row.id, ServiceRow.state == change.from_state)
        .values(state=change.to_state, updated_at=change.at)
        .execution_options(synchronize_session=False)
    )
    if guarded.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChange(f"service {row.reference} changed while {change.action} ran")
    _copy(row, transition.service)
    row.updated_at = transition.change.at
    stored = await suspensions_of(session, row.id)
    for index, pause in enumerate(transition.service.suspensions):
        if index < len(stored):
            stored[index].ended_at = pause.ended_at
        else:
            session.add(
                SuspensionRow(
                    service_id=row.id,
                    reason=pause.reason,
                    started_at=pause.started_at,
                    resume_on=pause.resume_on,
                    ended_at=pause.ended_at,
                )
            )
    await record_change(session, row, transition.change, actor)
    pause_now = transition.service.current_suspension
    event = service_event(
        row,
        transition.change.at,
        pause_now.reason if pause_now else None,
        pause_now.resume_on if pause_now else None,
    )
    if event is not None:
        await emit(session, event, transition.change.at)
    await session.flush()


# ---------------------------------------------------------------- referral

# possible_duplicates reason: the person already has this open referral or service.
OPEN_REFERRAL = "open_referral"


async def _known_people(session: AsyncSession, form: ReferralForm) -> list[KnownPerson]:
    """Residents who might be the form's person (same birth date, or same document)."""
    known: list[KnownPerson] = []
    residents = await session.scalars(
        select(Resident).where(Resident.birth_date == form.birth_date)
    )
    known.extend(KnownPerson(f"resident:{r.id}", r.name, r.birth_date) for r in residents)
    if form.id_document:
        linked = await session.execute(
            select(Resident.id, Resident.name, Resident.birth_date)
            .join(ServiceRow, ServiceRow.resident_id == Resident.id)
            .where(ServiceRow.id_document == form.id_document)
        )
        known.extend(
            KnownPerson(f"resident:{rid}", name, born, form.id_document)
            for rid, name, born in linked
        )
    unique = {p.key: p for p in known}
    return list(unique.values())


async def submit_referral(
    session: AsyncSession,
    form: ReferralForm,
    *,
    actor: str,
    now: datetime,
    keep_open_duplicates: bool = False,
) -> tuple[ServiceRow, str]:
    """Store a new referral; return it and the applicant's check value (shown once).

    When the person already has an open referral or service, raises
    :class:`DuplicateReferral` (staff may know), or with ``keep_open_duplicates`` (the
    public form, which must not tell who is a client) stores the referral flagged
    ``open_referral`` with the other reference, for the centre to reconcile. A likeness
    with an existing resident is flagged, never refused.
    """
    key = person_key(form.person_name, form.birth_date)
    same_person = ServiceRow.person_key == key
    if form.id_document:
        same_person = same_person | (ServiceRow.id_document == form.id_document)
    open_ones = list(
        await session.scalars(
            select(ServiceRow.reference)
            .where(same_person, ServiceRow.state.in_(OPEN_STATES))
            .order_by(ServiceRow.id)
        )
    )
    if open_ones and not keep_open_duplicates:
        raise DuplicateReferral(open_ones[0])
    duplicates = [(reference, OPEN_REFERRAL) for reference in open_ones]
    duplicates += find_duplicates(form, await _known_people(session, form))
    for _ in range(5):
        reference = new_reference(now.year)
        if (
            await session.scalar(select(ServiceRow.id).where(ServiceRow.reference == reference))
            is None
        ):
            break
    else:  # pragma: no cover - 30 random bits colliding five times
        raise RuntimeError("could not draw a free referral reference")
    check = new_check_value()
    row = ServiceRow(
        reference=reference,
        check_hash=hash_check_value(reference, check),
        state="referred",
        applicant_kind=form.applicant_kind,
        applicant_name=form.applicant_name,
        applicant_phone=form.applicant_phone,
        applicant_email=form.applicant_email,
        referred_by=actor,
        person_name=form.person_name,
        person_key=key,
        birth_date=form.birth_date,
        id_document=form.id_document,
        cip=form.cip,
        social_file=form.social_file,
        phone=form.phone,
        language=form.language,
        address_form=form.address_form,
        street=form.street,
        postcode=form.postcode,
        municipality=form.municipality,
        lives_alone=form.lives_alone,
        mobility=form.mobility,
        falls_last_year=form.falls_last_year,
        health_notes=form.health_notes,
        social_notes=form.social_notes,
        contacts=[
            {
                "name": c.name,
                "phone": c.phone,
                "relationship": c.relationship,
                "relationship_other": c.relationship_other,
                "key_holder": c.key_holder,
            }
            for c in form.contacts
        ],
        consent={
            "data_processing": form.consent_data,
            "share_with_family": form.consent_share_with_family,
            "wsocial_export": form.consent_social_record,
        },
        possible_duplicates=[[k, r] for k, r in duplicates],
        referred_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    transition = lc.refer(reference, now)
    await record_change(
        session,
        row,
        transition.change,
        actor,
    )
    if duplicates:
        _LOGGER.info("referral %s flagged as a possible duplicate", reference)
    return row, check


# ---------------------------------------------------------------- assessment and plan


@dataclass(frozen=True)
class Assessment:
    """What the assessor decides."""

    care_level: str
    abss_area: str = ""
    notes: str = ""
    link_resident_id: int | None = None  # the referral is this existing resident
    confirm_new_person: bool = False  # flagged duplicates checked: it is someone else
    # How to get in (floor, door, intercom, who opens): the home's access notes, which the
    # installer's work order and the operator's resident card show at the door.
    access_notes: str = ""


async def _create_resident(session: AsyncSession, row: ServiceRow) -> Resident:
    home = Home(
        address=f"{row.street}, {row.postcode} {row.municipality}",
        abss_area=row.abss_area,
    )
    session.add(home)
    await session.flush()
    resident = Resident(
        home_id=home.id,
        name=row.person_name,
        birth_date=row.birth_date,
        language=row.language,
        address_form=row.address_form,
        medical_notes=row.health_notes,
        lives_alone=row.lives_alone,
        consent=dict(row.consent),
    )
    session.add(resident)
    await session.flush()
    for priority, contact in enumerate(row.contacts, start=1):
        session.add(
            Contact(
                resident_id=resident.id,
                name=contact["name"],
                phone=contact["phone"],
                relationship_=contact.get("relationship", ""),
                relationship_other=contact.get("relationship_other", ""),
                is_key_holder=bool(contact.get("key_holder")),
                priority=priority,
                language=row.language,
            )
        )
    return resident


async def assess(
    session: AsyncSession, row: ServiceRow, decision: Assessment, *, actor: str, now: datetime
) -> CarePlan:
    """Grant the service at a care level, link or create the resident, write plan v1."""
    transition = lc.assess(await as_domain(session, row), decision.care_level, now)
    plan = initial_plan(decision.care_level, now, actor, decision.notes)
    if decision.abss_area:
        row.abss_area = decision.abss_area[:32]
    if decision.link_resident_id is not None:
        resident = await session.get(Resident, decision.link_resident_id)
        if resident is None:
            raise NotFound(f"no resident {decision.link_resident_id}")
        busy = await session.scalar(
            select(ServiceRow.reference).where(
                ServiceRow.resident_id == resident.id, ServiceRow.state.in_(OPEN_STATES)
            )
        )
        if busy is not None:
            raise DuplicateReferral(busy)
        row.resident_id = resident.id
    elif row.possible_duplicates and not decision.confirm_new_person:
        raise DuplicateUnresolved(
            "this referral looks like an existing resident: link it or confirm a new person"
        )
    else:
        row.resident_id = (await _create_resident(session, row)).id
    if decision.access_notes.strip():
        resident = await session.get(Resident, row.resident_id)
        home = None if resident is None else await session.get(Home, resident.home_id)
        if home is not None:
            home.access_notes = decision.access_notes.strip()[:2000]
    session.add(_plan_row(row.id, plan))
    await apply(session, row, transition, actor)
    return plan


_INT_FIELDS = (
    "wellbeing_call_every_days",
    "escalate_to_contact_after_min",
    "escalate_to_112_after_min",
    "review_every_days",
)


def _check_plan_types(changes: dict[str, Any]) -> None:
    """JSON types of a plan edit (values are checked by the domain afterwards)."""
    for key in _INT_FIELDS:
        if key in changes and (not isinstance(changes[key], int) or isinstance(changes[key], bool)):
            raise InvalidCarePlan(f"{key} must be a whole number")
    for key in ("notes", "check_in_deadline"):
        if key in changes and not isinstance(changes[key], str):
            raise InvalidCarePlan(f"{key} must be text")
    devices = changes.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        raise InvalidCarePlan("devices must be a list of device kinds")


async def edit_plan(
    session: AsyncSession, row: ServiceRow, changes: dict[str, Any], *, actor: str, now: datetime
) -> CarePlan:
    """A new version of the care plan with ``changes`` (audited)."""
    current = await latest_plan(session, row.id)
    if current is None or row.state == "discharged":
        raise InvalidTransition("edit the care plan of", row.state)
    _check_plan_types(changes)
    if "check_in_deadline" in changes:
        try:
            changes["check_in_deadline"] = time.fromisoformat(changes["check_in_deadline"])
        except ValueError:
            raise InvalidCarePlan("check_in_deadline must be HH:MM") from None
    before = plan_from_row(current)
    audited: dict[str, Any] = {}
    if "rules" in changes:
        changes["rules"], audited = _rule_changes(before, changes)
    elif "check_in_deadline" in changes and "check_in_deadlines" in before.rules:
        # One deadline set the old way replaces the list set on the rules.
        changes["rules"] = {k: v for k, v in before.rules.items() if k != "check_in_deadlines"}
    plan = revise_plan(before, now, actor, **changes)
    session.add(_plan_row(row.id, plan))
    details: dict[str, Any] = {"version": plan.version, "fields": sorted(changes)}
    if audited:
        # The rule settings are care decisions: the audit keeps what each became.
        details["rules"] = audited
    await record_audit(
        session, actor, "service.care_plan", f"service:{row.reference}", details, at=now
    )
    return plan


def _rule_changes(
    before: CarePlan, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan's new rule overrides, and each changed setting's new value for the audit
    (``None``: back to the level's default). The list of check-in deadlines also sets the
    plan's (first) check-in deadline, which the rest of the service shows."""
    deadline = changes.get("check_in_deadline", before.check_in_deadline)
    submitted = changes["rules"]
    overrides = rule_settings.parse_rule_changes(submitted, before.rules, deadline)
    if "check_in_deadlines" in overrides:
        changes["check_in_deadline"] = rule_settings.parse_time(
            "check-in deadline", overrides["check_in_deadlines"][0]
        )
    audited = {
        key: overrides.get(key)
        for key in sorted(set(before.rules) | set(overrides))
        if before.rules.get(key) != overrides.get(key)
    }
    return overrides, audited


async def change_level(
    session: AsyncSession, row: ServiceRow, level: str, *, actor: str, now: datetime
) -> CarePlan:
    """A new care level: transition (sent to the social record) and a new plan version."""
    transition = lc.change_care_level(await as_domain(session, row), level, now)
    current = await latest_plan(session, row.id)
    assert current is not None  # every assessed service has a plan
    plan = plan_for_level(plan_from_row(current), level, now, actor)
    session.add(_plan_row(row.id, plan))
    await apply(session, row, transition, actor)
    return plan


async def record_review(
    session: AsyncSession, row: ServiceRow, notes: str, *, actor: str, now: datetime
) -> None:
    """A periodic review took place (resets the review clock)."""
    if row.state not in ("active", "suspended"):
        raise InvalidTransition("review", row.state)
    row.last_review_at = now
    row.updated_at = now
    await record_audit(
        session,
        actor,
        "service.review",
        f"service:{row.reference}",
        {"notes_length": len(notes)},
        at=now,
    )


async def keysafe_store(
    session: AsyncSession, row: ServiceRow, cipher: KeySafeCipher, code: str
) -> None:
    """Store the key-safe code on the resident's home, encrypted."""
    resident = await session.get(Resident, row.resident_id)
    if resident is None:
        raise NotFound("the service has no resident yet")
    home = await session.get(Home, resident.home_id)
    assert home is not None
    home.set_key_safe_code(cipher, code)
