"""Operations of the service lifecycle API (``/api/service``: referral to discharge).

Bodies are :mod:`hub.service.bodies`; answers are the JSON :mod:`hub.service.api` builds,
checked against these schemas by ``tests/hub/api/test_openapi_answers.py``. Domain refusals:
404 unknown reference, 409 a step the service's state does not allow (or a value the care
rules refuse), 422 a form or plan with wrong values (``errors`` lists the fields).
"""

from __future__ import annotations

from typing import get_args

from hub.api.described import (
    ANY_OBJECT,
    BOOL,
    DATE,
    ID32,
    INT,
    STR,
    TIME,
    Op,
    Schema,
    array,
    enum,
    nullable,
    obj,
    query,
    ref,
)
from hub.service import bodies
from hub.service.codes import ChecklistItem, ServiceState
from hub.service.figures import Figures
from protocol import ADDRESS_FORMS

STATE = enum(*get_args(ServiceState))
DUE = enum("open", "overdue", "done_on_time", "done_late")
_SUMMARY = {
    "reference": STR,
    "state": STATE,
    "person_name": STR,
    "municipality": STR,
    "abss_area": STR,
    "applicant_kind": STR,
    "care_level": nullable(STR),
    "resident_id": nullable(INT),
    "possible_duplicates": nullable(array(STR)),
    "referred_at": nullable(TIME),
    "granted_at": nullable(TIME),
    "activated_at": nullable(TIME),
    "discharged_at": nullable(TIME),
    "discharge_reason": nullable(STR),
    "installation": nullable(obj(("due_at", "status"), due_at=TIME, status=DUE)),
}
_REQUIRED = ("reference", "state", "person_name", "installation")
_DETAIL = {
    "applicant_name": STR,
    "applicant_phone": STR,
    "applicant_email": STR,
    "referred_by": STR,
    "birth_date": nullable(DATE),
    "id_document": STR,
    "cip": STR,  # the health card (CatSalut)
    "social_file": STR,  # the social-services file number
    "phone": STR,
    "language": STR,
    "address_form": enum(*ADDRESS_FORMS),  # how ca/es words address the person
    "street": STR,
    "postcode": STR,
    "lives_alone": BOOL,
    "mobility": STR,
    "falls_last_year": INT,
    "health_notes": STR,
    "social_notes": STR,
    "contacts": array(ANY_OBJECT),
    "consent": nullable(ANY_OBJECT),
    "last_review_at": nullable(TIME),
}
_CARE_PLAN = obj(
    ("version", "care_level", "devices", "created_at", "created_by"),
    version=INT,
    care_level=STR,
    devices=array(STR),
    check_in_deadline=nullable(STR),
    wellbeing_call_every_days=nullable(INT),
    escalate_to_contact_after_min=nullable(INT),
    escalate_to_112_after_min=nullable(INT),
    review_every_days=nullable(INT),
    notes=STR,
    created_at=TIME,
    created_by=STR,
    # The version's alarm rules: in force, changed by people, and the care level's defaults.
    rules=ANY_OBJECT,
    rule_overrides=ANY_OBJECT,
    rule_defaults=ANY_OBJECT,
)

COMPONENTS: dict[str, Schema] = {
    "ResidentRules": obj(
        ("reference", "version", "care_level", "editable", "rules"),
        reference=STR,
        version=INT,
        care_level=STR,
        editable=BOOL,
        rules=ANY_OBJECT,
        rule_overrides=ANY_OBJECT,
        rule_defaults=ANY_OBJECT,
    ),
    "Service": obj(_REQUIRED, **_SUMMARY),
    # An action's answer: the service after it, and what the action made (if anything).
    "ServiceAfter": obj(_REQUIRED, **_SUMMARY, result=ANY_OBJECT),
    "ServiceDetail": obj(
        (*_REQUIRED, "history", "care_plans", "work_orders"),
        **_SUMMARY,
        **_DETAIL,
        history=array(
            obj(
                ("action", "from", "to", "at", "actor"),
                action=STR,
                to=STR,
                at=TIME,
                actor=STR,
                details=nullable(ANY_OBJECT),
                **{"from": nullable(STR)},
            )
        ),
        care_plans=array(_CARE_PLAN),
        work_orders=array(INT),
    ),
    "WorkOrder": obj(
        ("id", "reference", "service_state", "due_at", "due_status", "devices", "items"),
        id=INT,
        reference=STR,
        service_state=STATE,
        person_name=STR,
        resident_id=nullable(INT),
        address=STR,
        created_at=TIME,
        due_at=TIME,
        due_status=DUE,
        installer=nullable(STR),
        started_at=nullable(TIME),
        completed_at=nullable(TIME),
        devices=array(
            obj(
                ("kind", "device_id", "done"),
                kind=STR,
                device_id=nullable(STR),
                protocol=nullable(STR),
                paired_at=nullable(TIME),
                first_message_at=nullable(TIME),
                done=BOOL,
            )
        ),
        items={"type": "object", "additionalProperties": nullable(TIME)},
        missing=array(STR),
        complete=BOOL,
        tablet_paired=BOOL,
        at_door=obj(
            ("phone", "access_notes", "has_key_safe", "contacts"),
            phone=STR,
            access_notes=STR,
            has_key_safe=BOOL,
            contacts=array(
                obj(
                    ("name", "phone", "relationship", "key_holder"),
                    name=STR,
                    phone=STR,
                    relationship=STR,
                    relationship_other=STR,  # the words, where the code is "other"
                    key_holder=BOOL,
                )
            ),
        ),
        credentials=obj(("username", "secret"), username=STR, secret=STR),
    ),
}

