"""HTTP API of the service lifecycle (JSON under ``/api/service``); see
docs/service-lifecycle.md for the table of routes and roles."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.appkeys import CLOCK, KEYSAFE, SESSIONMAKER, SETTINGS, resident_changed
from hub.audit import record_audit
from hub.auth import Role, current_user, requires
from hub.auth.web import public
from hub.db.models import Contact, Home, Resident
from hub.http import (
    ApiError,
    client_address,
    iso,
    read_checked,
    read_json_object,
    too_many_attempts,
)
from hub.registry.sync import request_broker_sync
from hub.service import bodies, changes, installation, rules, store
from hub.service.care import care_defaults
from hub.service.codes import RECEIVER_KINDS
from hub.service.errors import (
    DuplicateReferral,
    FieldError,
    InvalidCarePlan,
    InvalidDate,
    ReasonRequired,
    ReferralInvalid,
    ServiceError,
)
from hub.service.models import (
    CarePlanRow,
    MaintenanceOrderRow,
    ServiceRow,
    StateChangeRow,
    WorkOrderRow,
)
from hub.service.queries import is_service_paused, load_figures, reviews_due
from hub.service.referral import check_value_matches, parse_contacts, parse_referral
from hub.service.sla import due_status, installation_due
from hub.throttle import Limit, take
from hub.web.language import page_language
from protocol import TopicError, validate_device_id
from protocol.i18n import Catalog

CATALOG = Catalog.load(Path(__file__).parent / "i18n.toml")
ASSESSORS = (Role.SOCIAL_WORKER, Role.COORDINATOR, Role.ADMIN)
COORDINATORS = (Role.COORDINATOR, Role.ADMIN)
FIELD_STAFF = (Role.INSTALLER, Role.COORDINATOR, Role.ADMIN)
READERS = (Role.SOCIAL_WORKER, Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR)

_STATUS_BY_ERROR: dict[type[ServiceError], int] = {
    ReferralInvalid: 422,
    ReasonRequired: 422,
    InvalidDate: 422,
    InvalidCarePlan: 422,
    store.NotFound: 404,
}


def _lang(request: web.Request) -> str:
    return page_language(request)


def api_error(request: web.Request, err: ServiceError) -> ApiError:
    """A service error as a JSON API error, with a message in the request's language."""
    status = next((s for cls, s in _STATUS_BY_ERROR.items() if isinstance(err, cls)), 409)
    lang = _lang(request)
    message = CATALOG.text(err.code, lang) if err.code in CATALOG.texts else str(err)
    extra: dict[str, Any] = {"detail": str(err)}
    if isinstance(err, DuplicateReferral):
        extra["existing"] = err.existing
    if isinstance(err, ReferralInvalid):
        extra["errors"] = [_field_error(e, lang) for e in err.errors]
    if isinstance(err, rules.InvalidRules):
        extra["errors"] = [
            {
                "field": f"rules.{p.field}",
                "code": p.code,
                "message": CATALOG.text(f"rule_{p.code}", lang, **dict(p.params)),
            }
            for p in err.problems
        ]
    return ApiError(status, err.code, message, **extra)


def _field_error(error: FieldError, lang: str) -> dict[str, str]:
    return {"field": error.field, "code": error.code, "message": CATALOG.text(error.code, lang)}


@contextlib.asynccontextmanager
async def transaction(request: web.Request) -> AsyncIterator[AsyncSession]:
    """A session whose work commits at the end, or rolls back on any error."""
    async with request.app[SESSIONMAKER]() as session:
        try:
            async with session.begin():
                yield session
        except ServiceError as err:
            raise api_error(request, err) from None


