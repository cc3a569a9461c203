"""Who a signed-in person is to the service."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user's role; permissions per role are in docs/roles.md."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    SOCIAL_WORKER = "social_worker"
    ADMIN = "admin"
    FAMILY = "family"
    FACILITATOR = "facilitator"
    INSTALLER = "installer"
    COORDINATOR = "coordinator"


# Staff of the alarm receiving centre (handy for ``requires(*STAFF)``).
STAFF: frozenset[Role] = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
