"""Route: issue a bearer token scoped to adapters (the services are configured with its entry, never the token)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from adaptloop_common.auth import SCOPE_SEPARATOR, Principal, require_role, token_digest
from adaptloop_contracts.registry_answers import ScopedToken
from adaptloop_contracts.registry_requests import ScopedTokenRequest
from fastapi import APIRouter, Depends

from adaptloop_registry.api.deps import AdminCaller, Runtime
from adaptloop_registry.catalog import find_adapter
from adaptloop_registry.outbox import audit

router = APIRouter(prefix="/v1", tags=["tokens"])


@router.post("/tokens", status_code=201, response_model=ScopedToken, responses={
    404: {"description": "an adapter of the scope is not registered (nothing issued)"},
    422: {"description": "malformed actor, role or adapter name"}})
def issue_scoped_token(body: ScopedTokenRequest, runtime: Runtime, caller: AdminCaller,
                       principal: Annotated[Principal, Depends(require_role("admin"))]) -> dict[str, Any]:
    """A new token limited to registered adapters: the answer holds the token (shown once) and the
    `actor:role:sha256:adapters` entry to add to every service's `..._TOKENS`; the issue is audited."""
    principal.require_unscoped("issue tokens")
    token = secrets.token_urlsafe(32)
    adapters = sorted(set(body.adapters))
    entry = f"{body.actor}:{body.role}:{token_digest(token)}:{SCOPE_SEPARATOR.join(adapters)}"
    with runtime.db.begin() as conn:
        for name in adapters:
            find_adapter(conn, name)  # 404 naming the first unknown adapter, before anything is recorded
        audit(conn, caller=caller, action="token.issue", target=body.actor,
              details={"role": body.role, "adapters": adapters, "sha256": token_digest(token)})
    return {"actor": body.actor, "role": body.role, "adapters": adapters, "token": token, "entry": entry}
