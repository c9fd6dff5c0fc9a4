"""Tokens scoped to adapters at the registry, and erasure flags along lineage (PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from adaptloop_registry.bootstrap import create_app
from adaptloop_registry.infra.tables import outbox
from fastapi.testclient import TestClient
from registry_testkit import auth, make_settings, seed_adapter, token_spec, version_body
from sqlalchemy import select

SCOPED = {"Authorization": "Bearer acme-token"}


@pytest.fixture
def scoped_client(postgres: tuple[str, str], tmp_path: Path) -> Iterator[TestClient]:
    digest = hashlib.sha256(b"acme-token").hexdigest()
    tokens = f"{token_spec()},acme:admin:{digest}:ours"
    with TestClient(create_app(make_settings(postgres, tmp_path, tokens=tokens))) as c:
        yield c


def _events(client: TestClient, event_type: str) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.begin() as conn:
        payloads = [json.loads(p) for (p,) in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]
    return [e for e in payloads if e["event_type"] == event_type]


def test_a_scoped_token_reaches_only_its_adapters(scoped_client: TestClient) -> None:
    c = scoped_client
    ours = seed_adapter(c, "ours")
    theirs = seed_adapter(c, "theirs")
    for seeded in (ours, theirs):
        assert c.post(f"/v1/adapters/{seeded['name']}/versions", json=version_body(seeded),
                      headers=auth("trainer")).status_code == 201
    # reads of another tenant's adapter, versions and serving state are refused; lists are filtered
    assert [a["name"] for a in c.get("/v1/adapters", headers=SCOPED).json()] == ["ours"]
    assert {a["name"] for a in c.get("/v1/adapters").json()} >= {"ours", "theirs"}
    assert c.get("/v1/adapters/ours/versions/1", headers=SCOPED).status_code == 200
    for path in ("/v1/adapters/theirs", "/v1/adapters/theirs/versions", "/v1/adapters/theirs/versions/1",
                 "/v1/adapters/theirs/aliases/production/history", "/v1/serving-plan", "/v1/audit"):
        refused = c.get(path, headers=SCOPED)
        assert refused.status_code == 403, (path, refused.text)
    # mutations of another tenant's resources: 403 and nothing changes
    before = c.get("/v1/adapters/theirs").json()
    refusals = [
        c.put("/v1/adapters/theirs/aliases/production", headers=SCOPED,
              json={"version": 1, "expected_version": None, "reason": "x"}),
        c.post("/v1/adapters/theirs/versions/1/retire", headers=SCOPED, json={"reason": "x"}),
        c.post("/v1/adapters/theirs/versions", headers=SCOPED, json=version_body(theirs)),
        c.post("/v1/adapters", headers=SCOPED, json={"name": "third", "base_model": "tiny-llama",
                                                     "training_config": {}}),
        c.post("/v1/base-models", headers=SCOPED, json={"name": "other", "version": "1", "location": "x",
                                                        "weights_sha256": "c" * 64}),
        c.post("/v1/erasures", headers=SCOPED, json={"erasure_id": str(uuid.uuid4()), "reason": "x",
                                                     "snapshots": [{"adapter": "theirs", "sha256": "d" * 64}]}),
    ]
    assert [r.status_code for r in refusals] == [403] * len(refusals), [r.text for r in refusals]
    assert "theirs" in refusals[0].json()["detail"]
    assert c.get("/v1/adapters/theirs").json() == before
    assert c.get("/v1/adapters/third").status_code == 404
    assert c.get("/v1/adapters/theirs/versions/1").json()["status"] == "candidate"
    # its own adapter works as with an unscoped admin token
    moved = c.put("/v1/adapters/ours/aliases/production", headers=SCOPED,
                  json={"version": 1, "expected_version": None, "reason": "ship"})
    assert moved.status_code == 200, moved.text


def test_erasure_flags_versions_on_the_snapshot_and_their_descendants(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    erased, clean = "e" * 64, "f" * 64
    bodies = [version_body(seeded, dataset_sha256=erased, request_id="r1"),
              version_body(seeded, dataset_sha256=clean, parent_version=1, request_id="r2"),
              version_body(seeded, dataset_sha256=clean, request_id="r3"),
              version_body(seeded, dataset_sha256=clean, parent_version=1, request_id="r4",
                           metrics={"training_mode": "full"})]
    for body in bodies:
        assert client.post(f"/v1/adapters/{name}/versions", json=body, headers=auth("trainer")).status_code == 201
    request = {"erasure_id": str(uuid.uuid4()), "reason": "subject asked",
               "snapshots": [{"adapter": name, "sha256": erased}]}
    assert client.post("/v1/erasures", json=request, headers=auth("trainer")).status_code == 403
    answer = client.post("/v1/erasures", json=request, headers=auth("admin"))
    assert answer.status_code == 200, answer.text
    assert [(v["version"], v["cause"]) for v in answer.json()["versions"]] == [(1, "dataset"), (2, "parent")]
    again = client.post("/v1/erasures", json=request, headers=auth("admin"))
    assert again.json() == answer.json()
    views = {v["version"]: v for v in client.get(f"/v1/adapters/{name}/versions").json()}
    assert [views[n]["erasure_pending"] for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert views[1]["erasures"][0]["erasure_id"] == request["erasure_id"]
    announced = [e for e in _events(client, "adapter.erasure_pending") if e["model"] == name]
    assert sorted(e["version"] for e in announced) == [1, 2]  # once each, however often repeated
    audited = [r for r in client.get("/v1/audit", params={"limit": 1000}).json()
               if r["action"] == "version.erasure_pending" and r["target"].startswith(f"{name}@")]
    assert len(audited) == 2
    retired = client.post(f"/v1/adapters/{name}/versions/2/retire", json={"reason": "erased"}, headers=auth("admin"))
    assert retired.json()["erasure_pending"] is False


def test_malformed_erasure_flags_change_nothing(client: TestClient) -> None:
    for body, status in [
        ({"reason": "x", "snapshots": []}, 422),
        ({"erasure_id": "not-a-uuid", "reason": "x", "snapshots": []}, 422),
        ({"erasure_id": str(uuid.uuid4()), "reason": "x", "snapshots": [{"adapter": "nobody", "sha256": "d" * 64}]},
         404),
    ]:
        answer = client.post("/v1/erasures", json=body, headers=auth("admin"))
        assert answer.status_code == status, answer.text
    assert _events(client, "adapter.erasure_pending") == []


def test_a_scoped_token_is_issued_only_for_registered_adapters(scoped_client: TestClient, tmp_path: Path,
                                                                 postgres: tuple[str, str]) -> None:
    c = scoped_client
    seed_adapter(c, "ours")
    audit_before = len(c.get("/v1/audit", params={"limit": 1000}).json())
    bad = [({"actor": "acme-bot", "role": "trainer", "adapters": ["ours", "ghost"]}, auth("admin"), 404),
           ({"actor": "acme-bot", "role": "owner", "adapters": ["ours"]}, auth("admin"), 422),
           ({"actor": "acme bot", "role": "trainer", "adapters": ["ours"]}, auth("admin"), 422),
           ({"actor": "acme-bot", "role": "trainer", "adapters": []}, auth("admin"), 422),
           ({"actor": "acme-bot", "role": "trainer", "adapters": ["Ours"]}, auth("admin"), 422),
           ({"actor": "acme-bot", "role": "trainer", "adapters": ["ours"]}, auth("trainer"), 403),
           ({"actor": "acme-bot", "role": "trainer", "adapters": ["ours"]}, SCOPED, 403)]
    for body, headers, status in bad:
        answer = c.post("/v1/tokens", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
    assert "ghost" in c.post("/v1/tokens", json=bad[0][0], headers=auth("admin")).json()["detail"]
    assert len(c.get("/v1/audit", params={"limit": 1000}).json()) == audit_before
    issued = c.post("/v1/tokens", json={"actor": "acme-bot", "role": "trainer", "adapters": ["ours"]},
                    headers=auth("admin"))
    assert issued.status_code == 201, issued.text
    token, entry = issued.json()["token"], issued.json()["entry"]
    assert entry == f"acme-bot:trainer:{hashlib.sha256(token.encode()).hexdigest()}:ours"
    [row] = [r for r in c.get("/v1/audit", params={"limit": 1000}).json() if r["action"] == "token.issue"]
    assert row["details"]["adapters"] == ["ours"] and token not in str(row)
    # the entry works once a service is configured with it
    with TestClient(create_app(make_settings(postgres, tmp_path, tokens=f"{token_spec()},{entry}"))) as other:
        bearer = {"Authorization": f"Bearer {token}"}
        assert other.get("/v1/adapters/ours", headers=bearer).status_code == 200
        assert other.get("/v1/serving-plan", headers=bearer).status_code == 403


def test_serving_reports_add_up_tokens_served(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    assert client.post(f"/v1/adapters/{name}/versions", json=version_body(seeded),
                       headers=auth("trainer")).status_code == 201
    report = {"report_id": str(uuid.uuid4()), "replica": "r", "adapter": name, "counts": {"1": 3},
              "tokens": {"1": 240}, "period_start": "2026-01-01T10:00:00Z", "period_end": "2026-01-01T10:00:10Z"}
    for _ in range(2):  # counted once per report_id
        assert client.post("/v1/serving-reports", json=report, headers=auth("trainer")).status_code in (200, 201)
    version = client.get(f"/v1/adapters/{name}/versions/1").json()
    assert (version["served_requests"], version["served_tokens"]) == (3, 240)
    stray = {**report, "report_id": str(uuid.uuid4()), "tokens": {"2": 5}}
    assert client.post("/v1/serving-reports", json=stray, headers=auth("trainer")).status_code == 422
