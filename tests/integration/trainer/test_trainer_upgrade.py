"""A base-model upgrade carries every adapter of the old base to its successor with recorded lineage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from adaptloop_contracts import RetrainRequested
from adaptloop_scenarios.corpus import generate_pairs
from trainer_stack import JOB_TIMEOUT_S, STACK_START_TIMEOUT_S, TRAINING_CONFIG, Stack, make_stack

UPGRADE_TIMEOUT_S = 1200


@pytest.fixture
def upgrade_stack(kafka_bootstrap: str, pg_dsn: str, tiny_model_dir: Path, successor_model_dir: Path,
                  tmp_path: Path) -> Iterator[Stack]:
    models = {"base-old": tiny_model_dir, "base-new": successor_model_dir}
    running = make_stack(kafka_bootstrap, pg_dsn, tmp_path, models, {"ADAPTLOOP_TRAINER_MIN_EXAMPLES": "20"})
    try:
        running.start()
        running.register_base_model("base-old")
        running.register_base_model("base-new", successor_of="base-old")
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(STACK_START_TIMEOUT_S + 2 * JOB_TIMEOUT_S + UPGRADE_TIMEOUT_S + 60)
def test_upgrade_carries_two_adapters_to_the_new_base(upgrade_stack: Stack) -> None:
    stack = upgrade_stack
    adapters = {f"cm-{uuid.uuid4().hex[:5]}": "capital_markets", f"so-{uuid.uuid4().hex[:5]}": "security_ops"}
    for name, domain in adapters.items():
        stack.create_adapter(name, "base-old", TRAINING_CONFIG, mode="auto")
        stack.import_examples(name, [(p.prompt, p.answer) for p in generate_pairs(domain, 60, seed=6)])
        with stack.http(stack.trainer, "trainer") as c:
            assert c.post("/v1/jobs", json={"adapter": name}).status_code == 202
    for name in adapters:
        job = stack.wait_final_job(name, timeout_s=JOB_TIMEOUT_S)
        assert job["state"] == "succeeded", job
        assert stack.adapter(name)["aliases"]["production"] == 1
    before = {name: stack.versions(name)[0] for name in adapters}

    request = RetrainRequested(model="base-old", reason="base_model_upgrade", base_model="base-new",
                               requested_by="operator")
    stack.publish("retrain.requested", request)
    job = stack.wait_final_job("base-old", timeout_s=UPGRADE_TIMEOUT_S)
    assert job["state"] == "succeeded", job
    with stack.http(stack.trainer) as c:
        report = c.get(f"/v1/upgrades/{job['job_id']}").raise_for_status().json()["report"]
    assert report["old_base"] == "base-old" and report["new_base"] == "base-new"
    assert report["summary"]["carried"] == 2
    for name in adapters:
        entry = report["adapters"][name]
        assert entry["carried"] and entry["from_version"] == 1 and entry["candidate_version"] == 2
        assert entry["before"]["base_model"] == "base-old" and entry["after"]["base_model"] == "base-new"
        assert isinstance(entry["before"]["heldout_loss"], float) and isinstance(entry["after"]["heldout_loss"], float)
        carried = next(v for v in stack.versions(name) if v["version"] == 2)
        assert carried["base_model"] == "base-new" and carried["parent_version"] == 1
        assert carried["dataset_sha256"] == before[name]["dataset_sha256"]
        assert carried["training_config"] == before[name]["training_config"]
        assert carried["seed"] == before[name]["seed"] and carried["evaluation"] is not None
    # under `auto` a carried version that passed its gate became production when it was registered
    expected = {n: 2 if report["adapters"][n]["passed"] else 1 for n in adapters}
    assert {n: stack.adapter(n)["aliases"].get("production") for n in adapters} == expected
