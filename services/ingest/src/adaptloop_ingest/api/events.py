"""`POST /v1/logs` and `POST /v1/feedback`: events over REST into Kafka."""

from __future__ import annotations

from typing import Any

from adaptloop_contracts import InferenceFeedback, InferenceLog
from adaptloop_contracts.inference import INFERENCE_FEEDBACK, INFERENCE_LOGS
from adaptloop_contracts.ingest_api import EventsAccepted
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from adaptloop_ingest.api.deps import ComponentsDep, Writer
from adaptloop_ingest.api.scope import require_scope
from adaptloop_ingest.handlers import submit_events

router = APIRouter(prefix="/v1", tags=["events"])

_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"description": "Every accepted event was acknowledged by the broker: `{accepted, event_ids, rejected?}`",
          "model": EventsAccepted},
    400: {"description": "Body is not JSON, or not an object or array of objects"},
    413: {"description": "Body larger than the limit, or more items than allowed"},
    422: {"description": "No valid item: `{detail, rejected: [{index, reason}]}`"},
    503: {"description": "Producer queue full or broker did not acknowledge; retry after `Retry-After` seconds"},
}


def _body_schema(model: type[InferenceLog] | type[InferenceFeedback]) -> dict[str, Any]:
    one = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [one, {"type": "array", "items": one}]}}}}}


@router.post("/logs", status_code=202, response_model=EventsAccepted, responses=_ANSWERS,
             openapi_extra=_body_schema(InferenceLog))
async def post_logs(request: Request, components: ComponentsDep, principal: Writer) -> JSONResponse:
    """Publish one `inference.log` event or an array of them to `inference.logs`."""
    body = await request.body()
    require_scope(principal, body, "model")
    result = await submit_events(
        body, topic_base=INFERENCE_LOGS, publisher=components.publisher,
        max_items=components.settings.max_batch_items, privacy=components.privacy,
    )
    return JSONResponse(result.as_json_dict(), status_code=202)


@router.post("/feedback", status_code=202, response_model=EventsAccepted, responses=_ANSWERS,
             openapi_extra=_body_schema(InferenceFeedback))
async def post_feedback(request: Request, components: ComponentsDep, principal: Writer) -> JSONResponse:
    """Publish one `inference.feedback` event or an array of them to `inference.feedback`."""
    body = await request.body()
    require_scope(principal, body, "model")
    result = await submit_events(
        body, topic_base=INFERENCE_FEEDBACK, publisher=components.publisher,
        max_items=components.settings.max_batch_items, privacy=components.privacy,
    )
    return JSONResponse(result.as_json_dict(), status_code=202)