_REF = {"reference": {"type": "string", "minLength": 1, "maxLength": 64}}
_ORDER = {"order_id": ID32}


def _action(summary: str, body: type | None, *errors: int, status: int = 200) -> Op:
    """A step on one service: the service after it (``result``: what the step made)."""
    return Op(
        summary,
        ref("ServiceAfter"),
        status=status,
        body=body,
        body_required=body is not None,
        path=_REF,
        errors=(400, 404, 409, 422, *errors),
    )


def _order(summary: str, body: type | None = None, **path: Schema) -> Op:
    return Op(
        summary,
        ref("WorkOrder"),
        body=body,
        body_required=False,
        path={**_ORDER, **path},
        errors=(400, 404, 409, 422),
    )


_SUBMITTED = obj(
    ("reference", "check_value", "state"),
    reference=STR,
    check_value=STR,
    state=STATE,
    flagged_as_possible_duplicate=BOOL,
)

OPERATIONS: dict[tuple[str, str], Op] = {
    ("POST", "/api/service/applications"): Op(
        "The public online application (the person, a relative or a social worker)",
        _SUBMITTED,
        status=201,
        body=bodies.ReferralBody,
        errors=(400, 422, 429),
        description="Answers the reference and a check value: with both, the applicant asks"
        " the status. Limited per client address.",
    ),
    ("POST", "/api/service/applications/status"): Op(
        "Status of an application by reference and check value (no personal data)",
        obj(
            ("reference", "state", "state_text", "updated_at"),
            reference=STR,
            state=STATE,
            state_text=STR,
            updated_at=nullable(TIME),
        ),
        body=bodies.StatusQuery,
        errors=(400, 404, 429),
    ),
    ("GET", "/api/service/referrals"): Op(
        "Referrals and services, newest first (at most 500)",
        obj(("services",), services=array(ref("Service"))),
        query=(query("state", STR, "only these states, comma-separated"),),
    ),
    ("POST", "/api/service/referrals"): Op(
        "A referral typed in by social services staff (the same form as the public one)",
        _SUBMITTED,
        status=201,
        body=bodies.ReferralBody,
        errors=(400, 409, 422),
    ),
    ("GET", "/api/service/referrals/{reference}"): Op(
        "One service with its history, care-plan versions and work orders",
        ref("ServiceDetail"),
        path=_REF,
        errors=(404,),
    ),
    ("POST", "/api/service/referrals/{reference}/assess"): _action(
        "Record the assessment and the care level (care plan version 1)", bodies.AssessBody
    ),
    ("POST", "/api/service/referrals/{reference}/care-plan"): _action(
        "A new version of the care plan", bodies.CarePlanEdit
    ),
    ("POST", "/api/service/referrals/{reference}/care-level"): _action(
        "A new care level (a new plan version; the social record is told when running)",
        bodies.CareLevelBody,
    ),
    ("POST", "/api/service/referrals/{reference}/address-form"): _action(
        "How the person is addressed (on the referral and the resident; audited)",
        bodies.AddressFormBody,
    ),
    ("POST", "/api/service/referrals/{reference}/work-order"): _action(
        "The installation work order, due 72 h after the grant", None
    ),
    ("POST", "/api/service/referrals/{reference}/suspend"): _action(
        "Suspend the service (alarms and check-ins paused)", bodies.ReasonBody
    ),
    ("POST", "/api/service/referrals/{reference}/resume"): _action("End the suspension", None),
    ("POST", "/api/service/referrals/{reference}/discharge"): _action(
        "Discharge with a coded reason; the home's devices are marked for collection",
        bodies.ReasonBody,
    ),
    ("POST", "/api/service/referrals/{reference}/review"): _action(
        "Record a periodic review", bodies.NotesBody
    ),
    ("PUT", "/api/service/referrals/{reference}/contacts"): _action(
        "Replace the resident's contacts", bodies.ContactsBody
    ),
    ("POST", "/api/service/referrals/{reference}/faults"): _action(
        "Report a device fault: a maintenance order", bodies.FaultBody
    ),
    ("POST", "/api/service/referrals/{reference}/devices"): _action(
        "Add a device to a running service (broker credentials once, if new)", bodies.DeviceLine
    ),
    ("DELETE", "/api/service/referrals/{reference}/devices/{device_id}"): Op(
        "Remove a device from a running service (revoked, marked for collection)",
        ref("ServiceAfter"),
        path=_REF,
        errors=(400, 404, 409, 422),
    ),
    ("GET", "/api/service/maintenance"): Op(
        "Maintenance orders, open ones first, with their due status",
        obj(
            ("orders",),
            orders=array(
                obj(
                    ("id", "device_id", "fault", "reported_at", "due_at", "status"),
                    id=INT,
                    device_id=STR,
                    fault=STR,
                    reported_at=TIME,
                    due_at=TIME,
                    repaired_at=nullable(TIME),
                    status=DUE,
                )
            ),
        ),
    ),
    ("POST", "/api/service/maintenance/{order_id}/repair"): Op(
        "Close a maintenance order",
        obj(("id", "status"), id=INT, status=DUE),
        body=bodies.RepairBody,
        path=_ORDER,
        errors=(400, 404, 409),
    ),
    ("GET", "/api/service/work-orders"): Op(
        "Installation work orders by due time (?open=1: only those not complete)",
        obj(("work_orders",), work_orders=array(ref("WorkOrder"))),
        query=(query("open", enum("1"), "only open orders"),),
    ),
    ("GET", "/api/service/work-orders/{order_id}"): Op(
        "A work order and its checklist",
        ref("WorkOrder"),
        path=_ORDER,
        errors=(404,),
    ),
    ("POST", "/api/service/work-orders/{order_id}/start"): _order("The installer starts"),
    ("POST", "/api/service/work-orders/{order_id}/devices"): _order(
        "Pair a device to the order's line (credentials once, if new)", bodies.DeviceLine
    ),
    ("POST", "/api/service/work-orders/{order_id}/items/{item}"): _order(
        "Tick a checklist item (key_safe_recorded takes the code, stored encrypted)",
        bodies.ChecklistTick,
        item=enum(*get_args(ChecklistItem)),
    ),
    ("POST", "/api/service/work-orders/{order_id}/confirm"): _order(
        "Check first messages and the test alarm now"
    ),
    ("GET", "/api/service/figures"): Op("The managers' figures", Figures),
    ("GET", "/api/service/reviews"): Op(
        "Reviews due within 30 days, or late",
        obj(
            ("reviews",),
            reviews=array(
                obj(
                    ("reference", "person_name", "due_at", "overdue"),
                    reference=STR,
                    person_name=STR,
                    due_at=TIME,
                    overdue=BOOL,
                )
            ),
        ),
    ),
    ("GET", "/api/service/residents/{resident_id}/paused"): Op(
        "Whether the resident's alarms and check-ins are paused (now, or ?at=)",
        obj(("paused",), paused=BOOL),
        query=(query("at", TIME, "the instant (default now)"),),
        path={"resident_id": ID32},
        errors=(400, 404),
    ),
    ("GET", "/api/service/residents/{resident_id}/rules"): Op(
        "The resident's alarm rules: in force, changed by people, the care level's defaults",
        ref("ResidentRules"),
        path={"resident_id": ID32},
        errors=(404,),
    ),
    ("POST", "/api/service/residents/{resident_id}/rules"): Op(
        "Change some of the resident's alarm rules (a new care-plan version)",
        ref("ResidentRules"),
        body=bodies.RulesEdit,
        path={"resident_id": ID32},
        errors=(400, 404, 409, 422),
    ),
    ("POST", "/api/service/referrals/{reference}/consent/social-record"): Op(
        "The resident gives or withdraws consent to the social record (through the centre)",
        obj(
            (*_REQUIRED, "social_record"),
            **_SUMMARY,
            social_record=obj(
                ("given", "changed_at", "withheld_events"),
                given=BOOL,
                changed_at=nullable(TIME),
                withheld_events=INT,
            ),
        ),
        body=bodies.SocialRecordConsent,
        path=_REF,
        errors=(400, 404, 422),
    ),
    ("PUT", "/api/service/referrals/{reference}/circle/{link_id}"): Op(
        "What one member of the circle may see, set on the resident's behalf",
        ref("CircleLink"),
        body=bodies.CircleConsent,
        path={**_REF, "link_id": ID32},
        errors=(400, 404, 409, 422),
    ),
    ("DELETE", "/api/service/referrals/{reference}/circle/{link_id}"): Op(
        "Take a member out of the circle on the resident's behalf",
        obj(("removed",), removed=INT),
        body=bodies.ReasonOnly,
        body_required=False,
        path={**_REF, "link_id": ID32},
        errors=(400, 404, 409, 422),
    ),
    ("POST", "/api/service/referrals/{reference}/circle/codes"): Op(
        "A linking code for a new circle member, made on the resident's behalf",
        ref("LinkCode"),
        status=201,
        body=bodies.CircleConsent,
        path=_REF,
        errors=(400, 404, 409, 422),
    ),
}
