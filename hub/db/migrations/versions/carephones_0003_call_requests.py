"""carephone calls and the console's requests to the worker holding them

ADR 0168, section 4: with several hub workers, a carephone's speech call (its RTP port and
the operator's WebRTC leg) lives on one worker. ``carephone_calls`` says which worker holds
each call; ``carephone_requests`` carries a console request (speak, the WebRTC offer, hang
up) to that worker and its answer back, SDP included (never in a NOTIFY payload). Both are
short-lived working tables: nothing in them outlives a call, or a minute. Downgrade drops
them.

Revision ID: carephones_0003
Revises: service_0003
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "carephones_0003"
down_revision: str | None = "service_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carephone_calls",
        sa.Column("call_id", sa.String(length=255), nullable=False),
        sa.Column("alarm_id", sa.String(length=64), nullable=True),
        sa.Column("home_id", sa.String(length=32), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("operator", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_carephone_calls")),
    )
    with op.batch_alter_table("carephone_calls") as batch_op:
        batch_op.create_index(batch_op.f("ix_carephone_calls_home_id"), ["home_id"])
        batch_op.create_index(batch_op.f("ix_carephone_calls_worker"), ["worker"])
    op.create_table(
        "carephone_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("origin", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("alarm_id", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=255), nullable=True),
        sa.Column("operator", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carephone_requests")),
    )
    with op.batch_alter_table("carephone_requests") as batch_op:
        batch_op.create_index(batch_op.f("ix_carephone_requests_created_at"), ["created_at"])
        batch_op.create_index("ix_carephone_requests_target_status", ["target", "status"])


def downgrade() -> None:
    op.drop_table("carephone_requests")
    op.drop_table("carephone_calls")
