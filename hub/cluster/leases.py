"""Partition leases and worker heartbeats in PostgreSQL (docs/adr/0147).

Every statement uses the database's clock (``now()``), so workers whose clocks differ agree
on who is alive and whose lease has run out. A claim is one conditional ``UPDATE`` (the row
lock makes two claims of one partition serial: the second finds it taken), and every claim
increases the partition's ``epoch``, the fencing token :meth:`LeaseStore.holds` checks
inside the transaction of a write made on behalf of a home.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class PartitionCountMismatch(RuntimeError):
    """The database's partitions were made by workers with another partition count."""


def _ids(partitions: Collection[int]) -> list[int]:
    return sorted(partitions)


class LeaseStore:
    """The ``hub_members`` and ``hub_partitions`` tables (PostgreSQL only)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def ensure(self, partitions: int) -> None:
        """Create the lease rows of ``partitions`` partitions if missing; raise
        :class:`PartitionCountMismatch` if the table holds another count."""
        async with self._sessionmaker() as session:
            count = await session.scalar(text("SELECT count(*) FROM hub_partitions"))
            if not count:
                # Two workers starting together both insert; the second adds nothing.
                await session.execute(
                    text(
                        "INSERT INTO hub_partitions (partition, owner, epoch, expires_at) "
                        "SELECT p, NULL, 0, NULL FROM generate_series(0, :last) AS p "
                        "ON CONFLICT (partition) DO NOTHING"
                    ),
                    {"last": partitions - 1},
                )
                count = await session.scalar(text("SELECT count(*) FROM hub_partitions"))
            await session.commit()
        if count != partitions:
            raise PartitionCountMismatch(
                f"the database has {count} partitions; this worker is set to {partitions} "
                "(every worker of a cluster must use the same TELEASSIST_HUB__PARTITIONS)"
            )

    async def heartbeat(self, worker: str, ttl_s: float) -> list[str]:
        """Record that ``worker`` is alive; return every live worker (itself included)."""
        async with self._sessionmaker() as session:
            members = await self._heartbeat(session, worker, ttl_s)
            await session.commit()
        return members

    @staticmethod
    async def _heartbeat(session: AsyncSession, worker: str, ttl_s: float) -> list[str]:
        await session.execute(
            text(
                "INSERT INTO hub_members (worker_id, seen_at) VALUES (:w, now()) "
                "ON CONFLICT (worker_id) DO UPDATE SET seen_at = now()"
            ),
            {"w": worker},
        )
        # Members gone for long are forgotten (the table stays small as workers come and go
        # under new names).
        await session.execute(
            text("DELETE FROM hub_members WHERE seen_at < now() - make_interval(secs => :k)"),
            {"k": 60 * ttl_s},
        )
        rows = await session.scalars(
            text(
                "SELECT worker_id FROM hub_members "
                "WHERE seen_at > now() - make_interval(secs => :ttl) ORDER BY worker_id"
            ),
            {"ttl": ttl_s},
        )
        return list(rows)

    async def beat(
        self, worker: str, partitions: Collection[int], ttl_s: float
    ) -> tuple[list[str], set[int]]:
        """:meth:`heartbeat` and :meth:`renew` in one transaction (one round trip less on
        the path that keeps the leases): the live workers, and the partitions still held."""
        async with self._sessionmaker() as session:
            members = await self._heartbeat(session, worker, ttl_s)
            held = await self._renew(session, worker, partitions, ttl_s)
            await session.commit()
        return members, held

    async def claim(self, worker: str, partitions: Collection[int], ttl_s: float) -> dict[int, int]:
        """Take those of ``partitions`` that nobody holds or whose lease ran out; returns
        each taken partition's new epoch."""
        if not partitions:
            return {}
        async with self._sessionmaker() as session:
            rows = await session.execute(
                text(
                    "UPDATE hub_partitions SET owner = :w, epoch = epoch + 1, "
                    "expires_at = now() + make_interval(secs => :ttl) "
                    "WHERE partition = ANY(CAST(:ps AS integer[])) "
                    "AND (owner IS NULL OR expires_at <= now()) "
                    "RETURNING partition, epoch"
                ),
                {"w": worker, "ttl": ttl_s, "ps": _ids(partitions)},
            )
            taken = {int(p): int(e) for p, e in rows}
            await session.commit()
        return taken

    async def renew(self, worker: str, partitions: Collection[int], ttl_s: float) -> set[int]:
        """Extend ``worker``'s leases of ``partitions``; returns those it still holds. A lease
        that ran out but that nobody claimed meanwhile is still this worker's (same epoch: no
        other worker wrote for those homes, and this one's fenced writes failed while it was
        out), so a worker slowed down past its TTL keeps its homes instead of handing them
        over and back; one that another worker claimed is lost."""
        async with self._sessionmaker() as session:
            held = await self._renew(session, worker, partitions, ttl_s)
            await session.commit()
        return held

    @staticmethod
    async def _renew(
        session: AsyncSession, worker: str, partitions: Collection[int], ttl_s: float
    ) -> set[int]:
        if not partitions:
            return set()
        rows = await session.scalars(
            text(
                "UPDATE hub_partitions SET expires_at = now() + make_interval(secs => :ttl) "
                "WHERE partition = ANY(CAST(:ps AS integer[])) "
                "AND owner = :w RETURNING partition"
            ),
            {"w": worker, "ttl": ttl_s, "ps": _ids(partitions)},
        )
        return {int(p) for p in rows}

    async def release(self, worker: str, partitions: Collection[int]) -> None:
        """Give up ``worker``'s leases of ``partitions`` (free at once for the next owner)."""
        if not partitions:
            return
        async with self._sessionmaker() as session:
            await session.execute(
                text(
                    "UPDATE hub_partitions SET owner = NULL, expires_at = NULL "
                    "WHERE partition = ANY(CAST(:ps AS integer[])) AND owner = :w"
                ),
                {"w": worker, "ps": _ids(partitions)},
            )
            await session.commit()

    async def leave(self, worker: str) -> None:
        """A clean stop: release every lease of ``worker`` and stop counting it as alive."""
        async with self._sessionmaker() as session:
            await session.execute(
                text("UPDATE hub_partitions SET owner = NULL, expires_at = NULL WHERE owner = :w"),
                {"w": worker},
            )
            await session.execute(
                text("DELETE FROM hub_members WHERE worker_id = :w"), {"w": worker}
            )
            await session.commit()

    async def owners(self) -> dict[int, str | None]:
        """Every partition's current owner (``None``: free or expired)."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                text(
                    "SELECT partition, CASE WHEN expires_at > now() THEN owner END "
                    "FROM hub_partitions ORDER BY partition"
                )
            )
            return {int(p): o for p, o in rows}


async def held_epochs(
    session: AsyncSession, worker: str, partitions: Collection[int]
) -> dict[int, int]:
    """Fencing of a batch, inside the caller's transaction: the epoch of each of
    ``partitions`` whose lease row names ``worker`` as owner, locked ``FOR SHARE`` until the
    transaction ends. Expiry is not checked: while the row is locked nobody can claim it (a
    claim is an ``UPDATE`` that bumps the epoch), so an owner whose lease ran out but was not
    taken, with the epoch it wrote under, is still the only writer of those homes; the caller
    compares the epochs with the ones it worked under."""
    if not partitions:
        return {}
    rows = await session.execute(
        text(
            "SELECT partition, epoch FROM hub_partitions "
            "WHERE partition = ANY(CAST(:ps AS integer[])) AND owner = :w "
            "ORDER BY partition FOR SHARE"
        ),
        {"w": worker, "ps": _ids(partitions)},
    )
    return {int(p): int(e) for p, e in rows}


async def holds(session: AsyncSession, worker: str, partition: int, epoch: int) -> bool:
    """Fencing, inside the caller's transaction: whether ``worker`` still holds ``partition``
    under ``epoch`` with an unexpired lease. ``FOR SHARE`` keeps the lease row locked until
    the caller's transaction ends, so a new owner's claim (an ``UPDATE`` of that row) waits
    for it: a write that passed this check commits before the partition changes hands."""
    row = await session.scalar(
        text(
            "SELECT 1 FROM hub_partitions WHERE partition = :p AND owner = :w AND epoch = :e "
            "AND expires_at > now() FOR SHARE"
        ),
        {"p": partition, "w": worker, "e": epoch},
    )
    return row is not None
