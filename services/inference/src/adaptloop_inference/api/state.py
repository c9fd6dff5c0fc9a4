"""`GET /v1/serving-state`: what this replica routes and holds in its engine (operators, tests, CLI)."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts.inference_api import ServingState
from fastapi import APIRouter, Depends, Request

from adaptloop_inference.api.auth import refuse_scoped_key

router = APIRouter(tags=["operations"])


@router.get("/v1/serving-state", response_model=ServingState, dependencies=[Depends(refuse_scoped_key)])
async def serving_state(request: Request) -> dict[str, Any]:
    state = request.app.state
    swaps = state.swaps
    engine = state.generation.engine
    loaded = swaps.loaded
    engine_ids = sorted(await engine.list_lora_ids())
    by_id = {entry.handle.lora_id: str(ref) for ref, entry in loaded.items()}
    table = swaps.table
    return {
        "replica": state.settings.replica_id,
        "base_model": table.base_model,
        "ready": state.readiness.ready,
        "events_subscribed": state.readiness.events_subscribed,
        "last_sync_at": state.reconciler.last_sync_at,
        "last_sync_error": state.reconciler.last_error,
        "routes": {
            name: {alias: {"version": r.version, "weight": r.weight, "unavailable": r.unavailable_reason}
                   for alias, r in routes.aliases.items()}
            for name, routes in table.adapters.items()
        },
        "loaded": [{"version": str(ref), "lora_id": e.handle.lora_id, "in_flight": e.in_flight}
                   for ref, e in sorted(loaded.items())],
        "engine_loras": [by_id.get(i, f"unknown:{i}") for i in engine_ids],
        "load_failures": [{"version": str(f.ref), "kind": f.kind, "reason": f.reason, "at": f.at}
                          for f in swaps.failures],
        "logs": state.log_publisher.counts,
        "serving_reports": _serving_reports(getattr(state, "serving_reporter", None)),
        "recent_swaps": [s.__dict__ for s in swaps.recent_swaps[-20:]],
    }


def _serving_reports(reporter: Any) -> dict[str, Any]:
    if reporter is None:
        return {"enabled": False}
    return {"enabled": True, "interval_s": reporter.interval_s, "pending_reports": reporter.pending_reports,
            "unsealed_requests": reporter.unsealed_requests}
