"""Bearer tokens with roles, optionally scoped to adapters. Only sha256 digests of tokens are configured."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLE_RANK = {"reader": 0, "trainer": 1, "admin": 2}
ADAPTER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SCOPE_SEPARATOR = "|"


def adapter_part(model_name: str) -> str:
    """`support:canary` and `support@3` -> `support` (the adapter a name belongs to)."""
    return model_name.split("@", 1)[0].split(":", 1)[0]


def parse_scope(spec: str) -> frozenset[str]:
    """`support|billing` -> the adapter names; ValueError for an empty or malformed list."""
    names = [n.strip() for n in spec.split(SCOPE_SEPARATOR)]
    bad = [n for n in names if not ADAPTER_NAME.match(n)]
    if not names or bad:
        raise ValueError(f"scope {spec!r} must be adapter names separated by {SCOPE_SEPARATOR!r}; bad: {bad}")
    return frozenset(names)


@dataclass(frozen=True)
class Principal:
    actor: str
    role: str
    adapters: frozenset[str] | None = None
    """The adapters (and so tenants) this token is limited to; None for every adapter."""

    def has(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def scoped(self) -> bool:
        return self.adapters is not None

    def may_use(self, model_name: str) -> bool:
        return self.adapters is None or adapter_part(model_name) in self.adapters

    def require_adapters(self, names: Iterable[str]) -> None:
        """403 naming the first adapter outside this token's scope."""
        for name in names:
            if not self.may_use(name):
                raise HTTPException(403, scope_refusal(self, name))

    def require_unscoped(self, what: str) -> None:
        if self.scoped:
            raise HTTPException(403, f"a token scoped to adapters may not {what}")

    def visible(self, names: Iterable[str]) -> set[str]:
        return {n for n in names if self.may_use(n)}


def scope_refusal(principal: Principal, name: str) -> str:
    return (f"token {principal.actor!r} is scoped to adapters {sorted(principal.adapters or ())} "
            f"and may not use {adapter_part(name)!r}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Parsed from `actor:role:sha256hex[:adapter|adapter...],...`; a role implies every role ranked below it.

    The optional fourth field limits the token to those adapters (and so their tenants).
    """

    def __init__(self, spec: str) -> None:
        self._by_digest: dict[str, Principal] = {}
        for entry in filter(None, (e.strip() for e in spec.split(","))):
            fields = entry.split(":")
            if len(fields) not in (3, 4):
                raise ValueError(f"token entry {entry!r} is not actor:role:sha256[:adapter|adapter]")
            actor, role, digest = fields[:3]
            scope = parse_scope(fields[3]) if len(fields) == 4 else None
            if role not in ROLE_RANK:
                raise ValueError(f"token entry for {actor!r} has unknown role {role!r}")
            if len(digest) != 64:
                raise ValueError(f"token entry for {actor!r} needs a sha256 hex digest")
            self._by_digest[digest.lower()] = Principal(actor, role, scope)

    def for_header(self, header: str) -> Principal | None:
        """The principal of an `Authorization: Bearer ...` header value, None when absent or unknown."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.lookup(token.strip())

    def lookup(self, token: str) -> Principal | None:
        digest = token_digest(token)
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None


_bearer = HTTPBearer(auto_error=False)


def bearer_principal(request: Request) -> Principal | None:
    """The principal of the request's bearer token, if it presents a known one (no error otherwise)."""
    table: TokenTable | None = getattr(request.app.state, "token_table", None)
    return None if table is None else table.for_header(request.headers.get("authorization", ""))


def optional_principal(request: Request) -> Principal | None:
    """For reads open without a token: who asks, when a known token is presented (scoped tokens see less)."""
    return bearer_principal(request)


Viewer = Annotated[Principal | None, Depends(optional_principal)]


def visible_to(viewer: Principal | None, name: str) -> bool:
    return viewer is None or viewer.may_use(name)


def require_role(role: str):  # type: ignore[no-untyped-def]
    """FastAPI dependency: 401 without a valid token, 403 when its role is too low. Async (it does no I/O):
    a plain function would cost every request a hop to the thread pool and back."""

    async def _dependency(
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
