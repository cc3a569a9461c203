"""Changing what a circle member may see, or taking them out: one place for the resident's
tablet, the family API and the centre's service pages (ADR 0043).

Every change is audited with who made it and, when the centre acts on the resident's behalf,
why. It takes effect at once: reads check the link on every request, and live events go to
whoever the consent allows at the moment of sending; a ``circle.changed`` event tells the
member's and the resident's open sockets to refetch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.family.consent import Scope, decode_scopes, encode_scopes
from hub.family.conversations import leave_direct
from hub.family.live import LiveHub
from hub.family.models import CircleLink
from hub.family.parties import resident_party


@dataclass(frozen=True)
class CircleChange:
    """What happened to one link, for the live event sent after the commit."""

    resident_id: int
    link_id: int
    member: str
    consent: frozenset[Scope]
    removed: bool = False

    def event(self) -> dict[str, Any]:
        """The ``circle.changed`` live event."""
        return {
            "type": "circle.changed",
            "resident_id": self.resident_id,
            "link_id": self.link_id,
            "member": self.member,
            "consent": sorted(s.value for s in self.consent),
            "removed": self.removed,
        }

    def publish(self, live: LiveHub) -> int:
        """Tell the member and the resident's tablet (call after the commit).

        A removed member's open sockets then close (after this event): they reconnect
        and see only what they still may (issue 19).
        """
        sent = live.publish([self.member, resident_party(self.resident_id)], self.event())
        if self.removed:
            live.close(self.member, flush=True)
        return sent


def _details(reason: str | None, on_behalf: bool) -> dict[str, Any]:
    details: dict[str, Any] = {"on_behalf_of_resident": on_behalf}
    if reason:
        details["reason"] = reason
    return details


async def change_consent(
    session: AsyncSession,
    link: CircleLink,
    scopes: Iterable[Scope],
    *,
    actor: str,
    reason: str | None = None,
    on_behalf: bool = False,
) -> CircleChange:
    """Set what ``link``'s member may see (audited in the caller's transaction)."""
    before = link.consent
    link.consent = encode_scopes(scopes)
    await record_audit(
        session,
        actor,
        "family.consent_change",
        f"link:{link.id}",
        {"consent": link.consent, "before": before, **_details(reason, on_behalf)},
    )
    return CircleChange(link.resident_id, link.id, link.member, decode_scopes(link.consent))


async def remove_member(
    session: AsyncSession,
    link: CircleLink,
    *,
    actor: str,
    reason: str | None = None,
    on_behalf: bool = False,
) -> CircleChange:
    """Take ``link``'s member out of the circle (audited in the caller's transaction).

    They also leave their direct conversation with the resident (the history stays for the
    resident).
    """
    await session.delete(link)
    await leave_direct(session, resident_party(link.resident_id), link.member)
    await record_audit(
        session,
        actor,
        "family.link_remove",
        f"resident:{link.resident_id}",
        {"link_id": link.id, "member": link.member, **_details(reason, on_behalf)},
    )
    return CircleChange(link.resident_id, link.id, link.member, frozenset(), removed=True)
