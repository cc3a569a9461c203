"""Messages that ask for no confirmation, and acks from older tablets (issue 22).

``tablet_deliveries.confirm``: the centre waits for the resident's "I've read it" (every row
before this did: true); ``speak``: said aloud as well as shown (true before this).
``tablet_deliveries.older_tablet``: the tablet acked without a state
(before ADR 0163), so it will never report "acknowledged". An index on ``expires_at`` serves
the housekeeping that prunes rows past their retention.

Revision ID: ingest_0002
Revises: ingest_0001
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ingest_0002"
down_revision: str | None = "ingest_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tablet_deliveries") as batch:
        batch.add_column(
            sa.Column("confirm", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("speak", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(
            sa.Column("older_tablet", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(op.f("ix_tablet_deliveries_expires_at"), "tablet_deliveries", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tablet_deliveries_expires_at"), table_name="tablet_deliveries")
    with op.batch_alter_table("tablet_deliveries") as batch:
        batch.drop_column("older_tablet")
        batch.drop_column("speak")
        batch.drop_column("confirm")
