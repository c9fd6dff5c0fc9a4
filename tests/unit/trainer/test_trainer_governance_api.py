"""The trainer's cost ledger, erasure lineage and adapter scopes over HTTP (fakes for the store and registry)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from adaptloop_common.auth import TokenTable, token_digest
from adaptloop_common.http import install_common
from adaptloop_contracts import RetrainRequested, TrainingState
from adaptloop_trainer.api import governance as governance_api
from adaptloop_trainer.api import jobs as jobs_api
from adaptloop_trainer.snapshot import Example, example_key, seal_snapshot
from fastapi import FastAPI
from fastapi.testclient import TestClient
from trainer_fakes import FakeRegistry, InMemoryJobStore, RecordedEvents, adapter_record, version_record

ADMIN = {"Authorization": "Bearer admin"}
SCOPED = {"Authorization": "Bearer acme"}
ERASED_ID = str(uuid.uuid4())
World = tuple[TestClient, InMemoryJobStore, FakeRegistry]


def _job(store: InMemoryJobStore, adapter: str, *, snapshot: str | None, version: int | None,
         seconds: float, gain: float) -> uuid.UUID:
    request = RetrainRequested(model=adapter, reason="manual", requested_by="t", drift_event_ids=[])
    job, _ = store.create_or_get(request, traceparent=None)
    store.jobs[job.job_id] = replace(
        job, state=TrainingState.SUCCEEDED, snapshot_sha256=snapshot, candidate_version=version,
        metrics={"timings": {"train_loop_s": seconds, "evaluation_s": 2.0}, "train_examples": 40,
                 "tokens_trained": 900, "training_mode": "full"},
        evaluation={"passed": True, "metrics": {"heldout_improvement": gain}})
    return job.job_id


@pytest.fixture
def world() -> World:
    store, registry = InMemoryJobStore(), FakeRegistry()
    registry.adapter_records = {n: adapter_record(n, "tiny-llama") for n in ("ours", "theirs")}
    registry.registered = {"ours": [version_record("ours", 1, served_requests=120, served_tokens=2400),
                                    version_record("ours", 2, served_requests=30)]}
    erased = Example("my card?", "ends 42", example_key("my card?", "ends 42"), "train", ERASED_ID)
    other = Example("hi", "hello", example_key("hi", "hello"), "heldout", str(uuid.uuid4()))
    with_erased = registry.upload_artifact(seal_snapshot([erased, other]).content, "snapshot.jsonl").sha256
    without = registry.upload_artifact(seal_snapshot([other]).content, "snapshot.jsonl").sha256
    _job(store, "ours", snapshot=with_erased, version=1, seconds=30.0, gain=0.2)
    _job(store, "ours", snapshot=without, version=2, seconds=10.0, gain=0.1)
    _job(store, "theirs", snapshot=with_erased, version=1, seconds=5.0, gain=0.0)
    store.pin_regression("ours", [erased, other], snapshot_sha256=with_erased)
    app = FastAPI()
    app.state.store, app.state.registry = store, registry
    app.state.runner, app.state.events = object(), RecordedEvents()  # never reached by these requests
    app.state.default_training_config = {}
    app.state.token_table = TokenTable(f"ops:admin:{token_digest('admin')}, acme:admin:{token_digest('acme')}:ours")
    install_common(app, max_body_bytes=1 << 20, checks={})
    app.include_router(jobs_api.router)
    app.include_router(governance_api.router)
    return TestClient(app), store, registry


def test_the_cost_ledger_sums_the_jobs_of_one_adapter(world: World) -> None:
    client, _, _ = world
    costs = client.get("/v1/adapters/ours/costs").json()
    assert costs["totals"]["retrains"] == 2 and costs["totals"]["succeeded"] == 2
    assert costs["totals"]["training_seconds"] == 40.0 and costs["totals"]["evaluation_seconds"] == 4.0
    assert costs["totals"]["tokens_trained"] == 1800 and costs["totals"]["examples_trained"] == 80
    assert costs["totals"]["requests_served"] == 150 and costs["totals"]["mean_quality_gained"] == 0.15
    assert costs["last_24h"] == {"retrains": 2, "training_seconds": 40.0}
    by_version = {row["version"]: row for row in costs["versions"]}
    assert by_version[1]["quality_gained"] == 0.2 and by_version[1]["requests_served"] == 120
    assert by_version[1]["tokens_served"] == 2400 and costs["totals"]["tokens_served"] == 2400
    assert client.get("/v1/adapters/nobody/costs").status_code == 404


def test_erasure_lineage_names_the_snapshots_and_forgets_pinned_examples(
        world: World) -> None:
    client, store, _ = world
    body = {"erasure_id": str(uuid.uuid4()), "adapters": ["ours"], "example_ids": [ERASED_ID],
            "keys": [example_key("my card?", "ends 42")]}
    assert client.post("/v1/erasures/lineage", json=body).status_code == 401
    answer = client.post("/v1/erasures/lineage", json=body, headers=ADMIN).json()
    assert [(s["adapter"], s["candidate_versions"], s["examples"]) for s in answer["snapshots"]] == [("ours", [1], 1)]
    assert answer["regression_examples_removed"] == 1
    assert [e.prompt for e in store.regression_set("ours")] == ["hi"]
    for bad in ({**body, "adapters": []}, {**body, "keys": ["nothex"]}, {**body, "surprise": 1}):
        assert client.post("/v1/erasures/lineage", json=bad, headers=ADMIN).status_code == 422


def test_a_scoped_token_reaches_only_its_adapters_jobs(world: World) -> None:
    client, store, _ = world
    theirs = next(j for j in store.jobs.values() if j.adapter == "theirs")
    assert {j["adapter"] for j in client.get("/v1/jobs", headers=SCOPED).json()["jobs"]} == {"ours"}
    assert {j["adapter"] for j in client.get("/v1/jobs").json()["jobs"]} == {"ours", "theirs"}
    refused = [
        client.get(f"/v1/jobs/{theirs.job_id}", headers=SCOPED),
        client.get("/v1/jobs", params={"adapter": "theirs"}, headers=SCOPED),
        client.get("/v1/adapters/theirs/costs", headers=SCOPED),
        client.post(f"/v1/jobs/{theirs.job_id}/cancel", headers=SCOPED),
        client.post("/v1/jobs", json={"adapter": "theirs"}, headers=SCOPED),
        client.post("/v1/erasures/lineage", headers=SCOPED, json={"erasure_id": str(uuid.uuid4()),
                                                                 "adapters": ["theirs"], "keys": []}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert len(store.jobs) == 3 and not store.jobs[theirs.job_id].cancel_requested
    assert client.get("/v1/adapters/ours/costs", headers=SCOPED).status_code == 200
