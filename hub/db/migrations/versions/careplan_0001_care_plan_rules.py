"""Care plan versions carry the alarm rules people changed (issue 22, item 1).

``service_care_plans.rules`` is a JSON object of overrides (hub.service.rules); the rest of the
rules are the care level's defaults, so existing versions get ``{}`` and keep behaving as
before.

Revision ID: careplan_0001
Revises: family_0004
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "careplan_0001"
down_revision: str | None = "family_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_care_plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rules", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("service_care_plans", schema=None) as batch_op:
        batch_op.drop_column("rules")
