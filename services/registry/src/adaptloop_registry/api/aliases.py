"""Routes: aliases (compare-and-swap moves, rollback, history) and canary promotion."""

from __future__ import annotations

import json

from adaptloop_contracts.registry_answers import AliasHistoryEntry, AliasRecord
from adaptloop_contracts.registry_api import AliasMoveRecord
from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from adaptloop_registry import aliases
from adaptloop_registry.api.deps import AdminCaller, Runtime
from adaptloop_registry.catalog import lock_adapter
from adaptloop_registry.infra.alias_cache import cached
from adaptloop_registry.models import AliasMove, AliasName, ReasonBody
from adaptloop_registry.promotion import promote_canary

router = APIRouter(prefix="/v1/adapters/{name}", tags=["aliases"])


@router.get("/aliases/{alias}", response_model=AliasRecord)
async def get_alias(name: str, alias: str, runtime: Runtime) -> Response:
    # The hot read: from the worker's alias cache (exact, see infra.alias_cache) as ready bytes.

    def read() -> bytes:
        with runtime.db.read() as conn:
            return json.dumps(aliases.get_alias(conn, name, alias), separators=(",", ":")).encode()

    async def read_async() -> bytes:
        return await run_in_threadpool(read)

    return Response(await cached(runtime.alias_cache, (name, alias), read_async), media_type="application/json")


@router.put("/aliases/{alias}", response_model=AliasMoveRecord,
            responses={409: {"description": "expected_version is stale"}})
def move_alias(name: str, alias: AliasName, body: AliasMove, runtime: Runtime,
               caller: AdminCaller) -> dict[str, object]:
    with runtime.db.begin() as conn:
        adapter = lock_adapter(conn, name)
        answer = aliases.move_alias(conn, adapter, alias, to_version=body.version,
                                    expected_version=body.expected_version, reason=body.reason,
                                    caller=caller, base_url=runtime.base_url, weight=body.weight)
    runtime.committed()
    return answer


@router.post("/aliases/{alias}/rollback", response_model=AliasMoveRecord)
def rollback_alias(name: str, alias: str, body: ReasonBody, runtime: Runtime,
                   caller: AdminCaller) -> dict[str, object]:
    with runtime.db.begin() as conn:
        adapter = lock_adapter(conn, name)
        answer = aliases.rollback_alias(conn, adapter, alias, reason=body.reason, caller=caller,
                                        base_url=runtime.base_url)
    runtime.committed()
    return answer


@router.get("/aliases/{alias}/history", response_model=list[AliasHistoryEntry])
def alias_history(name: str, alias: str, runtime: Runtime) -> list[dict[str, object]]:
    with runtime.db.read() as conn:
        return aliases.alias_moves(conn, name, alias)


@router.post("/canary/promote", response_model=list[AliasMoveRecord])
def promote(name: str, body: ReasonBody, runtime: Runtime, caller: AdminCaller) -> list[dict[str, object]]:
    """Graduate the canary now: production takes its version and the canary alias is removed."""
    with runtime.db.begin() as conn:
        adapter = lock_adapter(conn, name)
        moves = promote_canary(conn, adapter, reason=body.reason, caller=caller, base_url=runtime.base_url)
    runtime.committed()
    return moves
