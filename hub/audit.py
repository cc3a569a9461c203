"""The audit log: every action a person takes in the hub, in one table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import utc_now
from hub.db.models import AuditEntry

SYSTEM_ACTOR = "system"


async def record_audit(
    session: AsyncSession,
    actor: str,
    action: str,
    object: str,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (the caller commits with its own change).

    ``actor`` is a username (or ``"system"``), ``action`` a stable verb such as
    ``"alarm.accept"``, ``object`` what it was done to (``"alarm:42"``). ``details``
    hold ids and codes, never secrets such as passwords or key-safe codes.
    """
    entry = AuditEntry(
        actor=actor, action=action, object=object, at=at or utc_now(), details=details or {}
    )
    session.add(entry)
    await session.flush()
    return entry
