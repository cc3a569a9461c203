"""Seeing the agenda becomes a consent of its own (``agenda``, ADR 0043).

Before, every circle member saw the resident's agenda. Existing links, and codes not yet
used, keep what they had: ``agenda`` is added to their consent. New links get it only if the
resident (or the centre on their behalf) grants it.

Revision ID: family_0002
Revises: security_0003
Create Date: 2026-12-06 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0002"
down_revision: str | None = "security_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("family_links", "family_link_codes")


def _with(stored: str, scope: str | None, without: str | None = None) -> str:
    values = {v for v in stored.split(",") if v}
    if scope is not None:
        values.add(scope)
    if without is not None:
        values.discard(without)
    return ",".join(sorted(values))


def _rewrite(add: str | None, remove: str | None) -> None:
    connection = op.get_bind()
    for name in _TABLES:
        table = sa.table(name, sa.column("id", sa.Integer), sa.column("consent", sa.String))
        rows = connection.execute(sa.select(table.c.id, table.c.consent)).all()
        for row_id, consent in rows:
            new = _with(consent or "", add, remove)
            if new != consent:
                connection.execute(sa.update(table).where(table.c.id == row_id).values(consent=new))


def upgrade() -> None:
    _rewrite("agenda", None)


def downgrade() -> None:
    _rewrite(None, "agenda")
