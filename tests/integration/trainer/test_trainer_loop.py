"""retrain.requested -> job -> snapshot from ingest -> LoRA -> gate -> registry, against real services."""

from __future__ import annotations

import hashlib
import math
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from adaptloop_contracts import RetrainRequested
from adaptloop_contracts.registry_requests import EvaluationSpec, VersionSpec
from adaptloop_scenarios.corpus import generate_pairs
from adaptloop_trainer.infra.registry_client import RegistryClient
from adaptloop_trainer.snapshot import parse_snapshot
from adaptloop_trainer.training_config import resolve_training_config
from adaptloop_trainer.training_loop import train_lora
from confluent_kafka import Consumer, TopicPartition
from trainer_stack import JOB_TIMEOUT_S, STACK_START_TIMEOUT_S, TOKENS, TRAINING_CONFIG, Stack, wait_until

# Waits beyond the global timeout: the first test pays the stack and the module's training job,
# and a test that trains again waits for its own job too.
pytestmark = pytest.mark.timeout(STACK_START_TIMEOUT_S + 2 * JOB_TIMEOUT_S + 60)


@pytest.fixture(scope="module")
def domain_run(stack: Stack) -> dict[str, Any]:
    """One adapter trained on the automotive domain from a request delivered three times."""
    adapter = f"auto-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", TRAINING_CONFIG, mode="auto")
    stack.import_examples(adapter, [(p.prompt, p.answer) for p in generate_pairs("automotive", 80, seed=5)])
    request = RetrainRequested(model=adapter, reason="drift", requested_by="drift-policy")
    stack.publish("retrain.requested", request, times=3)
    job = stack.wait_final_job(adapter, timeout_s=JOB_TIMEOUT_S)
    return {"adapter": adapter, "request": request, "job": job}


def test_same_request_three_times_gives_one_job_and_one_version(stack: Stack, domain_run: dict[str, Any]) -> None:
    adapter, request, job = domain_run["adapter"], domain_run["request"], domain_run["job"]
    assert job["state"] == "succeeded", job
    assert [j["job_id"] for j in stack.jobs(adapter)] == [job["job_id"]]
    assert job["request_id"] == str(request.event_id)
    assert [v["version"] for v in stack.versions(adapter)] == [1]
    events = [e for e in stack.read_all("training.events") if e["job_id"] == job["job_id"]]
    types = [e["event_type"] for e in events]
    assert types[0] == "training.queued" and types[1] == "training.running" and types[-1] == "training.succeeded"
    assert types.count("training.succeeded") == 1 and "training.progress" in types
    progress = [e["progress"] for e in events if e["event_type"] == "training.progress"]
    assert progress == sorted(progress) and 0 < progress[-1] <= 1
    assert events[-1]["candidate_version"] == 1

    topic = stack.topics("retrain.requested")
    probe = Consumer({"bootstrap.servers": stack.kafka, "group.id": f"trainer-{stack.schema_prefix}"})
    try:
        def committed_all() -> bool:
            parts = probe.committed([TopicPartition(topic, p) for p in range(4)], timeout=5)
            return sum(max(tp.offset, 0) for tp in parts) == 3
        wait_until(committed_all, timeout_s=20, what="the three deliveries committed")
    finally:
        probe.close()


def test_candidate_on_the_new_domain_lowers_held_out_loss_and_is_registered(
        stack: Stack, domain_run: dict[str, Any]) -> None:
    adapter, job = domain_run["adapter"], domain_run["job"]
    evaluation = job["evaluation"]
    assert evaluation["passed"], evaluation["verdict"]
    metrics = evaluation["metrics"]
    assert metrics["baseline"] == "base model"
    assert metrics["heldout_loss"] < metrics["heldout_loss_baseline"]
    assert metrics["changed_outputs_share"] > 0
    version = stack.versions(adapter)[0]
    assert version["evaluation"]["passed"] is True and version["metrics"]["heldout_loss"] == metrics["heldout_loss"]
    assert version["base_model"] == "tiny-llama" and version["seed"] == TRAINING_CONFIG["seed"]
    assert version["dataset_sha256"] == job["snapshot_sha256"] and version["dataset_snapshot_id"] == job["snapshot_id"]
    assert version["code_revision"] == "test-revision" and version["request_id"] == str(domain_run["request"].event_id)
    assert version["training_config"]["rank"] == TRAINING_CONFIG["rank"]
    assert stack.adapter(adapter)["aliases"].get("production") == 1


def test_rerunning_the_recorded_configuration_reproduces_the_sha256(
        stack: Stack, domain_run: dict[str, Any], tiny_model_dir: Path, tmp_path: Path) -> None:
    version = stack.versions(domain_run["adapter"])[0]
    snapshot = parse_snapshot(stack.artifact(version["dataset_sha256"]))
    assert snapshot.sha256 == version["dataset_sha256"]
    called = time.perf_counter()
    rerun = train_lora(base_dir=tiny_model_dir, base_model_name=version["base_model"], train=snapshot.train,
                       config=resolve_training_config(version["training_config"]), checkpoint_dir=tmp_path,
                       threads=2, checkpoint_every=1000)
    wall = time.perf_counter() - called
    assert hashlib.sha256(rerun.weights).hexdigest() == version["weights_sha256"]
    # The call's phases, which the job reports as load_s, train_loop_s and save_s, are each measured.
    assert min(rerun.load_seconds, rerun.train_seconds, rerun.save_seconds) > 0
    assert rerun.load_seconds + rerun.train_seconds + rerun.save_seconds <= wall


