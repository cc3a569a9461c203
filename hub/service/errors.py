"""Typed errors of the service lifecycle; each has a stable ``code`` (an i18n key)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.errors import HubError


class ServiceError(HubError):
    """Base of every lifecycle error; ``code`` is stable for API clients and i18n."""

    code = "service_error"
    status = 409


class InvalidTransition(ServiceError):
    """The action is not allowed in the service's current state."""

    code = "invalid_transition"

    def __init__(self, action: str, state: str, message: str | None = None) -> None:
        super().__init__(message or f"cannot {action} a service in state {state!r}")
        self.action = action
        self.state = state


class AssessmentRequired(InvalidTransition):
    """Installation (or a work order) asked for before the assessment granted the service."""

    code = "assessment_required"

    def __init__(self, action: str, state: str) -> None:
        super().__init__(action, state, f"cannot {action} before the assessment ({state!r})")


class ChecklistIncomplete(InvalidTransition):
    """Activation asked for while installer checklist items are still open."""

    code = "checklist_incomplete"

    def __init__(self, missing: tuple[str, ...]) -> None:
        super().__init__("activate", "installing", "checklist incomplete: " + ", ".join(missing))
        self.missing = missing


class TabletNotPaired(InvalidTransition):
    """ "Tablet provisioned" ticked while the work order's tablet line is not paired yet
    (the page asked to pair the tablet and said it was provisioned, issue 23)."""

    code = "tablet_not_paired"

    def __init__(self) -> None:
        super().__init__("tick tablet_provisioned", "installing", "pair the tablet first")


class ReasonRequired(ServiceError):
    """A discharge or suspension without a valid coded reason."""

    code = "reason_required"

    def __init__(self, action: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{action} needs a coded reason, one of: {', '.join(allowed)}")
        self.action = action
        self.allowed = allowed


class InvalidDate(ServiceError):
    """A date that cannot be right (a resume date in the past, ...)."""

    code = "invalid_date"


class DuplicateReferral(ServiceError):
    """The person already has an open referral or service."""

    code = "duplicate_referral"

    def __init__(self, existing: str) -> None:
        super().__init__("this person already has an open referral or service")
        # The existing reference is for staff; public pages never show it.
        self.existing = existing


class InvalidCarePlan(ServiceError):
    """A care plan value out of range."""

    code = "invalid_care_plan"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a form: ``code`` is an i18n key (``err_...``)."""

    field: str
    code: str


class ReferralInvalid(ServiceError):
    """The referral form has errors; nothing was stored."""

    code = "referral_invalid"

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in errors))
        self.errors = errors
