"""Message ids are unique per device, not fleet-wide: events and the alarm engine's
applied-message ledger are keyed by (device id, message id).

Revision ID: hub_0003
Revises: calls_0001
Create Date: 2026-12-06 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hub_0003"
down_revision: str | None = "calls_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_message_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_events_device_id_message_id", ["device_id", "message_id"]
        )

    # The ledger gains the device: taken from the stored event (message ids were unique
    # until now, so the join is exact); a ledger row without its event keeps an empty
    # device, which no new message matches.
    with op.batch_alter_table("alarm_processed_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("device_id", sa.String(length=64), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE alarm_processed_events SET device_id = ("
        " SELECT events.device_id FROM events"
        " WHERE events.message_id = alarm_processed_events.message_id)"
        " WHERE EXISTS (SELECT 1 FROM events"
        " WHERE events.message_id = alarm_processed_events.message_id)"
    )
    with op.batch_alter_table("alarm_processed_events", schema=None) as batch_op:
        batch_op.drop_constraint("pk_alarm_processed_events", type_="primary")
        batch_op.create_primary_key("pk_alarm_processed_events", ["device_id", "message_id"])
        batch_op.alter_column("device_id", server_default=None)


def downgrade() -> None:
    # Going back to fleet-wide ids: where two devices used one id, keep the first row.
    op.execute(
        "DELETE FROM alarm_processed_events WHERE EXISTS (SELECT 1 FROM alarm_processed_events"
        " AS older WHERE older.message_id = alarm_processed_events.message_id"
        " AND older.device_id < alarm_processed_events.device_id)"
    )
    with op.batch_alter_table("alarm_processed_events", schema=None) as batch_op:
        batch_op.drop_constraint("pk_alarm_processed_events", type_="primary")
        batch_op.create_primary_key("pk_alarm_processed_events", ["message_id"])
        batch_op.drop_column("device_id")
    op.execute(
        "DELETE FROM events WHERE EXISTS (SELECT 1 FROM events AS older"
        " WHERE older.message_id = events.message_id AND older.id < events.id)"
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_device_id_message_id", type_="unique")
        batch_op.create_unique_constraint("uq_events_message_id", ["message_id"])
