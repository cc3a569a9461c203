"""The teleassistance service lifecycle: referral, assessment, installation, review,
suspension and discharge.

The domain (this package's modules other than ``store``, ``api`` and ``pages``) is pure:
frozen values and functions, time passed in, no I/O.
"""

from hub.service.care import CarePlan, care_defaults, initial_plan, plan_for_level, revise_plan
from hub.service.checklist import Checklist, DeviceLine, confirm_first_message, new_checklist
from hub.service.errors import (
    AssessmentRequired,
    ChecklistIncomplete,
    DuplicateReferral,
    FieldError,
    InvalidCarePlan,
    InvalidDate,
    InvalidTransition,
    ReasonRequired,
    ReferralInvalid,
    ServiceError,
)
from hub.service.lifecycle import Service, StateChange, Suspension, Transition, is_paused

__all__ = [
    "AssessmentRequired",
    "CarePlan",
    "Checklist",
    "ChecklistIncomplete",
    "DeviceLine",
    "DuplicateReferral",
    "FieldError",
    "InvalidCarePlan",
    "InvalidDate",
    "InvalidTransition",
    "ReasonRequired",
    "ReferralInvalid",
    "Service",
    "ServiceError",
    "StateChange",
    "Suspension",
    "Transition",
    "care_defaults",
    "confirm_first_message",
    "initial_plan",
    "is_paused",
    "new_checklist",
    "plan_for_level",
    "revise_plan",
]
