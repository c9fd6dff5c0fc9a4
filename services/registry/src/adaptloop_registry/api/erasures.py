"""Route: flag the versions whose lineage holds erased examples (called by ingest's `POST /v1/erasures`)."""

from __future__ import annotations

from typing import Annotated, Any

from adaptloop_common.auth import Principal, require_role
from adaptloop_contracts.registry_answers import ErasureFlagged
from fastapi import APIRouter, Depends

from adaptloop_registry import erasure
from adaptloop_registry.api.deps import AdminCaller, Runtime

router = APIRouter(prefix="/v1", tags=["erasure"])


@router.post("/erasures", response_model=ErasureFlagged)
def flag_erasure(body: erasure.ErasureFlags, runtime: Runtime, caller: AdminCaller,
                 principal: Annotated[Principal, Depends(require_role("admin"))]) -> dict[str, Any]:
    """Flag (`erasure_pending`), announce and audit every version trained on the listed snapshots or on top
    of such a version; idempotent per `erasure_id`."""
    principal.require_adapters(ref.adapter for ref in body.snapshots)
    with runtime.db.begin() as conn:
        answer = erasure.flag_versions(conn, body, caller=caller)
    runtime.committed()
    return answer
