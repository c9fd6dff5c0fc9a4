"""A per-worker cache of alias answers (the response bytes), exact across workers and replicas.

Every write to the `aliases` table notifies channel `<schema>.aliases` with `adapter\\nalias` (a
trigger, migration 0006), delivered by PostgreSQL when the writing transaction commits. Each worker
LISTENs on one connection of its own. A cached answer is handed out only after a *barrier*: a
`SELECT 1` on that connection sent after the request arrived. PostgreSQL delivers every
notification of a transaction that committed before the barrier ahead of the barrier's answer, and
psycopg runs the handler (which drops the entry) while it reads that answer; so a move is visible to
every worker as soon as its response has been sent. One barrier serves every read that arrived
before it was sent, so under load a round trip is shared by many reads.

An entry filled from a read that raced with a move is not kept (a per-key generation counter), and
when the listening connection fails the cache is emptied and bypassed until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import psycopg
from adaptloop_common.database import CONNECT_ARGS
from psycopg import sql

log = logging.getLogger(__name__)

Key = tuple[str, str]


def channel_name(schema: str) -> str:
    return f"{schema}.aliases"


class AliasCache:
    """Alias answers by (adapter, alias); use `fresh()` before `get`, `generation`/`put` around a fill."""

    def __init__(self, conninfo: str, *, channel: str, max_entries: int = 100_000,
                 keepalive_s: float = 5.0, retry_s: float = 1.0, barrier_timeout_s: float = 5.0) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._max_entries = max_entries
        self._keepalive_s = keepalive_s
        self._retry_s = retry_s
        self._barrier_timeout_s = barrier_timeout_s
        self._conn: psycopg.AsyncConnection | None = None
        self._entries: dict[Key, bytes] = {}
        self._generations: dict[Key, int] = {}
        self._epoch = 0
        self._next: asyncio.Future[bool] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._last_barrier = 0.0
        self.hits = 0
        self.misses = 0

    @property
    def listening(self) -> bool:
        return self._conn is not None

    async def start(self) -> None:
        """Listen (a failure leaves the cache bypassed; the watcher keeps trying) and start the watcher."""
        await self._connect()
        self._watch = asyncio.create_task(self._watcher(), name="alias-cache-watch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner
        await self._drop_connection()

    async def fresh(self) -> bool:
        """Wait for a barrier sent after this call; True when the cache may be used."""
        if self._conn is None:
            return False
        future = self._next
        if future is None:
            future = self._next = asyncio.get_running_loop().create_future()
            if self._runner is None or self._runner.done():
                self._runner = asyncio.create_task(self._barriers(), name="alias-cache-barrier")
        return await asyncio.shield(future)

    def get(self, key: Key) -> bytes | None:
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
        else:
            self.hits += 1
        return body

    def generation(self, key: Key) -> tuple[int, int]:
        return self._epoch, self._generations.get(key, 0)

    def put(self, key: Key, generation: tuple[int, int], body: bytes) -> None:
        """Keep `body`, read after `generation` was taken, unless a notification for `key` came since."""
        if self._conn is None or self.generation(key) != generation:
            return
        if len(self._entries) >= self._max_entries:
            self._forget_all()
        self._entries[key] = body

    def invalidate(self, key: Key) -> None:
        self._entries.pop(key, None)
        self._generations[key] = self._generations.get(key, 0) + 1

    def _forget_all(self) -> None:
        self._entries.clear()
        self._generations.clear()
        self._epoch += 1

    # -- the listening connection -------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, **CONNECT_ARGS)
            conn.add_notify_handler(self._on_notify)
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except psycopg.Error as exc:
            log.warning("alias cache: cannot listen (%s); reads go to the database", exc)
            return
        self._forget_all()  # notifications may have been missed while not listening
        self._conn = conn
        self._last_barrier = time.monotonic()

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._forget_all()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, notify: psycopg.Notify) -> None:
        adapter, newline, alias = notify.payload.partition("\n")
        if adapter and newline:
            self.invalidate((adapter, alias))
        else:  # not one of the trigger's payloads: forget everything rather than guess
            self._forget_all()

    async def _barriers(self) -> None:
        try:
            while self._next is not None:
                future, self._next = self._next, None
                ok = False
                try:
                    ok = await self._barrier()
                finally:
                    if not future.done():
                        future.set_result(ok)
        finally:  # cancelled (shutdown): nobody waits forever, they read the database instead
            if self._next is not None:
                waiting, self._next = self._next, None
                waiting.set_result(False)

    async def _barrier(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            await asyncio.wait_for(conn.execute("SELECT 1"), self._barrier_timeout_s)
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("alias cache: listening connection lost (%r); reads go to the database", exc)
            await self._drop_connection()
            return False
        self._last_barrier = time.monotonic()
        return True

    async def _watcher(self) -> None:
        """Reconnect a lost listener; when idle, read pending notifications now and then."""
        while True:
            await asyncio.sleep(self._retry_s if self._conn is None else self._keepalive_s)
            try:
                if self._conn is None:
                    await self._connect()
                elif time.monotonic() - self._last_barrier >= self._keepalive_s:
                    await self.fresh()
            except Exception:  # keep watching whatever went wrong; reads are safe without the cache
                log.exception("alias cache: watcher")


async def cached(cache: AliasCache | None, key: Key, read: Callable[[], Awaitable[bytes]]) -> bytes:
    """The answer for `key` from the cache when it is usable, else from `read` (kept for next time)."""
    if cache is None or not await cache.fresh():
        return await read()
    body = cache.get(key)
    if body is None:
        generation = cache.generation(key)
        body = await read()
        cache.put(key, generation, body)
    return body
