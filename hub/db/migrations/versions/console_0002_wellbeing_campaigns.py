"""Proactive campaigns of wellbeing calls (issue 22, item 5).

``wellbeing_campaigns`` holds a campaign (name, script, the population's filters,
priority, start, who closed it); its calls stay in ``wellbeing_calls`` (the one agenda),
which gains ``campaign_id``, ``assigned_to``, ``attempts`` and ``priority`` (1, normal, for
every existing call).

Revision ID: console_0002
Revises: cluster_0001
Create Date: 2026-12-06 23:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "console_0002"
down_revision: str | None = "cluster_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wellbeing_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("script", sa.Text(), server_default="", nullable=False),
        sa.Column("filters", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="1", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_campaigns")),
    )
    with op.batch_alter_table("wellbeing_campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wellbeing_campaigns_closed_at"), ["closed_at"], unique=False
        )
    with op.batch_alter_table("wellbeing_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("assigned_to", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index(
            batch_op.f("ix_wellbeing_calls_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_wellbeing_calls_campaign_id_wellbeing_campaigns"),
            "wellbeing_campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("wellbeing_calls", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_wellbeing_calls_campaign_id_wellbeing_campaigns"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_wellbeing_calls_campaign_id"))
        batch_op.drop_column("priority")
        batch_op.drop_column("attempts")
        batch_op.drop_column("assigned_to")
        batch_op.drop_column("campaign_id")
    with op.batch_alter_table("wellbeing_campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wellbeing_campaigns_closed_at"))
    op.drop_table("wellbeing_campaigns")
