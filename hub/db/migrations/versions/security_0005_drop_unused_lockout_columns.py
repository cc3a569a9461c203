"""Drop users.failed_logins and users.locked_until (issue 19).

Sign-in limits moved to atomic counters (security_0003, docs/adr/0014); nothing has read or
written these two columns since. A column nobody maintains invites a later change to trust
it. The downgrade puts them back empty (0 and NULL), which is what the old code started from.

Revision ID: security_0005
Revises: family_0003
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "security_0005"
down_revision: str | None = "family_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite before 3.35 cannot DROP COLUMN; Alembic copies the table instead.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
