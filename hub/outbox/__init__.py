"""The wSocial outbox in the hub's database.

Callers write social events with :func:`enqueue` INSIDE their own transaction (the
change and its event commit together or not at all). :class:`SqlOutboxStore` is the
SQL implementation of :class:`integrations.wsocial.outbox.OutboxStore`; the delivery
worker runs as the app's background task when ``[wsocial] enabled = true``; admins see
and replay dead letters under ``/api/wsocial/outbox``.
"""

from hub.outbox.models import OutboxRow
from hub.outbox.store import SqlOutboxStore, enqueue

__all__ = ["OutboxRow", "SqlOutboxStore", "enqueue"]
