"""Erasure along lineage: ingest (broker, PostgreSQL) with the real registry (in process) and a stand-in for the
trainer's snapshot lineage (its own HTTP route is covered by the trainer's tests)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from adaptloop_common.auth import token_digest
from adaptloop_contracts import InferenceFeedback, InferenceLog
from adaptloop_devstack.inprocess import serve_app
from adaptloop_ingest.adapters.db import make_engine
from adaptloop_ingest.adapters.erasure_db import PostgresErasureStore
from adaptloop_ingest.adapters.lineage_client import HttpLineage
from adaptloop_ingest.adapters.tables import pending_feedback
from adaptloop_ingest.config import Settings
from adaptloop_kafka import EventProducer
from adaptloop_registry.bootstrap import create_app as registry_app
from adaptloop_registry.config import Settings as RegistrySettings
from ingest_support import TOKENS, WRITER, RunningIngest, log_payload, wait_for
from safetensors.numpy import save
from sqlalchemy import select

ADMIN = {"Authorization": "Bearer erasing-admin"}
OTHER_TENANT_ADMIN = {"Authorization": "Bearer acme-admin"}
ADMIN_TOKENS = f"ops:admin:{token_digest('erasing-admin')},acme:admin:{token_digest('acme-admin')}:acme"


class TracedLineage(HttpLineage):
    """The registry over HTTP; the trainer's answer from a snapshot of the example ids it was given."""

    def __init__(self, registry_url: str, snapshot: dict[str, Any]) -> None:
        super().__init__(Settings(registry_url=registry_url))
        self.snapshot: dict[str, Any] = snapshot
        self.asked: list[dict[str, Any]] = []

    def snapshots(self, body: dict[str, Any], *, token: str) -> dict[str, Any]:
        self.asked.append(body)
        held = set(body["example_ids"]) & set(self.snapshot["example_ids"])
        found = [{"adapter": self.snapshot["adapter"], "sha256": self.snapshot["sha256"], "examples": len(held)}]
        return {"snapshots": found if held else [], "regression_examples_removed": 0}


@pytest.fixture
def world(ingest_factory: Any, tmp_path: Path) -> Iterator[tuple[RunningIngest, httpx.Client, str]]:
    ingest = ingest_factory(tokens=f"{TOKENS},{ADMIN_TOKENS}")
    settings = RegistrySettings(database_url=f"sqlite:///{tmp_path / 'registry.db'}", db_schema="registry",
                                artifact_dir=str(tmp_path / "artifacts"), tokens=ADMIN_TOKENS, relay_enabled=False,
                                kafka_bootstrap="127.0.0.1:1")
    with serve_app(registry_app(settings)) as url, httpx.Client(base_url=url) as registry:
        yield ingest, registry, f"e{uuid.uuid4().hex[:8]}"


