"""Health, readiness, metrics, the adapter scope of tokens and the request-body guard for every HTTP service."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from adaptloop_contracts.http_common import Health, Readiness, text_answer
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from adaptloop_common.auth import scope_refusal
from adaptloop_common.request_body import ErrorBody, RequestBodyGuard, detail_body

ReadinessCheck = Callable[[], Awaitable[tuple[bool, str]]]


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """`/healthz` (process alive), `/readyz` (every check passes), `/metrics` (Prometheus)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness,
                responses={503: {"description": "a check failed (named in `checks`)", "model": Readiness}})
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

    @router.get("/metrics", response_class=Response,
                responses=text_answer(CONTENT_TYPE_LATEST, "Prometheus text exposition"))
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


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
    app: FastAPI, *, max_body_bytes: int, checks: dict[str, ReadinessCheck], path_limits: dict[str, int] | None = None,
    error_body: ErrorBody = detail_body,
) -> None:
    """Health routes, the adapter scope of tokens and the request-body guard (size limit, text check);
    `error_body` renders the guard's refusals in the service's error format."""
    app.include_router(health_router(checks))
    app.add_middleware(RequestBodyGuard, max_bytes=max_body_bytes, path_limits=path_limits, error_body=error_body)
    app.add_middleware(AdapterScope)
