"""The alarm's effect ledger: what each escalation effect (a contact told, an automatic 112
hand-off, telling 112 of the close) did, written into the alarm's history.

Pure functions over :class:`alerts.Alarm` values: the engine claims an effect under its key
(:func:`effect_key`) before sending it and records the result after (:func:`record_effect`);
an operator's own hand-off is recorded with :func:`record_handoff`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from alerts import (
    SYSTEM,
    Actor,
    Alarm,
    EscalationTarget,
    add_note,
    escalate,
    record_notification,
)
from alerts.channels import DeliveryResult
from alerts.emergency import MESSAGE_DETAIL, HandoffResult, PayloadFormat
from alerts.escalation import INTERRUPTED_DETAIL, Escalate112, NotifyContact

# The effect key of telling 112 that an alarm it has is closed.
CLOSE_112 = "close-112"


def effect_key(action: NotifyContact | Escalate112) -> str:
    """The idempotency key of an escalation effect (unique per alarm)."""
    if isinstance(action, NotifyContact):
        return f"notify:{action.contact.contact_id}"
    return "112" if action.attempt == 1 else f"112-retry-{action.attempt}"


def is_handoff_key(key: str) -> bool:
    """An automatic 112 hand-off's effect (the first attempt or a retry)."""
    return key == "112" or key.startswith("112-retry-")


def record_effect(
    alarm: Alarm,
    key: str,
    result: DeliveryResult | HandoffResult | None,
    now: datetime,
    *,
    sent: bool = False,
) -> Alarm:
    """Record an effect's result (``sent=False``: a stand-in, for the next deadline only)."""
    if key == CLOSE_112:
        if isinstance(result, DeliveryResult):  # interrupted
            result = HandoffResult(False, 0, PayloadFormat.EIDO, error=result.detail)
        return record_close_told(alarm, SYSTEM, now, result)
    if key.startswith("112"):  # automatic, or an operator's interrupted hand-off
        interrupted = isinstance(result, DeliveryResult)
        if isinstance(result, DeliveryResult):  # interrupted
            result = HandoffResult(False, 0, PayloadFormat.EIDO, error=result.detail)
        if not alarm.is_open:
            # Resolved while the hand-off was out: keep the fact, as a note.
            done = "delivered" if result is not None and result.delivered else "NOT delivered"
            return add_note(alarm, SYSTEM, now, f"automatic 112 hand-off {done} after closing")
        if not sent:
            return escalate(alarm, SYSTEM, now, EscalationTarget.EMERGENCY_112)
        return record_handoff(alarm, SYSTEM, now, result, automatic=True, interrupted=interrupted)
    delivery = (
        result
        if isinstance(result, DeliveryResult)
        else DeliveryResult("pending", False, "being sent", 0)
    )
    return record_notification(
        alarm,
        now,
        contact_id=key.removeprefix("notify:"),
        channel=delivery.channel,
        delivered=delivery.delivered,
        detail=delivery.detail,
    )


def record_handoff(
    alarm: Alarm,
    actor: Actor,
    now: datetime,
    result: HandoffResult | None,
    *,
    automatic: bool,
    interrupted: bool = False,
) -> Alarm:
    """Record a 112 hand-off (delivered or not) as an escalation in the history
    (``interrupted``: the hub stopped while sending, the outcome is unknown)."""
    if result is None:
        detail = "no 112 gateway configured"
        delivered, reference = False, ""
    else:
        delivered, reference = result.delivered, result.reference or ""
        detail = (
            f"{result.format} HTTP {result.status} after {result.attempts} attempt(s)"
            if result.delivered
            else f"FAILED after {result.attempts} attempt(s): {result.error}"
        )
    escalated = escalate(
        alarm,
        actor,
        now,
        EscalationTarget.EMERGENCY_112,
        detail=("auto: " if automatic else "") + detail,
        reference=reference,
    )
    # Whether it went out is part of the record the console shows.
    last = escalated.history[-1]
    extra: tuple[tuple[str, str], ...] = (("delivered", str(delivered)),)
    if interrupted:
        extra = (*extra, (INTERRUPTED_DETAIL, "True"))
    if result is not None and result.message is not None:
        # 112's later messages name this one (CAP <references>): keep what was sent.
        extra = (
            *extra,
            ("msg_type", result.msg_type),
            (MESSAGE_DETAIL, result.message.reference()),
        )
    marked = replace(last, detail=(*last.detail, *extra))
    escalated = replace(escalated, history=(*escalated.history[:-1], marked))
    if not delivered:
        escalated = add_note(escalated, SYSTEM, now, f"112 hand-off failed: {detail}")
    return escalated


def record_close_told(
    alarm: Alarm, actor: Actor, now: datetime, result: HandoffResult | None
) -> Alarm:
    """Record whether 112 was told that an alarm it has is closed (a note with the message)."""
    if result is None:
        text = "112 NOT told of the close: no 112 gateway configured; call 112 by phone"
    elif result.delivered:
        text = f"112 told of the close ({result.msg_type}; {result.format} HTTP {result.status})"
    else:
        text = (
            f"112 NOT told of the close ({result.msg_type}): FAILED after {result.attempts}"
            f" attempt(s): {result.error}; call 112 by phone"
        )
    noted = add_note(alarm, actor, now, text)
    delivered = bool(result and result.delivered)
    extra: tuple[tuple[str, str], ...] = (("delivered", str(delivered)),)
    if result is not None and result.message is not None:
        extra = (
            *extra,
            ("msg_type", result.msg_type),
            (MESSAGE_DETAIL, result.message.reference()),
        )
        if result.reference:
            extra = (*extra, ("reference", result.reference))
    last = noted.history[-1]
    return replace(
        noted, history=(*noted.history[:-1], replace(last, detail=(*last.detail, *extra)))
    )
