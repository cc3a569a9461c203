"""family alarm answers, stages and SMS reply codes

Issue 21, item 4: a relative answers an alarm notice "I'm on my way" or "I can't"
(``family_alarm_acks.answer``); each notice keeps the stage its pushes last worded
(``family_alarm_notices.stage``), so of several workers one pushes each new stage; key
holders without the app answer by SMS with a reply code (``family_sms_answer_codes``,
kept as HMACs).

Revision ID: family_0006
Revises: console_0002
Create Date: 2026-12-06 23:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "family_0006"
down_revision: str | None = "console_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("family_alarm_notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=16), server_default="raised", nullable=False)
        )
    with op.batch_alter_table("family_alarm_acks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer", sa.String(length=16), server_default="on_my_way", nullable=False)
        )
    op.create_table(
        "family_sms_answer_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_family_sms_answer_codes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["family_alarm_notices.id"],
            name=op.f("fk_family_sms_answer_codes_notice_id_family_alarm_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_sms_answer_codes")),
    )
    with op.batch_alter_table("family_sms_answer_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_sms_answer_codes_digest"), ["digest"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_family_sms_answer_codes_notice_id"), ["notice_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("family_sms_answer_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_sms_answer_codes_notice_id"))
        batch_op.drop_index(batch_op.f("ix_family_sms_answer_codes_digest"))
    op.drop_table("family_sms_answer_codes")
    with op.batch_alter_table("family_alarm_acks", schema=None) as batch_op:
        batch_op.drop_column("answer")
    with op.batch_alter_table("family_alarm_notices", schema=None) as batch_op:
        batch_op.drop_column("stage")
