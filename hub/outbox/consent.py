"""Consent to the social record: the one rule that decides whether a resident's events may
enter the wSocial outbox, and leave it.

A resident's events reach the social record only while ``residents.consent["wsocial_export"]``
is ``true`` (asked on the referral form, changed later by the centre on the resident's
behalf). :func:`hub.outbox.enqueue` asks :func:`exports_to_social_record` before it writes
anything, so no producer (service lifecycle, device changes, alarms, 112, weekly signals,
anything added later) can forget; the delivery store asks again before sending
(:func:`consenting_residents`), so an event queued before a withdrawal is never sent after
it (ADR 0065).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit import record_audit
from hub.db.models import Resident
from hub.outbox.models import OutboxRow

SOCIAL_RECORD = "wsocial_export"
# When the answer last changed (ISO 8601, UTC); the visor shows it.
SOCIAL_RECORD_CHANGED_AT = "wsocial_export_changed_at"
# Rows that were waiting (or dead) when consent was withdrawn: kept for the audit, never sent.
WITHDRAWN = "withdrawn"


def gives_social_record_consent(consent: Mapping[str, Any] | None) -> bool:
    """Whether a ``residents.consent`` value agrees to the social record (only ``true`` does)."""
    return consent is not None and consent.get(SOCIAL_RECORD) is True


def _resident_number(resident_id: str) -> int | None:
    """The residents.id behind an event's ``resident_id`` (``None`` if it is not one)."""
    if not resident_id.isdigit() or len(resident_id) > 18:
        return None
    return int(resident_id)


async def exports_to_social_record(session: AsyncSession, resident_id: str) -> bool:
    """Whether the resident ``resident_id`` (an event's key) agrees to the social record.

    An unknown resident, or a key that is no resident's id, gives no consent. Uses the
    session's identity map, so a loop of events of one resident reads the row once, and a
    change of consent made earlier in the same transaction counts.
    """
    number = _resident_number(resident_id)
    if number is None:
        return False
    resident = await session.get(Resident, number)
    return resident is not None and gives_social_record_consent(resident.consent)


async def consenting_residents(session: AsyncSession, resident_ids: Iterable[str]) -> set[str]:
    """Those of ``resident_ids`` (event keys) who agree to the social record; one query."""
    numbers = {n for n in map(_resident_number, set(resident_ids)) if n is not None}
    if not numbers:
        return set()
    rows = await session.execute(
        select(Resident.id, Resident.consent).where(Resident.id.in_(sorted(numbers)))
    )
    return {str(rid) for rid, consent in rows if gives_social_record_consent(consent)}


@dataclass(frozen=True)
class SocialRecordConsent:
    """A resident's answer as the visor and the service pages show it."""

    given: bool
    changed_at: datetime | None


def social_record_consent(consent: Mapping[str, Any] | None) -> SocialRecordConsent:
    """Read the answer and when it last changed from a ``residents.consent`` value."""
    raw = (consent or {}).get(SOCIAL_RECORD_CHANGED_AT)
    changed_at = None
    if isinstance(raw, str):
        try:
            changed_at = datetime.fromisoformat(raw)
        except ValueError:
            changed_at = None
    return SocialRecordConsent(gives_social_record_consent(consent), changed_at)


async def set_social_record_consent(
    session: AsyncSession,
    resident: Resident,
    given: bool,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Record the resident's answer (audited with who and why) in the caller's transaction.

    Withdrawing also withholds every event still waiting (or dead) in the outbox: they are
    kept as ``withdrawn`` and never sent. Giving consent again sends only what happens from
    then on. Returns how many waiting events were withheld. The same answer twice changes
    nothing and writes no audit entry.
    """
    if gives_social_record_consent(resident.consent) == given:
        return 0
    # A new dict: the JSON column notices a replaced value, not an edited one.
    consent = dict(resident.consent or {})
    consent[SOCIAL_RECORD] = given
    consent[SOCIAL_RECORD_CHANGED_AT] = now.isoformat()
    resident.consent = consent
    withheld = 0
    if not given:
        result = await session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.resident_id == str(resident.id),
                OutboxRow.state.in_(("pending", "dead")),
            )
            .values(state=WITHDRAWN)
            .execution_options(synchronize_session=False)
        )
        withheld = int(getattr(result, "rowcount", 0) or 0)
    await record_audit(
        session,
        actor,
        "consent.social_record." + ("give" if given else "withdraw"),
        f"resident:{resident.id}",
        {"reason": reason, "withheld_events": withheld},
        at=now,
    )
    await session.flush()
    return withheld
