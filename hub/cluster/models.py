"""Tables of home ownership across hub workers (docs/adr/0147)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, UtcDateTime


class MemberRow(Base):
    """A hub worker that took part in ownership; alive while ``seen_at`` is recent.

    ``seen_at`` is the database's clock (``now()``), never a worker's: workers on machines
    whose clocks differ still agree on who is alive.
    """

    __tablename__ = "hub_members"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartitionLeaseRow(Base):
    """The lease of one partition of the homes: who owns it until when, and the fencing
    token (``epoch``), increased each time the partition is claimed."""

    __tablename__ = "hub_partitions"

    partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
