"""A job that loses its database mid-run is resumed once the database answers, not failed."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from adaptloop_contracts import RetrainRequested, TrainingState
from adaptloop_contracts.registry_answers import AdapterRecord
from adaptloop_trainer.candidate import TrainerParams
from adaptloop_trainer.errors import UpstreamUnavailable
from adaptloop_trainer.handlers import accept_request
from adaptloop_trainer.job_runner import JobRunner
from adaptloop_trainer.jobs import Job
from sqlalchemy.exc import OperationalError
from trainer_fakes import (
    FakeExamples,
    FakeRegistry,
    InMemoryJobStore,
    RecordedEvents,
    adapter_record,
    base_model_record,
)


class FlakyStore(InMemoryJobStore):
    """The job store with a switch that makes every call fail as an unreachable PostgreSQL does."""

    down = False

    def _reach(self) -> None:
        if self.down:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection unexpectedly"))

    def ping(self) -> None:
        self._reach()

    def get(self, job_id: uuid.UUID) -> Job | None:
        self._reach()
        return super().get(job_id)

    def update(self, job_id: uuid.UUID, **fields: Any) -> Job:
        self._reach()
        return super().update(job_id, **fields)


class RegistryLosingItsDatabase(FakeRegistry):
    """The first adapter lookup finds the registry's (and the trainer's) database gone: a 503."""

    def __init__(self, store: FlakyStore) -> None:
        super().__init__()
        self.store, self.lookups = store, 0

    def adapter(self, name: str) -> AdapterRecord | None:
        self.lookups += 1
        if self.lookups == 1:
            self.store.down = True
            raise UpstreamUnavailable("registry GET /v1/adapters/support: 503 database unavailable")
        return super().adapter(name)


def _wait(check: Any, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_job_interrupted_by_an_outage_resumes_and_keeps_its_attempt(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "base-a").mkdir(parents=True)
    (models / "base-a" / "manifest.json").write_text('{"weights_sha256": "' + "a" * 64 + '"}')
    store, events = FlakyStore(), RecordedEvents()
    registry = RegistryLosingItsDatabase(store)
    registry.base_models["base-a"] = base_model_record("base-a", weights_sha256="a" * 64)
    registry.adapter_records["support"] = adapter_record("support", "base-a")
    examples = FakeExamples({"support": [{"prompt": f"q{i}", "target": f"a{i}"} for i in range(4)]})
    runner = JobRunner(store=store, registry=registry, examples=examples, events=events,
                       params=TrainerParams(models_dir=models, work_dir=tmp_path / "work", min_examples=10))
    runner.start()
    try:
        job = accept_request(RetrainRequested(model="support", reason="manual", requested_by="test"), None,
                             store=store, runner=runner)
        _wait(lambda: store.down, "the outage")
        assert not store.jobs[job.job_id].is_final  # nothing is decided while the database is away
        store.down = False
        _wait(lambda: store.jobs[job.job_id].is_final, "the resumed job to end")
    finally:
        runner.stop()
    final = store.jobs[job.job_id]
    assert registry.lookups == 2
    assert final.state == TrainingState.REJECTED and "too little data" in (final.error or ""), final
    assert final.attempts == 1, "the outage counted as an attempt of the job"
    assert "training.failed" not in [e.event_type for e in events.events if e.job_id == job.job_id]
