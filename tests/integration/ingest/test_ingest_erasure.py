"""Erasure along lineage through the real parts: ingest (broker, PostgreSQL), the registry on PostgreSQL (in
process) and the trainer's own app (`python -m adaptloop_trainer` in its environment, on PostgreSQL), whose job
store holds a finished job with a dataset snapshot that really contains an erased example."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from adaptloop_common.auth import token_digest
from adaptloop_common.service_database import ServiceDatabase
from adaptloop_contracts import InferenceFeedback, InferenceLog, TopicNames
from adaptloop_devstack.broker import free_ports
from adaptloop_devstack.inprocess import serve_app
from adaptloop_devstack.paths import repo_root, venv_python
from adaptloop_devstack.postgres import sqlalchemy_url
from adaptloop_devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from adaptloop_devstack.tcp_proxy import TcpProxy
from adaptloop_ingest.infra.tables import pending_feedback
from adaptloop_kafka import EventProducer
from adaptloop_registry.bootstrap import create_app as registry_app
from adaptloop_registry.config import Settings as RegistrySettings
from ingest_support import TOKENS, WRITER, RunningIngest, log_payload, wait_for
from safetensors.numpy import save
from sqlalchemy import create_engine, select, text

OTHER_TENANT_ADMIN = {"Authorization": "Bearer acme-admin"}
SNAPSHOT_JOB = Path(__file__).with_name("trainer_snapshot_job.py")
"""Run with the trainer's Python: records a finished job and its snapshot through the trainer's own code."""


@dataclass
class World:
    ingest: RunningIngest
    registry: httpx.Client
    trainer: Stack
    trainer_link: TcpProxy
    """Between ingest and the trainer: cut, the trainer is unreachable for ingest."""
    admin: dict[str, str]
    """An admin token valid at ingest, the registry and the trainer (ingest passes it on)."""
    dsn: str
    trainer_schema: str
    name: str

    def snapshot_job(self) -> dict[str, Any]:
        """A finished train job of `name` whose snapshot holds ingest's examples with a target right now."""
        done = subprocess.run([str(venv_python("model")), str(SNAPSHOT_JOB), self.name, "1"], cwd=repo_root(),
                              env=self.trainer.service_env("trainer", self.dsn), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))

    def pinned(self) -> set[str]:
        """The prompts of the trainer's pinned regression examples of `name`, read from its database."""
        engine = create_engine(sqlalchemy_url(self.dsn))
        try:
            with engine.connect() as conn:
                return {r.prompt for r in conn.execute(text(
                    f'SELECT prompt FROM "{self.trainer_schema}".regression_examples WHERE adapter = :a'),
                    {"a": self.name})}
        finally:
            engine.dispose()

    def flagged(self) -> bool:
        return bool(self.registry.get(f"/v1/adapters/{self.name}/versions/1").json()["erasure_pending"])


@pytest.fixture
def world(ingest_factory: Any, kafka_bootstrap: str, topics: TopicNames, pg_dsn: str, pg_schema: str,
          tmp_path: Path) -> Iterator[World]:
    """The registry in process, the trainer's own process (devstack's way of starting it, on this test's ports,
    topics and schemas) behind a proxy, and ingest knowing both; one admin token valid at all three."""
    registry_port, ingest_port, trainer_port = free_ports(3)
    trainer_schema = f"{pg_schema}_trainer"
    ports = {**DEFAULT_PORTS, "registry": registry_port, "ingest": ingest_port, "trainer": trainer_port}
    trainer = Stack(StackConfig(
        home=tmp_path, ports=ports,
        topic_prefix=topics.prefix, extra_env={  # the run's broker (any address), a schema of this test's own
            "ADAPTLOOP_TRAINER_KAFKA_BOOTSTRAP": kafka_bootstrap, "ADAPTLOOP_TRAINER_DB_SCHEMA": trainer_schema,
            "ADAPTLOOP_TRAINER_CONSUMER_GROUP": f"trainer-{pg_schema}", "OTEL_SDK_DISABLED": "true"}))
    tokens = trainer.tokens.digest_spec()
    settings = RegistrySettings(database_url=sqlalchemy_url(pg_dsn), db_schema=f"{pg_schema}_registry",
                                artifact_dir=str(tmp_path / "artifacts"), tokens=tokens, relay_enabled=False,
                                kafka_bootstrap=kafka_bootstrap)
    admin = {"Authorization": f"Bearer {trainer.tokens.token('admin')}"}
    with serve_app(registry_app(settings), port=registry_port) as registry_url, \
            httpx.Client(base_url=registry_url, headers=admin) as registry:
        link = TcpProxy("127.0.0.1", trainer_port).start()
        try:
            trainer.start_service("trainer", pg_dsn)  # starts while ingest does; waited for once it is needed
            ingest = ingest_factory(
                port=ingest_port, registry_url=registry_url, trainer_url=f"http://127.0.0.1:{link.port}",
                tokens=f"{TOKENS},{tokens},acme:admin:{token_digest('acme-admin')}:acme")
            yield World(ingest, registry, trainer, link, admin, pg_dsn, trainer_schema, f"e{uuid.uuid4().hex[:8]}")
        finally:
            link.stop()
            trainer.down()


def _register(registry: httpx.Client, name: str) -> None:
    """The base model and adapter, as an operator registers them."""
    assert registry.post("/v1/base-models", json={"name": "tiny-llama", "version": "1", "location": "x",
                                                  "weights_sha256": "b" * 64}).status_code == 201
    assert registry.post("/v1/adapters", json={"name": name, "base_model": "tiny-llama",
                                               "training_config": {}}).status_code == 201


