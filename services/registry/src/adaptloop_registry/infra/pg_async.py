"""PostgreSQL on the event loop, for the hot write (a version registration): psycopg's async connections in
a small pool of the worker's own, and SQLAlchemy statements compiled once to the SQL they send.

A sync route costs a hop to the thread pool and back, and under load its threads spend CPU handing the
GIL around; SQLAlchemy's execution (pool checkout with its pre-ping, execution context, result
processing) costs about as much CPU again as the statements themselves. Here a transaction is `BEGIN`, the
statements on one cursor per connection and `COMMIT`, each awaited on the event loop.

The transaction's first statements double as the pool's liveness check, as SQLAlchemy's pre-ping does
without a round trip of its own: when they find a connection taken from the pool broken (the database
restarted, the network was cut), that connection is dropped and the transaction begins once more on a
fresh one; nothing was committed, so nothing is done twice. A connection whose transaction ended any other
way than a clean `COMMIT` or `ROLLBACK` is closed, not reused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple, cast

import psycopg
from adaptloop_common.database import CONNECT_ARGS
from psycopg import pq
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = pg_dialect.dialect()


class PoolTimeout(psycopg.OperationalError):
    """No connection became free within the pool's timeout (answered like an unreachable database: 503)."""


class Compiled(NamedTuple):
    """A statement's SQL for psycopg (`%(name)s` placeholders), its fixed parameters and its JSON parameters."""

    sql: str
    defaults: dict[str, Any]
    json: tuple[str, ...]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """The parameters to send: `values` over the fixed ones, JSON values adapted as SQLAlchemy does
        (`None` becomes JSON `null`, like a `JSON` column without `none_as_null`)."""
        params = self.defaults | values
        for name in self.json:
            params[name] = Json(params.get(name))
        return params


@functools.cache
def compiled(statement: ClauseElement) -> Compiled:
    """`statement` compiled for PostgreSQL once (statements are module-level objects, cached by identity).
    Unqualified table names: the connections resolve them in the service's schema (`search_path`)."""
    result = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
    defaults = {name: value for name, value in result.params.items() if value is not None}
    json = tuple(name for name, bind in result.binds.items() if isinstance(bind.type, JSON))
    return Compiled(str(result), defaults, json)


Step = tuple[Compiled, dict[str, Any]]
"""A statement and its values."""


class _Pooled:
    __slots__ = ("conn", "cursor")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.cursor: psycopg.AsyncCursor[Any] = conn.cursor()


class Transaction:
    """One transaction: `begin(...)` sends `BEGIN` and its statements, `commit(...)` its statements and
    `COMMIT`. Each returns the rows of every statement."""

    def __init__(self, db: AsyncPostgres, pooled: _Pooled, reused: bool) -> None:
        self._db = db
        self.pooled = pooled
        self._reused = reused
        self.committed = False

    async def begin(self, *steps: Step) -> list[list[Any]]:
        try:
            return await self._flight(steps, begin=True)
        except psycopg.OperationalError:
            if not (self._reused and self.pooled.conn.broken):
                raise
        # A connection kept in the pool was found dead (the database restarted, the network was cut): nothing
        # was done in this transaction, so it begins once more on a fresh connection.
        await self._db._discard(self.pooled)
        self.pooled, self._reused = await self._db._acquire_fresh(), False
        return await self._flight(steps, begin=True)

    async def commit(self, *steps: Step) -> list[list[Any]]:
        rows = await self._flight(steps, commit=True)
        self.committed = True
        return rows

    async def _flight(self, steps: tuple[Step, ...], *, begin: bool = False,
                      commit: bool = False) -> list[list[Any]]:
        # One statement after the other: psycopg's pipeline mode would send them in one round trip, but
        # it waits for the answer by polling a socket that is always writable, spinning the event loop's
        # CPU for the whole round trip (measured: a third of the worker's CPU).
        cursor, listener = self.pooled.cursor, self._db.on_statement
        if begin:
            await cursor.execute(b"BEGIN")
        rows = []
        for statement, values in steps:
            if listener is not None:
                listener(statement.sql)
            await cursor.execute(statement.sql, statement.params(values))
            rows.append(await cursor.fetchall())
        if commit:
            await cursor.execute(b"COMMIT")
        return rows


