"""Consent: what the resident lets each linked person see.

Every linked person can exchange messages and calls with the resident (that is what
the link is for). Beyond that, the resident chooses per person: ``alarms`` (notifications
about their alarms), ``activity`` (today's activity: up and about, check-in) and ``agenda``
(their appointments, and adding visits to it). An empty choice means "nothing more".
Reads go through :func:`require_scope`, never through ad-hoc checks; live events are sent
to the people whose consent allows them at the moment of sending (ADR 0043).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hub.errors import HubError


class Scope(StrEnum):
    """Something a linked person may see about the resident."""

    ALARMS = "alarms"
    ACTIVITY = "activity"
    AGENDA = "agenda"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


class ConsentError(HubError):
    """A consent choice that is not valid, or a read the consent does not allow."""

    status = 403

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


def parse_scopes(values: Iterable[object]) -> frozenset[Scope]:
    """Validate a list of scope names from a request (duplicates are harmless)."""
    scopes: set[Scope] = set()
    for value in values:
        if not isinstance(value, str) or value not in Scope.__members__.values():
            allowed = ", ".join(sorted(s.value for s in Scope))
            raise ConsentError("consent_invalid", f"unknown consent {value!r}; allowed: {allowed}")
        scopes.add(Scope(value))
    return frozenset(scopes)


def encode_scopes(scopes: Iterable[Scope]) -> str:
    """Scopes as a stable comma-separated column value."""
    return ",".join(sorted(s.value for s in scopes))


def decode_scopes(stored: str) -> frozenset[Scope]:
    """The inverse of :func:`encode_scopes` (unknown names from a newer hub are ignored)."""
    known = {s.value for s in Scope}
    return frozenset(Scope(v) for v in stored.split(",") if v in known)


def require_scope(granted: frozenset[Scope], wanted: Scope) -> None:
    """Raise ``consent_required`` unless ``wanted`` is among the granted scopes."""
    if wanted not in granted:
        raise ConsentError(
            "consent_required", f"the resident has not agreed to share {wanted.value} with you"
        )
