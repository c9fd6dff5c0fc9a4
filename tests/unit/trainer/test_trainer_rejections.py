"""Requests the trainer cannot honour end `rejected` with a reason, on the record and on training.events."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from adaptloop_contracts import RetrainRequested, TrainingState
from adaptloop_trainer.candidate import TrainerParams
from adaptloop_trainer.handlers import accept_request
from adaptloop_trainer.job_runner import JobRunner
from adaptloop_trainer.jobs import Job
from trainer_fakes import (
    FakeExamples,
    FakeRegistry,
    InMemoryJobStore,
    RecordedEvents,
    adapter_record,
    base_model_record,
)


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    (models / "base-a").mkdir(parents=True)
    (models / "base-a" / "manifest.json").write_text('{"weights_sha256": "' + "a" * 64 + '"}')
    registry = FakeRegistry()
    registry.base_models["base-a"] = base_model_record("base-a", weights_sha256="a" * 64)
    registry.adapter_records["support"] = adapter_record("support", "base-a")
    examples = FakeExamples({"support": [{"prompt": f"q{i}", "target": f"a{i}"} for i in range(4)]})
    store, events = InMemoryJobStore(), RecordedEvents()
    runner = JobRunner(store=store, registry=registry, examples=examples, events=events,
                       params=TrainerParams(models_dir=models, work_dir=tmp_path / "work", min_examples=10))
    runner.start()
    yield store, runner, events, registry
    runner.stop()


def _run(store: InMemoryJobStore, runner: JobRunner, request: RetrainRequested) -> Job:
    job = accept_request(request, None, store=store, runner=runner)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = store.get(job.job_id)  # type: ignore[assignment]
        if job.is_final:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job still {job.state}")


def _request(model: str = "support", **kw: object) -> RetrainRequested:
    return RetrainRequested(model=model, reason="manual", requested_by="test", **kw)  # type: ignore[arg-type]


def test_unknown_adapter(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, events, _ = world
    job = _run(store, runner, _request("nobody"))
    assert job.state == TrainingState.REJECTED and job.error == "unknown adapter 'nobody'"
    final = [e for e in events.events if e.job_id == job.job_id][-1]
    assert final.event_type == "training.rejected" and final.error == job.error


def test_too_little_data(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, _, registry = world
    job = _run(store, runner, _request())
    assert job.state == TrainingState.REJECTED and "too little data: 4 usable examples" in (job.error or "")
    assert registry.registered == {}


def test_invalid_configuration(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, _, _ = world
    job = _run(store, runner, _request(training_config={"rank": -3}))
    assert job.state == TrainingState.REJECTED and "invalid training configuration: rank" in (job.error or "")


def test_base_model_whose_files_differ_from_the_registry(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, _, registry = world
    registry.base_models["base-a"] = base_model_record("base-a", weights_sha256="b" * 64)
    job = _run(store, runner, _request())
    assert job.state == TrainingState.REJECTED and "registry says" in (job.error or "")


def test_same_request_three_times_is_one_job(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, events, _ = world
    request = _request("nobody")
    ids = {accept_request(request, None, store=store, runner=runner).job_id for _ in range(3)}
    assert len(ids) == 1 and len(store.jobs) == 1
    _run(store, runner, request)
    assert sum(1 for e in events.events if e.event_type == "training.rejected") == 1


def test_cancel_before_start(world) -> None:  # type: ignore[no-untyped-def]
    store, runner, _, _ = world
    job, _ = store.create_or_get(_request(), traceparent=None)
    cancelled = runner.cancel(job.job_id)
    assert cancelled is not None and cancelled.state == TrainingState.CANCELLED
    assert runner.cancel(uuid.uuid4()) is None


def test_a_finished_jobs_event_carries_its_phase_timings_but_no_bulky_metrics() -> None:
    from adaptloop_trainer.job_runner import _event_metrics

    metrics = {"heldout_token_loss": 0.43, "steps": 100, "baseline": "production v1",
               "behaviour_samples": [{"prompt": "p", "base": "b", "candidate": "c"}],
               "timings": {"prepare_s": 0.6, "train_loop_s": 35.2, "evaluation_s": 4.2, "registration_s": 0.1}}
    event = _event_metrics(metrics)
    assert "behaviour_samples" not in event
    assert event["timings"] == {"prepare_s": 0.6, "train_loop_s": 35.2, "evaluation_s": 4.2, "registration_s": 0.1}
    assert event["heldout_token_loss"] == 0.43 and event["baseline"] == "production v1"


def _runner_with_warm_up(tmp_path: Path, warm_up):  # type: ignore[no-untyped-def]
    store, registry = InMemoryJobStore(), FakeRegistry()
    runner = JobRunner(store=store, registry=registry, examples=FakeExamples(), events=RecordedEvents(),
                       params=TrainerParams(models_dir=tmp_path, work_dir=tmp_path / "work"), warm_up=warm_up)
    return store, runner


def test_the_job_thread_warms_up_before_it_takes_a_job(tmp_path: Path) -> None:
    seen: list[tuple[str, TrainingState | None]] = []
    job_id: list[uuid.UUID] = []

    def warm_up() -> float:
        job = store.get(job_id[0])
        seen.append((threading.current_thread().name, job.state if job else None))
        return 0.0

    store, runner = _runner_with_warm_up(tmp_path, warm_up)
    request = _request("nobody")
    job_id.append(accept_request(request, None, store=store, runner=runner).job_id)  # queued before the thread runs
    runner.start()
    try:
        job = _run(store, runner, request)  # the same request: the same job, waited for until final
    finally:
        runner.stop()
    assert job.job_id == job_id[0] and job.state == TrainingState.REJECTED
    assert seen == [("trainer-jobs", TrainingState.QUEUED)]


def test_a_failed_warm_up_does_not_stop_the_jobs(tmp_path: Path) -> None:
    def warm_up() -> float:
        raise ImportError("no torch here")

    store, runner = _runner_with_warm_up(tmp_path, warm_up)
    runner.start()
    try:
        job = _run(store, runner, _request("nobody"))
    finally:
        runner.stop()
    assert job.state == TrainingState.REJECTED and job.error == "unknown adapter 'nobody'"
