"""Counters for limits that hold under concurrency (sign-ins, key-safe reveals).

Revision ID: security_0003
Revises: hub_0003
Create Date: 2026-12-06 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "security_0003"
down_revision: str | None = "hub_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_counters",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_throttle_counters")),
    )
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_throttle_counters_window_start"), ["window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("throttle_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttle_counters_window_start"))
    op.drop_table("throttle_counters")
