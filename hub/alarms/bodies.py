"""Request bodies of the alarm actions and the answer of an escalation.

The handlers read these structs (``hub.http.read_body``) and the OpenAPI document describes
them from the same structs (ADR 0015).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from alerts import ContactResult, EscalationTarget
from hub.alarms.views import AlarmView
from hub.http import LINE, TEXT


class ContactAttemptBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/alarms/{id}/contact-attempts``: a call or message and how it went.

    ``party`` is ``resident`` or a contact's id.
    """

    party: Annotated[str, Meta(min_length=1, max_length=64, pattern=LINE)]
    result: ContactResult
    channel: Annotated[str, Meta(max_length=32, pattern=TEXT)] = "phone"
    notes: Annotated[str, Meta(max_length=4000, pattern=TEXT)] = ""


class NoteBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/alarms/{id}/notes`` (also after resolution)."""

    text: Annotated[str, Meta(min_length=1, max_length=4000, pattern=LINE)]


class EscalationBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/alarms/{id}/escalations``; ``emergency_112`` hands the incident to 112."""

    target: EscalationTarget
    detail: Annotated[str, Meta(max_length=500, pattern=TEXT)] = ""


class ResolveBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """``POST /api/alarms/{id}/resolve``: an outcome code (GET /api/alarms/codes) and notes.

    A missing or unknown outcome is 422 ``outcome_required`` (the alarm stays open).
    """

    outcome: Annotated[str, Meta(max_length=64, pattern=TEXT)] | None = None
    notes: Annotated[str, Meta(max_length=4000, pattern=TEXT)] = ""


class HandoffView(msgspec.Struct, kw_only=True, frozen=True):
    """What came of a 112 hand-off."""

    delivered: bool
    status: int | None
    reference: str | None
    attempts: int


class EscalationAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """The alarm after an escalation; ``emergency`` for a 112 hand-off."""

    alarm: AlarmView
    emergency: HandoffView | msgspec.UnsetType = msgspec.UNSET
