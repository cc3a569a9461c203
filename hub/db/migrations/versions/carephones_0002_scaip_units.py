"""Carephones: SCAIP units (controller ids up to 32 characters) and the caller id of speech calls.

Revision ID: carephones_0002
Revises: careplan_0001, family_0004 (also joins those two heads)
Create Date: 2026-12-06 20:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "carephones_0002"
down_revision: str | tuple[str, ...] | None = ("careplan_0001", "family_0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot alter a column's type in place.
    with op.batch_alter_table("carephone_units") as batch:
        batch.alter_column(
            "account", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
        batch.add_column(sa.Column("caller_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("carephone_units") as batch:
        batch.drop_column("caller_id")
        batch.alter_column(
            "account", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
