"""Routes: approval mode (versions waiting for an admin; approve, reject)."""

from __future__ import annotations

from typing import Any

from adaptloop_common.auth import Viewer, visible_to
from adaptloop_contracts import ApprovalAnswer, PendingApproval
from fastapi import APIRouter

from adaptloop_registry import approvals
from adaptloop_registry.api.deps import AdminCaller, Runtime
from adaptloop_registry.models import ReasonBody

router = APIRouter(prefix="/v1", tags=["approvals"])
_NOT_PENDING: dict[int | str, dict[str, Any]] = {409: {"description": "the version is not pending_approval"}}


@router.get("/approvals", response_model=list[PendingApproval])
def pending(runtime: Runtime, viewer: Viewer) -> list[PendingApproval]:
    """Versions waiting for approval across adapters (those of its scope for a scoped token), oldest first."""
    with runtime.db.read() as conn:
        return [PendingApproval.model_validate(p) for p in approvals.pending_approvals(conn, base_url=runtime.base_url)
                if visible_to(viewer, p["adapter"])]


@router.post("/adapters/{name}/versions/{number}/approve", response_model=ApprovalAnswer, responses=_NOT_PENDING)
def approve(name: str, number: int, body: ReasonBody, runtime: Runtime, caller: AdminCaller) -> ApprovalAnswer:
    """Production moves to this pending version (compare-and-swap from what it is now)."""
    with runtime.db.begin() as conn:
        answer = approvals.approve_version(conn, name, number, reason=body.reason, caller=caller,
                                           base_url=runtime.base_url)
    runtime.committed()
    return ApprovalAnswer.model_validate(answer)


@router.post("/adapters/{name}/versions/{number}/reject", response_model=ApprovalAnswer, responses=_NOT_PENDING)
def reject(name: str, number: int, body: ReasonBody, runtime: Runtime, caller: AdminCaller) -> ApprovalAnswer:
    """This pending version becomes `rejected`; nothing moves."""
    with runtime.db.begin() as conn:
        answer = approvals.reject_version(conn, name, number, reason=body.reason, caller=caller)
    runtime.committed()
    return ApprovalAnswer.model_validate(answer)
