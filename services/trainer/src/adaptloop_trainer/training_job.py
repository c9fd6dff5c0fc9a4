"""A `train` job: resolve the adapter, choose the mode and snapshot its examples, then train,
evaluate and register (see training_set for incremental vs full)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adaptloop_trainer.candidate import CandidateResult, TrainerParams, train_evaluate_register
from adaptloop_trainer.errors import JobRejected
from adaptloop_trainer.jobs import Job, JobStore
from adaptloop_trainer.lineage import adapter_files, base_model_dir, baseline_of, production_version
from adaptloop_trainer.ports import ExampleSource, Registry
from adaptloop_trainer.readiness import Readiness, WaitFn, wait_for_new_examples
from adaptloop_trainer.suites import load_suites
from adaptloop_trainer.training_config import TrainingConfig, resolve_training_config
from adaptloop_trainer.training_loop import ProgressFn
from adaptloop_trainer.training_set import as_utc, prepare_training, resume_prepared


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job reports: the registered version and whether it passed the gate."""

    candidate_version: int | None
    passed: bool
    metrics: dict[str, Any]
    evaluation: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    verdict: str = ""


def run_train_job(
    job: Job,
    *,
    store: JobStore,
    registry: Registry,
    examples: ExampleSource,
    params: TrainerParams,
    on_progress: ProgressFn,
    should_stop: Callable[[], bool],
    on_wait: WaitFn | None = None,
) -> JobOutcome:
    request = job.retrain_request()
    started = time.perf_counter()
    adapter = registry.adapter(request.model)
    if adapter is None:
        raise JobRejected(f"unknown adapter {request.model!r}")
    base_model = request.base_model or adapter.base_model
    base_dir = base_model_dir(registry, params.models_dir, base_model)
    config = resolve_training_config(params.default_training_config, adapter.training_config,
                                     request.training_config)
    store.update(job.job_id, training_config=config.model_dump(mode="json"), base_model=base_model)
    production = production_version(registry, adapter)
    production_files = adapter_files(registry, production.record) if production is not None else None
    regression = store.regression_set(request.model)
    prepared = resume_prepared(job.metrics.get("lineage"), job.snapshot_sha256, registry=registry,
                               production=production, production_files=production_files)
    job_metrics = dict(job.metrics)
    if prepared is None:
        # The window ends when the job was requested (or at the request's `until`, or when enough
        # new examples had arrived), so a resumed job that must plan again reads the same examples.
        until = as_utc(request.until) or job.created_at
        readiness = _ready(job_metrics, request=request, config=config, examples=examples,
                           should_stop=should_stop, on_wait=on_wait)
        if readiness is not None:
            until = datetime.fromisoformat(str(readiness["until"]))
            job_metrics["readiness"] = readiness
            store.update(job.job_id, metrics=job_metrics)
        prepared = prepare_training(
            request=request, until=until, base_model=base_model,
            config=config, production=production, production_files=production_files, examples=examples,
            regression=regression, min_examples=params.min_examples,
        )
        registry.upload_artifact(prepared.snapshot.content, "snapshot.jsonl")
    snapshot = prepared.snapshot
    if "readiness" in job_metrics:
        prepared.lineage["readiness"] = job_metrics["readiness"]
    store.update(job.job_id, snapshot_id=snapshot.snapshot_id, snapshot_sha256=snapshot.sha256,
                 metrics={**job_metrics, "training_mode": prepared.mode, "lineage": prepared.lineage})
    baseline = baseline_of(registry, params.models_dir, adapter, base_dir, production, production_files)
    prepare_s = time.perf_counter() - started
    result: CandidateResult = train_evaluate_register(
        registry=registry, params=params, adapter_name=request.model, base_model=base_model, base_dir=base_dir,
        snapshot=snapshot, config=config, baseline=baseline, regression=regression,
        parent_version=production.number if production else None, request_id=request.event_id,
        checkpoint_dir=params.checkpoint_dir(job.job_id), on_progress=on_progress, should_stop=should_stop,
        init_adapter=prepared.init_adapter, lineage=prepared.lineage, suites=load_suites(registry, request.model),
    )
    if result.gate.passed:
        store.pin_regression(request.model, snapshot.heldout[: params.regression_per_snapshot],
                             snapshot_sha256=snapshot.sha256)
    timings = {"prepare_s": round(prepare_s, 3), **{k: round(v, 3) for k, v in result.timings.items()}}
    metrics = {**result.gate.metrics, "train_loss": result.trained.final_loss, "steps": result.trained.steps,
               "tokens_trained": result.trained.tokens_trained,
               "resumed_from_step": result.trained.resumed_from_step, "timings": timings,
               "train_examples": len(snapshot.train), "heldout_examples": len(snapshot.heldout),
               "training_mode": prepared.mode, "fallback_reason": prepared.lineage.get("fallback_reason"),
               "lineage": prepared.lineage}
    return JobOutcome(
        candidate_version=result.version, passed=result.gate.passed, metrics=metrics,
        evaluation={"passed": result.gate.passed, "metrics": result.gate.metrics, "verdict": result.gate.verdict},
        verdict=result.gate.verdict,
    )


def _ready(job_metrics: dict[str, Any], *, request: Any, config: TrainingConfig, examples: ExampleSource,
           should_stop: Callable[[], bool], on_wait: WaitFn | None) -> dict[str, Any] | None:
    """The recorded readiness of this job, or the wait for new examples a drift retrain asks for (else None)."""
    recorded = job_metrics.get("readiness")
    if isinstance(recorded, dict) and recorded.get("until"):
        return recorded
    wanted, drift_started_at = config.window.min_new_examples, as_utc(request.drift_started_at)
    if wanted is None or drift_started_at is None or request.until is not None or request.since is not None:
        return None
    readiness: Readiness = wait_for_new_examples(
        examples=examples, adapter=request.model, drift_started_at=drift_started_at, wanted=wanted,
        max_wait_s=config.window.max_wait_s, should_stop=should_stop, on_wait=on_wait,
    )
    return readiness.as_json()
