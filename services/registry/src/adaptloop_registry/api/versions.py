"""Routes: adapter versions (registration, reads, retirement, load failures, served counts)."""

from __future__ import annotations

from typing import Annotated, Any

from adaptloop_contracts.registry_answers import LoadFailureRecorded, Registration, ServedAnswer, VersionRecord
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adaptloop_registry import load_failures, registration, retirement, version_reads
from adaptloop_registry.api.deps import AdminCaller, Runtime, TrainerCaller
from adaptloop_registry.caller import Caller
from adaptloop_registry.catalog import lock_adapter
from adaptloop_registry.models import LoadFailure, ReasonBody, ServedReport, VersionSpec
from adaptloop_registry.promotion import record_served
from adaptloop_registry.runtime import RegistryRuntime

router = APIRouter(prefix="/v1/adapters/{name}/versions", tags=["versions"])


@router.post("", status_code=201, response_model=Registration,
             responses={200: {"description": "the same request_id was registered before", "model": Registration}})
async def register_version(name: str, spec: VersionSpec, runtime: Runtime, caller: TrainerCaller) -> JSONResponse:
    # On PostgreSQL the transaction runs on the event loop (no thread-pool hop); SQLite's runs in a thread.
    if runtime.pg is None:
        answer, created = await run_in_threadpool(_register_in_thread, runtime, name, spec, caller)
    else:
        outcome = await registration.register_version_async(runtime.pg, name, spec, caller=caller,
                                                            base_url=runtime.base_url)
        created = not isinstance(outcome, int)
        answer = outcome if not isinstance(outcome, int) else await repeated_answer(runtime, name, outcome)
    if created:
        runtime.committed()
    return JSONResponse(answer, status_code=201 if created else 200)


def _register_in_thread(runtime: RegistryRuntime, name: str, spec: VersionSpec,
                        caller: Caller) -> tuple[dict[str, Any], bool]:
    with runtime.db.begin() as conn:
        return registration.register_version(conn, name, spec, caller=caller, base_url=runtime.base_url)


async def repeated_answer(runtime: RegistryRuntime, name: str, number: int) -> dict[str, Any]:
    """The answer to a repeated `request_id` (read in a thread)."""
    return await run_in_threadpool(_repeated_answer, runtime, name, number)


def _repeated_answer(runtime: RegistryRuntime, name: str, number: int) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return registration.repeated_answer(conn, name, number, base_url=runtime.base_url)


@router.get("", response_model=list[VersionRecord])
def list_versions(name: str, runtime: Runtime,
                  status: Annotated[str | None, Query(max_length=16, description="e.g. pending_approval")] = None,
                  ) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        return version_reads.list_versions(conn, name, base_url=runtime.base_url, status=status)


@router.get("/{number}", response_model=VersionRecord)
def get_version(name: str, number: int, runtime: Runtime) -> dict[str, Any]:
    with runtime.db.read() as conn:
        return version_reads.get_version(conn, name, number, base_url=runtime.base_url)


@router.post("/{number}/retire", response_model=VersionRecord)
def retire_version(name: str, number: int, body: ReasonBody, runtime: Runtime, caller: AdminCaller) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        answer = retirement.retire_version(conn, name, number, reason=body.reason, caller=caller,
                                           base_url=runtime.base_url)
    runtime.committed()
    return answer


@router.post("/{number}/load-failures", status_code=201, response_model=LoadFailureRecorded)
def report_load_failure(name: str, number: int, body: LoadFailure, runtime: Runtime,
                        caller: TrainerCaller) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        answer = load_failures.record_load_failure(conn, name, number, body, caller=caller)
    runtime.committed()
    return answer


@router.post("/{number}/served", response_model=ServedAnswer)
def report_served(name: str, number: int, body: ServedReport, runtime: Runtime,
                  caller: TrainerCaller) -> dict[str, Any]:
    """Manual/legacy: requests served since the last report; may graduate or abandon the canary by count.

    Replicas send `POST /v1/serving-reports`; automated verdicts are `POST .../rollout-decisions`.
    """
    with runtime.db.begin() as conn:
        adapter = lock_adapter(conn, name)
        answer = record_served(conn, adapter, number, body, caller=caller, base_url=runtime.base_url)
    runtime.committed()
    return answer
