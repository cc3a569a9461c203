"""The resident's circle as the tablet shows it: who is in it and what each one may see.

Pure values and effects, no Kivy: :class:`~tablet_app.model.TabletModel` keeps the list and
emits the effects, :class:`~tablet_app.family.FamilyClient` carries them to the hub
(``/api/family/residents/{rid}/circle``, ``PATCH|DELETE /api/family/links/{id}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Scope = Literal["alarms", "activity", "agenda"]
# In the order the screens show them.
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
# The picture next to each choice.
SCOPE_ICONS: Final[dict[Scope, str]] = {"alarms": "bell", "activity": "check", "agenda": "calendar"}
# People on one page of My people: two rows of three big buttons, each with a face and a
# name in big type. More people turn pages with big buttons; no scrolling, which hands that
# tremble or drag a finger start by accident.
CIRCLE_PAGE_SIZE: Final = 6


def known_scopes(values: object) -> frozenset[Scope]:
    """The scopes the tablet knows among ``values`` (a newer hub may send more)."""
    if not isinstance(values, list | tuple | set | frozenset):
        return frozenset()
    return frozenset(v for v in SCOPES if v in values)


# What people type as a neighbour's relationship (lower case), in the tablet's languages.
_NEIGHBOUR_WORDS: Final[frozenset[str]] = frozenset(
    {"veí", "veïna", "vei", "veina", "vecino", "vecina", "neighbour", "neighbor"}
)


def is_neighbour(relationship: str) -> bool:
    """True if ``relationship`` (free text typed when linking) names a neighbour."""
    return relationship.strip().casefold() in _NEIGHBOUR_WORDS


@dataclass(frozen=True, slots=True)
class CircleMember:
    """A person of the resident's circle and what the resident lets them see."""

    link_id: str
    party: str
    name: str
    relationship: str = ""
    scopes: frozenset[Scope] = frozenset()


@dataclass(frozen=True, slots=True)
class LoadCircle:
    """Read the circle from the family service."""


@dataclass(frozen=True, slots=True)
class ChangeConsent:
    """Let the member of ``link_id`` see exactly ``scopes`` (``before``: as they were, to put
    back on screen if the hub cannot be told)."""

    link_id: str
    scopes: tuple[Scope, ...]
    before: CircleMember | None = None


@dataclass(frozen=True, slots=True)
class RemoveMember:
    """Take the member of ``link_id`` out of the circle (``before``: to put them back on
    screen if the hub cannot be told)."""

    link_id: str
    before: CircleMember | None = None