class AsyncPostgres:
    """Up to `size` connections (autocommit: transactions are begun and ended explicitly), opened on first
    use and kept; `transaction()` waits at most `timeout_s` for one to be free."""

    def __init__(self, conninfo: str, *, schema: str, size: int, timeout_s: float = 10.0) -> None:
        self._conninfo = conninfo
        self._options = f"-csearch_path={schema}"
        self._size = max(1, size)
        self._timeout_s = timeout_s
        self._idle: list[_Pooled] = []
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[_Pooled | None]] = collections.deque()
        self._closed = False
        self.on_statement: Callable[[str], None] | None = None
        """Called with the SQL of every statement a transaction sends (tests count them); not `BEGIN`/`COMMIT`."""

    async def _connect(self) -> _Pooled:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, row_factory=namedtuple_row,
                                                     options=self._options, **CONNECT_ARGS)
        return _Pooled(conn)

    async def _acquire(self) -> tuple[_Pooled, bool]:
        """A connection and whether it was taken from the pool (False: opened now)."""
        while True:
            if self._closed:
                raise PoolTimeout("the database connections are closed (shutting down)")
            if self._idle:
                return self._idle.pop(), True
            if self._open < self._size:
                self._open += 1
                try:
                    return await self._connect(), False
                except BaseException:
                    self._open -= 1
                    self._hand_over(None)
                    raise
            waiter: asyncio.Future[_Pooled | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await asyncio.wait_for(waiter, self._timeout_s)
            except TimeoutError:
                raise PoolTimeout(f"no database connection free within {self._timeout_s}s") from None
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            if handed is not None:
                return handed, True
            # a connection was closed: its place is free, go round again

    def _hand_over(self, pooled: _Pooled | None) -> bool:
        """Give a connection (or, with None, a free place) to the longest waiter; False when none waits."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(pooled)
                return True
        return False

    def _release(self, pooled: _Pooled) -> None:
        if not self._hand_over(pooled):
            self._idle.append(pooled)

    async def _discard(self, pooled: _Pooled) -> None:
        self._open -= 1
        self._hand_over(None)
        with contextlib.suppress(Exception):
            await pooled.conn.close()

    async def _acquire_fresh(self) -> _Pooled:
        """After a stale connection was dropped: a new one (the others idle as long were most likely cut too)."""
        while self._idle:
            await self._discard(self._idle.pop())
        pooled, _ = await self._acquire()
        return pooled

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """`Transaction.begin`, then `Transaction.commit`; when the block raises first, rolled back."""
        pooled, reused = await self._acquire()
        tx = Transaction(self, pooled, reused)
        try:
            yield tx
        except Exception:
            await self._give_back(tx.pooled, rollback=True)
            raise
        except BaseException:  # cancelled mid-statement: the connection's state is unknown
            await self._discard(tx.pooled)
            raise
        await self._give_back(tx.pooled, rollback=not tx.committed)

    async def _give_back(self, pooled: _Pooled, *, rollback: bool) -> None:
        """Back to the pool when its transaction is over (rolled back first when asked and open); closed when
        its state is anything else."""
        status = pooled.conn.info.transaction_status
        if rollback and status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            try:
                await pooled.cursor.execute(b"ROLLBACK")
            except Exception:
                await self._discard(pooled)
                return
            status = pooled.conn.info.transaction_status
        if status != pq.TransactionStatus.IDLE or self._closed or pooled.conn.broken:
            await self._discard(pooled)
        else:
            self._release(pooled)

    def idle_backend_pids(self) -> list[int]:
        """PostgreSQL's process ids of the idle connections (as `pg_stat_activity` shows them)."""
        return [pooled.conn.info.backend_pid for pooled in self._idle]

    def reopen(self) -> None:
        """Usable again after `close` (an app started anew)."""
        self._closed = False

    async def close(self) -> None:
        """Close the idle connections now; those in use are closed as they come back."""
        self._closed = True
        while self._idle:
            await self._discard(self._idle.pop())
