"""How a person is addressed: feminine, masculine, neutral or unknown (issue 23).

Catalan and Spanish texts about the resident take a gender ("Viu sola" / "Viu sol",
"tranquil·la" / "tranquil"). Residents and referrals gain ``address_form``; every existing
row becomes ``unknown``, which screens phrase neutrally, so nothing is lost and nothing is
guessed from a name. Downgrade drops the column.

Revision ID: service_0003
Revises: ingest_0002
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "service_0003"
down_revision: str | None = "ingest_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("residents", "service_referrals")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "address_form", sa.String(length=12), server_default="unknown", nullable=False
                )
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("address_form")
