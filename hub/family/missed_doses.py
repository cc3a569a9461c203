"""Missed doses told to the family (ADR 0152): the family app's adapter of the alarm engine's
:class:`~hub.alarms.missed_doses.MissedDoseSink`.

A dose the resident did not confirm, in a plan whose medication says ``missed_to =
"family"`` or ``"both"``, becomes a notice (``event_type = "medication_missed"``, already
closed: nothing for the centre to handle, no "I'm on my way") for the circle members whose
consent includes ``alarms`` — the same notice path, rows and live push as an alarm's notice.
The notice's ``alarm_ref`` names the dose and its due time (``dose:202701140800:insulina
08:00``), so a dose is told once however many workers fire it.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import MissedDose
from hub.appkeys import CLOCK, SESSIONMAKER
from hub.family.alarms import alarm_watchers, notify_family
from hub.family.live import LIVE_HUB
from hub.family.missed_dose_refs import EVENT_TYPE, dose_ref


class FamilyMissedDoses:
    """Tells the consenting circle of a missed dose (see the module's docstring); reads the
    app's database, live hub and clock when used (the engine starts after this is made)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def listeners(self, session: AsyncSession, resident_id: int) -> int:
        """How many circle members agreed to hear of the resident's alarms."""
        return len(await alarm_watchers(session, resident_id))

    async def tell(self, dose: MissedDose) -> None:
        """Store the dose's notice (once) and push it to the members connected here."""
        app = self._app
        async with app[SESSIONMAKER]() as session:
            await notify_family(
                session, app[LIVE_HUB], int(dose.resident_id), dose_ref(dose), EVENT_TYPE,
                "closed", app[CLOCK](),
            )  # fmt: skip