def _register(registry: httpx.Client, name: str, dataset_sha256: str) -> None:
    def put(data: bytes, filename: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        answer = registry.put(f"/v1/artifacts/{digest}", params={"filename": filename}, content=data, headers=ADMIN)
        assert answer.status_code in (200, 201), answer.text
        return digest

    assert registry.post("/v1/base-models", json={"name": "tiny-llama", "version": "1", "location": "x",
                                                  "weights_sha256": "b" * 64}, headers=ADMIN).status_code == 201
    assert registry.post("/v1/adapters", json={"name": name, "base_model": "tiny-llama", "training_config": {}},
                         headers=ADMIN).status_code == 201

    weights = put(save({"base_model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones((2, 8), np.float32),
                        "base_model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((8, 2), np.float32)}),
                  "adapter_model.safetensors")
    config = put(b'{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "peft_type": "LORA"}',
                 "adapter_config.json")
    answer = registry.post(f"/v1/adapters/{name}/versions", headers=ADMIN, json={
        "weights_sha256": weights, "config_sha256": config, "dataset_snapshot_id": "snap-x",
        "dataset_sha256": dataset_sha256, "training_config": {}, "metrics": {}})
    assert answer.status_code == 201, answer.text


def test_erasing_a_tenant_follows_lineage_and_leaves_nothing_to_replay(
        world: tuple[RunningIngest, httpx.Client, str], producer: EventProducer) -> None:
    ingest, registry, name = world
    logs = [InferenceLog.model_validate(log_payload(name, tenant=tenant)) for tenant in ("alice", "alice", "bob")]
    for log in logs:
        producer.publish_sync("inference.logs", log)
    exported = wait_for(lambda: [rows for rows in [ingest.export(name)] if len(rows) == 3][:1], what="3 examples")[0]
    alice_ids = [e["example_id"] for e in exported if e["event_id"] in {str(lg.event_id) for lg in logs[:2]}]
    snapshot_sha = "a" * 64
    _register(registry, name, snapshot_sha)
    held = {"adapter": name, "sha256": snapshot_sha, "example_ids": alice_ids[:1]}
    lineage = TracedLineage(str(registry.base_url), held)
    app = ingest.server.config.app
    app.state.erasure = (PostgresErasureStore(make_engine(ingest.settings.database_url,
                                                          schema=ingest.settings.db_schema)), lineage)

    # bad input and other principals change nothing
    bad = [({"tenant": "alice"}, ADMIN, 422), ({"reason": "x"}, ADMIN, 422),
           ({"tenant": "alice", "event_ids": [str(logs[2].event_id)], "reason": "x"}, ADMIN, 422),
           ({"event_ids": ["not-a-uuid"], "reason": "x"}, ADMIN, 422), ({"event_ids": [], "reason": "x"}, ADMIN, 422),
           ({"tenant": "nobody-here", "reason": "x"}, ADMIN, 404),
           ({"tenant": "alice", "reason": "x"}, WRITER, 403),
           ({"tenant": "alice", "reason": "x"}, OTHER_TENANT_ADMIN, 404)]
    for body, headers, status in bad:
        answer = ingest.client.post("/v1/erasures", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert "detail" in answer.json()
    assert len(ingest.export(name)) == 3 and lineage.asked == []

    erasure = ingest.client.post("/v1/erasures", json={"tenant": "alice", "reason": "GDPR art. 17"}, headers=ADMIN)
    assert erasure.status_code == 200, erasure.text
    answer = erasure.json()
    assert answer["examples_removed"] == 2 and answer["adapters"] == [name]
    assert [(s["adapter"], s["sha256"]) for s in answer["snapshots"]] == [(name, snapshot_sha)]
    assert [(v["adapter"], v["version"]) for v in answer["versions"]] == [(name, 1)]
    assert sorted(lineage.asked[0]["example_ids"]) == sorted(alice_ids)
    assert [e["event_id"] for e in ingest.export(name)] == [str(logs[2].event_id)]
    version = registry.get(f"/v1/adapters/{name}/versions/1").json()
    assert version["erasure_pending"] is True and version["erasures"][0]["erasure_id"] == answer["erasure_id"]

    # a replay of the erased logs is dropped as already seen; a new log behind it still arrives
    producer.publish_sync("inference.logs", logs[0])
    later = InferenceLog.model_validate(log_payload(name, tenant="bob"))
    producer.publish_sync("inference.logs", later)
    wait_for(lambda: len(ingest.export(name)) == 2 or None, what="the later log")
    assert {e["event_id"] for e in ingest.export(name)} == {str(logs[2].event_id), str(later.event_id)}

    # a rating of an erased log is not kept; one of a log not seen yet waits as before (same partition, in order)
    erased_rating = InferenceFeedback(model=name, inference_event_id=logs[0].event_id, score=-1.0, correction="x")
    waiting = InferenceFeedback(model=name, inference_event_id=uuid.uuid4(), score=1.0)
    producer.publish_sync("inference.feedback", erased_rating)
    producer.publish_sync("inference.feedback", waiting)
    engine = make_engine(ingest.settings.database_url, schema=ingest.settings.db_schema)

    def pending() -> set[uuid.UUID]:
        with engine.connect() as conn:
            return {r.event_id for r in conn.execute(select(pending_feedback.c.event_id))}

    wait_for(lambda: waiting.event_id in pending() or None, what="the waiting rating")
    assert erased_rating.event_id not in pending()

    again = ingest.client.post("/v1/erasures", json={"tenant": "alice", "reason": "again"}, headers=ADMIN).json()
    assert again["examples_removed"] == 0 and again["already_erased"][0]["erasure_id"] == answer["erasure_id"]
    [record] = [r for r in ingest.client.get("/v1/erasures", headers=ADMIN).json()
                if r["erasure_id"] == answer["erasure_id"]]
    assert record["requested_by"] == "ops" and record["examples_removed"] == 2 and "alice" not in str(record)
    assert ingest.client.get("/v1/erasures", headers=OTHER_TENANT_ADMIN).status_code == 403
