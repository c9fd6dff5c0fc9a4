"""`adaptloop train --follow` and `upgrade-base` through the trainer API."""

from __future__ import annotations

import json

import pytest
from cli_fakes import TOKEN, Cli, FakeServices, base_model, make_job


def _script(fake: FakeServices, *states: tuple[str, float], **final: object) -> None:
    job_id = fake.new_job_id
    steps = [make_job(job_id, "support", state, progress=progress) for state, progress in states]
    steps[-1].update(final)
    fake.job_script[job_id] = steps


def test_train_without_follow_requests_a_manual_job(cli: Cli, fake: FakeServices) -> None:
    result = cli("train", "support", "--set", "max_steps=20", "--set", "note=fast")

    assert result.exit_code == 0, result.output
    assert fake.new_job_id in result.output
    post = fake.mutations()[0]
    assert post.url.path == "/v1/jobs" and post.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(post.content) == {"adapter": "support", "reason": "manual",
                                        "training_config": {"max_steps": 20, "note": "fast"}}


def test_train_follow_reaches_succeeded(cli: Cli, fake: FakeServices) -> None:
    _script(fake, ("queued", 0.0), ("running", 0.3), ("running", 0.8), ("succeeded", 1.0),
            candidate_version=4, evaluation={"passed": True, "verdict": "held-out loss 1.7 < 2.1"})

    result = cli("train", "support", "--follow")

    assert result.exit_code == 0, result.output
    assert "succeeded: candidate v4 (held-out loss 1.7 < 2.1)" in result.output
    polls = [r for r in fake.requests if r.url.path == f"/v1/jobs/{fake.new_job_id}"]
    assert len(polls) == 4


@pytest.mark.parametrize(("state", "error"), [("failed", "CUDA out of memory"),
                                              ("rejected", "candidate worse than production")])
def test_train_follow_exits_non_zero_when_the_job_does_not_succeed(cli: Cli, fake: FakeServices, state: str,
                                                                  error: str) -> None:
    _script(fake, ("running", 0.5), (state, 0.5), error=error)

    result = cli("train", "support", "--follow")

    assert result.exit_code == 3
    assert f"ended {state}: {error}" in result.output
    assert "Traceback" not in result.output


def test_train_follow_survives_a_brief_trainer_outage(cli: Cli, fake: FakeServices) -> None:
    _script(fake, ("running", 0.5), ("succeeded", 1.0), candidate_version=5)
    original = fake._trainer
    calls = {"n": 0}

    def flaky(request):  # type: ignore[no-untyped-def]
        if request.method == "GET":
            calls["n"] += 1
            if calls["n"] == 1:
                import httpx
                raise httpx.ConnectError("refused", request=request)
        return original(request)

    fake._trainer = flaky  # type: ignore[method-assign]

    result = cli("train", "support", "--follow")

    assert result.exit_code == 0, result.output
    assert "candidate v5" in result.output


def test_upgrade_base_registers_the_new_base_and_requests_an_upgrade(cli: Cli, fake: FakeServices) -> None:
    fake.base_models["tiny-llama"] = base_model("tiny-llama")
    models = cli.settings.models_dir
    assert models is not None
    (models / "tiny-llama-2").mkdir(parents=True)
    (models / "tiny-llama-2" / "manifest.json").write_text(json.dumps({"weights_sha256": "ab" * 32}))
    report = {"old_base": "tiny-llama", "new_base": "tiny-llama-2", "adapters": {"support": {
        "carried": True, "passed": True, "from_version": 2, "candidate_version": 4, "verdict": "ok",
        "before": {"heldout_loss": 2.1}, "after": {"heldout_loss": 1.8}}}}
    _script(fake, ("running", 0.5), ("succeeded", 1.0), kind="upgrade", report=report)

    result = cli("upgrade-base", "tiny-llama", "tiny-llama-2", "--follow")

    assert result.exit_code == 0, result.output
    registered = fake.base_models["tiny-llama-2"]
    assert registered["weights_sha256"] == "ab" * 32 and registered["successor_of"] == "tiny-llama"
    job_post = next(r for r in fake.mutations() if r.url.path == "/v1/jobs")
    assert json.loads(job_post.content) == {"adapter": "tiny-llama", "reason": "base_model_upgrade",
                                            "base_model": "tiny-llama-2"}
    assert "Upgrade tiny-llama -> tiny-llama-2" in result.output and "1.8" in result.output


def test_upgrade_base_explains_an_unknown_new_base(cli: Cli, fake: FakeServices) -> None:
    result = cli("upgrade-base", "tiny-llama", "mystery")

    assert result.exit_code == 1
    assert "base model 'mystery' is not registered" in result.output
    assert not [r for r in fake.mutations() if r.url.path == "/v1/jobs"]
