"""Serving reports, rollout decisions of the automated judge and approval mode (PostgreSQL and SQLite)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from adaptloop_registry.infra.tables import outbox
from fastapi.testclient import TestClient
from registry_testkit import ACTORS, auth, seed_adapter, version_body
from sqlalchemy import select

PERIOD = {"period_start": "2026-01-01T10:00:00Z", "period_end": "2026-01-01T10:00:10Z"}
EVIDENCE = {"test": "two-proportion z", "z": -3.4, "p_value": 0.0003, "canary": {"n": 400, "bad": 0.31},
            "production": {"n": 3600, "bad": 0.12}}


def outbox_events(client: TestClient) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.begin() as conn:
        return [json.loads(p) for (p,) in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]


def events_of(client: TestClient, name: str, event_type: str) -> list[dict[str, Any]]:
    return [e for e in outbox_events(client) if e["model"] == name and e["event_type"] == event_type]


def register(client: TestClient, seeded: dict[str, str], *, passed: bool | None = True) -> dict[str, Any]:
    response = client.post(f"/v1/adapters/{seeded['name']}/versions", json=version_body(seeded, passed=passed),
                           headers=auth("trainer"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_alias(client: TestClient, name: str, alias: str, version: int, expected: int | None,
              weight: float | None = None) -> None:
    response = client.put(f"/v1/adapters/{name}/aliases/{alias}", headers=auth("admin"),
                          json={"version": version, "expected_version": expected, "reason": "setup", "weight": weight})
    assert response.status_code == 200, response.text


def report(name: str, counts: dict[str, int], report_id: str | None = None) -> dict[str, Any]:
    return {"report_id": report_id or str(uuid.uuid4()), "replica": "replica-a", "adapter": name,
            "counts": counts, **PERIOD}


def decision(action: str, version: int, previous: int | None, **extra: Any) -> dict[str, Any]:
    return {"decision_id": str(uuid.uuid4()), "action": action, "version": version, "previous_version": previous,
            "reason": "significant difference on live ratings", "evidence": EVIDENCE, **extra}


def aliases_of(client: TestClient, name: str) -> dict[str, int]:
    return dict(client.get(f"/v1/adapters/{name}").json()["aliases"])


def status_of(client: TestClient, name: str, version: int) -> str:
    return str(client.get(f"/v1/adapters/{name}/versions/{version}").json()["status"])


def audit_rows(client: TestClient, name: str) -> list[dict[str, Any]]:
    return [r for r in client.get("/v1/audit", params={"limit": 1000}).json()
            if r["target"].startswith((f"{name}:", f"{name}@"))]


# -- serving reports ----------------------------------------------------------------------------------------------

def test_a_serving_report_is_counted_once_per_report_id_and_moves_nothing(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="canary", canary_min_requests=5)
    name = seeded["name"]
    register(client, seeded)
    set_alias(client, name, "production", 1, None)
    register(client, seeded)  # becomes the canary
    body = report(name, {"1": 40, "2": 9})

    first = client.post("/v1/serving-reports", json=body, headers=auth("trainer"))
    again = client.post("/v1/serving-reports", json=body, headers=auth("trainer"))

    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert first.json()["served_requests"] == again.json()["served_requests"] == {"1": 40, "2": 9}
    assert again.json()["counts"] == {"1": 40, "2": 9}
    later = client.post("/v1/serving-reports", json=report(name, {"2": 1}), headers=auth("trainer")).json()
    assert later["served_requests"] == {"2": 10}
    assert client.get(f"/v1/adapters/{name}/versions/2").json()["served_requests"] == 10
    # beyond canary_min_requests, yet no alias moved: verdicts come from rollout decisions only
    assert aliases_of(client, name) == {"production": 1, "canary": 2}


def test_a_serving_report_naming_unknown_things_is_refused_whole(client: TestClient) -> None:
    seeded = seed_adapter(client)
    name = seeded["name"]
    register(client, seeded, passed=None)

    unknown_version = client.post("/v1/serving-reports", json=report(name, {"1": 5, "9": 2}), headers=auth("trainer"))
    assert unknown_version.status_code == 404 and "no version 9" in unknown_version.json()["detail"]
    assert client.get(f"/v1/adapters/{name}/versions/1").json()["served_requests"] == 0
    unknown_adapter = client.post("/v1/serving-reports", json=report("nope", {"1": 1}), headers=auth("trainer"))
    assert unknown_adapter.status_code == 404 and "'nope'" in unknown_adapter.json()["detail"]

    body = report(name, {"1": 5})
    assert client.post("/v1/serving-reports", json=body, headers=auth("trainer")).status_code == 201
    reused = client.post("/v1/serving-reports", json={**body, "counts": {"1": 6}}, headers=auth("trainer"))
    assert reused.status_code == 409 and "already used" in reused.json()["detail"]
    for bad in ({"counts": {"1": -1}}, {"counts": {"v1": 1}}, {"counts": {}},
                {"period_start": "2026-01-01T10:00:10Z", "period_end": "2026-01-01T10:00:00Z"},
                {"period_start": "2026-01-01T10:00:00"}):
        refused = client.post("/v1/serving-reports", json={**report(name, {"1": 1}), **bad}, headers=auth("trainer"))
        assert refused.status_code == 422, bad
    assert client.post("/v1/serving-reports", json=report(name, {"1": 1})).status_code == 401
    assert client.post("/v1/serving-reports", json=report(name, {"1": 1}), headers=auth("reader")).status_code == 403


# -- rollout decisions -------------------------------------------------------------------------------------------

def canary_setup(client: TestClient) -> str:
    """production = v1, canary = v2 (weight 0.2) under the `canary` policy."""
    seeded = seed_adapter(client, mode="canary")
    name = seeded["name"]
    register(client, seeded)
    set_alias(client, name, "production", 1, None)
    assert register(client, seeded)["aliases"] == {"production": 1, "canary": 2}
    return name


def test_graduating_a_canary_is_a_recorded_idempotent_compare_and_swap(client: TestClient) -> None:
    name = canary_setup(client)
    url = f"/v1/adapters/{name}/rollout-decisions"
    body = decision("graduate_canary", 2, 1)
    events_before = len(outbox_events(client))

    first = client.post(url, json=body, headers=auth("trainer"))

    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["actor"] == "system:canary" and answer["version_status"] == "production"
    assert answer["duplicate"] is False
    assert [(m["alias"], m["previous_version"], m["version"]) for m in answer["moves"]] == [
        ("production", 1, 2), ("canary", 2, None)]
    assert aliases_of(client, name) == {"production": 2}

    again = client.post(url, json=body, headers=auth("trainer"))
    assert again.status_code == 200 and again.json() == {**answer, "duplicate": True}
    assert len(outbox_events(client)) == events_before + 2  # the repeat announced nothing

    for alias in ("production", "canary"):
        last = client.get(f"/v1/adapters/{name}/aliases/{alias}/history").json()[-1]
        assert last["actor"] == "system:canary" and "canary graduated" in last["reason"]
        assert last["details"]["evidence"] == EVIDENCE and last["details"]["via"] == ACTORS["trainer"]
        assert last["details"]["decision_id"] == body["decision_id"]
    moves = [r for r in audit_rows(client, name) if r["action"] == "alias.move" and r["actor"] == "system:canary"]
    assert len(moves) == 2
    assert all(r["details"]["via"] == ACTORS["trainer"] and r["details"]["evidence"] == EVIDENCE for r in moves)
    announced = events_of(client, name, "adapter.alias_moved")[-2:]
    assert [(e["alias"], e["version"], e["actor"]) for e in announced] == [
        ("production", 2, "system:canary"), ("canary", None, "system:canary")]
    assert all(e["details"]["evidence"] == EVIDENCE and e["reason"].startswith("canary graduated") for e in announced)
    assert {m["event_id"] for m in answer["moves"]} == {e["event_id"] for e in announced}


def test_graduation_refuses_a_stale_view_of_the_aliases(client: TestClient) -> None:
    name = canary_setup(client)
    url = f"/v1/adapters/{name}/rollout-decisions"

    stale_production = client.post(url, json=decision("graduate_canary", 2, None), headers=auth("trainer"))
    assert stale_production.status_code == 409
    assert "'production'" in stale_production.json()["detail"] and "points at 1, not None" in \
        stale_production.json()["detail"]
    not_the_canary = client.post(url, json=decision("graduate_canary", 1, None), headers=auth("trainer"))
    assert not_the_canary.status_code == 409 and "'canary'" in not_the_canary.json()["detail"]
    assert aliases_of(client, name) == {"production": 1, "canary": 2}
    # a refused decision is not recorded: the same id may be applied once the state fits
    body = decision("graduate_canary", 2, 1)
    wrong_previous = client.post(url, json={**body, "previous_version": 3}, headers=auth("trainer"))
    assert wrong_previous.status_code == 409 and "points at 1, not 3" in wrong_previous.json()["detail"]
    assert client.post(url, json=body, headers=auth("trainer")).status_code == 201
    reused = client.post(url, json={**body, "action": "abandon_canary"}, headers=auth("trainer"))
    assert reused.status_code == 409 and "already used" in reused.json()["detail"]


def test_abandoning_a_canary_rejects_it_and_leaves_production(client: TestClient) -> None:
    name = canary_setup(client)
    url = f"/v1/adapters/{name}/rollout-decisions"
    body = decision("abandon_canary", 2, 1)

    answer = client.post(url, json=body, headers=auth("trainer"))

    assert answer.status_code == 201, answer.text
    assert answer.json()["version_status"] == "rejected" and answer.json()["actor"] == "system:canary"
    assert aliases_of(client, name) == {"production": 1}
    assert status_of(client, name, 2) == "rejected"
    [rejected] = events_of(client, name, "adapter.version_rejected")
    assert rejected["version"] == 2 and rejected["actor"] == "system:canary"
    assert rejected["details"]["cause"] == "canary_abandoned" and rejected["details"]["evidence"] == EVIDENCE
    assert rejected["details"]["via"] == ACTORS["trainer"]
    history = client.get(f"/v1/adapters/{name}/aliases/canary/history").json()
    assert (history[-1]["to_version"], history[-1]["actor"]) == (None, "system:canary")
    assert any(r["action"] == "version.reject" and r["actor"] == "system:canary" for r in audit_rows(client, name))

    assert client.post(url, json=body, headers=auth("trainer")).json()["duplicate"] is True
    gone = client.post(url, json=decision("abandon_canary", 2, 1), headers=auth("trainer"))
    assert gone.status_code == 409 and "points at None, not 2" in gone.json()["detail"]
    assert len(events_of(client, name, "adapter.version_rejected")) == 1


def test_the_guard_rolls_production_back_and_rejects_the_version(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="auto")
    name = seeded["name"]
    register(client, seeded)
    register(client, seeded)
    assert aliases_of(client, name) == {"production": 2}
    url = f"/v1/adapters/{name}/rollout-decisions"

    assert client.post(url, json=decision("rollback_production", 2, None), headers=auth("trainer")).status_code == 422
    assert client.post(url, json=decision("rollback_production", 2, 7), headers=auth("trainer")).status_code == 404
    assert client.post(url, json=decision("rollback_production", 1, 2), headers=auth("trainer")).status_code == 409
    answer = client.post(url, json=decision("rollback_production", 2, 1), headers=auth("trainer"))

    assert answer.status_code == 201, answer.text
    assert answer.json()["actor"] == "system:guard" and answer.json()["version_status"] == "rejected"
    assert aliases_of(client, name) == {"production": 1}
    assert (status_of(client, name, 1), status_of(client, name, 2)) == ("production", "rejected")
    last = client.get(f"/v1/adapters/{name}/aliases/production/history").json()[-1]
    assert (last["from_version"], last["to_version"], last["actor"]) == (2, 1, "system:guard")
    assert last["reason"].startswith("guard rollback:") and last["details"]["evidence"] == EVIDENCE
    moved = events_of(client, name, "adapter.alias_moved")[-1]
    assert (moved["version"], moved["previous_version"], moved["actor"]) == (1, 2, "system:guard")
    assert moved["details"]["evidence"] == EVIDENCE and moved["details"]["via"] == ACTORS["trainer"]
    [rejected] = events_of(client, name, "adapter.version_rejected")
    assert (rejected["version"], rejected["details"]["cause"]) == (2, "rolled_back")
    stale = client.post(url, json=decision("rollback_production", 2, 1), headers=auth("trainer"))
    assert stale.status_code == 409 and "points at 1, not 2" in stale.json()["detail"]


def test_the_guard_never_rolls_back_to_a_retired_version(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="auto")
    name = seeded["name"]
    register(client, seeded)
    register(client, seeded)
    assert client.post(f"/v1/adapters/{name}/versions/1/retire", json={"reason": "old"},
                       headers=auth("admin")).status_code == 200
    refused = client.post(f"/v1/adapters/{name}/rollout-decisions", json=decision("rollback_production", 2, 1),
                          headers=auth("trainer"))
    assert refused.status_code == 409 and "retired" in refused.json()["detail"]
    assert aliases_of(client, name) == {"production": 2} and status_of(client, name, 2) == "production"


def test_rollout_decisions_need_a_trainer_token_and_bounded_evidence(client: TestClient) -> None:
    name = canary_setup(client)
    url = f"/v1/adapters/{name}/rollout-decisions"
    assert client.post(url, json=decision("abandon_canary", 2, 1)).status_code == 401
    assert client.post(url, json=decision("abandon_canary", 2, 1), headers=auth("reader")).status_code == 403
    huge = decision("abandon_canary", 2, 1, evidence={"samples": "x" * 9000})
    assert client.post(url, json=huge, headers=auth("trainer")).status_code == 422
    assert client.post(url, json=decision("promote", 2, 1), headers=auth("trainer")).status_code == 422
    assert client.post("/v1/adapters/nope/rollout-decisions", json=decision("abandon_canary", 2, 1),
                       headers=auth("trainer")).status_code == 404
    assert aliases_of(client, name) == {"production": 1, "canary": 2}


# -- approval mode -----------------------------------------------------------------------------------------------

def test_approval_mode_waits_for_an_admin_who_approves_or_rejects(client: TestClient) -> None:
    seeded = seed_adapter(client, mode="approval")
    name = seeded["name"]
    first = register(client, seeded)
    assert first["status"] == "pending_approval" and first["aliases"] == {} and first["moves"] == []
    [requested] = events_of(client, name, "adapter.approval_requested")
    assert requested["version"] == 1 and requested["details"]["production_version"] is None
    pending = [p for p in client.get("/v1/approvals").json() if p["adapter"] == name]
    assert [(p["version"], p["production_version"]) for p in pending] == [(1, None)]
    assert pending[0]["evaluation"]["passed"] is True
    listed = client.get(f"/v1/adapters/{name}/versions", params={"status": "pending_approval"}).json()
    assert [v["version"] for v in listed] == [1]

    approve = f"/v1/adapters/{name}/versions/1/approve"
    assert client.post(approve, json={"reason": "reviewed"}).status_code == 401
    assert client.post(approve, json={"reason": "reviewed"}, headers=auth("reader")).status_code == 403
    assert client.post(approve, json={"reason": "reviewed"}, headers=auth("trainer")).status_code == 403
    assert client.post(f"/v1/adapters/{name}/versions/1/reject", json={"reason": "no"},
                       headers=auth("trainer")).status_code == 403
    approved = client.post(approve, json={"reason": "reviewed the samples"}, headers=auth("admin"))

    assert approved.status_code == 200, approved.text
    assert approved.json()["decision"] == "approved" and approved.json()["actor"] == ACTORS["admin"]
    assert [(m["alias"], m["version"]) for m in approved.json()["moves"]] == [("production", 1)]
    assert aliases_of(client, name) == {"production": 1} and status_of(client, name, 1) == "production"
    [announced] = events_of(client, name, "adapter.version_approved")
    assert (announced["version"], announced["actor"], announced["reason"]) == (1, ACTORS["admin"],
                                                                               "reviewed the samples")
    assert events_of(client, name, "adapter.alias_moved")[-1]["actor"] == ACTORS["admin"]
    assert client.post(approve, json={"reason": "again"}, headers=auth("admin")).status_code == 409

    register(client, seeded)
    assert [p["production_version"] for p in client.get("/v1/approvals").json() if p["adapter"] == name] == [1]
    rejected = client.post(f"/v1/adapters/{name}/versions/2/reject", json={"reason": "too risky"},
                           headers=auth("admin"))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["moves"] == [] and aliases_of(client, name) == {"production": 1}
    [gone] = events_of(client, name, "adapter.version_rejected")
    assert (gone["version"], gone["actor"], gone["details"]["cause"]) == (2, ACTORS["admin"], "approval_rejected")
    for verb in ("approve", "reject"):
        refused = client.post(f"/v1/adapters/{name}/versions/2/{verb}", json={"reason": "x"}, headers=auth("admin"))
        assert refused.status_code == 409 and "not pending_approval" in refused.json()["detail"]
    assert register(client, seeded, passed=False)["status"] == "rejected"
    assert [p for p in client.get("/v1/approvals").json() if p["adapter"] == name] == []
    trail = {(r["action"], r["actor"]) for r in audit_rows(client, name)}
    assert {("version.approval_requested", ACTORS["trainer"]), ("version.approve", ACTORS["admin"]),
            ("version.reject", ACTORS["admin"])} <= trail
