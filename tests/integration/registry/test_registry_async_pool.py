"""The registration's own connection pool on the event loop (`infra/pg_async.py`) against PostgreSQL: more
transactions than connections all complete on at most `size` connections, a wait longer than the timeout is
refused, and a request that gives up while waiting leaves no connection behind."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from adaptloop_registry.infra.pg_async import AsyncPostgres, PoolTimeout, compiled
from sqlalchemy import func, literal, select

BACKEND = compiled(select(func.pg_backend_pid()))
SLEEP = compiled(select(func.pg_sleep(literal(0.02))))


def _pool(pg_dsn: str, size: int, timeout_s: float = 10.0) -> AsyncPostgres:
    return AsyncPostgres(pg_dsn, schema="public", size=size, timeout_s=timeout_s)


def test_more_transactions_than_connections_share_them(pg_dsn: str) -> None:
    async def run() -> set[int]:
        pool = _pool(pg_dsn, size=2)
        backends: set[int] = set()

        async def one() -> None:
            async with pool.transaction() as tx:
                [[row]] = await tx.begin((BACKEND, {}))
                backends.add(row[0])
                await tx.commit((SLEEP, {}))

        try:
            await asyncio.gather(*(one() for _ in range(12)))
        finally:
            await pool.close()
        return backends

    backends = asyncio.run(run())
    assert 1 <= len(backends) <= 2


def test_a_wait_longer_than_the_timeout_is_refused(pg_dsn: str) -> None:
    async def run() -> None:
        pool = _pool(pg_dsn, size=1, timeout_s=0.2)
        try:
            async with pool.transaction() as tx:
                await tx.begin((BACKEND, {}))
                with pytest.raises(PoolTimeout):
                    async with pool.transaction():
                        pass
        finally:
            await pool.close()

    asyncio.run(run())


def test_a_request_that_gives_up_while_waiting_leaves_no_connection_behind(pg_dsn: str) -> None:
    """The race: a connection is handed to the one request waiting, which is cancelled (its client went
    away) before it resumes; the connection must not be lost with the request."""
    async def run() -> None:
        pool = _pool(pg_dsn, size=1, timeout_s=5.0)

        async def waiter() -> None:
            async with pool.transaction() as tx:
                await tx.begin((BACKEND, {}))

        try:
            async with pool.transaction() as tx:  # the pool's one connection, then back in the pool
                await tx.begin((BACKEND, {}))
                await tx.commit()
            pooled, _ = await pool._acquire()  # held as a transaction in progress would hold it
            waiting = asyncio.create_task(waiter())
            await asyncio.sleep(0)  # the request queues for the one connection
            pool._release(pooled)  # the connection is handed to the waiting request ...
            waiting.cancel()  # ... which gives up before it resumes (no await in between)
            with contextlib.suppress(asyncio.CancelledError):  # it may still finish with what it was handed
                await waiting
            async with asyncio.timeout(2.0), pool.transaction() as tx:  # the connection is free again
                await tx.begin((BACKEND, {}))
                await tx.commit()
        finally:
            await pool.close()

    asyncio.run(run())
