"""What became of the messages and reminders sent to tablets (issue 22, item 4; ADR 0163).

``tablet_deliveries`` holds, per followed command (a message from the centre, an agenda or
medication reminder), its envelope id, whom it was for, what it said and the last state the
tablet reported (sent, received, shown, postponed with ``until``, acknowledged).

Revision ID: ingest_0001
Revises: service_0002
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ingest_0001"
down_revision: str | None = "service_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tablet_deliveries",
        sa.Column("command_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_by", sa.String(length=120), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_tablet_deliveries")),
    )
    op.create_index(op.f("ix_tablet_deliveries_resident_id"), "tablet_deliveries", ["resident_id"])
    op.create_index(op.f("ix_tablet_deliveries_sent_at"), "tablet_deliveries", ["sent_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tablet_deliveries_sent_at"), table_name="tablet_deliveries")
    op.drop_index(op.f("ix_tablet_deliveries_resident_id"), table_name="tablet_deliveries")
    op.drop_table("tablet_deliveries")
