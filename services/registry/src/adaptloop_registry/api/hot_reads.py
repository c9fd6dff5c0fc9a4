"""The hot read, `GET /v1/adapters/{name}/aliases/{alias}`, answered from the worker's alias cache
before the framework's stack (tracing middleware, routing, dependencies) runs.

Installed around the app's whole middleware stack. A cached answer (exact: see
`adaptloop_registry.infra.alias_cache`) is sent as ready bytes after the same token-scope check every
request gets (`AdapterScope`); anything else - a miss, a cache that is not listening, another
method or path - goes through the full app, which reads the database, fills the cache and makes the
request's span. Hits make no span (the trace would hold nothing but this span); `hits` and
`misses` of the cache count them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from adaptloop_common.http import AdapterScope
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from adaptloop_registry.infra.alias_cache import AliasCache

_ALIAS_READ = re.compile(r"^/v1/adapters/([^/]+)/aliases/([^/]+)$")


class HotAliasReads:
    def __init__(self, app: ASGIApp, cache: AliasCache) -> None:
        self.app = app
        self.cache = cache
        self._scoped = AdapterScope(self._answer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET" and self.cache.listening
                and _ALIAS_READ.match(scope["path"])):
            await self._scoped(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ALIAS_READ.match(scope["path"])
        body = None
        if match is not None and await self.cache.fresh():
            body = self.cache.get((match.group(1), match.group(2)))
        if body is None:
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def install_hot_reads(app: FastAPI, cache: AliasCache | None) -> None:
    """Put `HotAliasReads` around the middleware stack (call after every middleware and instrumentation)."""
    if cache is None:
        return
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_hot_reads() -> ASGIApp:
        return HotAliasReads(build(), cache)

    app.build_middleware_stack = build_with_hot_reads  # type: ignore[method-assign]
