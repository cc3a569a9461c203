"""Data-retention rules for referrals and services (see docs/service-lifecycle.md).

- A referral that never became a service (discharged before activation: withdrew, not
  eligible, deceased, care home): its personal data — health and social notes, the
  applicant, the contacts typed in the form — are erased one year after it was closed.
- A discharged service: the same personal data of the referral are erased five years
  after discharge (the usual limitation period for claims about a public service).
- What is never erased: the pseudonymous service row (reference, dates, care level, ABSS
  area, coded reasons) that the managers' figures and the audit log need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    """How long personal data of closed referrals and services are kept."""

    not_granted: timedelta = timedelta(days=365)
    after_discharge: timedelta = timedelta(days=5 * 365)


def erase_personal_data_after(
    discharged_at: datetime,
    ever_active: bool,
    policy: RetentionPolicy = RetentionPolicy(),
) -> datetime:
    """When the personal data of a closed referral or service must be erased."""
    return discharged_at + (policy.after_discharge if ever_active else policy.not_granted)


def must_erase(
    discharged_at: datetime | None,
    ever_active: bool,
    already_erased: bool,
    now: datetime,
    policy: RetentionPolicy = RetentionPolicy(),
) -> bool:
    """Whether the retention job must erase this record's personal data now."""
    if discharged_at is None or already_erased:
        return False
    return now >= erase_personal_data_after(discharged_at, ever_active, policy)
