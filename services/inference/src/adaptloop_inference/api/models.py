"""`GET /v1/models`: every servable name (base model, adapters, aliases, versions)."""

from __future__ import annotations

import time
from typing import Any

from adaptloop_contracts.openai_api import ModelCard, ModelList
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from adaptloop_inference.api.auth import ApiKey, allowed
from adaptloop_inference.api.deps import Swaps
from adaptloop_inference.api.errors import NO_VERSION, VERSION_HEADER
from adaptloop_inference.errors import ModelNotFound

router = APIRouter(tags=["openai"])


def _card(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "adaptloop"}


@router.get("/v1/models", response_model=ModelList)
async def list_models(swaps: Swaps, scope: ApiKey) -> JSONResponse:
    """Every servable name; a key limited to adapters sees only theirs."""
    created = int(time.time())
    data = [_card(m, created) for m in swaps.table.model_ids() if allowed(scope, m)]
    return JSONResponse({"object": "list", "data": data}, headers={VERSION_HEADER: NO_VERSION})


@router.get("/v1/models/{model_id:path}", response_model=ModelCard)
async def retrieve_model(model_id: str, swaps: Swaps, scope: ApiKey) -> JSONResponse:
    if model_id not in swaps.table.model_ids() or not allowed(scope, model_id):
        raise ModelNotFound(f"The model `{model_id}` does not exist")
    return JSONResponse(_card(model_id, int(time.time())), headers={VERSION_HEADER: NO_VERSION})
