"""one family alarm notice per alarm

Several hub workers each follow every alarm change (docs/adr/0038) and write the
alarm's family notice; a unique index makes that write idempotent. Duplicates left by
two workers polling at the same moment (before this revision) are deleted first, the
oldest notice of each alarm kept.

Revision ID: family_0003
Revises: carephones_0001
Create Date: 2026-12-06 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "family_0003"
down_revision: str | None = "carephones_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Their acknowledgements stay in the audit log (family.on_my_way).
    op.execute(
        "DELETE FROM family_alarm_acks WHERE notice_id IN ("
        " SELECT n.id FROM family_alarm_notices n JOIN family_alarm_notices m"
        " ON m.resident_id = n.resident_id AND m.alarm_ref = n.alarm_ref AND m.id < n.id)"
    )
    op.execute(
        "DELETE FROM family_alarm_notices WHERE id IN ("
        " SELECT n.id FROM family_alarm_notices n JOIN family_alarm_notices m"
        " ON m.resident_id = n.resident_id AND m.alarm_ref = n.alarm_ref AND m.id < n.id)"
    )
    op.create_index(
        "uq_family_alarm_notices_alarm",
        "family_alarm_notices",
        ["resident_id", "alarm_ref"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_family_alarm_notices_alarm", table_name="family_alarm_notices")