def service_json(row: ServiceRow, now: datetime, *, detail: bool = False) -> dict[str, Any]:
    """A service as the API shows it (personal details only with ``detail``)."""
    due = None
    if row.granted_at is not None:
        due_at = installation_due(row.granted_at)
        due = {"due_at": iso(due_at), "status": due_status(due_at, row.activated_at, now)}
    body: dict[str, Any] = {
        "reference": row.reference,
        "state": row.state,
        "person_name": row.person_name,
        "municipality": row.municipality,
        "abss_area": row.abss_area,
        "applicant_kind": row.applicant_kind,
        "care_level": row.care_level,
        "resident_id": row.resident_id,
        "possible_duplicates": row.possible_duplicates,
        "referred_at": iso(row.referred_at),
        "granted_at": iso(row.granted_at),
        "activated_at": iso(row.activated_at),
        "discharged_at": iso(row.discharged_at),
        "discharge_reason": row.discharge_reason,
        "installation": due,
    }
    if detail:
        body.update(
            {
                "applicant_name": row.applicant_name,
                "applicant_phone": row.applicant_phone,
                "applicant_email": row.applicant_email,
                "referred_by": row.referred_by,
                "birth_date": iso(row.birth_date),
                "id_document": row.id_document,
                "cip": row.cip,
                "social_file": row.social_file,
                "phone": row.phone,
                "language": row.language,
                "address_form": row.address_form,
                "street": row.street,
                "postcode": row.postcode,
                "lives_alone": row.lives_alone,
                "mobility": row.mobility,
                "falls_last_year": row.falls_last_year,
                "health_notes": row.health_notes,
                "social_notes": row.social_notes,
                "contacts": row.contacts,
                "consent": row.consent,
                "last_review_at": iso(row.last_review_at),
            }
        )
    return body


def plan_json(row: CarePlanRow) -> dict[str, Any]:
    """One care-plan version."""
    return {
        "version": row.version,
        "care_level": row.care_level,
        "devices": row.devices,
        "check_in_deadline": row.check_in_deadline,
        "wellbeing_call_every_days": row.wellbeing_call_every_days,
        "escalate_to_contact_after_min": row.escalate_to_contact_after_min,
        "escalate_to_112_after_min": row.escalate_to_112_after_min,
        "review_every_days": row.review_every_days,
        "notes": row.notes,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        **plan_rules_json(row),
    }


def plan_rules_json(row: CarePlanRow) -> dict[str, Any]:
    """The version's alarm rules: in force, changed by people, and the level's defaults."""
    deadline = rules.parse_time("check-in deadline", row.check_in_deadline)
    level_deadline = care_defaults(row.care_level).check_in_deadline
    return {
        "rules": rules.rules_json(rules.effective_rules(deadline, row.rules)),
        "rule_overrides": dict(row.rules or {}),
        "rule_defaults": rules.rules_json(rules.rule_defaults(level_deadline)),
    }


async def order_json(
    session: AsyncSession, order: WorkOrderRow, service: ServiceRow, now: datetime
) -> dict[str, Any]:
    """A work order with its checklist and SLA status; each device line says how the unit
    reports (``protocol``: our own agent over MQTT, or a certified unit's ``scaip`` /
    ``dc09``, known once it is paired)."""
    checklist = await installation.checklist_of(session, order)
    protocols = await installation.unit_protocols(
        session, [line.device_id for line in checklist.devices if line.kind in RECEIVER_KINDS]
    )
    return {
        "at_door": await _at_door(session, service),
        "id": order.id,
        "reference": service.reference,
        "service_state": service.state,
        "person_name": service.person_name,
        "resident_id": service.resident_id,
        "address": f"{service.street}, {service.postcode} {service.municipality}",
        "created_at": iso(order.created_at),
        "due_at": iso(order.due_at),
        "due_status": due_status(order.due_at, order.completed_at, now),
        "installer": order.installer,
        "started_at": iso(order.started_at),
        "completed_at": iso(order.completed_at),
        "devices": [
            {
                "kind": line.kind,
                "device_id": line.device_id,
                "protocol": (
                    protocols.get(line.device_id or "") if line.kind in RECEIVER_KINDS else "agent"
                ),
                "paired_at": iso(line.paired_at),
                "first_message_at": iso(line.first_message_at),
                "done": line.done,
            }
            for line in checklist.devices
        ],
        "items": {
            item: iso(checklist.item_done_at(item))
            for item in (
                "test_alarm",
                "tablet_provisioned",
                "key_safe_recorded",
                "resident_trained",
            )
        },
        "missing": list(checklist.missing()),
        "complete": checklist.complete,
        "tablet_paired": checklist.tablet_paired,
    }


