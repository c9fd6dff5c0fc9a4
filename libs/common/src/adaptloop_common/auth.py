"""Bearer tokens with roles. Only sha256 digests of tokens are configured, never tokens."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLE_RANK = {"reader": 0, "trainer": 1, "admin": 2}


@dataclass(frozen=True)
class Principal:
    actor: str
    role: str

    def has(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Parsed from `actor:role:sha256hex,...`; a role implies every role ranked below it."""

    def __init__(self, spec: str) -> None:
        self._by_digest: dict[str, Principal] = {}
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            try:
                actor, role, digest = entry.split(":")
            except ValueError as exc:
                raise ValueError(f"token entry {entry!r} is not actor:role:sha256") from exc
            if role not in ROLE_RANK:
                raise ValueError(f"token entry for {actor!r} has unknown role {role!r}")
            if len(digest) != 64:
                raise ValueError(f"token entry for {actor!r} needs a sha256 hex digest")
            self._by_digest[digest.lower()] = Principal(actor, role)

    def lookup(self, token: str) -> Principal | None:
        digest = token_digest(token)
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None


_bearer = HTTPBearer(auto_error=False)


def require_role(role: str):  # type: ignore[no-untyped-def]
    """FastAPI dependency: 401 without a valid token, 403 when its role is too low."""

    def _dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        table: TokenTable = request.app.state.token_table
        if credentials is None:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        principal = table.lookup(credentials.credentials)
        if principal is None:
            raise HTTPException(401, "unknown bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not principal.has(role):
            raise HTTPException(403, f"role {principal.role!r} may not do this; needs {role!r}")
        return principal

    return _dependency
