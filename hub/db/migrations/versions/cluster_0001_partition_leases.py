"""One owner per home across hub workers: members and partition leases (issue 18, ADR 0147).

Revision ID: cluster_0001
Revises: careplan_0002
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cluster_0001"
down_revision: str | None = "careplan_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_members",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_hub_members")),
    )
    op.create_table(
        "hub_partitions",
        sa.Column("partition", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("partition", name=op.f("pk_hub_partitions")),
    )


def downgrade() -> None:
    op.drop_table("hub_partitions")
    op.drop_table("hub_members")
