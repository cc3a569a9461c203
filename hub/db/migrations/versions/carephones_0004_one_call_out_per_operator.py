"""one call out per operator across hub workers

ADR 0177: an operator places one call out at a time, whichever hub worker their requests
reach. A partial unique index on ``carephone_calls (operator) WHERE direction = 'out'``
makes the second worker's row fail to insert. Rows of calls out already duplicated for an
operator (possible before this index: one per worker) keep only the newest. Downgrade
drops the index (the table stays).

Revision ID: carephones_0004
Revises: carephones_0003
Create Date: 2026-12-07 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "carephones_0004"
down_revision: str | None = "carephones_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUT = sa.text("direction = 'out'")


def upgrade() -> None:
    op.execute(
        "DELETE FROM carephone_calls WHERE direction = 'out' AND operator IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM carephone_calls AS newer"
        " WHERE newer.direction = 'out' AND newer.operator = carephone_calls.operator"
        " AND (newer.updated_at > carephone_calls.updated_at"
        " OR (newer.updated_at = carephone_calls.updated_at"
        " AND newer.call_id > carephone_calls.call_id)))"
    )
    op.create_index(
        "uq_carephone_calls_operator_out",
        "carephone_calls",
        ["operator"],
        unique=True,
        postgresql_where=_OUT,
        sqlite_where=_OUT,
    )


def downgrade() -> None:
    op.drop_index("uq_carephone_calls_operator_out", table_name="carephone_calls")
