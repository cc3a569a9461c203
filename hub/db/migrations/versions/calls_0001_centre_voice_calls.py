"""centre voice calls: kind, alarm, media connection and failure reason of a call

Revision ID: calls_0001
Revises: security_0002
Create Date: 2026-12-06 17:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "calls_0001"
down_revision: str | None = "security_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("family_calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="family")
        )
        batch_op.add_column(sa.Column("alarm_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_family_calls_alarm_ref"), ["alarm_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("family_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_calls_alarm_ref"))
        batch_op.drop_column("failure")
        batch_op.drop_column("connected_at")
        batch_op.drop_column("alarm_ref")
        batch_op.drop_column("kind")
