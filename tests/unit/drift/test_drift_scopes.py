"""Tokens scoped to adapters at the drift service: pause/resume and state of other adapters refused, lists filtered."""

from __future__ import annotations

from typing import Any

from adaptloop_common.auth import token_digest
from adaptloop_drift.api.routes import create_http_app
from fastapi.testclient import TestClient

ACME = {"Authorization": "Bearer acme"}


def test_a_scoped_token_pauses_and_reads_only_its_adapters() -> None:
    paused: list[tuple[str, bool, str]] = []
    policy = {"support": {"paused": False, "held_back": None}, "legal": {"paused": False, "held_back": None}}
    rollout: list[dict[str, Any]] = [{"adapter": "support"}, {"adapter": "legal"}]
    app = create_http_app(
        tokens=f"ops:trainer:{token_digest('ops')},acme:trainer:{token_digest('acme')}:support",
        max_body_bytes=1024, checks={}, detector_state=lambda: [{"adapter": "support"}, {"adapter": "legal"}],
        policy_state=lambda: policy, rollout_state=lambda: rollout, rollout_settings={},
        set_paused=lambda name, on, actor: paused.append((name, on, actor)), signal_series=lambda _: [],
    )
    client = TestClient(app)
    assert client.post("/v1/adapters/legal/pause", headers=ACME).status_code == 403
    assert client.post("/v1/adapters/legal/resume", headers=ACME).status_code == 403
    assert client.get("/v1/adapters/legal/state", headers=ACME).status_code == 403
    assert paused == []
    assert client.post("/v1/adapters/support/pause", headers=ACME).status_code == 202
    assert client.post("/v1/adapters/legal/pause", headers={"Authorization": "Bearer ops"}).status_code == 202
    assert paused == [("support", True, "acme"), ("legal", True, "ops")]
    state = client.get("/v1/state", headers=ACME).json()
    assert list(state["policy"]) == ["support"] and state["adapters"] == [{"adapter": "support"}]
    assert state["rollout"]["adapters"] == [{"adapter": "support"}]
    assert set(client.get("/v1/state").json()["policy"]) == {"support", "legal"}
