"""HTTP: health, readiness, metrics, OpenAPI, detector and rollout-judge state, signal series, pause/resume."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from adaptloop_common.auth import Principal, TokenTable, Viewer, require_role, visible_to
from adaptloop_common.http import ReadinessCheck, install_common
from adaptloop_contracts.drift_api import AdapterDriftState, AdapterSignals, DriftState, PauseAccepted
from fastapi import Depends, FastAPI, HTTPException, Path

from adaptloop_drift.series import COLUMNS

AdapterPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Operator = Annotated[Principal, Depends(require_role("trainer"))]


def create_http_app(
    *,
    tokens: str,
    max_body_bytes: int,
    checks: dict[str, ReadinessCheck],
    detector_state: Callable[[], list[dict[str, Any]]],
    policy_state: Callable[[], dict[str, dict[str, Any]]],
    rollout_state: Callable[[], list[dict[str, Any]]],
    rollout_settings: dict[str, Any],
    set_paused: Callable[[str, bool, str], None],
    signal_series: Callable[[str], list[dict[str, Any]]],
) -> FastAPI:
    app = FastAPI(title="adaptloop drift", version="1")
    app.state.token_table = TokenTable(tokens)
    install_common(app, max_body_bytes=max_body_bytes, checks=checks)

    @app.get("/v1/state", tags=["state"], response_model=DriftState, response_model_exclude_unset=True)
    def get_state(viewer: Viewer) -> dict[str, Any]:
        """Detector state of every adapter version on this worker, the policy state (with `held_back`: a retrain
        the budget held back, and why) and the rollout judge's; a token scoped to adapters sees only theirs."""
        return {"adapters": [v for v in detector_state() if visible_to(viewer, v["adapter"])],
                "policy": {k: v for k, v in policy_state().items() if visible_to(viewer, k)},
                "rollout": {"settings": rollout_settings,
                            "adapters": [r for r in rollout_state() if visible_to(viewer, r["adapter"])]}}

    @app.get("/v1/adapters/{name}/state", tags=["state"], response_model=AdapterDriftState,
             response_model_exclude_unset=True)
    def get_adapter_state(name: AdapterPath) -> dict[str, Any]:
        versions = [v for v in detector_state() if v["adapter"] == name]
        policy = policy_state().get(name)
        rollout = next((r for r in rollout_state() if r["adapter"] == name), None)
        if not versions and policy is None and rollout is None:
            raise HTTPException(404, f"adapter {name!r} has no drift state on this worker")
        return {"adapter": name, "versions": versions, "policy": policy, "rollout": rollout}

    @app.get("/v1/adapters/{name}/signals", tags=["state"], response_model=AdapterSignals,
             response_model_exclude_unset=True)
    def get_signal_series(name: AdapterPath) -> dict[str, Any]:
        """Each signal's coded recent and baseline mean over time per version, its alarms, and the mean rating."""
        versions = signal_series(name)
        if not versions:
            raise HTTPException(404, f"adapter {name!r} has no drift state on this worker")
        return {"adapter": name, "columns": list(COLUMNS), "versions": versions}

    @app.post("/v1/adapters/{name}/pause", status_code=202, tags=["policy"], response_model=PauseAccepted)
    def pause(name: AdapterPath, who: Operator) -> PauseAccepted:
        """Stop retrain requests for the adapter (detection continues)."""
        set_paused(name, True, who.actor)
        return PauseAccepted(adapter=name, paused=True)

    @app.post("/v1/adapters/{name}/resume", status_code=202, tags=["policy"], response_model=PauseAccepted)
    def resume(name: AdapterPath, who: Operator) -> PauseAccepted:
        set_paused(name, False, who.actor)
        return PauseAccepted(adapter=name, paused=False)

    return app
