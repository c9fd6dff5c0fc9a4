"""Domain errors to HTTP answers; an unreachable database is a 503 with Retry-After."""

from __future__ import annotations

from adaptloop_common.database import install_database_unavailable_handler
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adaptloop_ingest.errors import BatchRejected, BatchTooLarge, MalformedBody, NotAcknowledged, QueueFull


def install_error_handlers(app: FastAPI, *, retry_after_s: int) -> None:
    retry_after = {"Retry-After": str(retry_after_s)}
    install_database_unavailable_handler(app, retry_after_s=retry_after_s, service="ingest")

    @app.exception_handler(MalformedBody)
    async def _malformed(_: Request, exc: MalformedBody) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(BatchTooLarge)
    async def _too_large(_: Request, exc: BatchTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(BatchRejected)
    async def _rejected(_: Request, exc: BatchRejected) -> JSONResponse:
        return JSONResponse({"detail": "no valid item in the request", "rejected": exc.rejected}, status_code=422)

    @app.exception_handler(QueueFull)
    async def _queue_full(_: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=retry_after)

    @app.exception_handler(NotAcknowledged)
    async def _not_acknowledged(_: Request, exc: NotAcknowledged) -> JSONResponse:
        return JSONResponse({"detail": f"{exc}; nothing of this request counts as accepted"}, status_code=503,
                            headers=retry_after)