async def _at_door(session: AsyncSession, service: ServiceRow) -> dict[str, Any]:
    """What the installer needs at the door: the person's phone, how to get in, and whom
    to call (the key holders first), from the registry once the person is a resident."""
    resident = (
        None if service.resident_id is None else await session.get(Resident, service.resident_id)
    )
    home = None if resident is None else await session.get(Home, resident.home_id)
    if resident is not None:
        rows = await session.scalars(
            select(Contact).where(Contact.resident_id == resident.id).order_by(Contact.priority)
        )
        contacts = [
            {
                "name": c.name,
                "phone": c.phone,
                "relationship": c.relationship_,
                "relationship_other": c.relationship_other,
                "key_holder": c.is_key_holder,
            }
            for c in rows
        ]
    else:
        contacts = [
            {
                "name": str(c.get("name", "")),
                "phone": str(c.get("phone", "")),
                "relationship": str(c.get("relationship", "")),
                "relationship_other": str(c.get("relationship_other", "")),
                "key_holder": bool(c.get("key_holder")),
            }
            for c in service.contacts
        ]
    contacts.sort(key=lambda c: not c["key_holder"])  # stable: key holders first, in order
    return {
        "phone": service.phone,
        "access_notes": home.access_notes if home is not None else "",
        "has_key_safe": home is not None and home.key_safe_code_enc is not None,
        "contacts": contacts,
    }


def _now(request: web.Request) -> datetime:
    return request.app[CLOCK]()


def _text(data: dict[str, Any], key: str, limit: int = 4000) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"{key} must be text")
    return value.strip()[:limit]


def _date_or_none(data: dict[str, Any], key: str) -> date | None:
    raw = data.get(key)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ApiError(422, "invalid_date", f"{key} must be a date YYYY-MM-DD") from None


# ---------------------------------------------------------------- public: application and status

# Public endpoints, per client address (counted before anything is checked, atomically):
# applications, and status checks (a reference and check value must not be guessed).
APPLY_LIMIT = Limit("service.apply", 10, timedelta(hours=1))
STATUS_LIMIT = Limit("service.status", 20, timedelta(minutes=15))


async def _count_public_try(request: web.Request, limit: Limit) -> None:
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    async with request.app[SESSIONMAKER]() as session:
        slot = await take(session, limit, address, request.app[CLOCK]())
        await session.commit()
    if not slot.allowed:
        raise too_many_attempts(slot.retry_after_s, "tries")


@public("the online application form; limited per address, tells nobody who is known")
async def submit_application(request: web.Request) -> web.Response:
    """The public online form (the person, a relative or a social worker)."""
    await _count_public_try(request, APPLY_LIMIT)
    return await _submit(request, actor="public")


@requires(*ASSESSORS)
async def submit_referral(request: web.Request) -> web.Response:
    """A referral typed in by social services staff."""
    return await _submit(request, actor=current_user(request).username)


async def _submit(request: web.Request, actor: str) -> web.Response:
    data = await read_checked(request, bodies.ReferralBody)
    now = _now(request)
    try:
        form = parse_referral(data, now.date())
    except ReferralInvalid as err:
        raise api_error(request, err) from None
    public = actor == "public"
    async with transaction(request) as session:
        # The public gets the same answer whether or not the person is already known (an
        # open referral, a client, a namesake): a duplicate is stored flagged and the
        # centre reconciles it, so nothing the applicant wrote is lost (issue 19).
        row, check = await store.submit_referral(
            session, form, actor=actor, now=now, keep_open_duplicates=public
        )
        body: dict[str, Any] = {
            "reference": row.reference,
            "check_value": check,
            "state": row.state,
        }
        if not public:
            body["flagged_as_possible_duplicate"] = bool(row.possible_duplicates)
    return web.json_response(body, status=201)


