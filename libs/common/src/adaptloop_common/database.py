"""PostgreSQL outages, the same way in every service: connection options that notice a dead server
quickly, one test for "the database is unreachable", a 503 with `Retry-After` for HTTP, and a wait
that background work (consumers, job runners, relays) uses instead of failing what it holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

log = logging.getLogger(__name__)
T = TypeVar("T")

DATABASE_UNAVAILABLE = Counter(
    "adaptloop_database_unavailable_total", "Requests or tasks that found PostgreSQL unreachable", ["where"]
)

CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
"""libpq options: a connection attempt gives up after 5 s, and a server that vanished without closing
its sockets is noticed within ~25 s instead of the kernel's retransmission timeout (minutes)."""


def engine_options(**connect_args: Any) -> dict[str, Any]:
    """`create_engine` keyword arguments for PostgreSQL: a pooled connection is tested before use
    (so the first request after an outage reconnects instead of failing on a dead socket)."""
    return {"pool_pre_ping": True, "pool_timeout": 10, "connect_args": {**CONNECT_ARGS, **connect_args}}


def is_database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "PostgreSQL cannot be reached or dropped the connection", the error
    itself or what it was raised from; constraint or data errors are not outages."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
            return True
        current = current.__cause__
    return False


def install_database_unavailable_handler(app: FastAPI, *, retry_after_s: int = 1, service: str = "") -> None:
    """Answer a request that found the database unreachable with 503 and `Retry-After`, never a 500."""
    from sqlalchemy import exc as sa_exc

    async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
        DATABASE_UNAVAILABLE.labels(f"{service}:http" if service else "http").inc()
        log.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
        return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": str(retry_after_s)})

    for exc_type in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(exc_type, _unavailable)


def wait_for_database(ping: Callable[[], Any], *, should_stop: Callable[[], bool] = lambda: False,
                      max_wait_s: float | None = None, where: str = "") -> bool:
    """Call `ping` with a growing pause (0.5 s to 5 s) until it succeeds; False if it failed otherwise,
    `should_stop()` held or `max_wait_s` passed."""
    try:
        retry_while_unavailable(ping, should_stop=should_stop, max_wait_s=max_wait_s, where=where)
    except Exception:
        return False
    return True


def retry_while_unavailable(call: Callable[[], T], *, should_stop: Callable[[], bool] = lambda: False,
                            max_wait_s: float | None = None, where: str = "") -> T:
    """Run `call`; while it fails because the database is unreachable, wait and run it again.

    Any other error, and the outage's error once `max_wait_s` has passed or `should_stop()` holds,
    is raised to the caller.
    """
    start = time.monotonic()
    pause = 0.5
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            DATABASE_UNAVAILABLE.labels(where).inc()
            if should_stop() or (max_wait_s is not None and time.monotonic() - start + pause > max_wait_s):
                raise
            log.warning("%s: database unavailable (%s); retrying in %.1fs", where or "database", _short(exc), pause)
            _pause(pause, should_stop)
            pause = min(pause * 2, 5.0)


def _pause(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep `seconds`, a quarter second at a time, so a stopping caller is not held up."""
    until = time.monotonic() + seconds
    while not should_stop() and (left := until - time.monotonic()) > 0:
        time.sleep(min(left, 0.25))


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
