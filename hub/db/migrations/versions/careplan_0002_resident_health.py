"""Structured health and care data of residents (issue 22, item 7).

``resident_health`` holds allergies, conditions, medication, mobility aids (lists),
hearing, sight, GP, health centre, the DNR flag, advance directives and notes. Existing data
is migrated: every resident with medical notes gets a row whose ``notes`` are those notes
(nothing is guessed out of free text; people move it into the fields). ``residents.
medical_notes`` stays as it was (the upgrade loses nothing; the downgrade drops the table).

Revision ID: careplan_0002
Revises: security_0006
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "careplan_0002"
down_revision: str | None = "security_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY = sa.text("'[]'")


def upgrade() -> None:
    op.create_table(
        "resident_health",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("allergies", sa.JSON(), server_default=_EMPTY, nullable=False),
        sa.Column("conditions", sa.JSON(), server_default=_EMPTY, nullable=False),
        sa.Column("medication", sa.JSON(), server_default=_EMPTY, nullable=False),
        sa.Column("mobility_aids", sa.JSON(), server_default=_EMPTY, nullable=False),
        sa.Column("hearing", sa.String(length=200), server_default="", nullable=False),
        sa.Column("sight", sa.String(length=200), server_default="", nullable=False),
        sa.Column("gp", sa.String(length=200), server_default="", nullable=False),
        sa.Column("health_centre", sa.String(length=200), server_default="", nullable=False),
        sa.Column("dnr", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("advance_directive", sa.Text(), server_default="", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_by", sa.String(length=120), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_resident_health_resident_id_residents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident_health")),
    )
    # The free-text notes of today become the record's notes, resident by resident.
    op.execute(
        "INSERT INTO resident_health (resident_id, notes, updated_by)"
        " SELECT id, medical_notes, 'migration careplan_0002' FROM residents"
        " WHERE medical_notes <> ''"
    )


def downgrade() -> None:
    op.drop_table("resident_health")
