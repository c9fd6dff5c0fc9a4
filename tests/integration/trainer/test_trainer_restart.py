"""Killing the trainer mid-job: after a restart the job resumes from its checkpoint; one version results."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from adaptloop_contracts import RetrainRequested
from adaptloop_scenarios.corpus import generate_pairs
from trainer_stack import (
    JOB_TIMEOUT_S,
    SERVICE_START_TIMEOUT_S,
    STACK_START_TIMEOUT_S,
    TRAINING_CONFIG,
    Stack,
    make_stack,
    wait_until,
)

STEPS = 40
FIRST_CHECKPOINTS_TIMEOUT_S = 600


@pytest.fixture
def restart_stack(kafka_bootstrap: str, pg_dsn: str, tiny_model_dir: Path, tmp_path: Path) -> Iterator[Stack]:
    running = make_stack(kafka_bootstrap, pg_dsn, tmp_path, {"tiny-llama": tiny_model_dir},
                         {"ADAPTLOOP_TRAINER_CHECKPOINT_EVERY": "4", "ADAPTLOOP_TRAINER_MIN_EXAMPLES": "20"})
    try:
        running.start()
        running.register_base_model("tiny-llama")
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(STACK_START_TIMEOUT_S + FIRST_CHECKPOINTS_TIMEOUT_S + SERVICE_START_TIMEOUT_S + JOB_TIMEOUT_S + 60)
def test_killed_trainer_resumes_from_its_checkpoint_and_registers_once(restart_stack: Stack) -> None:
    stack = restart_stack
    assert stack.trainer is not None
    adapter = f"resume-{uuid.uuid4().hex[:6]}"
    stack.create_adapter(adapter, "tiny-llama", {**TRAINING_CONFIG, "steps": STEPS})
    stack.import_examples(adapter, [(p.prompt, p.answer) for p in generate_pairs("security_ops", 60, seed=4)])
    request = RetrainRequested(model=adapter, reason="drift", requested_by="drift-policy")
    stack.publish("retrain.requested", request)

    def past_a_checkpoint() -> bool:
        jobs = stack.jobs(adapter)
        return bool(jobs) and jobs[0]["progress"] >= 0.9 * 10 / STEPS
    wait_until(past_a_checkpoint, timeout_s=FIRST_CHECKPOINTS_TIMEOUT_S, what="training past its first checkpoints",
               every_s=0.5)
    killed = stack.jobs(adapter)[0]
    stack.trainer.kill()
    assert killed["state"] == "running" and killed["attempts"] == 1
    checkpoints = list((stack.work / "trainer" / "jobs" / killed["job_id"]).glob("checkpoint.pt"))
    assert checkpoints, "no checkpoint on disk when the trainer was killed"

    stack.trainer.start()
    job = stack.wait_final_job(adapter, timeout_s=JOB_TIMEOUT_S)
    assert job["job_id"] == killed["job_id"] and job["state"] == "succeeded", job
    assert job["attempts"] == 2
    assert job["metrics"]["resumed_from_step"] >= 4
    assert [v["version"] for v in stack.versions(adapter)] == [1]
    events = [e for e in stack.read_all("training.events") if e["job_id"] == job["job_id"]]
    assert [e["event_type"] for e in events].count("training.succeeded") == 1
