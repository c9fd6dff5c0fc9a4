"""FastAPI dependencies: the runtime, and the authenticated caller with the request's trace context."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from adaptloop_common.auth import Principal, require_role
from adaptloop_kafka.tracing import trace_headers
from fastapi import Depends, Request
from opentelemetry import propagate, trace

from adaptloop_registry.caller import Caller
from adaptloop_registry.runtime import RegistryRuntime


async def get_runtime(request: Request) -> RegistryRuntime:
    """Async on purpose: a plain function dependency would cost a thread-pool hop per request."""
    runtime: RegistryRuntime = request.app.state.runtime
    return runtime


def request_trace(request: Request) -> dict[str, str]:
    """The trace this request belongs to: the active server span, else the caller's `traceparent` header."""
    if trace.get_current_span().get_span_context().is_valid:
        headers = trace_headers()
    else:
        headers = trace_headers(propagate.extract(dict(request.headers)))
    return {k: v.decode("ascii") for k, v in headers}


def _caller_with(role: str) -> Callable[..., Awaitable[Caller]]:
    """Async, like every dependency here: a plain function would cost a thread-pool hop per request."""
    authorised = require_role(role)

    async def _caller(request: Request, principal: Annotated[Principal, Depends(authorised)]) -> Caller:
        return Caller(actor=principal.actor, trace=request_trace(request))

    return _caller


Runtime = Annotated[RegistryRuntime, Depends(get_runtime)]
AdminCaller = Annotated[Caller, Depends(_caller_with("admin"))]
TrainerCaller = Annotated[Caller, Depends(_caller_with("trainer"))]
