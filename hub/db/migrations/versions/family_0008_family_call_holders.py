"""family calls: the worker holding an open call, and until when its hold runs

ADR 0185 (amended): with several hub workers, each open call's row names the worker that
holds it (its name on ``teleassist_family_calls``) and a lease the holder renews; a worker
starting up fails only the open calls whose holder's lease ran out (or that name none: rows
from before this revision, failed as before), and the busy checks read the open calls of
every live worker. Nothing is dropped; existing rows get NULL.

Revision ID: family_0008
Revises: carephones_0004
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0008"
down_revision: str | None = "carephones_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('ringing', 'accepted')")


def upgrade() -> None:
    with op.batch_alter_table("family_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_family_calls_open",
        "family_calls",
        ["held_until"],
        unique=False,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_family_calls_open", table_name="family_calls")
    with op.batch_alter_table("family_calls", schema=None) as batch_op:
        batch_op.drop_column("held_until")
        batch_op.drop_column("holder")
