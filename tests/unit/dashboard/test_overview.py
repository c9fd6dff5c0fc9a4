"""The overview document: what the page gets from the services, and how a missing service shows."""

from __future__ import annotations

from typing import Any

import httpx
from adaptloop_dashboard.config import Settings
from adaptloop_dashboard.main import create_app
from adaptloop_dashboard.overview import gather
from fastapi.testclient import TestClient

AT = "2026-03-01T10:00:00+00:00"


def _adapter(name: str, aliases: dict[str, int]) -> dict[str, Any]:
    return {"name": name, "base_model": "tiny-llama", "training_config": {},
            "promotion_policy": {"mode": "manual", "canary_weight": 0.1, "canary_min_requests": 100},
            "aliases": aliases, "latest_version": max(aliases.values(), default=None), "created_by": "ops",
            "created_at": AT}


def _version(name: str, number: int, status: str) -> dict[str, Any]:
    sha = f"{number:064x}"
    return {"adapter": name, "version": number, "status": status, "weights_sha256": sha, "weights_size": 10,
            "config_sha256": sha, "sha256": sha, "artifact_uri": "u", "config_uri": "u", "base_model": "tiny-llama",
            "dataset_snapshot_id": None, "dataset_sha256": None, "training_config": {}, "seed": None,
            "code_revision": None, "parent_version": None, "metrics": {}, "evaluation": None,
            "lineage": {"base_model": "tiny-llama", "parent_version": None, "dataset_snapshot_id": None,
                        "dataset_sha256": None, "code_revision": None, "seed": None},
            "suites": [], "served_requests": 0, "served_tokens": 0, "load_failures": 0, "request_id": None,
            "registered_by": "trainer", "registered_at": AT, "retired_by": None, "retired_at": None,
            "erasure_pending": False, "erasures": []}


def _job(job_id: str, state: str, progress: float) -> dict[str, Any]:
    return {"job_id": job_id, "request_id": "r", "adapter": "b", "kind": "train", "reason": "drift", "state": state,
            "progress": progress, "base_model": None, "training_config": {}, "snapshot_id": None,
            "snapshot_sha256": None, "candidate_version": None, "metrics": {}, "evaluation": None, "report": None,
            "error": None, "cancel_requested": False, "attempts": 1, "created_at": AT, "updated_at": AT}


PENDING = {"adapter": "b", "version": 2, "production_version": 1, "base_model": "tiny-llama", "evaluation": None,
           "metrics": {}, "dataset_snapshot_id": None, "artifact_uri": "u", "registered_by": "trainer",
           "registered_at": AT}
COSTS = {"adapter": "b", "totals": {"retrains": 2, "succeeded": 2, "training_seconds": 40.0, "evaluation_seconds": 4.0,
                                    "examples_trained": 80, "tokens_trained": 900, "requests_served": 0,
                                    "tokens_served": 0, "mean_quality_gained": None},
         "last_24h": {"retrains": 0, "training_seconds": 0}, "versions": []}
DOCS: dict[str, Any] = {
    "/v1/adapters": [_adapter("b", {"production": 1}), _adapter("a", {})],
    "/v1/adapters/a/versions": [], "/v1/adapters/b/versions": [_version("b", 1, "production")],
    "/v1/adapters/a/aliases/production/history": [],
    "/v1/adapters/b/aliases/production/history": [
        {"alias": "production", "from_version": None, "to_version": 1, "weight": None, "actor": "ops",
         "reason": "first", "event_id": "e-1", "moved_at": AT, "details": {}}],
    "/v1/approvals": [PENDING],
    "/v1/jobs": {"jobs": [_job("j1", "running", 0.5)]},
    "/v1/adapters/b/signals": {"adapter": "b", "columns": ["at", "observations", "recent", "baseline"],
                               "versions": [{"adapter": "b", "adapter_version": 1, "signals": {}}]},
    "/v1/adapters/b/costs": COSTS,
}


def _services(request: httpx.Request) -> httpx.Response:
    if request.url.host == "inference.test":
        return httpx.Response(503, text="warming up")
    doc = DOCS.get(request.url.path)
    return httpx.Response(404, json={"detail": "no"}) if doc is None else httpx.Response(200, json=doc)


def test_the_overview_gathers_every_part_and_names_what_did_not_answer() -> None:
    settings = Settings(inference_url="http://inference.test", max_adapters=5)
    doc = gather(settings, transport=httpx.MockTransport(_services))

    assert [a.adapter.name for a in doc.adapters] == ["a", "b"]
    a, b = doc.adapters
    assert a.signals is None, "an adapter without drift state (404) has no series, and is no error"
    assert b.signals is not None and b.signals.versions[0].adapter_version == 1
    assert b.costs is not None and b.costs.totals.retrains == 2 and a.costs is None  # the trainer's cost ledger
    assert [(v.version, v.status) for v in b.versions] == [(1, "production")]
    assert [(p.adapter, p.version, p.production_version) for p in doc.approvals] == [("b", 2, 1)]
    assert doc.alias_moves[0].adapter == "b"
    assert doc.jobs[0].progress == 0.5
    assert doc.swaps.recent == []
    assert set(doc.errors) == {"inference"} and "503" in doc.errors["inference"]


def test_the_page_gets_the_services_answers_as_they_sent_them() -> None:
    client = TestClient(create_app(Settings(inference_url="http://inference.test"),
                                   transport=httpx.MockTransport(_services)))
    doc = client.get("/api/overview").json()

    b = doc["adapters"][1]
    assert b["adapter"] == DOCS["/v1/adapters"][0] and b["versions"] == DOCS["/v1/adapters/b/versions"]
    assert b["signals"] == DOCS["/v1/adapters/b/signals"] and b["costs"] == COSTS
    assert doc["approvals"] == [PENDING] and doc["jobs"] == DOCS["/v1/jobs"]["jobs"]
    assert doc["alias_moves"] == [{**DOCS["/v1/adapters/b/aliases/production/history"][0], "adapter": "b"}]


def test_an_answer_outside_the_contract_is_named() -> None:
    def services(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs":
            return httpx.Response(200, json={"jobs": [{"job_id": "j1"}]})
        return _services(request)

    doc = gather(Settings(inference_url="http://inference.test"), transport=httpx.MockTransport(services))
    assert doc.jobs == [] and "outside its contract" in doc.errors["trainer"]


def test_adapters_shown_are_bounded() -> None:
    doc = gather(Settings(max_adapters=1), transport=httpx.MockTransport(_services))
    assert [a.adapter.name for a in doc.adapters] == ["a"]
    assert doc.adapters_total == 2


def test_unreachable_services_are_named() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    doc = gather(Settings(), transport=httpx.MockTransport(down))
    assert doc.adapters == [] and doc.jobs == []
    assert set(doc.errors) == {"registry", "trainer", "inference"}
    assert "unreachable" in doc.errors["registry"]
