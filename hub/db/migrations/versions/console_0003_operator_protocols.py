"""Centres' own operator protocols (issue 22, item 6: the editor).

``operator_protocols`` holds, per alarm kind, the steps a centre wrote (key and text in ca,
es, en) in place of the shipped ones (hub/console/protocols.toml). No row: the shipped
protocol.

Revision ID: console_0003
Revises: visor_0001
Create Date: 2026-12-07 00:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "console_0003"
down_revision: str | None = "visor_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_protocols",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("steps", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_operator_protocols")),
    )


def downgrade() -> None:
    op.drop_table("operator_protocols")
