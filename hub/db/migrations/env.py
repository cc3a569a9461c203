"""Alembic environment: async engines, batch mode on SQLite, the hub's metadata."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from hub.db import Base, UtcDateTime, import_models, make_engine

import_models()
target_metadata = Base.metadata
config = context.config


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import hub code: UtcDateTime is a plain timestamp in DDL.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table (copy, DROP, rename). With foreign keys on, dropping a
        # parent such as ``devices`` fails while ``events`` rows point at it (or would cascade
        # a delete), so they are off during migrations, as SQLite's own procedure for
        # altering tables says, and checked once at the end. The PRAGMA only takes effect
        # before the transaction writes anything: it is verified.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
            raise RuntimeError("could not switch SQLite foreign keys off for the migration")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the migration left rows with broken references: {broken}")


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("TELEASSIST_DATABASE_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or TELEASSIST_DATABASE_URL")
    return url


async def _run_async() -> None:
    engine = make_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_configure)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Use the caller's connection (``upgrade_to_head``) or open one (the alembic CLI)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
