"""Alembic, driven from code: ``await upgrade_to_head(url)``.

The migration scripts live in ``hub/db/migrations``; ``alembic -c hub/db/alembic.ini ...``
works too (for ``alembic heads`` and ``revision --autogenerate``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from hub.db.engine import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL | None = None) -> AlembicConfig:
    """An Alembic configuration for the hub's migrations (and ``url`` if given)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        # ConfigParser interpolation: a literal % in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def migration_heads() -> tuple[str, ...]:
    """The head revisions of the chain (there must be exactly one)."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


class SchemaMismatch(RuntimeError):
    """The database's schema is not one this hub can run on (see :func:`check_schema`)."""


async def current_revisions(url: str | URL) -> tuple[str, ...]:
    """The revisions recorded in the database's ``alembic_version`` (empty: no schema yet)."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    finally:
        await engine.dispose()
    return tuple(heads)


async def check_schema(url: str | URL, *, will_migrate: bool) -> bool:
    """Refuse a schema this hub does not know, before anything reads or writes it; returns
    whether the database is already at head (nothing to migrate).

    A revision missing from this hub's migrations means the database was upgraded by a newer
    release (or another branch): running older code on it could corrupt data, so the hub stops.
    Behind head is fine only when the hub is about to migrate (``migrate_on_start``).
    """
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    found = await current_revisions(url)
    unknown = [rev for rev in found if rev not in known]
    if unknown:
        raise SchemaMismatch(
            f"the database schema is at revision {', '.join(unknown)}, which this hub's "
            "migrations do not know (the database was upgraded by a newer release?); "
            "run the matching release or restore a backup taken before the upgrade"
        )
    head = script.get_current_head()
    if found == (head,):
        return True
    if will_migrate:
        return False
    at = ", ".join(found) or "no schema"
    raise SchemaMismatch(
        f"the database schema is at {at} but this hub needs {head}, and migrate_on_start is "
        "off: run `teleassist hub migrate` first"
    )


async def upgrade_to_head(url: str | URL) -> None:
    """Bring the database at ``url`` to the newest schema (:class:`SchemaMismatch` if it is
    at a revision this hub does not know)."""
    await check_schema(url, will_migrate=True)
    await _run(url, "upgrade", "head")


async def upgrade_to(url: str | URL, revision: str) -> None:
    """Bring the database at ``url`` to ``revision`` (tests of a data migration)."""
    await _run(url, "upgrade", revision)


async def downgrade_to(url: str | URL, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` (tests of a data migration's undo)."""
    await _run(url, "downgrade", revision)


async def downgrade_to_base(url: str | URL) -> None:
    """Undo every migration (used by the tests of the migrations themselves)."""
    await _run(url, "downgrade", "base")


async def _run(url: str | URL, what: str, target: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_sync, url, what, target)
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, url: str | URL, what: str, target: str) -> None:
    cfg = alembic_config(url)
    # env.py uses this connection instead of opening its own (we are inside an event loop).
    cfg.attributes["connection"] = connection
    if what == "upgrade":
        command.upgrade(cfg, target)
    else:
        command.downgrade(cfg, target)
