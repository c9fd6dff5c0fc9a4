"""Routes: evaluation suites attached to an adapter (attach a new version, list what the gate runs)."""

from __future__ import annotations

from adaptloop_contracts.eval_suites import EvalSuiteRecord, EvalSuiteSpec
from fastapi import APIRouter

from adaptloop_registry import eval_suites
from adaptloop_registry.api.deps import AdminCaller, Runtime

router = APIRouter(prefix="/v1/adapters/{name}/eval-suites", tags=["eval-suites"])


@router.post("", status_code=201, response_model=EvalSuiteRecord,
             responses={422: {"description": "the artifact is missing, not JSONL, or a line does not fit the metric"}})
def attach_suite(name: str, spec: EvalSuiteSpec, runtime: Runtime, caller: AdminCaller) -> EvalSuiteRecord:
    """Attach the next version of suite `spec.name` (its JSONL uploaded first as an artifact)."""
    with runtime.db.begin() as conn:
        answer = eval_suites.attach_suite(conn, name, spec, store=runtime.store, caller=caller,
                                          base_url=runtime.base_url)
    return EvalSuiteRecord.model_validate(answer)


@router.get("", response_model=list[EvalSuiteRecord])
def attached_suites(name: str, runtime: Runtime) -> list[EvalSuiteRecord]:
    """The latest version of each suite: what the trainer's gate runs on candidate and production."""
    with runtime.db.read() as conn:
        return [EvalSuiteRecord.model_validate(s)
                for s in eval_suites.attached_suites(conn, name, base_url=runtime.base_url)]


@router.get("/{suite}", response_model=list[EvalSuiteRecord])
def suite_versions(name: str, suite: str, runtime: Runtime) -> list[EvalSuiteRecord]:
    """Every version of one suite, oldest first."""
    with runtime.db.read() as conn:
        return [EvalSuiteRecord.model_validate(s)
                for s in eval_suites.suite_versions(conn, name, suite, base_url=runtime.base_url)]
