"""`POST /v1/examples` (curated import) and `GET /v1/examples` (JSON-lines export)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from adaptloop_contracts.ingest_api import CuratedExample, ExamplesImported, ExportedExample
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from adaptloop_ingest.api.deps import ComponentsDep, Reader, Writer
from adaptloop_ingest.api.scope import require_scope
from adaptloop_ingest.handlers import import_curated
from adaptloop_ingest.ports import ExampleRepository

router = APIRouter(prefix="/v1", tags=["examples"])

_IMPORT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "oneOf": [CuratedExample.model_json_schema(), {"type": "array", "items": CuratedExample.model_json_schema()}]
}}}}}


@router.post("/examples", status_code=201, response_model=ExamplesImported, openapi_extra=_IMPORT_BODY, responses={
    201: {"description": "`{imported, duplicates, example_ids, rejected?}`", "model": ExamplesImported},
    422: {"description": "No valid item: `{detail, rejected: [{index, reason}]}`"},
})
async def post_examples(request: Request, components: ComponentsDep, principal: Writer) -> JSONResponse:
    """Import curated `{adapter, prompt, answer}` items straight into the example store."""
    body = await request.body()
    require_scope(principal, body, "adapter")
    result = await run_in_threadpool(
        import_curated, body, store=components.store, privacy=components.privacy,
        max_items=components.settings.max_batch_items,
    )
    return JSONResponse(result.as_json_dict(), status_code=201)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json_lines(store: ExampleRepository, adapter: str, **query: Any) -> Iterator[bytes]:
    for example in store.export(adapter, **query):
        yield json.dumps(example.as_json_dict(), ensure_ascii=False).encode("utf-8") + b"\n"


def _first_page_read(lines: Iterator[bytes]) -> Iterator[bytes]:
    """Run the first query before the 200 is sent, so an unreachable database is a 503, not a cut stream."""
    first = next(lines, None)
    return lines if first is None else itertools.chain([first], lines)


@router.get("/examples", response_class=StreamingResponse, responses={200: {
    "description": "JSON lines, oldest first: one `ExportedExample` (`{example_id, adapter, adapter_version, prompt, "
                   "completion, correction, score, target, event_id, occurred_at, source}`) a line",
    "content": {"application/x-ndjson": {"schema": {"type": "string"},
                                         "itemSchema": ExportedExample.model_json_schema()}},
}})
def get_examples(
    components: ComponentsDep,
    principal: Reader,
    adapter: Annotated[str, Query(min_length=1, max_length=200)],
    since: Annotated[datetime | None, Query(description="inclusive; RFC 3339 (no zone means UTC)")] = None,
    until: Annotated[datetime | None, Query(description="exclusive; RFC 3339 (no zone means UTC)")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    only_targets: Annotated[bool, Query(description="only examples with something to learn")] = False,
) -> StreamingResponse:
    """Stream the examples of `adapter` with `since <= occurred_at < until` as JSON lines."""
    principal.require_adapters([adapter])
    lines = _json_lines(
        components.store, adapter, since=_as_utc(since), until=_as_utc(until), limit=limit, only_targets=only_targets
    )
    return StreamingResponse(_first_page_read(lines), media_type="application/x-ndjson")
