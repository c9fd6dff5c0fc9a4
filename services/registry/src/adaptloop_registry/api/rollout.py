"""Routes: serving reports from inference replicas, and rollout decisions of the automated judge."""

from __future__ import annotations

from adaptloop_common.auth import Viewer
from adaptloop_contracts import RolloutDecision, RolloutDecisionAnswer, ServingReport, ServingReportAnswer
from fastapi import APIRouter, Response

from adaptloop_registry.api.deps import Runtime, TrainerCaller
from adaptloop_registry.rollout import apply_rollout_decision
from adaptloop_registry.serving_reports import record_serving_report

router = APIRouter(prefix="/v1", tags=["rollout"])


@router.post("/serving-reports", status_code=201, response_model=ServingReportAnswer,
             responses={200: {"description": "this report_id was counted before (`duplicate: true`)",
                              "model": ServingReportAnswer},
                        404: {"description": "unknown adapter or version"},
                        409: {"description": "the report_id was used for other counts"}})
def report_serving(body: ServingReport, response: Response, runtime: Runtime,
                   caller: TrainerCaller, viewer: Viewer) -> ServingReportAnswer:
    """Requests each version served on one replica over one period; counted once per `report_id`."""
    if viewer is not None:
        viewer.require_adapters([body.adapter])
    with runtime.db.begin() as conn:
        answer, created = record_serving_report(conn, body, caller=caller)
    if not created:
        response.status_code = 200
    return ServingReportAnswer.model_validate(answer)


@router.post("/adapters/{name}/rollout-decisions", status_code=201, response_model=RolloutDecisionAnswer,
             responses={200: {"description": "a repeated decision_id: its first answer, `duplicate: true`",
                              "model": RolloutDecisionAnswer},
                        404: {"description": "unknown adapter or version"},
                        409: {"description": "an alias is not where the decision expects it (named in `detail`)"}})
def decide_rollout(name: str, body: RolloutDecision, response: Response, runtime: Runtime,
                   caller: TrainerCaller) -> RolloutDecisionAnswer:
    """Graduate or abandon the canary, or roll production back, as compare-and-swap moves."""
    with runtime.db.begin() as conn:
        answer, created = apply_rollout_decision(conn, name, body, caller=caller, base_url=runtime.base_url)
    if created:
        runtime.committed()
    else:
        response.status_code = 200
    return RolloutDecisionAnswer.model_validate(answer)
