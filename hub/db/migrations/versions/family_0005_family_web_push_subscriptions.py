"""family web push subscriptions

A family member's browsers receive alarm notices by Web Push even when the page is closed
(issue 21, item 4): one row per subscription (endpoint, the browser's p256dh key and auth
secret, RFC 8291).

Revision ID: family_0005
Revises: carephones_0002
Create Date: 2026-12-06 20:35:58.111961
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0005"
down_revision: str | None = "carephones_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=1024), nullable=False),
        sa.Column("p256dh", sa.String(length=100), nullable=False),
        sa.Column("auth", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_family_push_subscriptions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_family_push_subscriptions_endpoint")),
    )
    with op.batch_alter_table("family_push_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_push_subscriptions_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_push_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_push_subscriptions_user_id"))

    op.drop_table("family_push_subscriptions")
