"""Entry points of the domain, the same whether called from Kafka, HTTP or a test."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from adaptloop_contracts import RetrainRequested
from adaptloop_kafka import trace_headers

from adaptloop_trainer.errors import JobNotFound, JobRejected
from adaptloop_trainer.job_runner import JobRunner
from adaptloop_trainer.jobs import Job, JobStore
from adaptloop_trainer.ports import Registry, TrainingEvents
from adaptloop_trainer.training_config import resolve_training_config


def accept_request(request: RetrainRequested, traceparent: str | None, *, store: JobStore, runner: JobRunner) -> Job:
    """Record the request's job (once per event_id) and queue it unless it already ended."""
    job, _created = store.create_or_get(request, traceparent=traceparent)
    if not job.is_final:
        runner.submit(job.job_id)
    return job


def check_request(
    *, adapter: str, reason: str, base_model: str | None, training_config: Mapping[str, Any],
    registry: Registry, defaults: Mapping[str, Any],
) -> None:
    """What a job would find out first, checked before it exists: the names are registered and the
    training configuration is well-formed. Raises `JobRejected` with the reason."""
    if base_model is not None and registry.base_model(base_model) is None:
        raise JobRejected(f"unknown base model {base_model!r}")
    if reason == "base_model_upgrade":
        if base_model is None:
            raise JobRejected("base_model_upgrade needs base_model: the new base model")
        if registry.base_model(adapter) is None and registry.adapter(adapter) is None:
            raise JobRejected(f"{adapter!r} is neither a registered base model nor an adapter")
        resolve_training_config(defaults, training_config)
        return
    record = registry.adapter(adapter)
    if record is None:
        raise JobRejected(f"unknown adapter {adapter!r}")
    resolve_training_config(defaults, record.training_config, training_config)


def request_training(
    *, adapter: str, reason: str, requested_by: str, base_model: str | None, training_config: dict[str, Any],
    since: Any, until: Any, store: JobStore, runner: JobRunner, events: TrainingEvents,
) -> Job:
    """A manual request: the job is recorded first, then the request is published like any other."""
    request = RetrainRequested(model=adapter, reason=reason, requested_by=requested_by, base_model=base_model,
                               training_config=training_config, since=since, until=until)
    traceparent = dict((k, v.decode()) for k, v in trace_headers()).get("traceparent")
    job = accept_request(request, traceparent, store=store, runner=runner)
    events.retrain_requested(request)
    return job


def get_job(job_id: uuid.UUID, *, store: JobStore) -> Job:
    job = store.get(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job


def cancel_job(job_id: uuid.UUID, *, runner: JobRunner) -> Job:
    job = runner.cancel(job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job
