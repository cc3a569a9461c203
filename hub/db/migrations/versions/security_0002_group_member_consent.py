"""Group membership needs the resident's (or the centre's) acceptance (issue 19, high 2).

Existing rows were added before consent existed; they stay ``accepted`` (the server
default) so running groups keep working — the centre reviews them (docs/security.md).

Revision ID: security_0002
Revises: security_0001
Create Date: 2026-12-06 17:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "security_0002"
down_revision: str | None = "security_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("family_group_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="accepted", nullable=False)
        )
        batch_op.add_column(sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("family_group_members", schema=None) as batch_op:
        batch_op.drop_column("answered_by")
        batch_op.drop_column("requested_at")
        batch_op.drop_column("status")
