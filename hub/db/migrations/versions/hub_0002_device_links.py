"""Devices: wearer (resident), relaying gateway, state reason, tamper flag.

Revision ID: hub_0002
Revises: console_0001
Create Date: 2026-11-23 15:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hub_0002"
down_revision: str | None = "console_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("gateway_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("state_reason", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("tampered", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_devices_gateway_id"), ["gateway_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_devices_resident_id_residents"),
            "residents",
            ["resident_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_devices_resident_id_residents"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_devices_gateway_id"))
        batch_op.drop_column("tampered")
        batch_op.drop_column("state_reason")
        batch_op.drop_column("gateway_id")
        batch_op.drop_column("resident_id")
