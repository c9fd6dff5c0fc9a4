"""Every error leaves in OpenAI's format: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adaptloop_inference.errors import InferenceError

log = logging.getLogger(__name__)

VERSION_HEADER = "x-adaptloop-adapter-version"
EVENT_HEADER = "x-adaptloop-event-id"
"""The `event_id` of the request's `inference.log` event: what feedback refers to."""
NO_VERSION = "none"
"""Header value of responses no model produced (errors, listings)."""

_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_exceeded"}


def openai_error(status: int, message: str, *, error_type: str | None = None, code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type or _TYPES.get(status, "server_error"),
                      "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers={VERSION_HEADER: NO_VERSION, **(headers or {})})


def openai_error_body(status: int, message: str) -> bytes:
    """The body of a refusal made before routing (the request-body guard), in the same format."""
    code = {413: "request_too_large", 400: "invalid_value"}.get(status)
    return json.dumps({"error": {"message": message, "type": _TYPES.get(status, "server_error"),
                                 "param": None, "code": code}}).encode()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InferenceError)
    async def _domain(_request: Request, exc: InferenceError) -> JSONResponse:
        return openai_error(exc.status_code, str(exc), error_type=exc.error_type, code=exc.code, param=exc.param)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        return openai_error(400, f"{param or 'body'}: {first.get('msg')}", param=param, code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return openai_error(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", exc)
        return openai_error(500, f"internal error: {type(exc).__name__}")
