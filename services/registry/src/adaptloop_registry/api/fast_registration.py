"""The hot write, `POST /v1/adapters/{name}/versions` on PostgreSQL, answered without FastAPI's request
machinery (routing, dependency resolution, request parsing) but inside every middleware: the server
span, the token scope and the request-body guard run as for any request.

Installed as the innermost middleware, right around the exception middleware and the router. Only the
plain case is answered here: a known token whose role is `trainer` or above (parsed and looked up as
`require_role` does), a JSON body that validates as `VersionSpec`. Anything else - no or an unknown
token, a lower role, another content type, a body that does not validate - goes to the route, which
answers 401, 403 or 422 exactly as before (the body already read is handed on). Errors raised while
registering are answered by the app's own exception handlers, as the exception middleware would.
The route (`api/versions.py`) stays the definition: OpenAPI, SQLite, and every request not taken here.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from adaptloop_common.auth import TokenTable
from adaptloop_common.request_body import replay_body
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import ValidationError
from starlette._utils import get_route_path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adaptloop_registry import registration
from adaptloop_registry.api.deps import request_trace
from adaptloop_registry.api.versions import repeated_answer
from adaptloop_registry.caller import Caller
from adaptloop_registry.metrics import FAST_REGISTRATIONS
from adaptloop_registry.models import VersionSpec
from adaptloop_registry.runtime import RegistryRuntime

_REGISTRATION = re.compile(r"^/v1/adapters/([^/]+)/versions$")


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header, as Starlette's `Headers.get` answers."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class FastRegistrations:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _REGISTRATION.match(get_route_path(scope))
        app: Any = scope.get("app")
        runtime: RegistryRuntime | None = getattr(getattr(app, "state", None), "runtime", None)
        if match is None or runtime is None or runtime.pg is None:
            await self.app(scope, receive, send)
            return
        caller = self._trainer(scope, app.state.token_table)
        content_type = (_header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
        if caller is None or content_type != b"application/json":
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more is not None:  # the client went away
            return
        try:
            spec = VersionSpec.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replay_body(body, receive), send)
            return
        FAST_REGISTRATIONS.inc()
        try:
            answer, status = await self._register(runtime, match.group(1), spec, caller)
        except Exception as exc:
            handler = _handler_for(app, exc)
            if handler is None:
                raise
            request = Request(scope, receive)
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        else:
            response = JSONResponse(answer, status_code=status)
        await response(scope, receive, send)

    @staticmethod
    def _trainer(scope: Scope, table: TokenTable) -> Caller | None:
        """The caller when the request's bearer token has the trainer role (as `require_role` decides)."""
        authorization = _header(scope, b"authorization")
        if authorization is None:
            return None
        scheme, credentials = get_authorization_scheme_param(authorization.decode("latin-1"))
        if not (scheme and credentials) or scheme.lower() != "bearer":
            return None
        principal = table.lookup(credentials)
        if principal is None or not principal.has("trainer"):
            return None
        return Caller(actor=principal.actor, trace=request_trace(Request(scope)))

    @staticmethod
    async def _register(runtime: RegistryRuntime, name: str, spec: VersionSpec,
                        caller: Caller) -> tuple[dict[str, Any], int]:
        assert runtime.pg is not None
        outcome = await registration.register_version_async(runtime.pg, name, spec, caller=caller,
                                                            base_url=runtime.base_url)
        if isinstance(outcome, int):
            return await repeated_answer(runtime, name, outcome), 200
        runtime.committed()
        return outcome, 201


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body; the message that ended it early (a disconnect) as the second item, else None."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _handler_for(app: Any, exc: Exception) -> Any:
    """The app's exception handler for `exc` (by its class's MRO), as Starlette's exception middleware finds it:
    a handler for `Exception` (or 500) belongs to the server-error middleware, which answers what is raised."""
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is not Exception and cls in handlers:
            return handlers[cls]
    return None
