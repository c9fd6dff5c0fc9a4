"""Base-model upgrades: carry every adapter of the old base to the new one from its recorded lineage.

Each adapter's production version (else its newest version) names the snapshot (by sha256)
and the configuration it was trained with; the adapter is retrained on the new base with
those, evaluated against its own production version, and registered with the new lineage.
The job's report lists every adapter's before/after metrics and is saved after each one,
so a resumed upgrade skips the adapters already carried.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from adaptloop_contracts.registry_answers import AdapterRecord, VersionRecord

from adaptloop_trainer.candidate import TrainerParams, train_evaluate_register
from adaptloop_trainer.errors import JobRejected, TrainerError
from adaptloop_trainer.jobs import Job, JobStore
from adaptloop_trainer.lineage import (
    ProductionVersion,
    adapter_files,
    base_model_dir,
    baseline_of,
    production_version,
    snapshot_sha_of,
)
from adaptloop_trainer.ports import Registry
from adaptloop_trainer.snapshot import parse_snapshot
from adaptloop_trainer.suites import load_suites
from adaptloop_trainer.training_config import resolve_training_config
from adaptloop_trainer.training_job import JobOutcome
from adaptloop_trainer.training_loop import ProgressFn


def recorded_version(registry: Registry, adapter: AdapterRecord,
                     production: ProductionVersion | None) -> VersionRecord | None:
    """The version whose lineage an upgrade carries: production (as `production_version` found it), else the
    newest."""
    if production is not None:
        return production.record
    if adapter.latest_version is not None:
        return registry.version(adapter.name, adapter.latest_version)
    return None


def adapters_of_base(registry: Registry, old_base: str) -> list[AdapterRecord]:
    found = [adapter for adapter in registry.adapters() if adapter.base_model == old_base]
    return sorted(found, key=lambda a: a.name)


def _old_base_of(registry: Registry, model: str) -> str:
    if registry.base_model(model) is not None:
        return model
    adapter = registry.adapter(model)
    if adapter is None:
        raise JobRejected(f"{model!r} is neither a registered base model nor an adapter")
    return adapter.base_model


def run_upgrade_job(
    job: Job,
    *,
    store: JobStore,
    registry: Registry,
    params: TrainerParams,
    on_progress: ProgressFn,
    should_stop: Callable[[], bool],
) -> JobOutcome:
    request = job.retrain_request()
    if not request.base_model:
        raise JobRejected("base_model_upgrade needs base_model: the new base model")
    old_base = _old_base_of(registry, request.model)
    new_base = request.base_model
    new_dir = base_model_dir(registry, params.models_dir, new_base)
    if registry.base_model(request.model) is None:
        adapter = registry.adapter(request.model)
        targets = [adapter] if adapter else []
    else:
        targets = adapters_of_base(registry, old_base)
    if not targets:
        raise JobRejected(f"no adapters on base model {old_base!r} to upgrade")
    report: dict[str, Any] = dict(job.report or {"old_base": old_base, "new_base": new_base, "adapters": {}})
    done: dict[str, Any] = dict(report.get("adapters", {}))
    for index, adapter in enumerate(targets):
        name = adapter.name
        if name in done:
            continue

        def progress(step: int, total: int, loss: float, i: int = index) -> None:
            on_progress(i * total + step, len(targets) * total, loss)

        try:
            done[name] = _carry(adapter, registry=registry, store=store, params=params, job=job,
                                new_base=new_base, new_dir=new_dir, on_progress=progress, should_stop=should_stop)
        except JobRejected as exc:
            done[name] = {"carried": False, "reason": exc.reason}
        except TrainerError:
            raise
        report["adapters"] = done
        store.update(job.job_id, report=report)
    carried = [r for r in done.values() if r.get("carried")]
    report["summary"] = {"adapters": len(done), "carried": len(carried),
                         "passed": sum(1 for r in carried if r.get("passed"))}
    store.update(job.job_id, report=report)
    if not carried:
        reasons = "; ".join(f"{k}: {v.get('reason')}" for k, v in done.items())
        raise JobRejected(f"no adapter could be carried: {reasons}")
    return JobOutcome(candidate_version=None, passed=all(r.get("passed") for r in carried),
                      metrics=report["summary"], report=report, verdict=f"{len(carried)} adapters carried")


def _carry(
    adapter: AdapterRecord, *, registry: Registry, store: JobStore, params: TrainerParams, job: Job,
    new_base: str, new_dir: Any, on_progress: ProgressFn, should_stop: Callable[[], bool],
) -> dict[str, Any]:
    name = adapter.name
    production = production_version(registry, adapter)
    record = recorded_version(registry, adapter, production)
    if record is None:
        raise JobRejected("no version to carry")
    snapshot_sha = snapshot_sha_of(record)
    if not snapshot_sha:
        raise JobRejected(f"version {record.version} records no dataset snapshot")
    snapshot = parse_snapshot(registry.download_artifact(snapshot_sha))
    config = resolve_training_config(record.training_config or {})
    files = adapter_files(registry, production.record) if production is not None else None
    result = train_evaluate_register(
        registry=registry, params=params, adapter_name=name, base_model=new_base, base_dir=new_dir,
        snapshot=snapshot, config=config,
        baseline=baseline_of(registry, params.models_dir, adapter, new_dir, production, files),
        regression=store.regression_set(name),
        parent_version=production.number if production else record.version,
        request_id=uuid.uuid5(job.request_id, name), checkpoint_dir=params.checkpoint_dir(job.job_id, name),
        on_progress=on_progress, should_stop=should_stop, heldout_tolerance=config.gate.max_regression_increase,
        suites=load_suites(registry, name),
        lineage={"mode": "full", "requested_mode": config.mode,
                 "fallback_reason": "a base-model upgrade retrains in full" if config.mode != "full" else None,
                 "parent_version": record.version, "parent_weights_sha256": record.weights_sha256,
                 "snapshot_sha256": snapshot.sha256, "snapshot_id": snapshot.snapshot_id,
                 "train_examples": len(snapshot.train), "heldout_examples": len(snapshot.heldout)},
    )
    metrics = result.gate.metrics
    return {
        "carried": True, "passed": result.gate.passed, "verdict": result.gate.verdict,
        "from_version": record.version, "candidate_version": result.version,
        "snapshot_sha256": snapshot.sha256,
        "before": {"base_model": adapter.base_model, "heldout_loss": metrics.get("heldout_loss_baseline"),
                   "regression_loss": metrics.get("regression_loss_baseline")},
        "after": {"base_model": new_base, "heldout_loss": metrics.get("heldout_loss"),
                  "regression_loss": metrics.get("regression_loss"),
                  "changed_outputs_share": metrics.get("changed_outputs_share")},
    }
