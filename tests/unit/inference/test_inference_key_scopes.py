"""Client API keys limited to adapters: another model is refused (403, nothing generated), lists are filtered."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from adaptloop_inference.api import models
from adaptloop_inference.api.auth import ApiKey, key_scopes, refuse_scoped_key
from adaptloop_inference.api.errors import install_error_handlers
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def client_and_calls() -> tuple[TestClient, list[str]]:
    app = FastAPI()
    app.state.api_key_digests = frozenset({_digest("open"), f"{_digest('acme')}:support"})
    ids = ["tiny-llama", "legal", "legal:production", "support", "support:canary", "support@2"]
    app.state.swaps = SimpleNamespace(table=SimpleNamespace(model_ids=lambda: ids))
    install_error_handlers(app)
    app.include_router(models.router)

    @app.get("/v1/serving-state", dependencies=[Depends(refuse_scoped_key)])
    async def serving_state() -> dict[str, Any]:
        return {"routes": {}}
    calls: list[str] = []

    @app.post("/v1/completions")
    async def complete(request: Request, _key: ApiKey) -> dict[str, Any]:
        calls.append((await request.json())["model"])
        return {"ok": True}

    return TestClient(app), calls


def test_a_scoped_key_uses_and_sees_only_its_adapters(client_and_calls: tuple[TestClient, list[str]]) -> None:
    client, calls = client_and_calls
    acme = {"Authorization": "Bearer acme"}
    refused = client.post("/v1/completions", json={"model": "legal:production", "prompt": "x"}, headers=acme)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    assert client.post("/v1/completions", json={"model": "tiny-llama", "prompt": "x"}, headers=acme).status_code == 403
    assert calls == []
    for model in ("support", "support:canary", "support@2"):
        assert client.post("/v1/completions", json={"model": model, "prompt": "x"}, headers=acme).status_code == 200
    open_key = {"Authorization": "Bearer open"}
    assert client.post("/v1/completions", json={"model": "legal", "prompt": "x"}, headers=open_key).status_code == 200
    assert calls == ["support", "support:canary", "support@2", "legal"]
    listed = [m["id"] for m in client.get("/v1/models", headers=acme).json()["data"]]
    assert listed == ["support", "support:canary", "support@2"]
    assert client.get("/v1/models/legal", headers=acme).status_code == 404
    assert len(client.get("/v1/models", headers=open_key).json()["data"]) == 6
    assert client.post("/v1/completions", json={"model": "support"}, headers={"Authorization": "Bearer x"}
                       ).status_code == 401
    assert client.get("/v1/serving-state", headers=acme).status_code == 403
    assert client.get("/v1/serving-state", headers=open_key).status_code == 200
    assert client.get("/v1/serving-state").status_code == 200  # the operators' read, open as before


def test_a_malformed_key_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope"):
        key_scopes(frozenset({f"{_digest('k')}:Not Valid"}))


def test_the_settings_refuse_a_malformed_key_entry() -> None:
    from adaptloop_inference.config import Settings
    from pydantic import ValidationError

    assert Settings(api_keys=f"{_digest('a')}:support|billing,{_digest('b')}").api_key_digests
    for bad in (f"{_digest('a')}:sup port", "abc:support"):
        with pytest.raises(ValidationError):
            Settings(api_keys=bad)
