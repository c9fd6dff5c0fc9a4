"""The registry's HTTP API against PostgreSQL and SQLite (every test runs on both)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from registry_testkit import ACTORS, auth, seed_adapter, version_body


def test_registers_versions_with_lineage_and_reads_them_back(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    first = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["status"] == "candidate"
    second = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, parent_version=1, passed=True),
                         headers=auth("trainer"))
    assert second.json()["version"] == 2

    v2 = client.get(f"/v1/adapters/{name}/versions/2").json()
    assert v2["weights_sha256"] == seeded["weights"] and v2["config_sha256"] == seeded["config"]
    assert v2["artifact_uri"].endswith(f"/v1/artifacts/{seeded['weights']}")
    assert v2["lineage"] == {"base_model": "tiny-llama", "parent_version": 1, "dataset_snapshot_id": "snap-1",
                             "dataset_sha256": "d" * 64, "code_revision": "abc123", "seed": 7}
    assert v2["evaluation"]["passed"] is True
    assert v2["weights_size"] > 0 and v2["registered_by"] == ACTORS["trainer"]
    assert [v["version"] for v in client.get(f"/v1/adapters/{name}/versions").json()] == [1, 2]
    adapter = client.get(f"/v1/adapters/{name}").json()
    assert adapter["latest_version"] == 2 and adapter["aliases"] == {}
    assert name in [a["name"] for a in client.get("/v1/adapters").json()]
    assert client.get("/v1/base-models/tiny-llama").json()["weights_sha256"] == "b" * 64


def test_same_request_id_returns_the_same_version(client: TestClient) -> None:
    seeded = seed_adapter(client)
    url = f"/v1/adapters/{seeded['name']}/versions"
    first = client.post(url, json=version_body(seeded, request_id="job-1"), headers=auth("trainer"))
    again = client.post(url, json=version_body(seeded, request_id="job-1"), headers=auth("trainer"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["version"] == again.json()["version"] == 1
    assert len(client.get(url).json()) == 1


def test_registration_refuses_unknown_artifacts_and_parents(client: TestClient) -> None:
    seeded = seed_adapter(client)
    url = f"/v1/adapters/{seeded['name']}/versions"
    missing = client.post(url, json=version_body(seeded, weights_sha256="e" * 64), headers=auth("trainer"))
    assert missing.status_code == 422 and "not been uploaded" in missing.json()["detail"]
    swapped = client.post(url, json=version_body(seeded, weights_sha256=seeded["config"]), headers=auth("trainer"))
    assert swapped.status_code == 422 and "expected weights" in swapped.json()["detail"]
    orphan = client.post(url, json=version_body(seeded, parent_version=9), headers=auth("trainer"))
    assert orphan.status_code == 404
    unknown = client.post("/v1/adapters/nope/versions", json=version_body(seeded), headers=auth("trainer"))
    assert unknown.status_code == 404
    # failed attempts consume no number
    assert client.post(url, json=version_body(seeded), headers=auth("trainer")).json()["version"] == 1


def test_alias_compare_and_swap_history_and_rollback(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    for _ in range(3):
        client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    url = f"/v1/adapters/{name}/aliases/production"
    assert client.put(url, json={"version": 1, "expected_version": None, "reason": "first"},
                      headers=auth("admin")).status_code == 200
    stale = client.put(url, json={"version": 2, "expected_version": None, "reason": "stale"}, headers=auth("admin"))
    assert stale.status_code == 409
    moved = client.put(url, json={"version": 2, "expected_version": 1, "reason": "better"}, headers=auth("admin"))
    assert moved.status_code == 200 and moved.json()["previous_version"] == 1
    assert client.get(f"/v1/adapters/{name}/versions/2").json()["status"] == "production"
    assert client.get(f"/v1/adapters/{name}/versions/1").json()["status"] == "candidate"

    rolled = client.post(f"{url}/rollback", json={"reason": "regression"}, headers=auth("admin"))
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 1 and rolled.json()["previous_version"] == 2
    assert client.get(url).json()["version"] == 1
    assert client.get(f"/v1/adapters/{name}").json()["aliases"] == {"production": 1}
    history = client.get(f"{url}/history").json()
    assert [(h["from_version"], h["to_version"]) for h in history] == [(None, 1), (1, 2), (2, 1)]
    assert all(h["actor"] == ACTORS["admin"] for h in history)
    assert history[2]["reason"] == "rollback: regression"


def test_rollback_without_a_previous_version_is_a_conflict(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    url = f"/v1/adapters/{name}/aliases/production"
    assert client.post(f"{url}/rollback", json={"reason": "x"}, headers=auth("admin")).status_code == 409
    client.put(url, json={"version": 1, "expected_version": None, "reason": "first"}, headers=auth("admin"))
    assert client.post(f"{url}/rollback", json={"reason": "x"}, headers=auth("admin")).status_code == 409


def test_retire_refuses_an_aliased_version(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    for _ in range(2):
        client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    client.put(f"/v1/adapters/{name}/aliases/production", json={"version": 1, "expected_version": None, "reason": "r"},
               headers=auth("admin"))
    assert client.post(f"/v1/adapters/{name}/versions/1/retire", json={"reason": "old"},
                       headers=auth("admin")).status_code == 409
    retired = client.post(f"/v1/adapters/{name}/versions/2/retire", json={"reason": "old"}, headers=auth("admin"))
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    to_retired = client.put(f"/v1/adapters/{name}/aliases/canary",
                            json={"version": 2, "expected_version": None, "reason": "r"}, headers=auth("admin"))
    assert to_retired.status_code == 409
    plan = client.get("/v1/serving-plan").json()
    entry = next(a for a in plan["adapters"] if a["name"] == name)
    assert set(entry["versions"]) == {"1"}


def test_serving_plan_lists_alias_targets_and_hashes(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    for _ in range(2):
        client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    client.put(f"/v1/adapters/{name}/aliases/production", json={"version": 1, "expected_version": None, "reason": "r"},
               headers=auth("admin"))
    client.put(f"/v1/adapters/{name}/aliases/canary", json={"version": 2, "expected_version": None, "reason": "r",
                                                            "weight": 0.25}, headers=auth("admin"))
    plan = client.get("/v1/serving-plan").json()
    assert plan["generated_at"].endswith("Z")
    entry = next(a for a in plan["adapters"] if a["name"] == name)
    assert entry == {
        "name": name, "base_model": "tiny-llama",
        "aliases": {"production": {"version": 1, "weight": None}, "canary": {"version": 2, "weight": 0.25}},
        "versions": {"1": {"weights_sha256": seeded["weights"], "config_sha256": seeded["config"]},
                     "2": {"weights_sha256": seeded["weights"], "config_sha256": seeded["config"]}},
    }


def test_auto_policy_promotes_a_passing_version_in_the_same_transaction(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="auto")
    name = seeded["name"]
    failed = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, passed=False),
                         headers=auth("trainer")).json()
    assert failed["status"] == "rejected" and failed["aliases"] == {}
    passed = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, passed=True),
                         headers=auth("trainer")).json()
    assert passed["aliases"] == {"production": 2} and passed["status"] == "production"
    history = client.get(f"/v1/adapters/{name}/aliases/production/history").json()
    assert history[0]["actor"] == ACTORS["trainer"] and "auto promotion" in history[0]["reason"]


def test_canary_policy_graduates_after_enough_requests(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="canary", canary_min_requests=10)
    name = seeded["name"]
    client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    client.put(f"/v1/adapters/{name}/aliases/production", json={"version": 1, "expected_version": None, "reason": "r"},
               headers=auth("admin"))
    second = client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, passed=True),
                         headers=auth("trainer")).json()
    assert second["aliases"] == {"production": 1, "canary": 2}
    assert client.get(f"/v1/adapters/{name}/aliases/canary").json()["weight"] == 0.2
    served = f"/v1/adapters/{name}/versions/2/served"
    assert client.post(served, json={"requests": 6}, headers=auth("trainer")).json()["moves"] == []
    done = client.post(served, json={"requests": 6}, headers=auth("trainer")).json()
    assert done["served_requests"] == 12 and [m["alias"] for m in done["moves"]] == ["production", "canary"]
    assert client.get(f"/v1/adapters/{name}").json()["aliases"] == {"production": 2}


def test_canary_with_a_quality_drop_is_abandoned(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="canary")
    name = seeded["name"]
    client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, passed=True), headers=auth("trainer"))
    dropped = client.post(f"/v1/adapters/{name}/versions/1/served", json={"requests": 3, "quality_drop": True},
                          headers=auth("trainer")).json()
    assert dropped["moves"][0]["version"] is None
    assert client.get(f"/v1/adapters/{name}").json()["aliases"] == {}
    assert client.get(f"/v1/adapters/{name}/versions/1").json()["status"] == "rejected"


def test_canary_promotion_on_command(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="canary")
    name = seeded["name"]
    client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded, passed=True), headers=auth("trainer"))
    moves = client.post(f"/v1/adapters/{name}/canary/promote", json={"reason": "looks good"}, headers=auth("admin"))
    assert moves.status_code == 200 and moves.json()[0]["version"] == 1
    assert client.get(f"/v1/adapters/{name}").json()["aliases"] == {"production": 1}
    assert client.post(f"/v1/adapters/{name}/canary/promote", json={"reason": "again"},
                       headers=auth("admin")).status_code == 409


def test_mutations_need_a_token_with_the_role(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    calls = [
        ("post", "/v1/base-models", {"name": "x", "version": "1", "location": "l", "weights_sha256": "c" * 64}),
        ("post", "/v1/adapters", {"name": "x", "base_model": "tiny-llama"}),
        ("post", f"/v1/adapters/{name}/versions", version_body(seeded)),
        ("put", f"/v1/adapters/{name}/aliases/production", {"version": 1, "expected_version": None, "reason": "r"}),
        ("post", f"/v1/adapters/{name}/aliases/production/rollback", {"reason": "r"}),
        ("post", f"/v1/adapters/{name}/versions/1/retire", {"reason": "r"}),
        ("post", f"/v1/adapters/{name}/versions/1/load-failures", {"replica": "r1", "reason": "r"}),
    ]
    for method, url, body in calls:
        assert getattr(client, method)(url, json=body).status_code == 401, url
        assert getattr(client, method)(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert getattr(client, method)(url, json=body, headers=auth("reader")).status_code == 403, url
    assert client.put(f"/v1/artifacts/{'a' * 64}", params={"filename": "x.json"}, content=b"{}").status_code == 401
    assert client.put(f"/v1/artifacts/{'a' * 64}", params={"filename": "x.json"}, content=b"{}",
                      headers=auth("reader")).status_code == 403
    # admin-only calls refuse the trainer role too
    assert client.put(f"/v1/adapters/{name}/aliases/production", json=calls[3][2],
                      headers=auth("trainer")).status_code == 403


def test_audit_trail_names_the_actor_of_every_mutation(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded), headers=auth("trainer"))
    client.put(f"/v1/adapters/{name}/aliases/production", json={"version": 1, "expected_version": None, "reason": "r"},
               headers=auth("admin"))
    client.post(f"/v1/adapters/{name}/versions/1/load-failures", json={"replica": "r1", "reason": "oom"},
                headers=auth("trainer"))
    trail = {(e["action"], e["actor"]) for e in client.get("/v1/audit").json()}
    assert {("adapter.create", "alice"), ("artifact.upload", "trainer-bot"), ("version.register", "trainer-bot"),
            ("alias.move", "alice"), ("version.load_failed", "trainer-bot")} <= trail
    assert client.get(f"/v1/adapters/{name}/versions/1").json()["load_failures"] == 1


def test_health_readiness_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["ok"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "adaptloop_registry_outbox_published_total" in metrics.text
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/adapters/{name}/aliases/{alias}", "/v1/serving-plan", "/v1/artifacts/{sha256}",
                 "/v1/adapters/{name}/versions/{number}/retire"):
        assert path in paths


def test_unknown_things_are_404(client: TestClient) -> None:
    assert client.get("/v1/adapters/missing").status_code == 404
    assert client.get("/v1/adapters/missing/aliases/production").status_code == 404
    assert client.get("/v1/base-models/missing").status_code == 404
    assert client.get(f"/v1/artifacts/{'f' * 64}").status_code == 404
