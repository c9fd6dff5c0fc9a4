"""Health, readiness, metrics and request-size limits for every HTTP service."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adaptloop_common.auth import scope_refusal

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """`/healthz` (process alive), `/readyz` (every check passes), `/metrics` (Prometheus)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = {}
        ready = True
        for name, check in checks.items():
            try:
                ok, detail = await check()
            except Exception as exc:
                ok, detail = False, f"{type(exc).__name__}: {exc}"
            results[name] = {"ok": ok, "detail": detail}
            ready = ready and ok
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over `max_bytes`, by header or by counting the stream.

    `path_limits` maps a path prefix to its own limit (e.g. a streamed upload route); the first
    matching prefix wins.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._reject(send, max_bytes)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send, max_bytes)

    async def _reject(self, send: Send, max_bytes: int) -> None:
        body = f'{{"detail":"request body larger than {max_bytes} bytes"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


_ADAPTER_PATH = re.compile(r"^/v1/adapters/([^/]+)")


class AdapterScope:
    """ASGI middleware: 403 before any handler runs when a scoped token asks for `/v1/adapters/{name}/...`
    of an adapter outside its scope (reads and writes alike); tokens are resolved by `app.state.token_table`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ADAPTER_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        table = getattr(getattr(scope.get("app"), "state", None), "token_table", None)
        if match is not None and table is not None:
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            principal = table.for_header(header)
            name = unquote(match.group(1))
            if principal is not None and not principal.may_use(name):
                body = json.dumps({"detail": scope_refusal(principal, name)}).encode()
                await send({"type": "http.response.start", "status": 403, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def install_common(
    app: FastAPI, *, max_body_bytes: int, checks: dict[str, ReadinessCheck], path_limits: dict[str, int] | None = None
) -> None:
    app.include_router(health_router(checks))
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, path_limits=path_limits)
    app.add_middleware(AdapterScope)
