"""Tokens scoped to adapters at ingest: batches naming another adapter are refused whole, exports too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from adaptloop_common.auth import token_digest
from adaptloop_common.privacy import PrivacyPolicy, PrivacySettings
from adaptloop_ingest.api.deps import Components
from adaptloop_ingest.bootstrap import create_app
from adaptloop_ingest.config import Settings
from adaptloop_ingest.runtime import IngestRuntime
from fastapi.testclient import TestClient
from test_ingest_http import FakePublisher, FakeStore

ACME = {"Authorization": "Bearer acme"}


@pytest.fixture
def world() -> Iterator[tuple[TestClient, FakePublisher, FakeStore]]:
    publisher, store = FakePublisher(), FakeStore()
    settings = Settings(tokens=f"acme:trainer:{token_digest('acme')}:support|billing")
    components = Components(settings, publisher, store, PrivacyPolicy(PrivacySettings(rules=["email"])))
    with TestClient(create_app(settings, runtime=IngestRuntime(components=components, checks={}))) as client:
        yield client, publisher, store


def _feedback(model: str) -> dict[str, Any]:
    return {"model": model, "inference_event_id": str(uuid.uuid4()), "score": 1}


def test_a_scoped_token_writes_and_reads_only_its_adapters(world: tuple[TestClient, FakePublisher, FakeStore]) -> None:
    client, publisher, store = world
    refused = [
        client.post("/v1/feedback", json=[_feedback("support"), _feedback("legal:canary")], headers=ACME),
        client.post("/v1/logs", json={"model": "legal@2", "prompt": "p", "completion": "c"}, headers=ACME),
        client.post("/v1/examples", json=[{"adapter": "legal", "prompt": "p", "answer": "a"}], headers=ACME),
        client.get("/v1/examples", params={"adapter": "legal"}, headers=ACME),
    ]
    assert [r.status_code for r in refused] == [403] * 4, [r.text for r in refused]
    assert "legal" in refused[0].json()["detail"]
    assert publisher.published == [] and store.curated == []
    assert client.post("/v1/feedback", json=[_feedback("support:canary")], headers=ACME).status_code == 202
    assert client.post("/v1/examples", json=[{"adapter": "billing", "prompt": "p", "answer": "a"}],
                       headers=ACME).status_code == 201
    assert client.get("/v1/examples", params={"adapter": "billing"}, headers=ACME).status_code == 200
    assert client.post("/v1/erasures", json={"tenant": "t", "reason": "x"}, headers=ACME).status_code == 403
    assert client.post("/v1/feedback", content=b"{not json", headers=ACME).status_code == 400
