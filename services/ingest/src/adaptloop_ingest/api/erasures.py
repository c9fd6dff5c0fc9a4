"""Routes: `POST /v1/erasures` (erase a subject along lineage) and `GET /v1/erasures` (the record), role admin."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from adaptloop_common.auth import Principal, require_role
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts.ingest_api import ErasureAnswer, ErasureRecord, ErasureRequest
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from adaptloop_ingest.erasure import UnknownSubject, erase_subject
from adaptloop_ingest.infra.erasure_db import PostgresErasureStore
from adaptloop_ingest.infra.lineage_client import HttpLineage, LineageUnavailable
from adaptloop_ingest.ports import ErasureStore, Lineage

router = APIRouter(prefix="/v1", tags=["erasure"])
Admin = Annotated[Principal, Depends(require_role("admin"))]


def _parts(request: Request) -> tuple[ErasureStore, Lineage]:
    """Built on first use from the service's settings; tests may set `app.state.erasure` beforehand."""
    state = request.app.state
    if getattr(state, "erasure", None) is None:
        settings = state.components.settings
        engine = ServiceDatabase(settings.database_url, service="ingest", schema=settings.db_schema, pool_size=1,
                                 max_overflow=10).engine
        state.erasure = (PostgresErasureStore(engine), HttpLineage(settings))
    parts: tuple[ErasureStore, Lineage] = state.erasure
    return parts


@router.post("/erasures", response_model=ErasureAnswer, response_model_exclude_unset=True, responses={
    404: {"description": "the store holds nothing of this subject (and never did)"},
    422: {"description": "malformed request: exactly one of `tenant`, `event_ids`, and a `reason`"},
    503: {"description": "the trainer or registry could not be asked; nothing was erased"}})
async def erase(body: ErasureRequest, request: Request, principal: Admin) -> dict[str, Any]:
    """Erase a subject's examples and pending feedback; answers with the snapshots and versions whose lineage
    held them (flagged `erasure_pending` at the registry). The admin token is passed on to the trainer and
    registry, so it must be valid there too; a token scoped to adapters erases only within them."""
    store, lineage = _parts(request)
    token = request.headers["authorization"].partition(" ")[2].strip()
    try:
        return await asyncio.to_thread(erase_subject, body, actor=principal.actor, token=token,
                                       adapters=principal.adapters, store=store, lineage=lineage)
    except UnknownSubject as exc:
        raise HTTPException(404, str(exc)) from exc
    except LineageUnavailable as exc:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        raise HTTPException(exc.status if exc.status != 404 else 409,
                            f"lineage could not be traced, nothing was erased: {exc}", headers=headers) from exc


@router.get("/erasures", response_model=list[ErasureRecord])
async def erasures(request: Request, principal: Admin,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Every erasure, newest first (the subject as a sha256)."""
    principal.require_unscoped("read the erasures of every tenant")
    store, _ = _parts(request)
    return await asyncio.to_thread(store.history, limit=limit)
