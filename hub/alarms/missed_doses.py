"""Missed doses for the family (ADR 0152): the port the family app plugs into the engine.

A care plan whose medication says ``missed_to = "family"`` (or ``"both"``) makes the rules
report a missed dose as :class:`alerts.MissedDose` besides (or instead of) the ``medication``
alarm. The engine asks the port, in the transaction that applies the step, whether anyone in
the resident's circle agreed to hear of it; when nobody did (or no family app runs), the dose
becomes the alarm it always was (:func:`as_alarms`): a missed insulin dose is never told to
nobody. After the commit the engine hands each dose to :meth:`MissedDoseSink.tell`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import Detection, Evaluation, MissedDose, RuleKind


class MissedDoseSink(Protocol):
    """Where missed doses go (the family app's adapter: hub.family.missed_doses)."""

    async def listeners(self, session: AsyncSession, resident_id: int) -> int:
        """How many circle members would be told of the resident's missed dose."""

    async def tell(self, dose: MissedDose) -> None:
        """Tell them (after the engine's commit)."""


# Set by the family app at setup; the engine takes it when it starts.
MISSED_DOSE_SINK: web.AppKey[MissedDoseSink] = web.AppKey("missed_dose_sink")


def as_alarms(result: Evaluation) -> Evaluation:
    """``result`` with its missed doses raised as ``medication`` alarms instead (pure): a
    dose the rules already raised (``missed_to = "both"``) is not raised twice."""
    raised = {d.at for d in result.detections if d.rule is RuleKind.MEDICATION}
    extra = tuple(
        Detection(
            rule=RuleKind.MEDICATION,
            home_id=dose.home_id,
            resident_id=dose.resident_id,
            at=dose.at,
            explanation=dose.explanation,
        )
        for dose in result.missed_doses
        if dose.at not in raised
    )
    return replace(result, detections=(*result.detections, *extra), missed_doses=())


async def routed(
    session: AsyncSession, sink: MissedDoseSink | None, result: Evaluation
) -> Evaluation:
    """``result`` with its missed doses kept for the family, or raised as alarms when
    nobody in the family is to hear of them."""
    if not result.missed_doses:
        return result
    resident_id = result.missed_doses[0].resident_id
    if sink is None or not resident_id.isdigit():
        return as_alarms(result)
    if await sink.listeners(session, int(resident_id)) > 0:
        return result
    return as_alarms(result)
