"""Evaluation suites in the registry: pinned to an uploaded JSONL, checked line by line, versioned per name."""

from __future__ import annotations

from fastapi.testclient import TestClient
from registry_testkit import auth, seed_adapter, upload, version_body

SUITE = b'{"prompt": "Refund time?", "expected": "5 days"}\n{"prompt": "Fees?", "expected": "none"}\n'


def attach(client: TestClient, adapter: str, sha256: str, **extra: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    body = {"name": "refunds", "sha256": sha256, "metric": "exact_match", "reason": "what support must answer",
            **extra}
    response = client.post(f"/v1/adapters/{adapter}/eval-suites", json=body, headers=auth("admin"))
    return response.status_code, response.json()


def test_a_suite_is_versioned_per_name_and_the_latest_is_what_the_gate_runs(client: TestClient) -> None:
    seeded = seed_adapter(client)
    first = upload(client.put, SUITE, "refunds.jsonl")
    status, record = attach(client, seeded["name"], first, tolerance=0.05)
    assert status == 201, record
    assert (record["version"], record["items"], record["sha256"], record["tolerance"]) == (1, 2, first, 0.05)
    second = upload(client.put, SUITE + b'{"prompt": "Card lost?", "expected": "call us"}\n', "refunds.jsonl")
    assert attach(client, seeded["name"], second)[1]["version"] == 2
    listed = client.get(f"/v1/adapters/{seeded['name']}/eval-suites").json()
    assert [(s["name"], s["version"], s["items"]) for s in listed] == [("refunds", 2, 3)]
    history = client.get(f"/v1/adapters/{seeded['name']}/eval-suites/refunds").json()
    assert [s["sha256"] for s in history] == [first, second]
    assert client.get(f"/v1/adapters/{seeded['name']}/eval-suites/other").status_code == 404
    audit = client.get("/v1/audit", params={"limit": 5}).json()
    assert audit[0]["action"] == "eval_suite.attach" and audit[0]["details"]["reason"] == "what support must answer"


def test_a_suite_that_does_not_fit_its_metric_is_refused_and_nothing_is_recorded(client: TestClient) -> None:
    seeded = seed_adapter(client)
    no_pattern = upload(client.put, SUITE, "refunds.jsonl")
    status, answer = attach(client, seeded["name"], no_pattern, metric="regex")
    assert status == 422 and "line 1" in answer["detail"] and "pattern" in answer["detail"]
    status, answer = attach(client, seeded["name"], seeded["weights"])
    assert status == 422 and "expected a JSONL suite" in answer["detail"]
    status, answer = attach(client, seeded["name"], "e" * 64)
    assert status == 422 and "has not been uploaded" in answer["detail"]
    status, answer = attach(client, seeded["name"], no_pattern, metric="judge")
    assert status == 422  # a judge suite names its endpoint, model and rubric
    assert client.post(f"/v1/adapters/{seeded['name']}/eval-suites", headers=auth("reader"), json={
        "name": "refunds", "sha256": no_pattern, "metric": "exact_match", "reason": "r"}).status_code == 403
    assert client.get(f"/v1/adapters/{seeded['name']}/eval-suites").json() == []


def test_a_versions_gate_results_per_suite_are_listed_with_it(client: TestClient) -> None:
    seeded = seed_adapter(client)
    result = {"suite": "refunds", "version": 2, "sha256": "a" * 64, "metric": "exact_match", "items": 3,
              "candidate": 0.33, "baseline": 0.66, "tolerance": 0.0, "passed": False,
              "baseline_name": "base model", "error": None}
    body = version_body(seeded, evaluation={"passed": False, "verdict": "failed: suite refunds",
                                            "metrics": {"suites": {"refunds": result}}})
    registered = client.post(f"/v1/adapters/{seeded['name']}/versions", json=body, headers=auth("trainer"))
    assert registered.status_code == 201, registered.text
    [version] = client.get(f"/v1/adapters/{seeded['name']}/versions").json()
    assert version["suites"] == [result] and version["status"] == "rejected"