def _register_version(registry: httpx.Client, name: str, snapshot: dict[str, Any]) -> None:
    """The job's candidate version, trained on its snapshot (weights of no consequence here)."""
    def put(data: bytes, filename: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        answer = registry.put(f"/v1/artifacts/{digest}", params={"filename": filename}, content=data)
        assert answer.status_code in (200, 201), answer.text
        return digest

    weights = put(save({"base_model.model.layers.0.self_attn.q_proj.lora_A.weight": np.ones((2, 8), np.float32),
                        "base_model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((8, 2), np.float32)}),
                  "adapter_model.safetensors")
    config = put(b'{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "peft_type": "LORA"}',
                 "adapter_config.json")
    answer = registry.post(f"/v1/adapters/{name}/versions", json={
        "weights_sha256": weights, "config_sha256": config, "dataset_snapshot_id": snapshot["snapshot_id"],
        "dataset_sha256": snapshot["snapshot_sha256"], "training_config": {}, "metrics": {}})
    assert answer.status_code == 201 and answer.json()["version"] == 1, answer.text


def _rated_log(producer: EventProducer, name: str, tenant: str) -> InferenceLog:
    """A log and a good rating of it: an example with a target (what a snapshot holds)."""
    log = InferenceLog.model_validate(log_payload(name, tenant=tenant))
    producer.publish_sync("inference.logs", log)
    producer.publish_sync("inference.feedback", InferenceFeedback(model=name, inference_event_id=log.event_id,
                                                                  score=1.0))
    return log


def test_erasing_a_tenant_follows_lineage_and_leaves_nothing_to_replay(world: World, producer: EventProducer) -> None:
    ingest, registry, name, admin = world.ingest, world.registry, world.name, world.admin

    def learnable() -> list[dict[str, Any]]:
        return ingest.export(name, only_targets="true")

    # a train job snapshots alice's first example and bob's; alice's second arrives after it
    logs = [_rated_log(producer, name, "alice"), _rated_log(producer, name, "bob")]
    wait_for(lambda: len(learnable()) == 2 or None, what="2 rated examples")
    _register(registry, name)
    world.trainer.wait_ready("trainer", time.monotonic() + 120)
    snapshot = world.snapshot_job()
    by_event = {e["event_id"]: e["example_id"] for e in learnable()}
    assert sorted(snapshot["example_ids"]) == sorted(by_event[str(lg.event_id)] for lg in logs), snapshot
    _register_version(registry, name, snapshot)
    logs.insert(1, _rated_log(producer, name, "alice"))
    wait_for(lambda: len(learnable()) == 3 or None, what="alice's second example")
    prompts = [lg.prompt for lg in logs]
    assert world.pinned() == {prompts[0], prompts[2]}

    def unchanged() -> None:
        assert len(ingest.export(name)) == 3 and world.pinned() == {prompts[0], prompts[2]} and not world.flagged()

    # bad input and other principals change nothing
    bad = [({"tenant": "alice"}, admin, 422), ({"reason": "x"}, admin, 422),
           ({"tenant": "alice", "event_ids": [str(logs[2].event_id)], "reason": "x"}, admin, 422),
           ({"event_ids": ["not-a-uuid"], "reason": "x"}, admin, 422), ({"event_ids": [], "reason": "x"}, admin, 422),
           ({"tenant": "nobody-here", "reason": "x"}, admin, 404),
           ({"tenant": "alice", "reason": "x"}, WRITER, 403),
           ({"tenant": "alice", "reason": "x"}, OTHER_TENANT_ADMIN, 404)]
    for body, headers, status in bad:
        answer = ingest.client.post("/v1/erasures", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert "detail" in answer.json()
    unchanged()

    # the trainer unreachable: 503, nothing erased, nothing flagged, nothing unpinned
    world.trainer_link.cut()
    answer = ingest.client.post("/v1/erasures", json={"tenant": "alice", "reason": "x"}, headers=admin)
    assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
    assert "nothing was erased" in answer.json()["detail"]
    unchanged()
    world.trainer_link.restore()

    erasure = ingest.client.post("/v1/erasures", json={"tenant": "alice", "reason": "GDPR art. 17"}, headers=admin)
    assert erasure.status_code == 200, erasure.text
    answer = erasure.json()
    assert answer["examples_removed"] == 2 and answer["adapters"] == [name]
    assert answer["snapshots"] == [{"adapter": name, "snapshot_id": snapshot["snapshot_id"],
                                    "sha256": snapshot["snapshot_sha256"], "examples": 1,
                                    "jobs": [snapshot["job_id"]], "candidate_versions": [1]}]
    assert [(v["adapter"], v["version"], v["cause"]) for v in answer["versions"]] == [(name, 1, "dataset")]
    assert answer["regression_examples_removed"] == 1 and world.pinned() == {prompts[2]}
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
    engine = ServiceDatabase(ingest.settings.database_url, service="ingest", schema=ingest.settings.db_schema).engine

    def pending() -> set[uuid.UUID]:
        with engine.connect() as conn:
            return {r.event_id for r in conn.execute(select(pending_feedback.c.event_id))}

    wait_for(lambda: waiting.event_id in pending() or None, what="the waiting rating")
    assert erased_rating.event_id not in pending()

    again = ingest.client.post("/v1/erasures", json={"tenant": "alice", "reason": "again"}, headers=admin).json()
    assert again["examples_removed"] == 0 and again["already_erased"][0]["erasure_id"] == answer["erasure_id"]
    [record] = [r for r in ingest.client.get("/v1/erasures", headers=admin).json()
                if r["erasure_id"] == answer["erasure_id"]]
    assert record["requested_by"] == "local-admin" and record["examples_removed"] == 2 and "alice" not in str(record)
    assert ingest.client.get("/v1/erasures", headers=OTHER_TENANT_ADMIN).status_code == 403