@public("status by reference and check value; limited per address")
async def application_status(request: web.Request) -> web.Response:
    """Status of an application by reference + check value; no personal data."""
    await _count_public_try(request, STATUS_LIMIT)
    data = await read_checked(request, bodies.StatusQuery)
    reference = _text(data, "reference", 20).upper()
    check = _text(data, "check", 12)
    lang = _lang(request)
    async with request.app[SESSIONMAKER]() as session:
        row = await session.scalar(select(ServiceRow).where(ServiceRow.reference == reference))
    # The same answer for an unknown reference and a wrong check value.
    if row is None or not check_value_matches(reference, check, row.check_hash):
        raise ApiError(404, "not_found", CATALOG.text("status_not_found", lang))
    return web.json_response(
        {
            "reference": row.reference,
            "state": row.state,
            "state_text": CATALOG.text(f"state_{row.state}", lang),
            "updated_at": iso(row.updated_at),
        }
    )


# ---------------------------------------------------------------- staff: referrals


@requires(*READERS)
async def list_referrals(request: web.Request) -> web.Response:
    """Referrals and services, newest first; ``?state=`` filters."""
    state = request.query.get("state")
    query = select(ServiceRow).order_by(ServiceRow.referred_at.desc()).limit(500)
    if state:
        query = query.where(ServiceRow.state.in_(state.split(",")))
    now = _now(request)
    async with request.app[SESSIONMAKER]() as session:
        rows = list(await session.scalars(query))
    return web.json_response({"services": [service_json(r, now) for r in rows]})


@requires(*READERS)
async def get_referral(request: web.Request) -> web.Response:
    """One service with its history, plan versions and work orders."""
    now = _now(request)
    async with transaction(request) as session:
        row = await store.get_service(session, request.match_info["reference"])
        history = await session.scalars(
            select(StateChangeRow)
            .where(StateChangeRow.service_id == row.id)
            .order_by(StateChangeRow.id)
        )
        plans = await session.scalars(
            select(CarePlanRow)
            .where(CarePlanRow.service_id == row.id)
            .order_by(CarePlanRow.version)
        )
        orders = await session.scalars(
            select(WorkOrderRow.id)
            .where(WorkOrderRow.service_id == row.id)
            .order_by(WorkOrderRow.id)
        )
        body = service_json(row, now, detail=True)
        body["history"] = [
            {
                "action": h.action,
                "from": h.from_state,
                "to": h.to_state,
                "at": iso(h.at),
                "actor": h.actor,
                "details": h.details,
            }
            for h in history
        ]
        body["care_plans"] = [plan_json(p) for p in plans]
        body["work_orders"] = list(orders)
        # Health and social notes of a person: every read is audited (committed with the
        # transaction, before the answer is sent).
        await record_audit(
            session, current_user(request).username, "service.read", f"service:{row.reference}",
            at=now,
        )  # fmt: skip
    return web.json_response(body)


Action = Callable[[AsyncSession, ServiceRow, dict[str, Any], str, datetime], Awaitable[Any]]


async def _on_service(
    request: web.Request, action: Action, schema: type[msgspec.Struct] | None = None
) -> web.Response:
    if not request.body_exists:
        data: dict[str, Any] = {}
    elif schema is None:
        data = await read_json_object(request)
    elif schema is bodies.CarePlanEdit:  # the plan rules' own refusal, for types too
        data = await read_checked(request, schema, refusal=(422, "invalid_care_plan"))
    else:
        data = await read_checked(request, schema)
    user = current_user(request)
    now = _now(request)
    async with transaction(request) as session:
        row = await store.get_service(session, request.match_info["reference"], for_update=True)
        result = await action(session, row, data, user.username, now)
        body = service_json(row, now)
        if result is not None:
            body["result"] = result
        resident_id = row.resident_id
    if resident_id is not None:
        # Plan, contacts or state may have changed: the alarm rules take it now.
        await resident_changed(request.app, resident_id)
    return web.json_response(body)


@requires(*ASSESSORS)
async def assess(request: web.Request) -> web.Response:
    """Record the assessment and the care level (plan version 1)."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        link = d.get("link_resident_id")
        if link is not None and not isinstance(link, int):
            raise ApiError(400, "invalid_field", "link_resident_id must be a number")
        decision = store.Assessment(
            care_level=_text(d, "care_level", 8),
            abss_area=_text(d, "abss_area", 32),
            notes=_text(d, "notes"),
            access_notes=_text(d, "access_notes", 2000),
            link_resident_id=link,
            confirm_new_person=d.get("confirm_new_person") is True,
        )
        plan = await store.assess(s, row, decision, actor=who, now=now)
        return {"care_plan_version": plan.version, "devices": list(plan.devices)}

    return await _on_service(request, act, bodies.AssessBody)


@requires(*ASSESSORS)
async def edit_care_plan(request: web.Request) -> web.Response:
    """A new version of the care plan."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        plan = await store.edit_plan(s, row, dict(d), actor=who, now=now)
        return {"care_plan_version": plan.version}

    return await _on_service(request, act, bodies.CarePlanEdit)


