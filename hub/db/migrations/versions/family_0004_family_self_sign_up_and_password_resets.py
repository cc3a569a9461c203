"""family self sign-up and password resets

A relative with a linking code creates their own account (issue 21, item 3): the pending
sign-up waits here until the code sent to their e-mail or phone is typed back; a forgotten
password is reset with a code sent the same way. Codes are stored only as HMACs.

Revision ID: family_0004
Revises: security_0005
Create Date: 2026-12-06 20:16:42.393387
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0004"
down_revision: str | None = "security_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_signups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("link_digest", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.String(length=120), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("relationship", sa.String(length=60), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("verify_digest", sa.String(length=64), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_signups")),
    )
    with op.batch_alter_table("family_signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_signups_contact"), ["contact"], unique=False)

    op.create_table(
        "family_password_resets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_family_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_password_resets")),
    )
    with op.batch_alter_table("family_password_resets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_password_resets_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_password_resets_user_id"))

    op.drop_table("family_password_resets")
    with op.batch_alter_table("family_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_signups_contact"))

    op.drop_table("family_signups")
