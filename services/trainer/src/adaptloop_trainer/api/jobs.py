"""HTTP API: `/v1/jobs` (create, list, read, cancel) and `/v1/upgrades/{id}` (upgrade reports)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import httpx
from adaptloop_common.auth import Principal, Viewer, require_role, visible_to
from adaptloop_contracts.base import ModelName
from adaptloop_contracts.trainer_api import JobConflict, JobList, JobRecord, JobRequest, UpgradeReport
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from adaptloop_trainer import handlers
from adaptloop_trainer.errors import JobNotFound, JobRejected, UpstreamError
from adaptloop_trainer.job_runner import JobRunner
from adaptloop_trainer.jobs import Job, JobStore
from adaptloop_trainer.ports import Registry, TrainingEvents


def _store(request: Request) -> JobStore:
    return request.app.state.store  # type: ignore[no-any-return]


def _runner(request: Request) -> JobRunner:
    return request.app.state.runner  # type: ignore[no-any-return]


def _events(request: Request) -> TrainingEvents:
    return request.app.state.events  # type: ignore[no-any-return]


def _registry(request: Request) -> Registry:
    return request.app.state.registry  # type: ignore[no-any-return]


Store = Annotated[JobStore, Depends(_store)]
Runner = Annotated[JobRunner, Depends(_runner)]
Events = Annotated[TrainingEvents, Depends(_events)]
RegistryDep = Annotated[Registry, Depends(_registry)]
Trainer = Annotated[Principal, Depends(require_role("trainer"))]

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.post("/jobs", status_code=202, response_model=JobRecord, responses={
    422: {"description": "unknown adapter or base model, or an invalid training configuration (`detail` says which)"},
    503: {"description": "the registry could not be asked; retry after `Retry-After` seconds"}})
def create_job(body: JobRequest, principal: Trainer, store: Store, runner: Runner, events: Events,
               registry: RegistryDep, request: Request) -> dict[str, Any]:
    principal.require_adapters([body.adapter])
    try:
        handlers.check_request(adapter=body.adapter, reason=body.reason, base_model=body.base_model,
                               training_config=body.training_config, registry=registry,
                               defaults=request.app.state.default_training_config)
    except JobRejected as exc:
        raise HTTPException(422, exc.reason) from exc
    except (UpstreamError, httpx.TransportError) as exc:
        raise HTTPException(503, f"the registry could not be asked: {exc}", headers={"Retry-After": "5"}) from exc
    job = handlers.request_training(
        adapter=body.adapter, reason=body.reason, requested_by=principal.actor, base_model=body.base_model,
        training_config=body.training_config, since=body.since, until=body.until,
        store=store, runner=runner, events=events,
    )
    return job.public()


@router.get("/jobs", response_model=JobList)
def list_jobs(store: Store, viewer: Viewer, adapter: ModelName | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Newest jobs (of one adapter); a token scoped to adapters sees only theirs."""
    if viewer is not None and adapter is not None:
        viewer.require_adapters([adapter])
    jobs = store.list_jobs(adapter=adapter, limit=limit)
    return {"jobs": [j.public() for j in jobs if visible_to(viewer, j.adapter)]}


def _visible_job(job_id: uuid.UUID, store: JobStore, viewer: Principal | None) -> Job:
    """The job, 404 when unknown, 403 when it belongs to an adapter outside a scoped token's reach."""
    try:
        job = handlers.get_job(job_id, store=store)
    except JobNotFound as exc:
        raise HTTPException(404, exc.reason) from exc
    if viewer is not None:
        viewer.require_adapters([job.adapter])
    return job


@router.get("/jobs/{job_id}", response_model=JobRecord)
def read_job(job_id: uuid.UUID, store: Store, viewer: Viewer) -> dict[str, Any]:
    return _visible_job(job_id, store, viewer).public()


@router.post("/jobs/{job_id}/cancel", response_model=JobRecord,
             responses={409: {"description": "the job is already final", "model": JobConflict}})
def cancel_job(job_id: uuid.UUID, principal: Trainer, store: Store, runner: Runner) -> dict[str, Any] | JSONResponse:
    before = _visible_job(job_id, store, principal)
    try:
        if before.is_final:
            return JSONResponse({"detail": f"job already {before.state.value}", "job": before.public()}, 409)
        return handlers.cancel_job(job_id, runner=runner).public()
    except JobNotFound as exc:
        raise HTTPException(404, exc.reason) from exc


@router.get("/upgrades/{job_id}", response_model=UpgradeReport)
def read_upgrade(job_id: uuid.UUID, store: Store, viewer: Viewer) -> dict[str, Any]:
    job = _visible_job(job_id, store, viewer)
    if job.kind != "upgrade":
        raise HTTPException(404, f"job {job_id} is not a base-model upgrade")
    return {"job_id": str(job.job_id), "state": job.state.value, "error": job.error, "report": job.report or {}}