@requires(*ASSESSORS)
async def change_care_level(request: web.Request) -> web.Response:
    """A new care level (new plan version, social-record event when running)."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        plan = await store.change_level(s, row, _text(d, "care_level", 8), actor=who, now=now)
        return {"care_plan_version": plan.version}

    return await _on_service(request, act, bodies.CareLevelBody)


@requires(*READERS)
async def change_address_form(request: web.Request) -> web.Response:
    """How the person is addressed: ``{"address_form": "masculine"}`` (ADR 0170)."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        form = _text(d, "address_form")
        before = await changes.change_address_form(s, row, form, actor=who, now=now)
        return {"address_form": form, "was": before}

    return await _on_service(request, act, bodies.AddressFormBody)


@requires(*COORDINATORS)
async def create_work_order(request: web.Request) -> web.Response:
    """The installation work order, due 72 h after the grant."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        order = await installation.create_work_order(s, row, actor=who, now=now)
        return {"work_order": order.id, "due_at": iso(order.due_at)}

    return await _on_service(request, act)


@requires(*ASSESSORS)
async def suspend(request: web.Request) -> web.Response:
    """Suspend: ``{"reason": "hospital_stay", "resume_on": "2026-04-01"}``."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        reason = d.get("reason")
        await changes.suspend(
            s,
            row,
            reason if isinstance(reason, str) else None,
            _date_or_none(d, "resume_on"),
            actor=who,
            now=now,
        )

    return await _on_service(request, act, bodies.ReasonBody)


@requires(*ASSESSORS)
async def resume(request: web.Request) -> web.Response:
    """End the suspension."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        await changes.resume(s, row, actor=who, now=now)

    return await _on_service(request, act)


@requires(*ASSESSORS)
async def discharge(request: web.Request) -> web.Response:
    """Discharge with a coded reason; the home's devices are marked for collection."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        reason = d.get("reason")
        marked = await changes.discharge(
            s, row, reason if isinstance(reason, str) else None, actor=who, now=now
        )
        return {"devices_to_collect": marked}

    return await _on_service(request, act, bodies.ReasonBody)


@requires(*ASSESSORS)
async def review(request: web.Request) -> web.Response:
    """Record a periodic review."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        await store.record_review(s, row, _text(d, "notes"), actor=who, now=now)

    return await _on_service(request, act, bodies.NotesBody)


@requires(*ASSESSORS)
async def update_contacts(request: web.Request) -> web.Response:
    """Replace the resident's contacts: ``{"contacts": [{name, phone, ...}]}``."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        errors: list[FieldError] = []
        parsed = parse_contacts(d.get("contacts"), errors)
        if errors:
            raise ReferralInvalid(tuple(errors))
        await changes.replace_contacts(s, row, parsed, actor=who, now=now)
        return {"contacts": len(parsed)}

    return await _on_service(request, act, bodies.ContactsBody)


@requires(*FIELD_STAFF, Role.SOCIAL_WORKER, Role.SUPERVISOR, Role.OPERATOR)
async def report_fault(request: web.Request) -> web.Response:
    """A device fault: ``{"device_id": ..., "fault": "no_signal"}`` → maintenance order."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        order = await changes.report_fault(
            s, row, _text(d, "device_id", 64), _text(d, "fault", 16), actor=who, now=now
        )
        return {"maintenance_order": order.id, "due_at": iso(order.due_at)}

    return await _on_service(request, act, bodies.FaultBody)


@requires(*FIELD_STAFF)
async def add_device(request: web.Request) -> web.Response:
    """Add ``{"kind", "device_id"}`` to a running service (credentials shown once if new)."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        device_id = _text(d, "device_id", 64)
        try:
            validate_device_id(device_id)
        except TopicError as err:
            raise ApiError(422, "invalid_device_id", str(err)) from None
        creds = await changes.add_device(
            s, row, _text(d, "kind", 24), device_id, actor=who, now=now
        )
        if creds is None:
            return {"device_id": device_id}
        return {
            "device_id": device_id,
            "credentials": {"username": creds.username, "secret": creds.secret},
        }

    response = await _on_service(request, act, bodies.DeviceLine)
    request_broker_sync(request.app)
    return response


