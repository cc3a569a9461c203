"""Request bodies of the service lifecycle API (``/api/service``).

Each handler checks its body with its struct (:func:`hub.http.read_checked`) before the
domain reads it, and the OpenAPI document describes the bodies from these structs (ADR 0015).
Types only where the domain answers the values itself: the referral form's fields are
checked by :func:`hub.service.referral.parse_referral`, which lists every problem at once
(422 ``referral_invalid``), and a care plan's values by the care-plan rules. Forms of the
service pages send their named inputs: unknown fields are refused only where the form's
inputs are exactly the struct's fields (the application and status forms, the care plan).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from hub.auth.bodies import NO_NUL
from hub.family.consent import Scope
from hub.service.codes import ApplicantKind, DeviceKind, Mobility

Flag = bool | str  # a checkbox: true/false, or "1"/"true"/"on"/"yes" from a form
Short = Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
LongText = Annotated[str, Meta(max_length=20000, pattern=NO_NUL)]


class ContactLine(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A contact of the person (empty rows are skipped)."""

    name: Short = ""
    phone: Short = ""
    relationship: Short = ""
    relationship_other: Short = ""
    key_holder: Flag = False


class ReferralBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/service/applications`` and ``/api/service/referrals``: the application.

    Required by the form's rules (422 with a list of ``{field, code, message}``):
    ``applicant_kind``, ``person_name`` (3-200 characters), ``birth_date`` (YYYY-MM-DD),
    ``street``, ``postcode`` (5 digits), ``municipality``, one to five ``contacts`` and
    ``consent_data: true``; ``applicant_name`` for a relative or social worker, and
    ``applicant_phone`` for a relative. ``id_document`` is a DNI/NIE with its letter; ``cip``
    a health card code (4 letters, 10 digits); ``social_file`` a social-services file number.
    A contact's ``relationship`` is a code (``daughter``, ``neighbour_f``…, ``other`` with
    ``relationship_other``); a word typed in ca/es/en is coded the same way.
    No control characters anywhere (they would travel to 112).
    """

    applicant_kind: ApplicantKind | None = None
    applicant_name: Short = ""
    applicant_phone: Short = ""
    applicant_email: Short = ""
    person_name: Short = ""
    birth_date: Short = ""
    id_document: Short = ""
    cip: Short = ""
    social_file: Short = ""
    phone: Short = ""
    language: Short = ""
    address_form: Short = ""
    street: Short = ""
    postcode: Short = ""
    municipality: Short = ""
    lives_alone: Flag = False
    mobility: Mobility | None = None
    falls_last_year: Annotated[int, Meta(ge=0, le=100)] | str | None = None
    health_notes: Short = ""
    social_notes: Short = ""
    contacts: Annotated[list[ContactLine], Meta(max_length=20)] = []
    consent_data: Flag = False
    consent_share_with_family: Flag = False
    consent_social_record: Flag = False


class StatusQuery(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/service/applications/status``: the reference and check value given when
    the application was made (the same 404 for an unknown reference and a wrong check)."""

    reference: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] = ""
    check: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] = ""


class AssessBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../assess``: the care level and area; a referral matching an existing resident
    links to them (``link_resident_id``) or says it is someone new (``confirm_new_person``)."""

    # basic, medium or high (409 otherwise)
    care_level: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
    abss_area: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] = ""
    notes: Annotated[str, Meta(max_length=20000, pattern=NO_NUL)] = ""
    link_resident_id: Annotated[int, Meta(ge=1, le=2_147_483_647)] | None = None
    confirm_new_person: bool = False
    # How to get in (floor, door, intercom, who opens): kept on the home for the installer
    access_notes: Annotated[str, Meta(max_length=2000, pattern=NO_NUL)] = ""


class CarePlanEdit(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST .../care-plan``: a new plan version with the fields sent changed (a wrong type
    or an unknown field is 422 ``invalid_care_plan``, as a value the plan rules refuse)."""

    devices: list[DeviceKind] | msgspec.UnsetType = msgspec.UNSET
    check_in_deadline: Annotated[str, Meta(pattern="^[0-9]{2}:[0-9]{2}$")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    wellbeing_call_every_days: Annotated[int, Meta(ge=0, le=2_147_483_647)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    escalate_to_contact_after_min: (
        Annotated[int, Meta(ge=0, le=2_147_483_647)] | msgspec.UnsetType
    ) = msgspec.UNSET
    escalate_to_112_after_min: Annotated[int, Meta(ge=0, le=2_147_483_647)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    review_every_days: Annotated[int, Meta(ge=0, le=2_147_483_647)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    notes: Annotated[str, Meta(max_length=20000, pattern=NO_NUL)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    # The alarm rules this person needs changed (docs/alerts.md): checked by the rules
    # themselves, which name the setting that is wrong.
    rules: Any = msgspec.UNSET


class CareLevelBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../care-level``: basic, medium or high (409 otherwise)."""

    care_level: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]


class AddressFormBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../address-form``: how the person is addressed, one of
    ``protocol.ADDRESS_FORMS`` (422 ``err_choice`` on the field otherwise)."""

    address_form: Short


class ReasonBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../suspend`` (``resume_on`` YYYY-MM-DD, optional) and ``.../discharge``: a coded
    reason (422 ``reason_required`` when missing or unknown)."""

    reason: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] | None = None
    resume_on: Annotated[str, Meta(max_length=32, pattern=NO_NUL)] | None = None


class NotesBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../review``."""

    notes: Annotated[str, Meta(max_length=20000, pattern=NO_NUL)] = ""


class ContactsBody(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT .../contacts``: the resident's contacts, replaced as a whole (1 to 5)."""

    contacts: Annotated[list[ContactLine], Meta(max_length=20)]


class FaultBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../faults``: a device of the service and what is wrong (a maintenance order)."""

    device_id: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
    fault: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]


class DeviceLine(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../devices`` and ``POST /api/service/work-orders/{id}/devices``: a device of a
    kind the plan lists; the answer holds its broker credentials once, if it is new."""

    # a device kind the plan lists (409 otherwise)
    kind: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]
    device_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]


class RepairBody(msgspec.Struct, kw_only=True, frozen=True):
    """``POST /api/service/maintenance/{id}/repair``."""

    note: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] = ""


class ChecklistTick(msgspec.Struct, kw_only=True, frozen=True):
    """``POST /api/service/work-orders/{id}/items/{item}``; ``key_safe_recorded`` needs the
    key-safe ``code`` (stored encrypted)."""

    code: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] | None = None


class SocialRecordConsent(msgspec.Struct, kw_only=True, frozen=True):
    """``POST .../consent/social-record``: the resident gives or withdraws consent, with the
    staff member's reason (5-300 characters, else 422 ``consent_reason_required``)."""

    given: bool
    reason: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] | None = None


class CircleConsent(msgspec.Struct, kw_only=True, frozen=True):
    """``PUT .../circle/{link_id}`` and ``POST .../circle/codes``: what a member may see."""

    consent: list[Scope] = []
    reason: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] | None = None


class ReasonOnly(msgspec.Struct, kw_only=True, frozen=True):
    """``DELETE .../circle/{link_id}``: why the member is taken out."""

    reason: Annotated[str, Meta(max_length=4000, pattern=NO_NUL)] | None = None


CONSENT_CODES = {"$.consent": "consent_invalid", "$.given": "invalid_field"}


class RulesEdit(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/service/residents/{id}/rules``: the rules to change (``null`` puts the
    care level's default back); an object, checked by the rules, which name a wrong setting
    (422, also for a value that is not an object)."""

    rules: Any
