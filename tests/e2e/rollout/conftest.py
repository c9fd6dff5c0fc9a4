"""Trained adapters for the rollout tests: one that answers well, one trained on purpose to answer wrongly.

The good one is the version the shared `closed_loop` fixture trained (capital-markets questions with
their answers); the bad one is a manual training job on the same questions paired with answers of
another domain, with a gate permissive enough to let it through. Each test imports their artifacts
as versions of its own adapter, so no test waits for more training.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from adaptloop_devstack.stack import Stack
from adaptloop_devstack.waiting import wait_for
from adaptloop_scenarios.corpus import generate_pairs
from e2e_waits import WRONG_JOB_S
from rollout_testkit import Registry, TrainedAdapters

WRONG = "rl-wrong-answers"
PERMISSIVE_GATE = {"min_heldout_improvement": -1.0, "max_regression_increase": 10.0, "min_changed_outputs": 0.0}


def _artifacts(version: dict[str, Any]) -> dict[str, Any]:
    return {k: version[k] for k in ("weights_sha256", "config_sha256", "training_config")}


@pytest.fixture(scope="session")
def trained(stack: Stack, closed_loop: Any) -> TrainedAdapters:
    registry = Registry(stack)
    token = {"Authorization": f"Bearer {stack.tokens.token('trainer')}"}
    good = registry.version("support", closed_loop.new_version)
    questions = generate_pairs("capital_markets", 48, seed=7)
    wrong_answers = generate_pairs("automotive", 48, seed=7)

    registry.create_adapter(WRONG, mode="manual",
                            training_config={"steps": 30, "learning_rate": 3e-3, "mode": "full",
                                             "gate": PERMISSIVE_GATE})
    resp = httpx.post(stack.config.url("ingest") + "/v1/examples", headers=token, json=[
        {"adapter": WRONG, "prompt": q.prompt, "answer": w.answer} for q, w in zip(questions, wrong_answers,
                                                                                     strict=True)])
    assert resp.status_code == 201, resp.text
    resp = httpx.post(stack.config.url("trainer") + "/v1/jobs", headers=token,
                      json={"adapter": WRONG, "reason": "manual"})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]

    def finished() -> dict[str, Any] | None:
        job = httpx.get(stack.config.url("trainer") + f"/v1/jobs/{job_id}", timeout=10).json()
        return job if job["state"] in ("succeeded", "failed", "cancelled", "rejected") else None

    job = wait_for("the wrong-answer training job", finished, WRONG_JOB_S, interval_s=1.0)
    assert job["state"] == "succeeded", job
    bad = registry.version(WRONG, int(job["candidate_version"]))
    return TrainedAdapters(_artifacts(good), _artifacts(bad), questions)