@requires(*FIELD_STAFF)
async def remove_device(request: web.Request) -> web.Response:
    """Remove a device from a running service (revoked, marked for collection)."""

    async def act(
        s: AsyncSession, row: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> Any:
        await changes.remove_device(s, row, request.match_info["device_id"], actor=who, now=now)

    response = await _on_service(request, act)
    request_broker_sync(request.app)
    return response


@requires(*FIELD_STAFF)
async def repair(request: web.Request) -> web.Response:
    """Close a maintenance order."""
    data = await read_checked(request, bodies.RepairBody)
    now = _now(request)
    async with transaction(request) as session:
        order = await changes.repair(
            session,
            _int(request, "order_id"),
            _text(data, "note", 500),
            actor=current_user(request).username,
            now=now,
        )
        body = {"id": order.id, "status": due_status(order.due_at, order.repaired_at, now)}
    return web.json_response(body)


@requires(*FIELD_STAFF, Role.SUPERVISOR)
async def list_maintenance(request: web.Request) -> web.Response:
    """Maintenance orders (open ones first) with their due status."""
    now = _now(request)
    async with request.app[SESSIONMAKER]() as session:
        rows = list(
            await session.scalars(
                select(MaintenanceOrderRow).order_by(
                    MaintenanceOrderRow.repaired_at.is_not(None), MaintenanceOrderRow.due_at
                )
            )
        )
    return web.json_response(
        {
            "orders": [
                {
                    "id": m.id,
                    "device_id": m.device_id,
                    "fault": m.fault,
                    "reported_at": iso(m.reported_at),
                    "due_at": iso(m.due_at),
                    "repaired_at": iso(m.repaired_at),
                    "status": due_status(m.due_at, m.repaired_at, now),
                }
                for m in rows
            ]
        }
    )


# ---------------------------------------------------------------- work orders


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ApiError(404, "not_found", f"no such {name}") from None


@requires(*FIELD_STAFF)
async def list_work_orders(request: web.Request) -> web.Response:
    """Work orders; ``?open=1`` only those not complete."""
    now = _now(request)
    query = select(WorkOrderRow).order_by(WorkOrderRow.due_at)
    if request.query.get("open") == "1":
        query = query.where(WorkOrderRow.completed_at.is_(None))
    async with transaction(request) as session:
        orders = []
        for order in list(await session.scalars(query)):
            service = await session.get(ServiceRow, order.service_id)
            assert service is not None
            if service.state == "discharged" and order.completed_at is None:
                continue
            orders.append(await order_json(session, order, service, now))
    return web.json_response({"work_orders": orders})


WorkOrderAction = Callable[
    [AsyncSession, WorkOrderRow, ServiceRow, dict[str, Any], str, datetime], Awaitable[None]
]


async def _on_order(
    request: web.Request,
    action: WorkOrderAction | None,
    extra: dict[str, Any] | None = None,
    schema: type[msgspec.Struct] | None = None,
) -> web.Response:
    if request.method != "POST" or not request.can_read_body:
        data: dict[str, Any] = {}
    elif schema is None:
        data = await read_json_object(request)
    else:
        data = await read_checked(request, schema)
    now = _now(request)
    async with transaction(request) as session:
        order, service = await installation.get_order(session, _int(request, "order_id"))
        if action is not None:
            await action(session, order, service, data, current_user(request).username, now)
        # Whatever was done, the hub checks what it has heard from the devices.
        await installation.confirm(session, order, service, now=now)
        body = await order_json(session, order, service, now)
        resident_id = service.resident_id
    if resident_id is not None:  # devices, tablet or the service's state changed
        await resident_changed(request.app, resident_id)
    body.update(extra or {})
    return web.json_response(body)


@requires(*FIELD_STAFF)
async def get_work_order(request: web.Request) -> web.Response:
    """A work order and its checklist."""
    return await _on_order(request, None)


@requires(*FIELD_STAFF)
async def start_work_order(request: web.Request) -> web.Response:
    """The installer starts the installation."""

    async def act(
        s: AsyncSession, o: WorkOrderRow, r: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> None:
        await installation.start(s, o, r, actor=who, now=now)

    return await _on_order(request, act)


@requires(*FIELD_STAFF)
async def pair_device(request: web.Request) -> web.Response:
    """Pair ``{"kind": "pendant", "device_id": "pd-123"}`` to the order's line."""

    extra: dict[str, Any] = {}

    async def act(
        s: AsyncSession, o: WorkOrderRow, r: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> None:
        device_id = _text(d, "device_id", 64)
        try:
            validate_device_id(device_id)
        except TopicError as err:
            raise ApiError(422, "invalid_device_id", str(err)) from None
        creds = await installation.pair(
            s, o, r, _text(d, "kind", 24), device_id, actor=who, now=now
        )
        if creds is not None:
            # Shown once: the installer types it into the device; only its hash is kept.
            extra["credentials"] = {"username": creds.username, "secret": creds.secret}

    response = await _on_order(request, act, extra, bodies.DeviceLine)
    if "credentials" in extra:
        request_broker_sync(request.app)  # the broker learns the new device's password
    return response


@requires(*FIELD_STAFF)
async def tick_item(request: web.Request) -> web.Response:
    """Tick a checklist item; ``key_safe_recorded`` takes ``{"code": "1234"}`` (encrypted)."""
    item = request.match_info["item"]

    async def act(
        s: AsyncSession, o: WorkOrderRow, r: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> None:
        if item == "key_safe_recorded":
            code = _text(d, "code", 32)
            if not code:
                raise ApiError(422, "code_required", "the key-safe code is required")
            await store.keysafe_store(s, r, request.app[KEYSAFE], code)
        await installation.tick(s, o, r, item, actor=who, now=now)

    return await _on_order(request, act, schema=bodies.ChecklistTick)


@requires(*FIELD_STAFF)
async def confirm_work_order(request: web.Request) -> web.Response:
    """Ask the hub to check first messages and the test alarm now."""

    async def act(
        s: AsyncSession, o: WorkOrderRow, r: ServiceRow, d: dict[str, Any], who: str, now: datetime
    ) -> None:
        return None

    return await _on_order(request, act)


# ---------------------------------------------------------------- figures and queries


@requires(Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR)
async def figures(request: web.Request) -> web.Response:
    """The managers' figures."""
    async with request.app[SESSIONMAKER]() as session:
        result = await load_figures(session, _now(request))
    return web.json_response(dataclasses.asdict(result))


@requires(*READERS)
async def list_reviews_due(request: web.Request) -> web.Response:
    """Reviews due within 30 days, or late."""
    async with request.app[SESSIONMAKER]() as session:
        due = await reviews_due(session, _now(request))
    return web.json_response(
        {
            "reviews": [
                {
                    "reference": d.reference,
                    "person_name": d.person_name,
                    "due_at": iso(d.due_at),
                    "overdue": d.overdue,
                }
                for d in due
            ]
        }
    )


@requires(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.COORDINATOR, Role.SOCIAL_WORKER)
async def resident_paused(request: web.Request) -> web.Response:
    """``{"paused": bool}``: whether the resident's alarms and check-ins are paused."""
    at = _now(request)
    if "at" in request.query:
        try:
            at = datetime.fromisoformat(request.query["at"])
        except ValueError:
            raise ApiError(400, "invalid_at", "at must be an ISO 8601 time with a zone") from None
        if at.tzinfo is None:
            raise ApiError(400, "invalid_at", "at must be an ISO 8601 time with a zone")
    async with request.app[SESSIONMAKER]() as session:
        paused = await is_service_paused(session, _int(request, "resident_id"), at)
    return web.json_response({"paused": paused})