def _corrupted(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each answer's words in a scrambled order, and answers swapped between prompts."""
    rng = random.Random(13)
    answers = [a.split() for _, a in pairs]
    for words in answers:
        rng.shuffle(words)
    rng.shuffle(answers)
    return [(p, " ".join(a)) for (p, _), a in zip(pairs, answers, strict=True)]


def test_candidate_on_corrupted_targets_fails_the_gate_and_production_is_unchanged(
        stack: Stack, domain_run: dict[str, Any]) -> None:
    adapter = domain_run["adapter"]
    assert stack.adapter(adapter)["aliases"].get("production") == 1
    since = datetime.now(UTC)
    time.sleep(0.01)
    clean = [(p.prompt, p.answer) for p in generate_pairs("automotive", 80, seed=9)]
    stack.import_examples(adapter, _corrupted(clean))
    with stack.http(stack.trainer, "trainer") as c:
        answer = c.post("/v1/jobs", json={"adapter": adapter, "since": since.isoformat()})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    job = wait_until(lambda: (j := stack.job(job_id))["state"] not in ("queued", "running") and j,
                     timeout_s=JOB_TIMEOUT_S, what="the corrupted job to end", every_s=1.0)
    assert job["state"] == "rejected", job
    assert "failed the evaluation gate" in job["error"] and job["candidate_version"] == 2
    version = next(v for v in stack.versions(adapter) if v["version"] == 2)
    assert version["evaluation"]["passed"] is False and version["status"] == "rejected"
    assert version["parent_version"] == 1
    assert stack.adapter(adapter)["aliases"].get("production") == 1
    failing = [e for e in stack.read_all("training.events") if e["job_id"] == job_id][-1]
    assert failing["event_type"] == "training.rejected" and failing["error"] == job["error"]


def test_unknown_adapter_is_rejected_and_an_invalid_request_dead_lettered(stack: Stack) -> None:
    request = RetrainRequested(model="no-such-adapter", reason="manual", requested_by="someone")
    stack.publish("retrain.requested", request)
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": stack.kafka})
    producer.produce(stack.topics("retrain.requested"), b'{"event_type": "retrain.requested"}', key=b"x")
    producer.flush(10)
    job = stack.wait_final_job("no-such-adapter", timeout_s=120)
    assert job["state"] == "rejected" and job["error"] == "unknown adapter 'no-such-adapter'"
    dead = wait_until(lambda: stack.read_all("retrain.requested.dlq", timeout_s=2), timeout_s=30, what="a dead letter")
    assert dead[0] == {"event_type": "retrain.requested"}


def test_too_little_data_is_rejected_with_the_reason(stack: Stack) -> None:
    adapter = f"small-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", TRAINING_CONFIG)
    stack.import_examples(adapter, [(p.prompt, p.answer) for p in generate_pairs("security_ops", 5, seed=1)])
    with stack.http(stack.trainer, "trainer") as c:
        job_id = c.post("/v1/jobs", json={"adapter": adapter}).json()["job_id"]
        bad = c.post("/v1/jobs", json={"adapter": adapter, "training_config": {"rank": 0}})
    job = wait_until(lambda: (j := stack.job(job_id))["state"] == "rejected" and j, timeout_s=120, what="rejection")
    assert "too little data: 5 usable examples" in job["error"]
    assert bad.status_code == 422 and "invalid training configuration: rank" in bad.json()["detail"]
    assert [j["job_id"] for j in stack.jobs(adapter)] == [job_id]
    assert stack.versions(adapter) == []


def test_a_running_job_can_be_cancelled(stack: Stack) -> None:
    adapter = f"cancel-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", {**TRAINING_CONFIG, "steps": 5000})
    stack.import_examples(adapter, [(p.prompt, p.answer) for p in generate_pairs("capital_markets", 40, seed=2)])
    with stack.http(stack.trainer, "trainer") as c:
        job_id = c.post("/v1/jobs", json={"adapter": adapter}).json()["job_id"]
        wait_until(lambda: stack.job(job_id)["progress"] > 0, timeout_s=300, what="training to start")
        assert c.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
    job = wait_until(lambda: (j := stack.job(job_id))["state"] == "cancelled" and j, timeout_s=120, what="cancel")
    assert "cancelled at step" in job["error"]
    assert stack.versions(adapter) == []


def test_the_registry_client_registers_a_version_spec_with_metrics_that_are_not_finite(stack: Stack) -> None:
    """A loss over no tokens is NaN (and a metric may be infinite): recorded as null, not a failed registration."""
    adapter = f"spec-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", TRAINING_CONFIG)
    assert stack.registry is not None
    client = RegistryClient(stack.registry.url, TOKENS["trainer"], timeout_s=30)
    try:
        tensors = {"base_model.model.lm_head.lora_A.weight": torch.zeros(2, 4)}
        weights = client.upload_artifact(safetensors.torch.save(tensors), "adapter_model.safetensors")
        config = client.upload_artifact(b'{"r": 8}', "adapter_config.json")
        spec = VersionSpec(weights_sha256=weights.sha256, config_sha256=config.sha256, base_model="tiny-llama",
                           metrics={"train_loss": math.nan, "heldout_loss": math.inf, "steps": 3},
                           evaluation=EvaluationSpec(passed=False, metrics={"candidate_loss": math.nan}),
                           request_id=str(uuid.uuid4()))
        registered = client.register_version(adapter, spec)
    finally:
        client.close()
    [version] = stack.versions(adapter)
    assert version["version"] == registered.version and version["request_id"] == spec.request_id
    assert version["metrics"] == {"train_loss": None, "heldout_loss": None, "steps": 3}
    assert version["evaluation"]["passed"] is False and version["evaluation"]["metrics"] == {"candidate_loss": None}
