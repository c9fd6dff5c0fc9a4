"""The HTTP layer with fake components: auth, limits and how domain errors become answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from adaptloop_common.auth import token_digest
from adaptloop_common.privacy import PrivacyPolicy, PrivacySettings
from adaptloop_contracts import Event
from adaptloop_ingest.api.deps import Components
from adaptloop_ingest.bootstrap import create_app
from adaptloop_ingest.config import Settings
from adaptloop_ingest.errors import NotAcknowledged, QueueFull
from adaptloop_ingest.examples import ExampleDraft, Rating, StoredExample, StoreOutcome
from adaptloop_ingest.runtime import IngestRuntime
from fastapi.testclient import TestClient

WRITER = {"Authorization": "Bearer w"}
READER = {"Authorization": "Bearer r"}
FEEDBACK = {"model": "support", "inference_event_id": str(uuid.uuid4()), "score": 1}


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []
        self.failure: Exception | None = None

    async def publish(self, topic_base: str, events: list[Event]) -> None:
        if self.failure is not None:
            raise self.failure
        self.published += events


class FakeStore:
    def __init__(self) -> None:
        self.curated: list[ExampleDraft] = []

    def add_log(self, draft: ExampleDraft) -> StoreOutcome:
        raise NotImplementedError

    def add_rating(self, rating: Rating) -> StoreOutcome:
        raise NotImplementedError

    def add_curated(self, drafts: list[ExampleDraft]) -> list[tuple[uuid.UUID, bool]]:
        self.curated += drafts
        return [(d.example_id, True) for d in drafts]

    def export(self, adapter: str, *, since: datetime | None, until: datetime | None, limit: int | None,
               only_targets: bool) -> Iterator[StoredExample]:
        for d in self.curated:
            if d.adapter == adapter:
                yield StoredExample(d.example_id, d.adapter, None, d.source, d.prompt, d.completion, d.correction,
                                    None, None, d.occurred_at)


@pytest.fixture
def parts() -> tuple[FakePublisher, FakeStore]:
    return FakePublisher(), FakeStore()


@pytest.fixture
def client(parts: tuple[FakePublisher, FakeStore]) -> Iterator[TestClient]:
    settings = Settings(tokens=f"w:trainer:{token_digest('w')},r:reader:{token_digest('r')}", max_body_bytes=4096,
                        max_batch_items=10, retry_after_s=7)
    components = Components(settings, parts[0], parts[1], PrivacyPolicy(PrivacySettings(rules=["email"])))
    with TestClient(create_app(settings, runtime=IngestRuntime(components=components, checks={}))) as test_client:
        yield test_client


def test_accepted_answer_lists_event_ids_and_rejections(client: TestClient, parts: Any) -> None:
    response = client.post("/v1/feedback", json=[FEEDBACK, {"score": 1}], headers=WRITER)

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1 and body["event_ids"] == [str(parts[0].published[0].event_id)]
    assert body["rejected"][0]["index"] == 1


def test_auth(client: TestClient) -> None:
    assert client.post("/v1/feedback", json=FEEDBACK).status_code == 401
    assert client.post("/v1/feedback", json=FEEDBACK, headers=READER).status_code == 403
    assert client.post("/v1/examples", json=[], headers=READER).status_code == 403
    assert client.get("/v1/examples?adapter=a").status_code == 401


def test_limits(client: TestClient) -> None:
    big = json.dumps([{**FEEDBACK, "metadata": {"x": "y" * 5000}}])
    assert client.post("/v1/feedback", content=big, headers={**WRITER, "content-type": "application/json"}
                       ).status_code == 413
    assert client.post("/v1/feedback", json=[FEEDBACK] * 11, headers=WRITER).status_code == 413
    assert client.post("/v1/feedback", content=b"nope", headers=WRITER).status_code == 400


@pytest.mark.parametrize("failure", [QueueFull("full"), NotAcknowledged("late")])
def test_producer_trouble_is_503_with_retry_after(client: TestClient, parts: Any, failure: Exception) -> None:
    parts[0].failure = failure
    response = client.post("/v1/feedback", json=FEEDBACK, headers=WRITER)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"


def test_import_redacts_and_export_streams_json_lines(client: TestClient) -> None:
    imported = client.post("/v1/examples", json={"adapter": "legal", "prompt": "a@b.io?", "answer": "Yes."},
                           headers=WRITER)
    assert imported.status_code == 201 and imported.json()["imported"] == 1

    exported = client.get("/v1/examples", params={"adapter": "legal"}, headers=READER)
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    [line] = [json.loads(x) for x in exported.text.splitlines()]
    assert (line["prompt"], line["target"]) == ("[EMAIL]?", "Yes.")


def test_import_with_nothing_valid_is_422(client: TestClient) -> None:
    response = client.post("/v1/examples", json=[{"adapter": "legal"}], headers=WRITER)
    assert response.status_code == 422 and response.json()["rejected"][0]["index"] == 0


def test_operations_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert "adaptloop_ingest" in client.get("/metrics").text
    assert {"/v1/logs", "/v1/feedback", "/v1/examples"} <= set(client.get("/openapi.json").json()["paths"])
