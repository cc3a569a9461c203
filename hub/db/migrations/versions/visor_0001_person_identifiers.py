"""The person's health card (CIP) and social-services file number on a service, so the
visor can find a person by them (issue 23).

Both are empty for existing services (nothing to guess); the referral and the service
pages fill them. Indexed: the visor looks people up by them.

Revision ID: visor_0001
Revises: family_0006
Create Date: 2026-12-07 00:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "visor_0001"
down_revision: str | None = "family_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_referrals") as batch_op:
        batch_op.add_column(
            sa.Column("cip", sa.String(length=14), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("social_file", sa.String(length=32), server_default="", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_service_referrals_cip"), ["cip"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_service_referrals_social_file"), ["social_file"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_referrals") as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_referrals_social_file"))
        batch_op.drop_index(batch_op.f("ix_service_referrals_cip"))
        batch_op.drop_column("social_file")
        batch_op.drop_column("cip")
