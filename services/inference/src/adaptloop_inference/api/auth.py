"""Optional client API keys: when digests are configured, `/v1/*` needs `Authorization: Bearer <key>`."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adaptloop_inference.errors import InferenceError

_bearer = HTTPBearer(auto_error=False)


class InvalidApiKey(InferenceError):
    status_code = 401
    error_type = "invalid_request_error"
    code = "invalid_api_key"


def require_api_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    digests: frozenset[str] = request.app.state.api_key_digests
    if not digests:
        return
    if credentials is None:
        raise InvalidApiKey("You didn't provide an API key (Authorization: Bearer <key>)")
    digest = hashlib.sha256(credentials.credentials.encode("utf-8")).hexdigest()
    if not any(hmac.compare_digest(digest, known) for known in digests):
        raise InvalidApiKey("Incorrect API key provided")


ApiKey = Annotated[None, Depends(require_api_key)]
