"""family video uploads re-encoded by a background job

Issue 21: a video message is no longer re-encoded inside its upload request. The upload is
kept and answered at once (202); ``family_video_uploads`` holds it until a job on any hub
worker has re-encoded it (claimed with a renewed lease, so a restart or a crash loses
nothing), then it becomes an ordinary message.

Revision ID: family_0007
Revises: console_0003
Create Date: 2026-12-07 03:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0007"
down_revision: str | None = "console_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_video_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("container", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["family_conversations.id"],
            name=op.f("fk_family_video_uploads_conversation_id_family_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_video_uploads")),
    )
    with op.batch_alter_table("family_video_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_video_uploads_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_family_video_uploads_sender"), ["sender"], unique=False
        )
        batch_op.create_index(
            "ix_family_video_uploads_status_lease", ["status", "lease_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_video_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_family_video_uploads_status_lease")
        batch_op.drop_index(batch_op.f("ix_family_video_uploads_sender"))
        batch_op.drop_index(batch_op.f("ix_family_video_uploads_conversation_id"))
    op.drop_table("family_video_uploads")
