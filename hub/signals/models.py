"""What the weekly risk-signals job remembers: which weeks it has run."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime


class WeeklyRunRow(Base):
    """One finished run of the weekly signals job (``hub.signals.job``) for one week.

    The scheduler catches up from the newest row; a week run again (by hand, or by two hub
    workers at once) updates its row and enqueues nothing new.
    """

    __tablename__ = "wsocial_weekly_runs"

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Residents assessed, left out (no consent, service not running all week), events added.
    assessed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    events: Mapped[int] = mapped_column(Integer, default=0)
