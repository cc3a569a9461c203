"""The service state machine: pure functions from a service and an action to a new
service and the state change it made (which the adapter stores, audits and sends to the
social record's outbox in the same transaction).

    referred → assessed → work_order → installing → active ⇄ suspended
        └──────────┴───────────┴────────────┴──────────┴──────────┴──→ discharged
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from hub.service.checklist import Checklist
from hub.service.codes import (
    CARE_LEVELS,
    DISCHARGE_REASONS,
    SUSPENSION_REASONS,
    CareLevel,
    DischargeReason,
    ServiceState,
    SuspensionReason,
)
from hub.service.errors import (
    AssessmentRequired,
    ChecklistIncomplete,
    InvalidDate,
    InvalidTransition,
    ReasonRequired,
)


@dataclass(frozen=True)
class Suspension:
    """A pause of the service: alarms and check-in rules are off until ``resume_on``."""

    reason: SuspensionReason
    started_at: datetime
    resume_on: date
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Service:
    """A teleassistance service, from referral to discharge (one per referral)."""

    reference: str
    state: ServiceState
    referred_at: datetime
    care_level: CareLevel | None = None
    granted_at: datetime | None = None
    ordered_at: datetime | None = None
    installing_at: datetime | None = None
    activated_at: datetime | None = None
    suspensions: tuple[Suspension, ...] = ()
    discharged_at: datetime | None = None
    discharge_reason: DischargeReason | None = None

    @property
    def current_suspension(self) -> Suspension | None:
        """The open suspension while suspended."""
        if self.state == "suspended" and self.suspensions:
            return self.suspensions[-1]
        return None


@dataclass(frozen=True)
class StateChange:
    """What a transition did: stored as history, audited, sent to the outbox."""

    reference: str
    action: str
    from_state: ServiceState
    to_state: ServiceState
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    """The service after an action and the change it made."""

    service: Service
    change: StateChange


def _change(old: Service, new: Service, action: str, at: datetime, **details: Any) -> Transition:
    if at.tzinfo is None:
        raise InvalidDate("times must be timezone-aware UTC")
    return Transition(new, StateChange(old.reference, action, old.state, new.state, at, details))


def _require(service: Service, action: str, *allowed: ServiceState) -> None:
    if service.state not in allowed:
        raise InvalidTransition(action, service.state)


def refer(reference: str, at: datetime) -> Transition:
    """A new referral (duplicates are checked by the caller against stored services)."""
    empty = Service(reference=reference, state="referred", referred_at=at)
    return _change(empty, empty, "refer", at)


def assess(service: Service, care_level: str, at: datetime) -> Transition:
    """Record the assessment: the service is granted at ``care_level``."""
    _require(service, "assess", "referred")
    if care_level not in CARE_LEVELS:
        raise InvalidTransition("assess", service.state, f"unknown care level {care_level!r}")
    new = replace(service, state="assessed", care_level=care_level, granted_at=at)
    return _change(service, new, "assess", at, care_level=care_level)


def order_installation(service: Service, at: datetime) -> Transition:
    """Create the installation work order."""
    if service.state == "referred":
        raise AssessmentRequired("create a work order", service.state)
    _require(service, "create a work order", "assessed")
    return _change(service, replace(service, state="work_order", ordered_at=at), "order", at)


def start_installation(service: Service, at: datetime) -> Transition:
    """The installer starts at the home."""
    if service.state in ("referred", "assessed"):
        # An installation needs both the grant and the work order that lists the devices.
        raise AssessmentRequired("install", service.state)
    _require(service, "install", "work_order")
    new = replace(service, state="installing", installing_at=at)
    return _change(service, new, "start_installation", at)


def activate(service: Service, checklist: Checklist, at: datetime) -> Transition:
    """The checklist is complete: the service is live."""
    if service.state == "referred":
        raise AssessmentRequired("activate", service.state)
    _require(service, "activate", "installing")
    if not checklist.complete:
        raise ChecklistIncomplete(checklist.missing())
    return _change(service, replace(service, state="active", activated_at=at), "activate", at)


def suspend(
    service: Service, reason: str | None, resume_on: date | None, at: datetime
) -> Transition:
    """Pause an active service until ``resume_on`` (a date after today)."""
    _require(service, "suspend", "active")
    if reason not in SUSPENSION_REASONS:
        raise ReasonRequired("suspend", SUSPENSION_REASONS)
    if resume_on is None or resume_on <= at.date():
        raise InvalidDate("a suspension needs a resume date after today")
    pause = Suspension(reason=reason, started_at=at, resume_on=resume_on)
    new = replace(service, state="suspended", suspensions=(*service.suspensions, pause))
    return _change(service, new, "suspend", at, reason=reason, resume_on=resume_on.isoformat())


def resume(service: Service, at: datetime) -> Transition:
    """End the current suspension."""
    _require(service, "resume", "suspended")
    *done, current = service.suspensions
    new = replace(service, state="active", suspensions=(*done, replace(current, ended_at=at)))
    return _change(service, new, "resume", at, reason=current.reason)


def change_care_level(service: Service, care_level: str, at: datetime) -> Transition:
    """A new care level after a review (the care plan gets a new version)."""
    _require(
        service,
        "change the care level of",
        "assessed",
        "work_order",
        "installing",
        "active",
        "suspended",
    )
    if care_level not in CARE_LEVELS:
        raise InvalidTransition("change level", service.state, f"unknown care level {care_level!r}")
    new = replace(service, care_level=care_level)
    return _change(
        service, new, "change_care_level", at, care_level=care_level, previous=service.care_level
    )


def discharge(service: Service, reason: str | None, at: datetime) -> Transition:
    """End the service with a coded reason (from any state but discharged)."""
    if service.state == "discharged":
        raise InvalidTransition("discharge", service.state)
    if reason not in DISCHARGE_REASONS:
        raise ReasonRequired("discharge", DISCHARGE_REASONS)
    suspensions = service.suspensions
    if service.state == "suspended":
        *done, current = suspensions
        suspensions = (*done, replace(current, ended_at=at))
    new = replace(
        service,
        state="discharged",
        discharged_at=at,
        discharge_reason=reason,
        suspensions=suspensions,
    )
    return _change(service, new, "discharge", at, reason=reason)


def is_paused(service: Service, at: datetime) -> bool:
    """Whether alarms and check-in rules are paused for this service at ``at``.

    Paused while a suspension is open — even past its resume date, until someone resumes
    it (the resident may still be in hospital); the caller shows an overdue resume date.
    Not paused before activation (there is nothing to pause) nor after discharge (the
    service is over and the alerts engine should not be running for it at all).
    """
    for pause in service.suspensions:
        if pause.started_at <= at and (pause.ended_at is None or at < pause.ended_at):
            return True
    return False
