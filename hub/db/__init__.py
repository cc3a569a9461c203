"""The hub's relational store: SQLAlchemy 2 (async) on SQLite or PostgreSQL, with Alembic.

Other hub packages define their tables on :class:`Base`, add their module to
:data:`MODEL_MODULES` and add a migration to ``hub/db/migrations/versions`` whose
``down_revision`` is the current head.
"""

from __future__ import annotations

import importlib

from hub.db.base import Base, BigIntId, UtcDateTime
from hub.db.crypto import KeySafeCipher, KeySafeCipherError
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import (
    SchemaMismatch,
    alembic_config,
    check_schema,
    downgrade_to_base,
    migration_heads,
    upgrade_to_head,
)

# Modules that declare tables; Alembic's autogenerate needs them imported.
MODEL_MODULES: list[str] = [
    "hub.db.models",
    "hub.db.health",
    "hub.outbox.models",
    "hub.signals.models",
    "hub.family.models",
    "hub.service.models",
    "hub.console.models",
    "hub.alarms.models",
    "hub.registry.models",
    "hub.carephones.models",
    "hub.cluster.models",
    "hub.ingest.delivery",
]


def import_models() -> None:
    """Import every module of :data:`MODEL_MODULES` so ``Base.metadata`` is complete."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


__all__ = [
    "MODEL_MODULES",
    "Base",
    "BigIntId",
    "KeySafeCipher",
    "KeySafeCipherError",
    "SchemaMismatch",
    "UtcDateTime",
    "alembic_config",
    "check_schema",
    "downgrade_to_base",
    "import_models",
    "make_engine",
    "make_sessionmaker",
    "migration_heads",
    "upgrade_to_head",
]
