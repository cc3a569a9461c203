"""Tablet tokens expire and belong to a registered tablet (issue 19, ADR 0052).

Tokens whose device is not a registered, unrevoked tablet of the resident's home were
minted by staff through the removed ``POST /api/family/tablets``: they are deleted. The
others get an expiry 60 days from the upgrade (the tablet renews it from then on).

Revision ID: security_0001
Revises: wsocial_0002
Create Date: 2026-12-06 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from hub.db.base import UtcDateTime

revision: str = "security_0001"
down_revision: str | None = "wsocial_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRACE = timedelta(days=60)


def upgrade() -> None:
    with op.batch_alter_table("family_tablets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text(
            "DELETE FROM family_tablets WHERE NOT EXISTS ("
            " SELECT 1 FROM devices d JOIN residents r ON r.id = family_tablets.resident_id"
            " WHERE d.id = family_tablets.device_id AND d.resident_id = r.id"
            " AND d.home_id = r.home_id AND d.type = 'tablet' AND d.state <> 'revoked')"
        )
    )
    op.execute(
        sa.text("UPDATE family_tablets SET expires_at = :at").bindparams(
            sa.bindparam("at", datetime.now(UTC) + GRACE, type_=UtcDateTime())
        )
    )
    with op.batch_alter_table("family_tablets", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_tablets", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
