"""Request bodies of the console API (users, wellbeing calls, maintenance, key safe).

The handlers check each body with its struct (:func:`hub.http.read_checked`) before their own
checks, and the OpenAPI document describes the bodies from these same structs (ADR 0015).
A field's own error code is kept through the ``codes`` maps below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from hub.auth.bodies import NO_NUL
from hub.auth.passwords import MIN_PASSWORD_LENGTH
from hub.auth.roles import Role
from hub.http import LINE, TEXT
from protocol.i18n import Language

Password = Annotated[str, Meta(min_length=MIN_PASSWORD_LENGTH, max_length=1024, pattern=NO_NUL)]
Notes = Annotated[str, Meta(max_length=2000, pattern=TEXT)]


class UserCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/admin/users``: a new user (the password follows the password policy)."""

    username: Annotated[str, Meta(min_length=1, max_length=120, pattern=LINE)]
    password: Password
    role: Role
    language: Language = "ca"
    display_name: Annotated[str, Meta(max_length=200, pattern=LINE)] | None = None


class UserChange(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PATCH /api/admin/users/{id}``: only the fields sent change; ``unlock: true`` lifts a
    lock-out. A new password, a disabled account or another role ends the user's sign-ins."""

    role: Role | msgspec.UnsetType = msgspec.UNSET
    language: Language | msgspec.UnsetType = msgspec.UNSET
    display_name: (
        Annotated[str, Meta(min_length=1, max_length=200, pattern=LINE)] | msgspec.UnsetType
    ) = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET
    unlock: bool | msgspec.UnsetType = msgspec.UNSET


USER_CODES = {
    "$.role": "invalid_role",
    "$.language": "invalid_language",
    "$.password": "weak_password",
}


class LanguageBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PUT /api/me/language``."""

    language: Language


LANGUAGE_CODES = {"$.language": "invalid_language"}


class CallPlanned(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/calls``: ``after_discharge`` plans three calls (day 1, 3, 7)."""

    reason: Literal["after_discharge", "other"]
    resident_id: Annotated[int, Meta(ge=1, le=2_147_483_647)]
    due_at: datetime
    notes: Notes = ""


CALL_CODES = {"$.reason": "invalid_reason", "$.due_at": "invalid_due"}


class CallOutcome(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/calls/{id}/outcome`` (once per call)."""

    outcome: Literal["reached_fine", "reached_follow_up", "no_answer", "declined", "other"]
    notes: Notes = ""


OUTCOME_CODES = {"$.outcome": "invalid_outcome"}


class CallPlanBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PUT /api/console/residents/{id}/call-plan``: weekly calls, weekday 1 (Monday) to 7."""

    weekly: bool
    weekday: Annotated[int, Meta(ge=1, le=7)] = 1
    hour: Annotated[int, Meta(ge=0, le=23)] = 11


class TicketStep(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PUT /api/console/maintenance/{alarm_id}``: move the ticket forward (never back);
    ``visit_at`` (with its offset) is required for ``visit_planned``."""

    status: Literal["acknowledged", "visit_planned", "fixed"]
    notes: Notes = ""
    visit_at: datetime | None = None


TICKET_CODES = {"$.status": "invalid_status", "$.visit_at": "visit_required"}


KEYSAFE_CODES = {"$.reason": "reason_required"}


class KeySafeReveal(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/residents/{id}/key-safe``: ``alarm_id`` of an open alarm of this
    resident the caller accepted, or (a supervisor) ``override: true`` with a reason of
    10-200 characters."""

    # Anything else than an open alarm the caller holds is 403 alarm_not_held.
    alarm_id: Annotated[str, Meta(max_length=64, pattern=TEXT)] | int | None = None
    override: bool = False
    reason: Annotated[str, Meta(max_length=200, pattern=TEXT)] | None = None


class ProtocolStep(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/alarms/{id}/protocol-steps``: the key of a step of the alarm's protocol
    (``GET /api/console/protocols``); another key is 400 ``unknown_step``."""

    step: Annotated[str, Meta(min_length=1, max_length=64, pattern=TEXT)]


HealthItem = Annotated[str, Meta(max_length=120, pattern=LINE)]
HealthItems = Annotated[list[HealthItem], Meta(max_length=30)]
# A field of the record may be emptied: no control characters, but no text needed.
MAY_BE_EMPTY = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
HealthLine = Annotated[str, Meta(max_length=200, pattern=MAY_BE_EMPTY)]
HealthText = Annotated[str, Meta(max_length=4000, pattern=MAY_BE_EMPTY)]


class HealthBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PUT /api/console/residents/{id}/health``: the fields to change (others are kept)."""

    allergies: HealthItems | msgspec.UnsetType = msgspec.UNSET
    conditions: HealthItems | msgspec.UnsetType = msgspec.UNSET
    medication: HealthItems | msgspec.UnsetType = msgspec.UNSET
    mobility_aids: HealthItems | msgspec.UnsetType = msgspec.UNSET
    hearing: HealthLine | msgspec.UnsetType = msgspec.UNSET
    sight: HealthLine | msgspec.UnsetType = msgspec.UNSET
    gp: HealthLine | msgspec.UnsetType = msgspec.UNSET
    health_centre: HealthLine | msgspec.UnsetType = msgspec.UNSET
    dnr: bool | msgspec.UnsetType = msgspec.UNSET
    advance_directive: HealthText | msgspec.UnsetType = msgspec.UNSET
    notes: HealthText | msgspec.UnsetType = msgspec.UNSET


# The longest message to a tablet: what fits its screen in large type (the console's form
# counts down to it).
MESSAGE_MAX = 500


class TabletMessage(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/messages``: a spoken and written message from the centre to the
    tablets of these residents ("The nurse comes at 11", "Heat warning: drink water");
    ``language`` None: each resident's own; ``speak`` False: shown, not said aloud;
    ``confirm``: the resident is asked to press "I've read it" and the card waits for it (a
    message without it is complete once shown)."""

    resident_ids: Annotated[
        list[Annotated[int, Meta(ge=1, le=2**31 - 1)]], Meta(min_length=1, max_length=500)
    ]
    text: Annotated[str, Meta(min_length=1, max_length=MESSAGE_MAX, pattern=LINE)]
    language: Language | None = None
    speak: bool = True
    confirm: bool = False


AreaCode = Annotated[str, Meta(min_length=1, max_length=32, pattern=LINE)]


class CampaignFilters(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Who a campaign calls: every field given narrows the population (an unknown field is
    400 ``unknown_filter``). Residents whose service is suspended or ended are never in it.

    ``min_age``: aged at least this (residents without a birth date are left out);
    ``lives_alone``; ``areas``: the home's social-services area (ABSS) codes, e.g. the areas
    of Ciutat Vella; ``care_levels`` and ``mobility``: from the resident's service;
    ``languages``: the resident's language."""

    min_age: Annotated[int, Meta(ge=0, le=120)] | None = None
    lives_alone: bool | None = None
    areas: Annotated[list[AreaCode], Meta(min_length=1, max_length=50)] | None = None
    care_levels: Annotated[list[Literal["basic", "medium", "high"]], Meta(min_length=1)] | None = (
        None
    )
    mobility: (
        Annotated[
            list[Literal["independent", "walking_aid", "wheelchair", "bedridden"]],
            Meta(min_length=1),
        ]
        | None
    ) = None
    languages: Annotated[list[Language], Meta(min_length=1)] | None = None


class CampaignPreview(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/campaigns/preview``: who these filters select (nothing stored)."""

    filters: CampaignFilters


Username = Annotated[str, Meta(min_length=1, max_length=120, pattern=LINE)]


class CampaignCreate(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/campaigns``: a campaign of wellbeing calls. Its calls go into the
    agenda at ``starts_at`` (now when left out) with its ``priority``; with ``operators``
    they are shared out among those operators in turn (oldest residents first)."""

    name: Annotated[str, Meta(min_length=1, max_length=120, pattern=LINE)]
    script: Annotated[str, Meta(max_length=4000, pattern=TEXT)] = ""
    filters: CampaignFilters
    priority: Literal["high", "normal", "low"] = "normal"
    starts_at: datetime | None = None
    operators: Annotated[list[Username], Meta(max_length=100)] = []


CAMPAIGN_CODES = {
    "$.filters": "unknown_filter",
    "$.filters!missing": "filters_required",
    "$.name": "invalid_name",
    "$.starts_at": "invalid_start",
}


class DialRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/alarms/{id}/dial``: whom to call (ADR 0143)."""

    party: Annotated[str, Meta(min_length=1, max_length=40, pattern=LINE)]


class MediaOffer(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/console/dials/{call_id}/media``: the browser's WebRTC offer (SDP text,
    every ICE candidate in it)."""

    sdp: Annotated[str, Meta(min_length=10, max_length=20000)]


StepText = Annotated[str, Meta(min_length=1, max_length=200, pattern=LINE)]


class ProtocolStepText(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One step of a centre's protocol: a stable key and its text in every language."""

    key: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    ca: StepText
    es: StepText
    en: StepText


class ProtocolEdit(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``PUT /api/console/protocols/{kind}``: the centre's steps for that alarm kind, in
    order (1 to 12, keys unique; a step's key is what a tick records)."""

    steps: Annotated[list[ProtocolStepText], Meta(min_length=1, max_length=12)]


PROTOCOL_CODES = {
    "$.steps": "invalid_steps",
    "$.steps!missing": "invalid_steps",
    **{f"$.steps.{field}": "invalid_steps" for field in ("key", "ca", "es", "en")},
}
