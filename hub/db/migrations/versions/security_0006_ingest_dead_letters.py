"""Dead letters of ingestion: events the database refused, with the reason (issue 19).

Revision ID: security_0006
Revises: family_0005
Create Date: 2026-12-06 20:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "security_0006"
down_revision: str | None = "family_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_dead_letters")),
        sa.UniqueConstraint(
            "device_id", "message_id", name="uq_ingest_dead_letters_device_message"
        ),
    )
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_dead_letters_quarantined_at"), ["quarantined_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_dead_letters_quarantined_at"))
    op.drop_table("ingest_dead_letters")
