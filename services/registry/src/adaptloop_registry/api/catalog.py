"""Routes: base models and adapters."""

from __future__ import annotations

from typing import Any

from adaptloop_common.auth import Viewer, visible_to
from adaptloop_contracts.registry_answers import AdapterRecord, BaseModelRecord
from fastapi import APIRouter

from adaptloop_registry import catalog
from adaptloop_registry.api.deps import AdminCaller, Runtime
from adaptloop_registry.models import AdapterSpec, BaseModelSpec, PolicyChange

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.post("/base-models", status_code=201, response_model=BaseModelRecord)
def register_base_model(spec: BaseModelSpec, runtime: Runtime, caller: AdminCaller, viewer: Viewer) -> dict[str, Any]:
    if viewer is not None:
        viewer.require_unscoped("register base models (they are shared by every tenant)")
    with runtime.db.begin() as conn:
        answer = catalog.register_base_model(conn, spec, caller=caller)
    runtime.committed()
    return answer


@router.get("/base-models", response_model=list[BaseModelRecord])
def list_base_models(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        return catalog.list_base_models(conn)


@router.get("/base-models/{name}", response_model=BaseModelRecord)
def get_base_model(name: str, runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return catalog.get_base_model(conn, name)


@router.post("/adapters", status_code=201, response_model=AdapterRecord)
def create_adapter(spec: AdapterSpec, runtime: Runtime, caller: AdminCaller, viewer: Viewer) -> dict[str, Any]:
    if viewer is not None:
        viewer.require_adapters([spec.name])
    with runtime.db.begin() as conn:
        return catalog.create_adapter(conn, spec, caller=caller)


@router.get("/adapters", response_model=list[AdapterRecord])
def list_adapters(runtime: Runtime, viewer: Viewer) -> list[dict[str, Any]]:
    """Every adapter; a token scoped to adapters sees only those."""
    with runtime.db.read() as conn:
        return [a for a in catalog.list_adapters(conn) if visible_to(viewer, a["name"])]


@router.get("/adapters/{name}", response_model=AdapterRecord)
def get_adapter(name: str, runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return catalog.get_adapter(conn, name)


@router.put("/adapters/{name}/promotion-policy", response_model=AdapterRecord)
def set_promotion_policy(name: str, body: PolicyChange, runtime: Runtime, caller: AdminCaller) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        return catalog.set_promotion_policy(conn, name, body.promotion_policy, caller=caller)
