"""Contacts' relationships become codes (issue 23, ADR 0164).

A relationship was free text ("filla", "Hija", "veïna voluntària", "padrina"); forms now offer
a list of codes (``alerts.values.RELATIONSHIP_CODES``). Existing words are kept: a word the
catalogue knows in any of ca/es/en becomes its code ("Hija" -> ``daughter``), anything else
becomes ``other`` with the words in ``relationship_other`` ("padrina"); an empty one stays
empty. Both places that hold contacts are mapped: the registry's ``contacts`` rows and the
contacts of each referral (``service_referrals.contacts``, JSON).

Downgrade puts the words back: the other words, or the code's Catalan name.

Revision ID: service_0002
Revises: family_0007
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alerts.values import relationship_code, relationship_name

revision: str = "service_0002"
down_revision: str | None = "family_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONTACTS = sa.table(
    "contacts",
    sa.column("id", sa.Integer),
    sa.column("relationship", sa.String),
    sa.column("relationship_other", sa.String),
)
_REFERRALS = sa.table(
    "service_referrals", sa.column("id", sa.Integer), sa.column("contacts", sa.JSON)
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(
            sa.Column("relationship_other", sa.String(length=60), server_default="", nullable=False)
        )
    bind = op.get_bind()
    words = bind.execute(sa.select(_CONTACTS.c.relationship).distinct()).scalars().all()
    for text in words:
        code, other = relationship_code(text or "")
        if (code, other) != (text or "", ""):
            bind.execute(
                _CONTACTS.update()
                .where(_CONTACTS.c.relationship == text)
                .values(relationship=code, relationship_other=other)
            )
    for row_id, contacts in bind.execute(sa.select(_REFERRALS.c.id, _REFERRALS.c.contacts)).all():
        if not contacts:
            continue
        coded = []
        for contact in contacts:
            code, other = relationship_code(str(contact.get("relationship") or ""))
            coded.append({**contact, "relationship": code, "relationship_other": other})
        if coded != contacts:
            bind.execute(
                _REFERRALS.update().where(_REFERRALS.c.id == row_id).values(contacts=coded)
            )


def _words(code: str, other: str) -> str:
    return other if code == "other" else relationship_name(code, "ca")


def downgrade() -> None:
    bind = op.get_bind()
    pairs = bind.execute(
        sa.select(_CONTACTS.c.relationship, _CONTACTS.c.relationship_other).distinct()
    ).all()
    for code, other in pairs:
        bind.execute(
            _CONTACTS.update()
            .where(_CONTACTS.c.relationship == code, _CONTACTS.c.relationship_other == other)
            .values(relationship=_words(code or "", other or ""))
        )
    for row_id, contacts in bind.execute(sa.select(_REFERRALS.c.id, _REFERRALS.c.contacts)).all():
        if not contacts:
            continue
        words = [
            {
                **{k: v for k, v in c.items() if k != "relationship_other"},
                "relationship": _words(
                    str(c.get("relationship") or ""), str(c.get("relationship_other") or "")
                ),
            }
            for c in contacts
        ]
        bind.execute(_REFERRALS.update().where(_REFERRALS.c.id == row_id).values(contacts=words))
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_column("relationship_other")
