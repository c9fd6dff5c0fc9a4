"""Optional client API keys: when digests are configured, `/v1/*` needs `Authorization: Bearer <key>`.

An entry `sha256hex:support|billing` limits that key to those adapters (any alias or version of
them): a request naming another model is refused with 403 before anything is generated or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated

from adaptloop_common.auth import adapter_part, parse_scope
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adaptloop_inference.errors import InferenceError

_bearer = HTTPBearer(auto_error=False)


class InvalidApiKey(InferenceError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


class ModelNotAllowed(InferenceError):
    status_code = 403
    error_type = "invalid_request_error"
    code = "model_not_allowed"


def key_scopes(digests: frozenset[str]) -> dict[str, frozenset[str] | None]:
    """digest -> the adapters the key is limited to (None: every model); ValueError for a malformed scope."""
    out: dict[str, frozenset[str] | None] = {}
    for entry in digests:
        digest, _, scope = entry.partition(":")
        out[digest] = parse_scope(scope) if scope else None
    return out


def allowed(scope: frozenset[str] | None, model: str) -> bool:
    return scope is None or adapter_part(model) in scope


def _lookup(request: Request, key: str) -> tuple[bool, frozenset[str] | None]:
    """(known, scope) of a presented key."""
    scopes = getattr(request.app.state, "api_key_scopes", None)
    if scopes is None:
        scopes = request.app.state.api_key_scopes = key_scopes(request.app.state.api_key_digests)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    known = next((d for d in scopes if hmac.compare_digest(digest, d)), None)
    return (False, None) if known is None else (True, scopes[known])


async def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> frozenset[str] | None:
    """The adapters the caller's key may use (None: any); refuses a body whose `model` is outside them."""
    digests: frozenset[str] = request.app.state.api_key_digests
    if not digests:
        return None
    if credentials is None:
        raise InvalidApiKey("You didn't provide an API key (Authorization: Bearer <key>)")
    known, scope = _lookup(request, credentials.credentials)
    if not known:
        raise InvalidApiKey("Incorrect API key provided")
    if scope is not None and request.method == "POST":
        try:
            model = json.loads(await request.body()).get("model")
        except (ValueError, AttributeError):
            model = None  # the route answers the malformed body
        if isinstance(model, str) and not allowed(scope, model):
            raise ModelNotAllowed(f"This API key may not use the model `{model}`", param="model")
    return scope


ApiKey = Annotated[frozenset[str] | None, Depends(require_api_key)]


def refuse_scoped_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """For operator reads spanning every adapter (open without a key): 403 to a key limited to adapters."""
    if credentials is not None and request.app.state.api_key_digests:
        known, scope = _lookup(request, credentials.credentials)
        if known and scope is not None:
            raise ModelNotAllowed("An API key limited to adapters may not read every adapter's serving state")
